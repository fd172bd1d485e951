// GoMapLayout: the layouts of Go's map implementation that the map hooks read, one entry per
// Go version and map implementation (../shared/go-runtime-facts.md "Maps"): the classic
// hmap/bucket-array maps of Go 1.19-1.23 (and 1.24 built with GOEXPERIMENT=noswissmap) and
// the Swiss tables of Go 1.24. The hook sites (function names) are part of the layout: a
// binary where one is missing gets no map hooks at all.
#pragma once

#include <cstdint>

namespace cgosan {

struct GoMapLayout {
  int minor;   // Go 1.<minor>
  bool swiss;  // Swiss tables (internal/runtime/maps)
  // Classic maps: hmap fields and maptype.bucketsize (uint16); map functions.
  uint32_t hmap_count, hmap_b, hmap_buckets, hmap_oldbuckets;
  uint32_t maptype_bucketsize;
  // loadFactorNum (over loadFactorDen 2): 13 except in 1.21, whose integer arithmetic made it
  // 12 (bucketCnt*13/16 truncated before the multiplication).
  uint32_t load_factor_num;
  const char* grow_function;   // hashGrow(t *maptype, h *hmap) / (*table).grow
  const char* clear_function;  // mapclear(t, h) / (*table).Clear(t *table, typ)
  // Swiss tables: table.capacity (uint16), table.groups.data, table.groups.lengthMask,
  // SwissMapType.GroupSize; (*table).split(t, typ, m).
  uint32_t table_capacity, table_groups_data, table_length_mask, swiss_group_size;
  const char* split_function;
};

// The layout for Go 1.<minor> with the given map implementation, or nullptr.
const GoMapLayout* FindGoMapLayout(int minor, bool swiss);

// Bytes of a classic bucket array of 2^b buckets as makeBucketArray allocates it: 1/16
// extra overflow buckets from b >= 4, a large allocation rounded up to whole 8 KiB pages.
uint64_t BucketArrayBytes(uint32_t b, uint32_t bucket_size);
// Whether growing a map of count entries and 2^b buckets doubles it (overLoadFactor of
// count+1) rather than growing at the same size (too many overflow buckets).
bool GrowthDoubles(const GoMapLayout& layout, uint64_t count, uint32_t b);

}  // namespace cgosan
