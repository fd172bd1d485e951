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

}  // namespace
}  // namespace cgosan
