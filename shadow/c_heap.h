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

#include "shadow/block_header.h"
#include "shadow/block_records.h"
#include "shadow/c_heap_internal.h"
#include "shadow/guarded_pool.h"
#include "shadow/heap_block.h"
#include "shadow/options.h"
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
