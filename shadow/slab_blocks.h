// SlabBlocks: the tracked blocks served from the slab heap (slab_heap.h). Each slot starts
// with its block's record, in place (BlockRecords' layout and seqlock), and the block
// follows it: malloc and free read and write the block's own first cache line and nothing
// else, where a record in BlockRecords' array costs a cache miss at free and at malloc
// (the id waited in the quarantine for thousands of frees). A free slot keeps its last
// block's record (freed), so a double free is found for as long as nobody reuses the slot,
// past the quarantine; the audits walk the slots handed out so far.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "shadow/block_records.h"
#include "shadow/heap_block.h"
#include "shadow/slab_heap.h"

namespace cgosan {

class SlabBlocks {
 public:
  static constexpr size_t kHeaderBytes = BlockRecords::kInPlaceBytes;

  static bool Fits(size_t size, size_t alignment) {
    return alignment <= 16 && size <= SlabHeap::kMaxSlotBytes - kHeaderBytes;
  }
  // A live block of size bytes (not filled); nullptr when the slab cannot serve it.
  // Inline, as MarkFreed: they are all of malloc's and free's work on a slab block.
  __attribute__((always_inline)) static void* Allocate(size_t size, StackId stack, pid_t tid,
                                                       BlockOrigin origin) {
    // At least a byte past the record, so that a block's start lies in its own slot.
    void* slot = SlabHeap::Allocate((size ? size : 1) + kHeaderBytes);
    if (!slot) return nullptr;
    uintptr_t at = reinterpret_cast<uintptr_t>(slot);
    BlockRecords::SetLiveAt(at, at + kHeaderBytes, size, stack, tid, origin);
    return reinterpret_cast<void*>(at + kHeaderBytes);
  }
  // Whether ptr may be a slab block: the reservation contains it.
  __attribute__((always_inline)) static bool Contains(uintptr_t ptr) {
    return SlabHeap::Contains(reinterpret_cast<void*>(ptr));
  }

  // The free of ptr (Contains(ptr)): when it is a live block's start, marks it freed and
  // returns kLive with its *size and its *record (the quarantine's key); kAdopted: the same,
  // for a block cgosan no longer tracks (release it at once); anything else changes nothing.
  __attribute__((always_inline)) static RecordState MarkFreed(uintptr_t ptr, StackId free_stack,
                                                              pid_t free_tid, uint64_t* size,
                                                              uintptr_t* record) {
    uintptr_t slot;
    if (!SlabHeap::SlotOf(ptr, &slot) || ptr != slot + kHeaderBytes) return RecordState::kEmpty;
    *record = slot;
    return BlockRecords::MarkFreedAt(slot, ptr, free_stack, free_tid, size);
  }
  // The block whose record is at `record` leaves the quarantine: its slot goes back to the
  // slab, its record stays (freed) until the slot is reused.
  static void Release(uintptr_t record) { SlabHeap::Free(reinterpret_cast<void*>(record)); }
  // An adopted block's free: its record becomes empty, its slot goes back.
  static void ReleaseAdopted(uintptr_t record);

  // A consistent copy of the record at `record` (see BlockRecords::ReadAt).
  static bool Read(uintptr_t record, HeapBlock* out, RecordState* state) {
    return BlockRecords::ReadAt(record, out, state);
  }
  // The block (live or freed) whose start is exactly ptr.
  static bool Lookup(uintptr_t ptr, HeapBlock* out, RecordState* state);
  // The block (live or freed) of the slot that contains addr.
  static bool FindContaining(uintptr_t addr, HeapBlock* out);

  // Visits the live blocks (not the adopted) of the next max_slots slots from *cursor (0:
  // the start) and advances it; false once past the last slot handed out. No lock held.
  static bool ForEachLiveStep(size_t* cursor, size_t max_slots, BlockRecords::Visitor fn,
                              void* ctx);
  static void ForEachLive(BlockRecords::Visitor fn, void* ctx);
  // Every live block becomes adopted.
  static void AdoptAllLive();
};

}  // namespace cgosan
