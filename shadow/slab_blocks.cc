// SlabBlocks implementation: a block's user pointer is its slot plus the record; a cursor
// over the slots is (class << 32 | slot index). The classes of slots too small for a record
// and a byte are never used, and never walked.
#include "shadow/slab_blocks.h"

namespace cgosan {

void* SlabBlocks::Allocate(const HeapBlock& block) {
  // At least a byte past the record, so that a block's start lies in its own slot.
  void* slot = SlabHeap::Allocate((block.size ? block.size : 1) + kHeaderBytes);
  if (!slot) return nullptr;
  uintptr_t at = reinterpret_cast<uintptr_t>(slot);
  HeapBlock b = block;
  b.base = at + kHeaderBytes;
  b.alignment = 0;
  b.free_stack = 0;
  b.free_tid = 0;
  BlockRecords::SetAt(at, b, RecordState::kLive);
  return reinterpret_cast<void*>(b.base);
}

RecordState SlabBlocks::MarkFreed(uintptr_t ptr, StackId free_stack, pid_t free_tid,
                                  uint64_t* size, uintptr_t* record) {
  uintptr_t slot;
  unsigned c;
  if (!SlabHeap::SlotOf(ptr, &slot, &c) || ptr != slot + kHeaderBytes) return RecordState::kEmpty;
  *record = slot;
  return BlockRecords::MarkFreedAt(slot, ptr, free_stack, free_tid, size);
}

void SlabBlocks::ReleaseAdopted(uintptr_t record) {
  BlockRecords::SetStateAt(record, RecordState::kEmpty);
  Release(record);
}

bool SlabBlocks::Lookup(uintptr_t ptr, HeapBlock* out, RecordState* state) {
  uintptr_t slot;
  unsigned c;
  return SlabHeap::SlotOf(ptr, &slot, &c) && ptr == slot + kHeaderBytes &&
         Read(slot, out, state) && out->base == ptr;
}

bool SlabBlocks::FindContaining(uintptr_t addr, HeapBlock* out) {
  uintptr_t slot;
  unsigned c;
  RecordState state;
  return SlabHeap::SlotOf(addr, &slot, &c) && Read(slot, out, &state) && out->Contains(addr);
}

bool SlabBlocks::ForEachLiveStep(size_t* cursor, size_t max_slots, BlockRecords::Visitor fn,
                                 void* ctx) {
  unsigned c = static_cast<unsigned>(*cursor >> 32);
  size_t index = *cursor & 0xffffffffu;
  while (c < SlabHeap::kClasses &&
         (SlabHeap::SlotBytes(c) <= kHeaderBytes || index >= SlabHeap::CarvedSlots(c))) {
    ++c;
    index = 0;
  }
  if (c >= SlabHeap::kClasses) return false;
  size_t end = SlabHeap::CarvedSlots(c);
  size_t stop = index + max_slots < end ? index + max_slots : end;
  uintptr_t region = SlabHeap::RegionOf(c);
  size_t bytes = SlabHeap::SlotBytes(c);
  for (; index < stop; ++index) {
    HeapBlock b;
    RecordState state;
    if (Read(region + index * bytes, &b, &state) && state == RecordState::kLive) fn(b, ctx);
  }
  *cursor = size_t{c} << 32 | index;
  return true;
}

void SlabBlocks::AdoptAllLive() {
  for (unsigned c = 1; c < SlabHeap::kClasses; ++c) {
    if (SlabHeap::SlotBytes(c) <= kHeaderBytes) continue;
    size_t end = SlabHeap::CarvedSlots(c);
    for (size_t i = 0; i < end; ++i) {
      uintptr_t at = SlabHeap::RegionOf(c) + i * SlabHeap::SlotBytes(c);
      HeapBlock b;
      RecordState state;
      if (Read(at, &b, &state) && state == RecordState::kLive) {
        BlockRecords::SetStateAt(at, RecordState::kAdopted);
      }
    }
  }
}

}  // namespace cgosan
