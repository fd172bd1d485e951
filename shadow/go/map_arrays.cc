// MapArrays implementation: one open-addressing table keyed by array base, plus one
// "pending" entry per growing map (keyed by map address | 1) that remembers the array being
// relocated and the stack of the growth that is allocating the next array.
#include "shadow/go/map_arrays.h"

#include <atomic>

#include "shadow/base/internal_mmap.h"
#include "shadow/base/owned_spin_lock.h"

namespace cgosan {
namespace {

constexpr uint64_t kEmpty = 0;
constexpr uint64_t kTombstone = 2;  // never a base (8-aligned) nor a pending key (odd)

struct Slot {
  uint64_t key;
  MapArrayRecord rec;
};

struct Table {
  OwnedSpinLock lock;
  Slot* slots = nullptr;
  size_t capacity = 0;  // a power of two
  size_t used = 0;      // including tombstones
  uint64_t recorded = 0;
  uint64_t dropped = 0;
};

Table g_table;

class Locked {
 public:
  Locked() { g_table.lock.Lock(); }
  ~Locked() { g_table.lock.Unlock(); }
};

uint64_t PendingKey(uintptr_t map) { return map | 1; }

size_t Hash(uint64_t key) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdULL;
  key ^= key >> 33;
  return static_cast<size_t>(key);
}

Slot* Lookup(uint64_t key) {
  size_t mask = g_table.capacity - 1;
  for (size_t i = Hash(key) & mask, probes = 0; probes < g_table.capacity;
       i = (i + 1) & mask, ++probes) {
    Slot& s = g_table.slots[i];
    if (s.key == key) return &s;
    if (s.key == kEmpty) return nullptr;
  }
  return nullptr;
}

// The slot for key, created (zeroed) when missing; nullptr when the table is full.
Slot* Upsert(uint64_t key) {
  if (!g_table.slots) return nullptr;
  if (Slot* s = Lookup(key)) return s;
  // Keep a quarter free so that probes stay short and lookups of absent keys end.
  if ((g_table.used + 1) * 4 > g_table.capacity * 3) {
    ++g_table.dropped;
    return nullptr;
  }
  size_t mask = g_table.capacity - 1;
  for (size_t i = Hash(key) & mask;; i = (i + 1) & mask) {
    Slot& s = g_table.slots[i];
    if (s.key == kEmpty || s.key == kTombstone) {
      if (s.key == kEmpty) ++g_table.used;
      s.key = key;
      s.rec = MapArrayRecord();
      ++g_table.recorded;
      return &s;
    }
  }
}


// The map's previous relocating array is gone (a new growth or a clear proves evacuation
// ended); returns the map's pending entry, if any. `current` is the map's array now: when
// the relocating one is that very array, this is the same growth seen again (a function
// re-entered after morestack fires its entry hook twice), not a new one.
Slot* FinishEarlierRelocation(uintptr_t map, uintptr_t current) {
  Slot* pending = Lookup(PendingKey(map));
  if (!pending) return nullptr;
  if (pending->rec.base != 0 && pending->rec.base != current) {
    Slot* old = Lookup(pending->rec.base);
    if (old && old->rec.state == MapArrayState::kRelocating) {
      old->rec.state = MapArrayState::kRelocated;
    }
    pending->rec.base = 0;
  }
  return pending;
}

// The record of the map's current array at an event, created when unseen. Its allocation
// is the last growth of the same map when that growth's new size matches.
Slot* CurrentArray(uintptr_t base, uint64_t size, const MapEvent& e, const Slot* pending) {
  Slot* s = Upsert(base);
  if (!s) return nullptr;
  // An address freed and reused (possible without efence) now holds another map's array.
  if (s->rec.base != 0 && (s->rec.size != size || (e.map && s->rec.map && s->rec.map != e.map))) {
    s->rec = MapArrayRecord();
  }
  if (s->rec.base == 0) {
    s->rec.base = base;
    s->rec.size = size;
    s->rec.map = e.map;
    s->rec.type = e.type;
    s->rec.swiss = e.swiss;
    if (pending && pending->rec.size == size) {
      s->rec.alloc_stack = pending->rec.alloc_stack;
      s->rec.alloc_goroutine = pending->rec.alloc_goroutine;
    }
  }
  if (!s->rec.map) s->rec.map = e.map;
  if (!s->rec.type) s->rec.type = e.type;
  return s;
}

void SetEvent(Slot* s, MapArrayState state, const MapEvent& e) {
  s->rec.state = state;
  s->rec.event_stack = e.stack;
  s->rec.event_goroutine = e.goroutine;
}

}  // namespace

const char* MapArrayStateName(MapArrayState state) {
  switch (state) {
    case MapArrayState::kLive:
      return "live";
    case MapArrayState::kRelocating:
      return "relocating";
    case MapArrayState::kRelocated:
      return "relocated";
    case MapArrayState::kCleared:
      return "cleared";
  }
  return "unknown";
}

bool MapArrays::Init(size_t max_records) {
  if (g_table.slots) return true;
  size_t capacity = 1;
  while (capacity < max_records * 4 / 3 + 1) capacity <<= 1;
  void* mem = InternalMmap(capacity * sizeof(Slot));
  if (!mem) return false;
  Locked locked;
  g_table.slots = static_cast<Slot*>(mem);
  g_table.capacity = capacity;
  return true;
}

void MapArrays::NoteGrowthBegan(uintptr_t base, uint64_t size, uint64_t new_size,
                                const MapEvent& event) {
  Locked locked;
  Slot* pending = FinishEarlierRelocation(event.map, base);
  if (Slot* s = CurrentArray(base, size, event, pending)) {
    SetEvent(s, MapArrayState::kRelocating, event);
  }
  if (!pending) pending = Upsert(PendingKey(event.map));
  if (!pending) return;
  pending->rec.base = base;                    // the array now relocating
  pending->rec.size = new_size;                // the array now being allocated
  pending->rec.map = event.map;
  pending->rec.alloc_stack = event.stack;
  pending->rec.alloc_goroutine = event.goroutine;
}

void MapArrays::NoteRelocated(uintptr_t base, uint64_t size, const MapEvent& event) {
  Locked locked;
  if (Slot* s = CurrentArray(base, size, event, nullptr)) {
    SetEvent(s, MapArrayState::kRelocated, event);
  }
}

void MapArrays::NoteCleared(uintptr_t base, uint64_t size, const MapEvent& event) {
  Locked locked;
  Slot* pending = event.map ? FinishEarlierRelocation(event.map, 0) : nullptr;
  if (Slot* s = CurrentArray(base, size, event, pending)) {
    SetEvent(s, MapArrayState::kCleared, event);
  }
}

bool MapArrays::Find(uintptr_t addr, MapArrayRecord* out) {
  if (!g_table.lock.LockUnlessHeldBySelf()) return false;
  bool found = false;
  for (size_t i = 0; i < g_table.capacity && !found; ++i) {
    const Slot& s = g_table.slots[i];
    if (s.key == kEmpty || s.key == kTombstone || (s.key & 1)) continue;
    if (addr >= s.rec.base && addr - s.rec.base < s.rec.size) {
      *out = s.rec;
      found = true;
    }
  }
  g_table.lock.Unlock();
  return found;
}

uint64_t MapArrays::Recorded() {
  Locked locked;
  return g_table.recorded;
}

uint64_t MapArrays::Dropped() {
  Locked locked;
  return g_table.dropped;
}

void MapArrays::ResetAfterFork() { g_table.lock.ResetAfterFork(); }

}  // namespace cgosan
