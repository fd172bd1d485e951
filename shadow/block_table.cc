// BlockTable implementation: 64 shards of linear-probing tables. Deletion shifts the
// following entries back instead of leaving tombstones, so probe sequences stay as short as
// the load factor (at most 5/8) makes them, however long the program churns. Entries are
// packed into 32 bytes (half a cache line): each malloc and free costs a lookup whose slot
// is rarely in cache, so the table's footprint is what its speed is.
#include "shadow/block_table.h"

#include <atomic>
#include <cstring>

#include "shadow/base/address_region.h"
#include "shadow/base/internal_mmap.h"

namespace cgosan {
namespace {

constexpr int kShards = 64;
constexpr uintptr_t kEmpty = 0;

// A HeapBlock in 32 bytes: size (48 bits), log2(alignment)+1 (6 bits), state, origin.
struct Entry {
  uintptr_t base;
  uint64_t bits;
  StackId alloc_stack, free_stack;
  pid_t alloc_tid, free_tid;
};
static_assert(sizeof(Entry) == 32, "two entries per cache line");

constexpr int kSizeBits = 48;
constexpr uint64_t kSizeMask = (uint64_t{1} << kSizeBits) - 1;

Entry Pack(const HeapBlock& b) {
  uint64_t align_code = b.alignment ? 64 - __builtin_clzll(b.alignment) : 0;  // log2 + 1
  uint64_t bits = (b.size & kSizeMask) | align_code << kSizeBits |
                  uint64_t{static_cast<uint8_t>(b.state) & 3u} << 54 |
                  uint64_t{static_cast<uint8_t>(b.origin) & 7u} << 56;
  return Entry{b.base, bits, b.alloc_stack, b.free_stack, b.alloc_tid, b.free_tid};
}

BlockState StateOf(const Entry& e) { return static_cast<BlockState>((e.bits >> 54) & 3); }

HeapBlock Unpack(const Entry& e) {
  HeapBlock b;
  b.base = e.base;
  b.size = e.bits & kSizeMask;
  uint64_t align_code = (e.bits >> kSizeBits) & 63;
  b.alignment = align_code ? uint32_t{1} << (align_code - 1) : 0;
  b.state = StateOf(e);
  b.origin = static_cast<BlockOrigin>((e.bits >> 56) & 7);
  b.alloc_stack = e.alloc_stack;
  b.free_stack = e.free_stack;
  b.alloc_tid = e.alloc_tid;
  b.free_tid = e.free_tid;
  return b;
}

// One cache line per shard header, so threads on different shards never share one.
struct alignas(64) Shard {
  SpinLock lock;
  Entry* slots = nullptr;
  size_t capacity = 0;  // power of two
  size_t live = 0;
};

Shard g_shards[kShards];

inline void CountRegion(uintptr_t base, int delta) {
  if (BlockTable::CountingRegions()) {
    BlockTable::RegionRecords(base).fetch_add(static_cast<uint32_t>(delta), std::memory_order_relaxed);
  }
}

inline uint64_t Mix(uintptr_t p) {
  uint64_t h = p >> 4;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

inline Shard& ShardFor(uintptr_t base) { return g_shards[Mix(base) & (kShards - 1)]; }
inline size_t Home(const Shard& s, uintptr_t base) { return (Mix(base) >> 6) & (s.capacity - 1); }

// Index of base's slot, or of the empty slot where it would go.
size_t Probe(const Shard& s, uintptr_t base, bool* found) {
  size_t mask = s.capacity - 1;
  for (size_t i = Home(s, base);; i = (i + 1) & mask) {
    uintptr_t key = s.slots[i].base;
    if (key == base || key == kEmpty) {
      *found = key == base;
      return i;
    }
  }
}

bool Grow(Shard& s) {
  size_t new_capacity = s.capacity ? s.capacity * 2 : 64;
  // Populated: every slot is written soon, and a first read of an untouched page maps the
  // zero page, which the first write then replaces (a second fault and a TLB shootdown).
  auto* slots = static_cast<Entry*>(InternalMmapPopulated(new_capacity * sizeof(Entry)));
  if (!slots) return false;
  Entry* old = s.slots;
  size_t old_capacity = s.capacity;
  s.slots = slots;
  s.capacity = new_capacity;
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i].base != kEmpty) {
      bool found;
      s.slots[Probe(s, old[i].base, &found)] = old[i];
    }
  }
  if (old) InternalMunmap(old, old_capacity * sizeof(Entry));
  return true;
}

// Empties slot i, moving back each following entry whose probe sequence passes over it.
void RemoveAt(Shard& s, size_t i) {
  CountRegion(s.slots[i].base, -1);
  size_t mask = s.capacity - 1;
  for (size_t j = (i + 1) & mask; s.slots[j].base != kEmpty; j = (j + 1) & mask) {
    size_t home = Home(s, s.slots[j].base);
    // j may move to i when i lies cyclically in [home, j).
    if (((j - home) & mask) >= ((j - i) & mask)) {
      s.slots[i] = s.slots[j];
      i = j;
    }
  }
  s.slots[i].base = kEmpty;
  --s.live;
}

}  // namespace

bool BlockTable::Insert(const HeapBlock& block) {
  Shard& s = ShardFor(block.base);
  SpinLockGuard guard(s.lock);
  // A table that cannot grow still takes blocks while it has a free slot (probes end at one).
  if ((s.live + 1) * 8 > s.capacity * 5 && !Grow(s) && s.live + 2 > s.capacity) return false;
  bool found;
  size_t at = Probe(s, block.base, &found);
  s.slots[at] = Pack(block);
  if (!found) {
    ++s.live;
    CountRegion(block.base, 1);
  }
  return true;
}

bool BlockTable::Find(uintptr_t base, HeapBlock* out) {
  if (base == kEmpty) return false;
  Shard& s = ShardFor(base);
  SpinLockGuard guard(s.lock);
  if (!s.capacity) return false;
  bool found;
  size_t at = Probe(s, base, &found);
  if (found) *out = Unpack(s.slots[at]);
  return found;
}

std::atomic<uint32_t> BlockTable::region_records_[size_t{1} << BlockTable::kRegionHashBits];

bool BlockTable::ContainsSearched(uintptr_t base) {
  Shard& s = ShardFor(base);
  SpinLockGuard guard(s.lock);
  bool found;
  return s.capacity && (Probe(s, base, &found), found);
}

bool BlockTable::MarkFreed(uintptr_t base, StackId free_stack, pid_t free_tid, HeapBlock* prior) {
  if (base == kEmpty) return false;
  Shard& s = ShardFor(base);
  SpinLockGuard guard(s.lock);
  if (!s.capacity) return false;
  bool found;
  size_t at = Probe(s, base, &found);
  if (!found) return false;
  Entry& e = s.slots[at];
  *prior = Unpack(e);
  if (StateOf(e) == BlockState::kLive) {
    e.bits = (e.bits & ~(uint64_t{3} << 54)) |
             uint64_t{static_cast<uint8_t>(BlockState::kFreed)} << 54;
    e.free_stack = free_stack;
    e.free_tid = free_tid;
  }
  return true;
}

bool BlockTable::Erase(uintptr_t base) {
  if (base == kEmpty) return false;
  Shard& s = ShardFor(base);
  SpinLockGuard guard(s.lock);
  if (!s.capacity) return false;
  bool found;
  size_t at = Probe(s, base, &found);
  if (!found) return false;
  RemoveAt(s, at);
  return true;
}

void BlockTable::EraseAll() {
  for (Shard& s : g_shards) {
    SpinLockGuard guard(s.lock);
    for (size_t i = 0; i < s.capacity; ++i) {
      if (s.slots[i].base == kEmpty) continue;
      CountRegion(s.slots[i].base, -1);
      s.slots[i].base = kEmpty;
    }
    s.live = 0;
  }
}

bool BlockTable::FindContaining(uintptr_t addr, HeapBlock* out) {
  bool found = false;
  for (Shard& s : g_shards) {
    SpinLockGuard guard(s.lock);
    for (size_t i = 0; i < s.capacity; ++i) {
      if (s.slots[i].base == kEmpty) continue;
      HeapBlock b = Unpack(s.slots[i]);
      if (b.Contains(addr)) {
        // Prefer a live block over a freed record of an overlapping, since-reused range.
        if (!found || (b.state == BlockState::kLive && out->state != BlockState::kLive)) {
          *out = b;
          found = true;
        }
      }
    }
  }
  return found;
}

void BlockTable::ForEachLive(Visitor fn, void* ctx) {
  for (Shard& s : g_shards) {
    SpinLockGuard guard(s.lock);
    for (size_t i = 0; i < s.capacity; ++i) {
      const Entry& e = s.slots[i];
      if (e.base != kEmpty && StateOf(e) == BlockState::kLive) fn(Unpack(e), ctx);
    }
  }
}

int BlockTable::NumShards() { return kShards; }

bool BlockTable::ForEachLiveStep(int shard, size_t* cursor, size_t max_slots, Visitor fn,
                                 void* ctx) {
  if (shard < 0 || shard >= kShards) return false;
  Shard& s = g_shards[shard];
  SpinLockGuard guard(s.lock);
  size_t end = *cursor + max_slots < s.capacity ? *cursor + max_slots : s.capacity;
  for (size_t i = *cursor; i < end; ++i) {
    const Entry& e = s.slots[i];
    if (e.base != kEmpty && StateOf(e) == BlockState::kLive) fn(Unpack(e), ctx);
  }
  *cursor = end;
  return end < s.capacity;
}

void BlockTable::LockAll() {
  for (Shard& s : g_shards) s.lock.Lock();
}

void BlockTable::UnlockAll() {
  for (Shard& s : g_shards) s.lock.Unlock();
}

}  // namespace cgosan
