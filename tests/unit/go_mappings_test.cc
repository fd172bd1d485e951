// GoMappings: merging, splitting and lookups of the Go runtime's ranges.
#include "shadow/go_mappings.h"

#include <gtest/gtest.h>

namespace cgosan {
namespace {

TEST(GoMappingsTest, MergesAdjacentAndOverlappingRangesAndSplitsOnRemove) {
  const uintptr_t arena = 0xc000000000;
  GoMappings::Add(arena, 64 << 20);                 // reservation
  GoMappings::Add(arena, 4 << 20);                  // commit inside it
  GoMappings::Add(arena + (64 << 20), 64 << 20);    // the next arena, adjacent
  EXPECT_EQ(GoMappings::RangeCount(), 1u);
  EXPECT_EQ(GoMappings::Bytes(), uint64_t{128} << 20);
  EXPECT_TRUE(GoMappings::Contains(arena));
  EXPECT_TRUE(GoMappings::Contains(arena + (128 << 20) - 1));
  EXPECT_FALSE(GoMappings::Contains(arena + (128 << 20)));
  EXPECT_FALSE(GoMappings::Contains(arena - 1));

  GoMappings::Add(0x7f0000000000, 8192);  // runtime metadata elsewhere
  EXPECT_EQ(GoMappings::RangeCount(), 2u);
  EXPECT_TRUE(GoMappings::Contains(0x7f0000001000));

  GoMappings::Remove(arena + (16 << 20), 1 << 20);  // a hole
  EXPECT_EQ(GoMappings::RangeCount(), 3u);
  EXPECT_FALSE(GoMappings::Contains(arena + (16 << 20)));
  EXPECT_TRUE(GoMappings::Contains(arena + (17 << 20)));

  GoMappings::Remove(0, ~uintptr_t{0} >> 1);
  EXPECT_EQ(GoMappings::RangeCount(), 0u);
  EXPECT_FALSE(GoMappings::Contains(arena));
}

// A thread's last hit is remembered (the fast path of every cgo call's argument scan): it
// must not outlive a change of the table, neither a removal nor a split of its range.
TEST(GoMappingsTest, RememberedHitEndsWithTheRange) {
  const uintptr_t arena = 0xc000000000;
  const uintptr_t hole = arena + (16 << 20);
  GoMappings::Add(arena, 64 << 20);
  EXPECT_TRUE(GoMappings::Contains(hole + 4096));  // remembered: [arena, arena + 64 MiB)
  EXPECT_TRUE(GoMappings::Contains(hole + 8192));
  GoMappings::Remove(hole, 1 << 20);  // a hole inside the remembered range, bounds unchanged
  EXPECT_FALSE(GoMappings::Contains(hole + 4096));
  EXPECT_TRUE(GoMappings::Contains(arena + (32 << 20)));  // remembered: the upper part
  GoMappings::Remove(arena + (32 << 20), 1 << 20);
  EXPECT_FALSE(GoMappings::Contains(arena + (32 << 20)));
  GoMappings::Remove(0, ~uintptr_t{0} >> 1);
  EXPECT_EQ(GoMappings::RangeCount(), 0u);
}

// The same for the gap a missed word fell into: a range mapped into it ends the miss.
TEST(GoMappingsTest, RememberedGapEndsWithANewRange) {
  const uintptr_t arena = 0xc000000000;
  const uintptr_t high = 0x7f0000000000;
  GoMappings::Add(arena, 64 << 20);
  GoMappings::Add(high, 8192);
  const uintptr_t c_pointer = 0x7e0000001000;  // between the two ranges
  EXPECT_FALSE(GoMappings::Contains(c_pointer));
  EXPECT_FALSE(GoMappings::Contains(c_pointer + 8));  // the remembered gap
  GoMappings::Add(c_pointer & ~uintptr_t{0xfff}, 4096);
  EXPECT_TRUE(GoMappings::Contains(c_pointer + 8));
  EXPECT_TRUE(GoMappings::Contains(arena + 4096));
  EXPECT_TRUE(GoMappings::Contains(high));
  GoMappings::Remove(0, ~uintptr_t{0} >> 1);
  EXPECT_EQ(GoMappings::RangeCount(), 0u);
}

}  // namespace
}  // namespace cgosan
