// Explaining a fault in Go memory: an address in a range the runtime freed and faulted
// (efence), and, when it was a map's array, what the map did with it. Faults anywhere else
// in Go memory are not cgosan's: they go to Go's own handler untouched.
#pragma once

#include <cstdint>

#include "report/finding.h"
#include "shadow/go/go_heap.h"
#include "shadow/go/map_arrays.h"

namespace cgosan {

struct GoFaultExplanation {
  FindingKind kind = FindingKind::kGoHeapUseAfterFree;
  GoFreedRange freed;
  bool has_map = false;
  MapArrayRecord map;
};

// Async-signal-safe. False when addr is not in freed Go memory cgosan knows of.
bool ExplainGoFault(uintptr_t addr, GoFaultExplanation* out);

// The time of the process start the freed_ms figures count from (set at attach).
void SetGoClockStart();
int64_t GoMillisSinceStart(int64_t monotonic_ns);

}  // namespace cgosan
