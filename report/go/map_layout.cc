// The map layout table (see map_layout.h). Offsets from runtime/map.go (1.19-1.23),
// runtime/map_noswiss.go (1.24), internal/runtime/maps/table.go and internal/abi (1.24).
#include "report/go/map_layout.h"

namespace cgosan {
namespace {

constexpr const char* kHashGrow = "runtime.hashGrow";
constexpr const char* kMapClear = "runtime.mapclear";

// hmap {count int; flags, B uint8; noverflow uint16; hash0 uint32; buckets, oldbuckets ...}
// maptype {Type (48 bytes); key, elem, bucket *Type; hasher; keysize, elemsize uint8;
// bucketsize uint16; flags uint32}: unchanged from 1.19 to 1.24's noswissmap.
constexpr GoMapLayout kLayouts[] = {
    {19, false, 0, 9, 16, 24, 82, 13, kHashGrow, kMapClear, 0, 0, 0, 0, nullptr},
    {21, false, 0, 9, 16, 24, 82, 12, kHashGrow, kMapClear, 0, 0, 0, 0, nullptr},
    {22, false, 0, 9, 16, 24, 82, 13, kHashGrow, kMapClear, 0, 0, 0, 0, nullptr},
    {23, false, 0, 9, 16, 24, 82, 13, kHashGrow, kMapClear, 0, 0, 0, 0, nullptr},
    {24, false, 0, 9, 16, 24, 82, 13, kHashGrow, kMapClear, 0, 0, 0, 0, nullptr},
    // table {used, capacity, growthLeft uint16; localDepth uint8; index int;
    // groups {data unsafe.Pointer; lengthMask uint64}}; SwissMapType {Type; Key, Elem,
    // Group *Type; Hasher; GroupSize uintptr ...}.
    {24, true, 0, 0, 0, 0, 0, 0, "internal/runtime/maps.(*table).grow",
     "internal/runtime/maps.(*table).Clear", 2, 16, 24, 80, "internal/runtime/maps.(*table).split"},
};

constexpr uint64_t kPageSize = 8192;  // the Go runtime's page size
constexpr uint64_t kMaxSmallSize = 32768;

}  // namespace

const GoMapLayout* FindGoMapLayout(int minor, bool swiss) {
  for (const GoMapLayout& l : kLayouts) {
    if (l.minor == minor && l.swiss == swiss) return &l;
  }
  return nullptr;
}

uint64_t BucketArrayBytes(uint32_t b, uint32_t bucket_size) {
  if (b > 48) return 0;
  uint64_t buckets = uint64_t{1} << b;
  if (b >= 4) buckets += uint64_t{1} << (b - 4);
  uint64_t bytes = buckets * bucket_size;
  if (bytes > kMaxSmallSize) bytes = (bytes + kPageSize - 1) / kPageSize * kPageSize;
  return bytes;
}

bool GrowthDoubles(const GoMapLayout& layout, uint64_t count, uint32_t b) {
  // overLoadFactor: count > bucketCnt && count > loadFactorNum * (2^B / loadFactorDen),
  // with bucketCnt 8 and loadFactorDen 2 in every version with classic maps.
  uint64_t n = count + 1;
  if (b > 48) return false;
  return n > 8 && n > layout.load_factor_num * ((uint64_t{1} << b) / 2);
}

}  // namespace cgosan
