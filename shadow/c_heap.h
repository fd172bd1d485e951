// CHeap: the C heap model. Every block the program gets from malloc & co. is known here:
// guarded blocks in the GuardedPool, blocks of up to 32 KiB in the slab heap with their
// record in front (slab_blocks.h), the others served by glibc with a header in front
// (block_header.h) that names their record (block_records.h); frees are validated and
// quarantined. No reporting here: results say what happened and preload/ turns them into
// findings.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "shadow/block_header.h"
#include "shadow/block_records.h"
#include "shadow/guarded_pool.h"
#include "shadow/heap_block.h"
#include "shadow/options.h"
#include "shadow/quarantine.h"
#include "shadow/slab_blocks.h"

namespace cgosan {

struct CHeapConfig {
  bool guard_enabled = false;  // reserve a guarded pool at all
  size_t guard_pool_bytes = size_t{1} << 30;
  uint64_t quarantine_bytes = uint64_t{64} << 20;           // guarded slots
  uint64_t unguarded_quarantine_bytes = uint64_t{4} << 20;  // glibc's blocks
  size_t max_live_guarded = 8192;
  bool guard_left = false;
  // Fill the first kFillLimit bytes of new malloc (not calloc) blocks with this byte, so
  // that stale bytes of reused memory are never read as pointers by the audits; -1: off.
  int fill_byte = -1;
};

constexpr size_t kFillLimit = 4096;

// CHeap's state that its inline paths (a slab block's malloc and free) use; c_heap.cc owns it.
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

enum class FreeVerdict {
  kOk,
  kDoubleFree,      // *block: the freed block (with its free stack)
  kInvalidFree,     // *block filled when the pointer is inside a known block
  kOverflowAtFree,  // freed; *block and *corrupt_offset say where the canary broke
};

class CHeap {
 public:
  // Called once options are known. Before that, blocks are tracked, never guarded.
  static void Configure(const CHeapConfig& config);

  // A block of `size` bytes; `guard` asks for a guarded slot (falls back to unguarded).
  static void* Allocate(size_t size, size_t alignment, bool zero, bool guard, StackId stack,
                        pid_t tid, BlockOrigin origin = BlockOrigin::kUnknown);
  // Allocate's common case, inline for the interposers: an unguarded block that fits a slab
  // slot. nullptr when it is not that case (too big, over-aligned, failures injected) or
  // the slab cannot serve it: Allocate then decides. Allocates nothing through malloc.
  __attribute__((always_inline)) static void* AllocateCommon(size_t size, size_t alignment,
                                                             bool zero, StackId stack, pid_t tid,
                                                             BlockOrigin origin) {
    if (!SlabBlocks::Fits(size, alignment) || GetOptions().test_fail_malloc_after > 0) {
      return nullptr;
    }
    return c_heap_internal::AllocateSlab(size, zero, stack, tid, origin);
  }
  // glibc's block, not tracked at all (guard=sampled's unsampled blocks, passive processes):
  // no record, no fill, no quarantine. Release it with glibc's free.
  static void* AllocateUntracked(size_t size, size_t alignment, bool zero);
  // Whether ptr is a block the model knows (guarded, or recorded live or freed): the others
  // came from AllocateUntracked or from before cgosan was ready, and belong to glibc.
  // Inline: every free in guard=sampled asks, and for glibc's blocks one load answers.
  static bool Tracks(uintptr_t ptr) {
    return GuardedPool::Contains(ptr) || SlabBlocks::Contains(ptr) ||
           (MayHaveHeader(ptr) && HasRecord(ptr));
  }
  // Stops tracking the unguarded blocks recorded so far (those of the loader and libraries'
  // constructors, made before options were known), for guard=sampled and passive
  // processes, where no unsampled block is tracked: quarantined ones are released now,
  // live ones are no longer reported or scanned (their free only removes the header).
  static void ReleaseUnguardedRecords();
  static FreeVerdict Free(void* ptr, StackId stack, pid_t tid, HeapBlock* block, bool* block_known,
                          uint64_t* corrupt_offset);
  // The common free: of a live (or adopted) unguarded block with its header intact. Returns
  // whether it freed ptr; false changes nothing, and Free then finds out what ptr is and
  // what to say. Inline for a slab block's.
  __attribute__((always_inline)) static bool FreeUnguarded(uintptr_t ptr, StackId stack,
                                                           pid_t tid) {
    if (!SlabBlocks::Contains(ptr)) return FreeWithHeader(ptr, stack, tid);
    uint64_t size;
    uintptr_t record;
    switch (SlabBlocks::MarkFreed(ptr, stack, tid, &size, &record)) {
      case RecordState::kLive:
        c_heap_internal::QuarantineFreed(record, size + SlabBlocks::kHeaderBytes, tid);
        return true;
      case RecordState::kAdopted:
        SlabBlocks::ReleaseAdopted(record);
        return true;
      default:
        return false;
    }
  }
  // The live block starting exactly at ptr (a pointer the program passes to the allocator:
  // its header is read, as glibc reads its own).
  static bool FindLive(uintptr_t ptr, HeapBlock* out);
  // Whether a block seen earlier (by ForEachLive*) is still live and still the same block.
  // Safe from any thread at any time: reads no block memory.
  static bool StillLive(const HeapBlock& seen);

  // Every live block (guarded and unguarded), each table under its own lock: fn must not
  // allocate, lock or call back into the heap.
  static void ForEachLive(void (*fn)(const HeapBlock& block, void* ctx), void* ctx);
  // The unguarded ones in bounded steps (BlockRecords' ids, then the slab's slots: see
  // their ForEachLiveStep) from *cursor (0 at first); false when done. No lock held.
  static bool ForEachLiveUnguardedStep(size_t* cursor, size_t max_blocks,
                                       void (*fn)(const HeapBlock& block, void* ctx), void* ctx);

  static void LockAllForFork();
  static void UnlockAllAfterFork();

 private:
  static bool HasRecord(uintptr_t ptr);
  static bool FreeWithHeader(uintptr_t ptr, StackId stack, pid_t tid);
};

}  // namespace cgosan
