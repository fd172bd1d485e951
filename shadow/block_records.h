// BlockRecords: what cgosan knows of each unguarded C heap block (live, or freed and in
// quarantine), one 32-byte record per block in one array, found through the id its header
// holds (block_header.h): no hashing, no probing, no lock on malloc and free.
//
// Each record is a seqlock (block_record.h): the block's owner writes, the audits and
// reports read at any moment on any thread. Ids are handed out from per-thread free lists
// (no lock, no atomic operation), and the array is reserved once and committed as it
// fills, so a record never moves.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "shadow/block_header.h"
#include "shadow/block_record.h"
#include "shadow/heap_block.h"

namespace cgosan {

class BlockRecords {
 public:
  // A fresh id (its record empty), 0 when the array is full or cannot be committed.
  static RecordId Acquire();
  // The record becomes empty; returns the block's base and *alignment it held (what its
  // owner needs to give the block back, without a second look at the record); 0, and
  // nothing done, when the record was empty. The id goes to the calling thread's list.
  static uintptr_t Release(RecordId id, uint32_t* alignment);
  // Starts loading id's record (for writing), for callers about to Release many at once:
  // their records are mostly out of cache, and the loads then overlap.
  static void Prefetch(RecordId id);

  // Owner writes. Set: the whole record (block.base, size, alignment, stacks, origin).
  static void Set(RecordId id, const HeapBlock& block, RecordState state);
  // The free of the block at base: when id's record holds that block live, marks it freed
  // and returns kLive with its *size and *alignment; otherwise changes nothing and returns
  // the state found (kEmpty also when the record holds another block).
  static RecordState MarkFreed(RecordId id, uintptr_t base, StackId free_stack, pid_t free_tid,
                               uint64_t* size, uint32_t* alignment);

  // A consistent copy of the record (false when empty or when writers kept it busy). The
  // HeapBlock's record field is id; its state says live or freed (kAdopted reads as live).
  static bool Read(RecordId id, HeapBlock* out, RecordState* state);

  // Records kept in place rather than in the array: the kInPlaceBytes at `at` (the start of
  // a slab slot: see SlabBlocks), with the same layout, seqlock and rules, and no id. A
  // HeapBlock read from one has `at` as its record; an all-zero one is empty.
  static constexpr size_t kInPlaceBytes = 32;
  // Inline, as MarkFreedAt: a slab block's malloc and free are mostly these.
  // A new live block's record (no free stack, alignment 16 or less).
  __attribute__((always_inline)) static void SetLiveAt(uintptr_t at, uintptr_t base, uint64_t size,
                                                       StackId stack, pid_t tid,
                                                       BlockOrigin origin) {
    block_record::SetLive(RecordAt(at), base, size, stack, tid, origin);
  }
  __attribute__((always_inline)) static RecordState MarkFreedAt(uintptr_t at, uintptr_t base,
                                                                StackId free_stack, pid_t free_tid,
                                                                uint64_t* size) {
    uint32_t alignment;
    return block_record::MarkFreed(RecordAt(at), base, free_stack, free_tid, size, &alignment);
  }
  static bool ReadAt(uintptr_t at, HeapBlock* out, RecordState* state);
  static void SetStateAt(uintptr_t at, RecordState state);

  // Visits the live records (not the adopted ones) among ids [*cursor, *cursor + max_ids)
  // and advances *cursor; false once past the last id handed out. No lock is held: fn sees
  // each record as it was at some moment of the walk.
  using Visitor = void (*)(const HeapBlock& block, void* ctx);
  static bool ForEachLiveStep(size_t* cursor, size_t max_ids, Visitor fn, void* ctx);
  static void ForEachLive(Visitor fn, void* ctx);
  // Slow path for reports: the block (live or freed) that contains addr.
  static bool FindContaining(uintptr_t addr, HeapBlock* out);
  // How many ids were ever handed out: the records' high-water mark.
  static size_t IdsHandedOut();
  // Every live record becomes kAdopted.
  static void AdoptAllLive();

  // fork(): hold the global list's lock across fork so the child never inherits it held.
  static void LockAll();
  static void UnlockAll();

 private:
  static block_record::Record& RecordAt(uintptr_t at) {
    return *reinterpret_cast<block_record::Record*>(at);
  }
};

}  // namespace cgosan
