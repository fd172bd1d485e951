// SlabBlocks implementation: a block's user pointer is its slot plus the record; a cursor
// over the slots is (class << 32 | slot index). The classes of slots too small for a record
// and a byte are never used, and never walked.
#include "shadow/slab_blocks.h"

namespace cgosan {

void SlabBlocks::ReleaseAdopted(uintptr_t record) {
  BlockRecords::SetStateAt(record, RecordState::kEmpty);
  Release(record);
}

bool SlabBlocks::Lookup(uintptr_t ptr, HeapBlock* out, RecordState* state) {
  uintptr_t slot;
  return SlabHeap::SlotOf(ptr, &slot) && ptr == slot + kHeaderBytes && Read(slot, out, state) &&
         out->base == ptr;
}

bool SlabBlocks::FindContaining(uintptr_t addr, HeapBlock* out) {
  uintptr_t slot;
  RecordState state;
  return SlabHeap::SlotOf(addr, &slot) && Read(slot, out, &state) && out->Contains(addr);
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

void SlabBlocks::ForEachLive(BlockRecords::Visitor fn, void* ctx) {
  size_t cursor = 0;
  while (ForEachLiveStep(&cursor, size_t{1} << 16, fn, ctx)) {
  }
}

void SlabBlocks::AdoptAllLive() {
  ForEachLive(
      [](const HeapBlock& b, void*) { BlockRecords::SetStateAt(b.record, RecordState::kAdopted); },
      nullptr);
}

}  // namespace cgosan
