// SlabBlocks: a block's record in front of it (read back whole, freed once, then a double
// free), the freed record outliving the quarantine until the slot is reused, interior
// pointers, the walk over every slot handed out, and adoption.
#include "shadow/slab_blocks.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace cgosan {
namespace {

void* New(size_t size, StackId stack) {
  return SlabBlocks::Allocate(size, stack, 7, BlockOrigin::kUnderGo);
}

uintptr_t Addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(SlabBlocksTest, TheRecordInFrontIsTheBlocks) {
  constexpr size_t kLargest = SlabHeap::kMaxSlotBytes - SlabBlocks::kHeaderBytes;
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{100}, size_t{4000}, kLargest}) {
    ASSERT_TRUE(SlabBlocks::Fits(size, 16));
    void* p = New(size, 11);
    ASSERT_NE(p, nullptr) << size;
    uintptr_t ptr = Addr(p);
    EXPECT_EQ(ptr % 16, 0u);
    EXPECT_TRUE(SlabBlocks::Contains(ptr));
    HeapBlock b;
    RecordState state;
    ASSERT_TRUE(SlabBlocks::Lookup(ptr, &b, &state));
    EXPECT_EQ(state, RecordState::kLive);
    EXPECT_EQ(b.base, ptr);
    EXPECT_EQ(b.size, size);
    EXPECT_EQ(b.alloc_stack, 11u);
    EXPECT_EQ(b.alloc_tid, 7);
    EXPECT_EQ(b.origin, BlockOrigin::kUnderGo);
    EXPECT_EQ(b.record, ptr - SlabBlocks::kHeaderBytes);
    uint64_t freed_size;
    uintptr_t record;
    ASSERT_EQ(SlabBlocks::MarkFreed(ptr, 12, 8, &freed_size, &record), RecordState::kLive);
    EXPECT_EQ(freed_size, size);
    EXPECT_EQ(record, b.record);
    EXPECT_EQ(SlabBlocks::MarkFreed(ptr, 13, 8, &freed_size, &record), RecordState::kFreed);
    ASSERT_TRUE(SlabBlocks::Lookup(ptr, &b, &state));
    EXPECT_EQ(state, RecordState::kFreed);
    EXPECT_EQ(b.free_stack, 12u);  // the first free's
    EXPECT_EQ(b.free_tid, 8);
    SlabBlocks::Release(record);
  }
  EXPECT_FALSE(SlabBlocks::Fits(SlabHeap::kMaxSlotBytes - SlabBlocks::kHeaderBytes + 1, 16));
  EXPECT_FALSE(SlabBlocks::Fits(64, 32));
}

TEST(SlabBlocksTest, AFreedRecordOutlivesTheQuarantineUntilTheSlotIsReused) {
  void* p = New(200, 1);
  uintptr_t ptr = Addr(p);
  uint64_t size;
  uintptr_t record;
  ASSERT_EQ(SlabBlocks::MarkFreed(ptr, 2, 1, &size, &record), RecordState::kLive);
  SlabBlocks::Release(record);  // the quarantine let it go
  EXPECT_EQ(SlabBlocks::MarkFreed(ptr, 3, 1, &size, &record), RecordState::kFreed);
  void* again = New(199, 4);  // the same class: the same slot
  ASSERT_EQ(again, p);
  HeapBlock b;
  RecordState state;
  ASSERT_TRUE(SlabBlocks::Lookup(ptr, &b, &state));
  EXPECT_EQ(state, RecordState::kLive);
  EXPECT_EQ(b.size, 199u);
  EXPECT_EQ(b.alloc_stack, 4u);
  EXPECT_EQ(b.free_stack, 0u);
  ASSERT_EQ(SlabBlocks::MarkFreed(ptr, 5, 1, &size, &record), RecordState::kLive);
  SlabBlocks::Release(record);
}

TEST(SlabBlocksTest, InteriorPointersAreNoBlocksStart) {
  uintptr_t ptr = Addr(New(100, 1));
  uint64_t size;
  uintptr_t record;
  HeapBlock b;
  RecordState state;
  for (uintptr_t at : {ptr + 16, ptr - 16, ptr - SlabBlocks::kHeaderBytes}) {
    EXPECT_EQ(SlabBlocks::MarkFreed(at, 2, 1, &size, &record), RecordState::kEmpty);
    EXPECT_FALSE(SlabBlocks::Lookup(at, &b, &state));
  }
  ASSERT_TRUE(SlabBlocks::FindContaining(ptr + 99, &b));
  EXPECT_EQ(b.base, ptr);
  EXPECT_FALSE(SlabBlocks::FindContaining(ptr + 100, &b));  // past the block, in its slot
  ASSERT_TRUE(SlabBlocks::Lookup(ptr, &b, &state));         // still live: nothing was freed
  EXPECT_EQ(state, RecordState::kLive);
  // Beyond every slot handed out: no block, no slot.
  EXPECT_FALSE(SlabBlocks::FindContaining(
      SlabHeap::RegionOf(SlabHeap::kClasses - 1) + (size_t{1} << SlabHeap::kRegionShift) - 64, &b));
}

void Collect(const HeapBlock& b, void* ctx) {
  static_cast<std::multiset<uintptr_t>*>(ctx)->insert(b.base);
}

TEST(SlabBlocksTest, TheWalkSeesEveryLiveBlockOnce) {
  std::set<uintptr_t> live, freed;
  for (int i = 0; i < 3000; ++i) {
    uintptr_t p = Addr(New(16 + (i * 37) % 3000, 1));
    ASSERT_NE(p, 0u);
    live.insert(p);
  }
  int n = 0;
  for (auto it = live.begin(); it != live.end(); ++n) {
    if (n % 3 != 0) {
      ++it;
      continue;
    }
    uint64_t size;
    uintptr_t record;
    ASSERT_EQ(SlabBlocks::MarkFreed(*it, 2, 1, &size, &record), RecordState::kLive);
    freed.insert(*it);
    it = live.erase(it);
  }
  std::multiset<uintptr_t> seen;
  size_t cursor = 0;
  int steps = 0;
  while (SlabBlocks::ForEachLiveStep(&cursor, 7, Collect, &seen)) ++steps;
  EXPECT_GT(steps, 3000 / 7);
  for (uintptr_t p : live) EXPECT_EQ(seen.count(p), 1u) << std::hex << p;
  for (uintptr_t p : freed) EXPECT_EQ(seen.count(p), 0u) << std::hex << p;
}

TEST(SlabBlocksTest, AdoptedBlocksAreFreedOnceAndNotWalked) {
  uintptr_t p = Addr(New(64, 1));
  SlabBlocks::AdoptAllLive();
  std::multiset<uintptr_t> seen;
  size_t cursor = 0;
  while (SlabBlocks::ForEachLiveStep(&cursor, 1000, Collect, &seen)) {
  }
  EXPECT_EQ(seen.count(p), 0u);
  HeapBlock b;
  RecordState state;
  ASSERT_TRUE(SlabBlocks::Lookup(p, &b, &state));
  EXPECT_EQ(state, RecordState::kAdopted);
  uint64_t size;
  uintptr_t record;
  ASSERT_EQ(SlabBlocks::MarkFreed(p, 2, 1, &size, &record), RecordState::kAdopted);
  SlabBlocks::ReleaseAdopted(record);
  EXPECT_EQ(SlabBlocks::MarkFreed(p, 2, 1, &size, &record), RecordState::kEmpty);
  EXPECT_FALSE(SlabBlocks::Lookup(p, &b, &state));
}

}  // namespace
}  // namespace cgosan
