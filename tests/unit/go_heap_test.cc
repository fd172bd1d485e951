// GoHeap (arenas, freed ranges, GC cycles) and MapArrays (the life of map arrays through
// growth, clears and Swiss relocations), driven as the runtime hooks drive them.
#include "shadow/go/go_heap.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include "report/go/map_layout.h"
#include "shadow/go/map_arrays.h"

namespace cgosan {
namespace {

constexpr uintptr_t kArena = 0xc000000000;
constexpr uintptr_t kMiB = 1 << 20;

TEST(GoHeapTest, ArenasAreTheRuntimesAlignedReservations) {
  GoHeap::NoteRuntimeMmap(kArena, 64 * kMiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
  GoHeap::NoteRuntimeMmap(kArena + 64 * kMiB, 64 * kMiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
  // Commits (MAP_FIXED, read-write) and unaligned reservations are not arenas.
  GoHeap::NoteRuntimeMmap(0x7f0000000000, 64 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  GoHeap::NoteRuntimeMmap(0x7f1000001000, 64 * kMiB, PROT_NONE, MAP_PRIVATE);
  EXPECT_TRUE(GoHeap::InArena(kArena));
  EXPECT_TRUE(GoHeap::InArena(kArena + 128 * kMiB - 1));
  EXPECT_FALSE(GoHeap::InArena(kArena + 128 * kMiB));
  EXPECT_FALSE(GoHeap::InArena(0x7f0000000000));
  EXPECT_FALSE(GoHeap::InArena(0x7f1000001000));
}

TEST(GoHeapTest, FreedRangesAreFoundNewestFirst) {
  ASSERT_TRUE(GoHeap::Init(4));
  uint64_t before = GoHeap::FreedRangesRecorded();
  GoFreedRange heap;
  heap.base = kArena + kMiB;
  heap.size = 40960;
  heap.gc_cycle = 3;
  GoHeap::NoteFreed(heap);
  GoFreedRange out;
  ASSERT_TRUE(GoHeap::FindFreed(kArena + kMiB + 40959, &out));
  EXPECT_EQ(out.base, heap.base);
  EXPECT_EQ(out.gc_cycle, 3u);
  EXPECT_FALSE(GoHeap::FindFreed(kArena + kMiB + 40960, &out));
  EXPECT_FALSE(GoHeap::FindFreed(kArena + kMiB - 1, &out));

  // The same address freed again later (no efence: reuse) reports the newer free.
  heap.gc_cycle = 5;
  GoHeap::NoteFreed(heap);
  ASSERT_TRUE(GoHeap::FindFreed(heap.base, &out));
  EXPECT_EQ(out.gc_cycle, 5u);

  // The ring keeps the last four.
  for (int i = 0; i < 4; ++i) {
    GoFreedRange stack;
    stack.base = 0x7f2000000000 + i * 65536;
    stack.size = 8192;
    stack.kind = GoFreedKind::kStack;
    stack.goroutine = 10 + i;
    GoHeap::NoteFreed(stack);
  }
  EXPECT_EQ(GoHeap::FreedRangesRecorded(), before + 6);
  EXPECT_FALSE(GoHeap::FindFreed(heap.base, &out));
  ASSERT_TRUE(GoHeap::FindFreed(0x7f2000000000 + 3 * 65536 + 100, &out));
  EXPECT_EQ(out.kind, GoFreedKind::kStack);
  EXPECT_EQ(out.goroutine, 13);
}

TEST(GoHeapTest, GcCyclesCount) {
  uint64_t before = GoHeap::GcCycles();
  GoHeap::NoteGcCycleDone();
  GoHeap::NoteGcCycleDone();
  EXPECT_EQ(GoHeap::GcCycles(), before + 2);
}

MapEvent Event(uintptr_t map, StackId stack) {
  MapEvent e;
  e.map = map;
  e.type = 0x500000;
  e.stack = stack;
  e.goroutine = 1;
  return e;
}

TEST(MapArraysTest, ClassicGrowthRelocatesAndLearnsTheNewArrayAtTheNextEvent) {
  ASSERT_TRUE(MapArrays::Init(1024));
  const uintptr_t map = 0xc000010000;
  const uintptr_t a = kArena + 8 * kMiB, b = kArena + 9 * kMiB, c = kArena + 10 * kMiB;
  const uint64_t size8 = BucketArrayBytes(8, 144), size9 = BucketArrayBytes(9, 144);
  const uint64_t size10 = BucketArrayBytes(10, 144);
  MapArrays::NoteGrowthBegan(a, size8, size9, Event(map, 11));
  MapArrayRecord r;
  ASSERT_TRUE(MapArrays::Find(a + 8, &r));
  EXPECT_EQ(r.state, MapArrayState::kRelocating);
  EXPECT_EQ(r.map, map);
  EXPECT_EQ(r.event_stack, 11u);
  EXPECT_EQ(r.alloc_stack, 0u);  // made before any hook saw the map
  EXPECT_FALSE(MapArrays::Find(b, &r));

  // The same growth seen again (entry hook after morestack): nothing changes.
  MapArrays::NoteGrowthBegan(a, size8, size9, Event(map, 11));
  ASSERT_TRUE(MapArrays::Find(a, &r));
  EXPECT_EQ(r.state, MapArrayState::kRelocating);

  // The next growth proves the first one ended, and b is the array it allocated.
  MapArrays::NoteGrowthBegan(b, size9, size10, Event(map, 12));
  ASSERT_TRUE(MapArrays::Find(a, &r));
  EXPECT_EQ(r.state, MapArrayState::kRelocated);
  ASSERT_TRUE(MapArrays::Find(b + size9 - 1, &r));
  EXPECT_EQ(r.state, MapArrayState::kRelocating);
  EXPECT_EQ(r.alloc_stack, 11u);
  EXPECT_EQ(r.event_stack, 12u);

  // A clear ends the relocation of b and marks c (allocated by the second growth) cleared.
  MapArrays::NoteCleared(c, size10, Event(map, 13));
  ASSERT_TRUE(MapArrays::Find(b, &r));
  EXPECT_EQ(r.state, MapArrayState::kRelocated);
  ASSERT_TRUE(MapArrays::Find(c, &r));
  EXPECT_EQ(r.state, MapArrayState::kCleared);
  EXPECT_EQ(r.alloc_stack, 12u);
  EXPECT_EQ(r.event_stack, 13u);
}

// Small arrays never explain a fault (go_fault.cc checks the size) but are recorded, so that
// a Go pointer C kept into one is named as the map's array.
TEST(MapArraysTest, SmallArraysAreRecordedForNaming) {
  ASSERT_TRUE(MapArrays::Init(1024));
  const uintptr_t map = 0xc000020000, small = kArena + 20 * kMiB;
  MapArrays::NoteGrowthBegan(small, BucketArrayBytes(3, 144), BucketArrayBytes(4, 144),
                             Event(map, 21));
  MapArrayRecord r;
  ASSERT_TRUE(MapArrays::Find(small + 72, &r));
  EXPECT_EQ(r.base, small);
  EXPECT_EQ(r.size, BucketArrayBytes(3, 144));
  EXPECT_LE(r.size, MapArrays::kMaxSmallObject);
  EXPECT_EQ(r.map, map);
  EXPECT_EQ(r.state, MapArrayState::kRelocating);
  EXPECT_FALSE(MapArrays::Find(small + BucketArrayBytes(3, 144), &r));
}

TEST(MapArraysTest, SwissRelocationAndReuseOfAnAddress) {
  ASSERT_TRUE(MapArrays::Init(1024));
  const uintptr_t map = 0xc000030000, groups = kArena + 30 * kMiB;
  MapEvent e = Event(map, 31);
  e.swiss = true;
  MapArrays::NoteCleared(groups, 278528, e);
  MapArrayRecord r;
  ASSERT_TRUE(MapArrays::Find(groups, &r));
  EXPECT_EQ(r.state, MapArrayState::kCleared);
  EXPECT_TRUE(r.swiss);
  e.stack = 32;
  MapArrays::NoteRelocated(groups, 278528, e);
  ASSERT_TRUE(MapArrays::Find(groups + 1000, &r));
  EXPECT_EQ(r.state, MapArrayState::kRelocated);
  EXPECT_EQ(r.event_stack, 32u);
  EXPECT_FALSE(MapArrays::Find(groups + 278528, &r));
  // The address reused by another map's array (no efence): a fresh record replaces the old.
  MapEvent other = Event(map + 0x1000, 34);
  other.swiss = true;
  MapArrays::NoteCleared(groups, 65536, other);
  ASSERT_TRUE(MapArrays::Find(groups, &r));
  EXPECT_EQ(r.map, map + 0x1000);
  EXPECT_EQ(r.state, MapArrayState::kCleared);
  EXPECT_EQ(r.size, 65536u);
  EXPECT_FALSE(MapArrays::Find(groups + 70000, &r));
}

TEST(MapLayoutTest, BucketArraySizesAndGrowthMatchTheRuntime) {
  // map[int]int: 144-byte buckets. B=8 (256 + 16 buckets) is the first large array.
  EXPECT_EQ(BucketArrayBytes(3, 144), 8u * 144);
  EXPECT_EQ(BucketArrayBytes(7, 144), (128u + 8) * 144);
  EXPECT_EQ(BucketArrayBytes(8, 144), 40960u);  // 272 * 144 = 39168, rounded to 8 KiB pages
  EXPECT_GT(BucketArrayBytes(8, 144), MapArrays::kMaxSmallObject);
  EXPECT_LE(BucketArrayBytes(7, 144), MapArrays::kMaxSmallObject);
  // overLoadFactor: more than 6.5 entries per bucket on average (6 in Go 1.21).
  ASSERT_NE(FindGoMapLayout(19, false), nullptr);
  ASSERT_NE(FindGoMapLayout(21, false), nullptr);
  const GoMapLayout& go119 = *FindGoMapLayout(19, false);
  const GoMapLayout& go121 = *FindGoMapLayout(21, false);
  EXPECT_FALSE(GrowthDoubles(go119, 7, 0));
  EXPECT_TRUE(GrowthDoubles(go119, 8, 0));
  EXPECT_FALSE(GrowthDoubles(go119, 1663, 8));  // 1664 = 13 * 256 / 2
  EXPECT_TRUE(GrowthDoubles(go119, 1664, 8));
  EXPECT_FALSE(GrowthDoubles(go121, 1535, 8));  // 1536 = 12 * 256 / 2
  EXPECT_TRUE(GrowthDoubles(go121, 1536, 8));
  EXPECT_EQ(FindGoMapLayout(22, false)->load_factor_num, 13u);
  ASSERT_NE(FindGoMapLayout(24, true), nullptr);
  EXPECT_EQ(FindGoMapLayout(23, true), nullptr);
  EXPECT_EQ(FindGoMapLayout(20, false), nullptr);
}

}  // namespace
}  // namespace cgosan
