// CHeap: the C heap model. Every block the program gets from malloc & co. is known here:
// guarded blocks in the GuardedPool, the others served by glibc and recorded in the
// BlockTable; frees are validated and quarantined. No reporting here: results say what
// happened and preload/ turns them into findings.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "shadow/block_table.h"
#include "shadow/guarded_pool.h"
#include "shadow/heap_block.h"

namespace cgosan {

struct CHeapConfig {
  bool guard_enabled = false;  // reserve a guarded pool at all
  size_t guard_pool_bytes = size_t{1} << 30;
  uint64_t quarantine_bytes = uint64_t{64} << 20;            // guarded slots
  uint64_t unguarded_quarantine_bytes = uint64_t{4} << 20;  // glibc's blocks
  size_t max_live_guarded = 8192;
  bool guard_left = false;
  // Fill the first kFillLimit bytes of new malloc (not calloc) blocks with this byte, so
  // that stale bytes of reused memory are never read as pointers by the audits; -1: off.
  int fill_byte = -1;
  // Most blocks go untracked (guard=sampled, passive processes): Tracks must answer "no"
  // without a search. Otherwise the block table keeps no per-region counts.
  bool mostly_untracked = false;
};

constexpr size_t kFillLimit = 4096;

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
  // glibc's block, not tracked at all (guard=sampled's unsampled blocks, passive processes):
  // no record, no fill, no quarantine. Release it with glibc's free.
  static void* AllocateUntracked(size_t size, size_t alignment, bool zero);
  // Whether ptr is a block the model knows (guarded, or recorded live or freed): the others
  // came from AllocateUntracked or from before cgosan was ready, and belong to glibc.
  static bool Tracks(uintptr_t ptr) {  // inline: every free in guard=sampled asks
    return GuardedPool::Contains(ptr) || BlockTable::Contains(ptr);
  }
  // Stops tracking the unguarded blocks recorded so far (those of the loader and libraries'
  // constructors, made before options were known): live ones become glibc's, quarantined
  // ones are released now. For guard=sampled and passive processes, where no unsampled
  // block is tracked: afterwards a free of glibc's block finds no record near it at once.
  static void ReleaseUnguardedRecords();
  static FreeVerdict Free(void* ptr, StackId stack, pid_t tid, HeapBlock* block, bool* block_known,
                          uint64_t* corrupt_offset);
  // The live block starting exactly at ptr.
  static bool FindLive(uintptr_t ptr, HeapBlock* out);

  // Every live block (guarded and unguarded), each table under its own lock: fn must not
  // allocate, lock or call back into the heap.
  static void ForEachLive(void (*fn)(const HeapBlock& block, void* ctx), void* ctx);

  static void LockAllForFork();
  static void UnlockAllAfterFork();
};

}  // namespace cgosan
