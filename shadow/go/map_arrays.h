// MapArrays: the bucket arrays of Go maps (Go 1.19-1.23, and 1.24 built with
// GOEXPERIMENT=noswissmap) and the group arrays of Swiss-table maps (1.24), learned from
// runtime hooks at the few events that change them: growth, clearing, table splits. Arrays
// of every size the hooks see are kept (the hooks only trap for maps whose next array can
// be large): a small array shares its pages with other objects, so no fault is ever
// explained by it (callers check the size), but a pointer C kept into it is still named.
//
// Growth of a classic map is incremental: at hashGrow the current array starts relocating;
// its entries move as the map is written; the array is dropped when evacuation completes.
// That end is learned lazily: the next growth or clear of the same map proves it, and so
// does the GC freeing the array. The array a growth allocates is learned at the next event
// on that map too (its allocation stack is kept for it meanwhile): one hook hit per growth
// instead of three (hooks on makeBucketArray's entry and return would add two).
#pragma once

#include <cstddef>
#include <cstdint>

#include "shadow/stack_depot.h"

namespace cgosan {

enum class MapArrayState : uint8_t { kLive, kRelocating, kRelocated, kCleared };
const char* MapArrayStateName(MapArrayState state);  // "live", "relocating", ...

struct MapArrayRecord {
  uintptr_t base = 0;
  uint64_t size = 0;
  uintptr_t map = 0;   // the hmap / maps.Map header (0: not known)
  uintptr_t type = 0;  // the map's runtime type descriptor (0: not known)
  bool swiss = false;  // a group array of a Swiss-table map
  MapArrayState state = MapArrayState::kLive;
  StackId alloc_stack = 0;  // the growth (or make) that allocated it
  int64_t alloc_goroutine = -1;
  StackId event_stack = 0;  // the growth that relocated it, or the clear that reused it
  int64_t event_goroutine = -1;
};

// What a growth, split or clear saw, for the record of the array it touched.
struct MapEvent {
  uintptr_t map = 0;
  uintptr_t type = 0;
  bool swiss = false;
  StackId stack = 0;
  int64_t goroutine = -1;
};

class MapArrays {
 public:
  // Arrays of at most this many bytes are small objects (runtime maxSmallSize).
  static constexpr uint64_t kMaxSmallObject = 32768;

  static bool Init(size_t max_records);  // attach-time; false: nothing is recorded

  // Classic growth began at hashGrow: the array [base, base+size) starts relocating; every
  // earlier array of the same map has been dropped; the array being allocated now belongs to
  // the map and was made by this event (kept as pending until its address is known).
  static void NoteGrowthBegan(uintptr_t base, uint64_t size, uint64_t new_size,
                              const MapEvent& event);
  // Swiss growth or split: [base, base+size) was copied into new tables and dropped.
  static void NoteRelocated(uintptr_t base, uint64_t size, const MapEvent& event);
  // A clear zeroed [base, base+size) for reuse; earlier arrays of the map were dropped.
  static void NoteCleared(uintptr_t base, uint64_t size, const MapEvent& event);

  // The record of the array containing addr. A relocating array that the caller knows to be
  // freed (the GC faulted it) is reported as relocated by the caller. Async-signal-safe.
  static bool Find(uintptr_t addr, MapArrayRecord* out);

  static uint64_t Recorded();  // records written so far
  static uint64_t Dropped();   // events not recorded because the table was full
  static void ResetAfterFork();
};

}  // namespace cgosan
