// GoHeap implementation: a small sorted array of arenas and a ring of freed ranges.
#include "shadow/go/go_heap.h"

#include <sys/mman.h>

#include <atomic>

#include "shadow/base/internal_mmap.h"
#include "shadow/base/owned_spin_lock.h"

namespace cgosan {
namespace {

// runtime.heapArenaBytes on 64-bit Linux.
constexpr uintptr_t kHeapArenaBytes = uintptr_t{64} << 20;
// Arena reservations are few (one per 64 MiB of heap growth, usually merged into runs).
constexpr int kMaxArenas = 256;

struct Arena {
  uintptr_t begin, end;
};

struct State {
  OwnedSpinLock lock;
  int num_arenas = 0;
  Arena arenas[kMaxArenas] = {};
  GoFreedRange* ring = nullptr;
  size_t capacity = 0;
  uint64_t written = 0;  // ranges ever recorded; the ring holds the last `capacity`
  std::atomic<uint64_t> gc_cycles{0};
};

State g_state;

class Locked {
 public:
  Locked() { g_state.lock.Lock(); }
  ~Locked() { g_state.lock.Unlock(); }
};

bool InArenaLocked(uintptr_t addr) {
  for (int i = 0; i < g_state.num_arenas; ++i) {
    if (addr >= g_state.arenas[i].begin && addr < g_state.arenas[i].end) return true;
  }
  return false;
}

}  // namespace

bool GoHeap::Init(size_t max_freed_ranges) {
  if (g_state.ring) return true;
  void* mem = InternalMmap(max_freed_ranges * sizeof(GoFreedRange));
  if (!mem) return false;
  Locked locked;
  g_state.ring = static_cast<GoFreedRange*>(mem);
  g_state.capacity = max_freed_ranges;
  return true;
}

void GoHeap::NoteRuntimeMmap(uintptr_t addr, size_t length, int prot, int flags) {
  if (prot != PROT_NONE || (flags & MAP_FIXED) || length == 0) return;
  if (addr % kHeapArenaBytes != 0 || length % kHeapArenaBytes != 0) return;
  Locked locked;
  for (int i = 0; i < g_state.num_arenas; ++i) {
    Arena& a = g_state.arenas[i];
    if (a.end == addr) {
      a.end = addr + length;
      return;
    }
    if (addr + length == a.begin) {
      a.begin = addr;
      return;
    }
  }
  if (g_state.num_arenas < kMaxArenas) g_state.arenas[g_state.num_arenas++] = {addr, addr + length};
}

bool GoHeap::InArena(uintptr_t addr) {
  if (!g_state.lock.LockUnlessHeldBySelf()) return false;
  bool in = InArenaLocked(addr);
  g_state.lock.Unlock();
  return in;
}

void GoHeap::NoteFreed(const GoFreedRange& range) {
  Locked locked;
  if (!g_state.ring) return;
  g_state.ring[g_state.written % g_state.capacity] = range;
  ++g_state.written;
}

bool GoHeap::FindFreed(uintptr_t addr, GoFreedRange* out) {
  if (!g_state.lock.LockUnlessHeldBySelf()) return false;
  bool found = false;
  uint64_t n = g_state.written < g_state.capacity ? g_state.written : g_state.capacity;
  // Newest first: efence never reuses addresses, but without it the runtime may.
  for (uint64_t i = 0; i < n && !found; ++i) {
    const GoFreedRange& r = g_state.ring[(g_state.written - 1 - i) % g_state.capacity];
    if (addr >= r.base && addr - r.base < r.size) {
      *out = r;
      found = true;
    }
  }
  g_state.lock.Unlock();
  return found;
}

void GoHeap::NoteGcCycleDone() { g_state.gc_cycles.fetch_add(1, std::memory_order_relaxed); }
uint64_t GoHeap::GcCycles() { return g_state.gc_cycles.load(std::memory_order_relaxed); }

uint64_t GoHeap::FreedRangesRecorded() {
  Locked locked;
  return g_state.written;
}

void GoHeap::ResetAfterFork() { g_state.lock.ResetAfterFork(); }

}  // namespace cgosan
