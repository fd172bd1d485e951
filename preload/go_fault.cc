// ExplainGoFault: the freed-range lookup, then the map-array lookup for the same address.
#include "preload/go_fault.h"

#include <time.h>

namespace cgosan {
namespace {

int64_t g_start_ns = 0;

}  // namespace

void SetGoClockStart() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  g_start_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t GoMillisSinceStart(int64_t monotonic_ns) {
  if (monotonic_ns < g_start_ns) return -1;
  return (monotonic_ns - g_start_ns) / 1000000;
}

bool ExplainGoFault(uintptr_t addr, GoFaultExplanation* out) {
  if (!GoHeap::FindFreed(addr, &out->freed)) return false;
  // Only a large array can be the freed range itself: a small one shares its span.
  out->has_map = out->freed.kind == GoFreedKind::kHeap && MapArrays::Find(addr, &out->map) &&
                 out->map.size > MapArrays::kMaxSmallObject;
  bool relocated = out->has_map && (out->map.state == MapArrayState::kRelocating ||
                                    out->map.state == MapArrayState::kRelocated);
  if (relocated) {
    // The GC freed it, so a growth that was still relocating it has finished.
    out->map.state = MapArrayState::kRelocated;
    out->kind = FindingKind::kMapBucketUseAfterRelocation;
  } else {
    // A live or cleared array that was freed went with its map: plain freed Go heap, the map
    // details still said.
    out->kind = out->freed.kind == GoFreedKind::kStack ? FindingKind::kGoStackUseAfterFree
                                                       : FindingKind::kGoHeapUseAfterFree;
  }
  return true;
}

}  // namespace cgosan
