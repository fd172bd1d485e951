// The parts of CHeap (c_heap.h) that a slab block's malloc and free inline into the
// interposers: the fill of new blocks and the batch of frees on their way to the
// quarantine. c_heap.cc owns the state; nothing here is for other callers.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "shadow/heap_block.h"
#include "shadow/quarantine.h"
#include "shadow/slab_blocks.h"

namespace cgosan {

// New malloc (not calloc) blocks get their first kFillLimit bytes filled (CHeapConfig).
constexpr size_t kFillLimit = 4096;

namespace c_heap_internal {
extern int g_fill_byte;
// The bound in a variable Configure sets: with a bound it can see, the compiler inlines the
// memset as `rep stos`, whose start-up costs more than glibc's vector stores for the small
// blocks that are most of them.
extern size_t g_fill_limit;
extern bool g_unguarded_quarantine_on;

// g_fill_byte in each of its bytes, for Fill's stores.
extern unsigned char g_fill_pattern[16];

__attribute__((always_inline)) inline void Fill(void* p, size_t size) {
  if (g_fill_byte < 0) return;
  // Most blocks are small: two or four overlapping 16-byte stores (8-byte ones below 16)
  // cost less than the call to memset and its dispatch on the size.
  auto* c = static_cast<unsigned char*>(p);
  if (size >= 16 && size <= 64) {
    memcpy(c, g_fill_pattern, 16);
    memcpy(c + size - 16, g_fill_pattern, 16);
    if (size > 32) {
      memcpy(c + 16, g_fill_pattern, 16);
      memcpy(c + size - 32, g_fill_pattern, 16);
    }
  } else if (size >= 8 && size < 16) {
    memcpy(c, g_fill_pattern, 8);
    memcpy(c + size - 8, g_fill_pattern, 8);
  } else {
    memset(p, g_fill_byte, size < g_fill_limit ? size : g_fill_limit);
  }
}

// A new block of cgosan's own memory (a guarded or a slab slot): calloc's zeroes, or the fill.
__attribute__((always_inline)) inline void ZeroOrFill(void* p, size_t size, bool zero) {
  if (zero) {
    memset(p, 0, size);
  } else {
    Fill(p, size);
  }
}

// A thread's frees on their way to its quarantine shard, pushed kPendingFrees at a time:
// the shard's lock is then taken once per batch, and the evicted blocks' records and
// chunks, mostly out of cache by now, load in parallel. A pending block is freed as far as
// anyone can tell (its record says so); it only reaches the FIFO a little later.
constexpr int kPendingFrees = 32;
struct PendingFrees {
  Quarantine::Entry entries[kPendingFrees];
  int count;
  unsigned shard;
  bool exit_armed;
};
extern __thread PendingFrees t_pending __attribute__((tls_model("initial-exec")));
// Out of line: the batch is full (into the shard; the evicted blocks are released), or
// the first of a batch (its shard, the thread-exit hook; without a quarantine, released).
__attribute__((noinline)) void PushPendingFrees(PendingFrees& p);
__attribute__((noinline)) void QuarantineFirstFreed(uintptr_t key, uint64_t bytes, pid_t tid);

// The freed block of record key (of `bytes` of memory) enters the quarantine, or leaves at
// once without one.
__attribute__((always_inline)) inline void QuarantineFreed(uintptr_t key, uint64_t bytes,
                                                           pid_t tid) {
  PendingFrees& p = t_pending;
  if (__builtin_expect(p.count == 0 || !g_unguarded_quarantine_on, 0)) {
    return QuarantineFirstFreed(key, bytes, tid);
  }
  p.entries[p.count++] = {key, bytes};
  if (p.count == kPendingFrees) PushPendingFrees(p);
}

// A slab block of size bytes, zeroed or filled; nullptr when the slab cannot serve it.
__attribute__((always_inline)) inline void* AllocateSlab(size_t size, bool zero, StackId stack,
                                                         pid_t tid, BlockOrigin origin) {
  void* p = SlabBlocks::Allocate(size, stack, tid, origin);
  if (p) ZeroOrFill(p, size, zero);
  return p;
}
}  // namespace c_heap_internal
}  // namespace cgosan
