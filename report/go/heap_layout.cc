// The per-version heap layout table (offsets from each toolchain's DWARF; see the header).
#include "report/go/heap_layout.h"

namespace cgosan {
namespace {

// minor, sizeof(mheap), mheap.arenas, mheap.allspans, heapArena.spans; mspan startAddr,
// npages, freeindex, nelems, their size, allocBits, pinnerBits, state, elemsize, limit;
// g.atomicstatus, g.syscallsp; m.alllink.
constexpr GoHeapLayout kLayouts[] = {
    {19, 92672, 65936, 65856, 2097152, 24, 32, 48, 56, 8, 72, 0, 99, 104, 112, 144, 112, 336},
    {21, 92792, 65944, 65864, 1064960, 24, 32, 48, 56, 8, 72, 88, 107, 112, 120, 144, 112, 336},
    {22, 92856, 66008, 65864, 0, 24, 32, 48, 50, 2, 64, 80, 99, 104, 112, 144, 112, 328},
    {23, 92928, 66008, 65864, 0, 24, 32, 48, 50, 2, 64, 80, 99, 104, 112, 152, 112, 328},
    {24, 93008, 66008, 65864, 0, 24, 32, 48, 50, 2, 64, 80, 99, 104, 112, 152, 112, 328},
};

}  // namespace

const GoHeapLayout* FindGoHeapLayout(int minor) {
  for (const GoHeapLayout& l : kLayouts) {
    if (l.minor == minor) return &l;
  }
  return nullptr;
}

}  // namespace cgosan
