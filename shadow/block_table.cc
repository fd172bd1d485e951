// BlockTable implementation: 64 shards of linear-probing tables with tombstones.
#include "shadow/block_table.h"

#include <atomic>
#include <cstring>

#include "shadow/base/internal_mmap.h"

namespace cgosan {
namespace {

constexpr int kShards = 64;
constexpr uintptr_t kEmpty = 0;
constexpr uintptr_t kTombstone = 1;  // never a malloc result

struct Shard {
  SpinLock lock;
  HeapBlock* slots = nullptr;
  size_t capacity = 0;  // power of two
  size_t used = 0;      // live entries + tombstones
  size_t live = 0;
};

Shard g_shards[kShards];

inline uint64_t Mix(uintptr_t p) {
  uint64_t h = p >> 4;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

inline Shard& ShardFor(uintptr_t base) { return g_shards[Mix(base) & (kShards - 1)]; }

// Index of base's slot, or of the slot where it would go (first tombstone or empty).
size_t Probe(const Shard& s, uintptr_t base, bool* found) {
  size_t mask = s.capacity - 1;
  size_t i = (Mix(base) >> 6) & mask;
  size_t insert_at = SIZE_MAX;
  for (;;) {
    uintptr_t key = s.slots[i].base;
    if (key == base) {
      *found = true;
      return i;
    }
    if (key == kEmpty) {
      *found = false;
      return insert_at != SIZE_MAX ? insert_at : i;
    }
    if (key == kTombstone && insert_at == SIZE_MAX) insert_at = i;
    i = (i + 1) & mask;
  }
}

bool Grow(Shard& s) {
  size_t new_capacity = s.capacity ? s.capacity * 2 : 1024;
  // Only rehash into a larger table when live entries (not tombstones) fill it.
  if (s.capacity && s.live * 4 < s.capacity) new_capacity = s.capacity;
  auto* slots = static_cast<HeapBlock*>(InternalMmap(new_capacity * sizeof(HeapBlock)));
  if (!slots) return false;
  HeapBlock* old = s.slots;
  size_t old_capacity = s.capacity;
  s.slots = slots;
  s.capacity = new_capacity;
  s.used = 0;
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i].base > kTombstone) {
      bool found;
      size_t at = Probe(s, old[i].base, &found);
      s.slots[at] = old[i];
      ++s.used;
    }
  }
  if (old) InternalMunmap(old, old_capacity * sizeof(HeapBlock));
  return true;
}

}  // namespace

void BlockTable::Insert(const HeapBlock& block) {
  Shard& s = ShardFor(block.base);
  SpinLockGuard guard(s.lock);
  if ((s.used + 1) * 4 > s.capacity * 3 && !Grow(s)) return;
  bool found;
  size_t at = Probe(s, block.base, &found);
  if (!found) {
    if (s.slots[at].base == kEmpty) ++s.used;
    ++s.live;
  }
  s.slots[at] = block;
}

bool BlockTable::Find(uintptr_t base, HeapBlock* out) {
  if (base <= kTombstone) return false;
  Shard& s = ShardFor(base);
  SpinLockGuard guard(s.lock);
  if (!s.capacity) return false;
  bool found;
  size_t at = Probe(s, base, &found);
  if (found) *out = s.slots[at];
  return found;
}

bool BlockTable::MarkFreed(uintptr_t base, StackId free_stack, pid_t free_tid, HeapBlock* prior) {
  if (base <= kTombstone) return false;
  Shard& s = ShardFor(base);
  SpinLockGuard guard(s.lock);
  if (!s.capacity) return false;
  bool found;
  size_t at = Probe(s, base, &found);
  if (!found) return false;
  *prior = s.slots[at];
  if (s.slots[at].state == BlockState::kLive) {
    s.slots[at].state = BlockState::kFreed;
    s.slots[at].free_stack = free_stack;
    s.slots[at].free_tid = free_tid;
  }
  return true;
}

bool BlockTable::Erase(uintptr_t base) {
  if (base <= kTombstone) return false;
  Shard& s = ShardFor(base);
  SpinLockGuard guard(s.lock);
  if (!s.capacity) return false;
  bool found;
  size_t at = Probe(s, base, &found);
  if (!found) return false;
  s.slots[at].base = kTombstone;
  --s.live;
  return true;
}

bool BlockTable::FindContaining(uintptr_t addr, HeapBlock* out) {
  bool found = false;
  for (Shard& s : g_shards) {
    SpinLockGuard guard(s.lock);
    for (size_t i = 0; i < s.capacity; ++i) {
      const HeapBlock& b = s.slots[i];
      if (b.base > kTombstone && b.Contains(addr)) {
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
      const HeapBlock& b = s.slots[i];
      if (b.base > kTombstone && b.state == BlockState::kLive) fn(b, ctx);
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
    const HeapBlock& b = s.slots[i];
    if (b.base > kTombstone && b.state == BlockState::kLive) fn(b, ctx);
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
