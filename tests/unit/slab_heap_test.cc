// SlabHeap: slots are aligned, disjoint and of their class; a freed slot is reused by its
// own class only; what one thread frees reaches a thread that only allocates, also through
// a thread's exit; a full class region refuses instead of overlapping the next.
#include "shadow/slab_heap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace cgosan {
namespace {

uintptr_t Addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(SlabHeapTest, SlotsAreAlignedDisjointAndWritable) {
  std::vector<std::pair<uintptr_t, size_t>> slots;
  for (size_t bytes : {1, 16, 17, 32, 100, 256, 257, 320, 321, 1000, 4096, 5000, 32768}) {
    for (int i = 0; i < 40; ++i) {
      void* p = SlabHeap::Allocate(bytes);
      ASSERT_NE(p, nullptr) << bytes;
      EXPECT_TRUE(SlabHeap::Contains(p));
      EXPECT_EQ(Addr(p) % 16, 0u);
      memset(p, 0x5a, bytes);
      slots.push_back({Addr(p), bytes});
    }
  }
  std::sort(slots.begin(), slots.end());
  for (size_t i = 1; i < slots.size(); ++i) {
    EXPECT_LE(slots[i - 1].first + slots[i - 1].second, slots[i].first) << i;
  }
  for (auto& [addr, bytes] : slots) SlabHeap::Free(reinterpret_cast<void*>(addr));
  EXPECT_EQ(SlabHeap::Allocate(SlabHeap::kMaxSlotBytes + 1), nullptr);
  EXPECT_FALSE(SlabHeap::Contains(&slots));
}

TEST(SlabHeapTest, AFreedSlotServesItsOwnClassOnly) {
  void* small = SlabHeap::Allocate(48);
  ASSERT_NE(small, nullptr);
  SlabHeap::Free(small);
  void* other = SlabHeap::Allocate(64);  // the next class up
  EXPECT_NE(other, small);
  void* same = SlabHeap::Allocate(40);  // 33-48 bytes: the class of 48
  EXPECT_EQ(same, small);
  SlabHeap::Free(other);
  SlabHeap::Free(same);
}

// A thread that only allocates gets the slots another thread frees: the slab does not grow
// by the number of blocks that pass from one to the other.
TEST(SlabHeapTest, SlotsFreedByAnotherThreadAreReused) {
  constexpr int kBlocks = 200000;
  std::set<uintptr_t> distinct;
  for (int round = 0; round < kBlocks / 1000; ++round) {
    std::vector<void*> blocks;
    for (int i = 0; i < 1000; ++i) {
      void* p = SlabHeap::Allocate(200);
      ASSERT_NE(p, nullptr);
      distinct.insert(Addr(p));
      blocks.push_back(p);
    }
    std::thread([&] {
      for (void* p : blocks) SlabHeap::Free(p);
    }).join();
  }
  EXPECT_LT(distinct.size(), 20000u);
}

TEST(SlabHeapTest, AnExitingThreadsCacheIsReused) {
  std::vector<uintptr_t> freed;
  std::thread([&] {
    for (int i = 0; i < 5; ++i) freed.push_back(Addr(SlabHeap::Allocate(4000)));
    for (uintptr_t a : freed) SlabHeap::Free(reinterpret_cast<void*>(a));
  }).join();
  std::set<uintptr_t> got;
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < 64; ++i) {
      blocks.push_back(SlabHeap::Allocate(4000));
      got.insert(Addr(blocks.back()));
    }
    for (void* p : blocks) SlabHeap::Free(p);
  }).join();
  for (uintptr_t a : freed) EXPECT_TRUE(got.count(a)) << std::hex << a;
}

TEST(SlabHeapTest, AFullClassRegionRefuses) {
  // 32 KiB slots: the region holds 1 << (kRegionShift - 15) of them; nothing is touched.
  constexpr size_t kSlots = size_t{1} << (SlabHeap::kRegionShift - 15);
  std::vector<void*> blocks;
  void* p;
  while ((p = SlabHeap::Allocate(SlabHeap::kMaxSlotBytes)) != nullptr) {
    blocks.push_back(p);
    ASSERT_LE(blocks.size(), kSlots);
  }
  EXPECT_GE(blocks.size(), kSlots - 64);  // less what other tests keep cached
  uintptr_t lo = Addr(*std::min_element(blocks.begin(), blocks.end()));
  uintptr_t hi = Addr(*std::max_element(blocks.begin(), blocks.end()));
  EXPECT_LT(hi + SlabHeap::kMaxSlotBytes - lo, (size_t{1} << SlabHeap::kRegionShift) + 1);
  for (void* b : blocks) SlabHeap::Free(b);
  EXPECT_NE(p = SlabHeap::Allocate(SlabHeap::kMaxSlotBytes), nullptr);
  SlabHeap::Free(p);
}

}  // namespace
}  // namespace cgosan
