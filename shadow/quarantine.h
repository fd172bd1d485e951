// Quarantine: a FIFO of freed things (slot indices or block addresses) with a byte budget.
// Memory freed by the program waits here before it can be reused, so that a use after free
// or a double free finds the freed record instead of someone else's new block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shadow/base/spin_lock.h"

namespace cgosan {

class Quarantine {
 public:
  struct Entry {
    uintptr_t key;
    uint64_t bytes;
  };
  static constexpr int kMaxEvictPerPush = 64;

  // budget_bytes == 0: nothing is held (every Push evicts its own entry at once).
  bool Init(uint64_t budget_bytes, size_t max_entries);

  // Appends entries[0..n) under one lock; returns the entries that now leave the quarantine
  // (the oldest, and any of entries too big to hold) in evicted[0..return value), which has
  // room for kMaxEvictPerPush + n. The caller releases them. At most kMaxEvictPerPush leave
  // for the byte budget in one push, so a push may leave the quarantine above its budget
  // until the next.
  int Push(const Entry* entries, int n, Entry* evicted);
  int Push(Entry e, Entry* evicted) { return Push(&e, 1, evicted); }
  // Takes the oldest entry out (false when empty); the caller releases it.
  bool PopOldest(Entry* out);

  uint64_t bytes() const { return bytes_; }
  void Lock() { lock_.Lock(); }
  void Unlock() { lock_.Unlock(); }

 private:
  size_t Next(size_t i) const { return i + 1 == capacity_ ? 0 : i + 1; }

  SpinLock lock_;
  Entry* ring_ = nullptr;
  size_t capacity_ = 0;
  size_t head_ = 0;  // oldest
  size_t count_ = 0;
  uint64_t bytes_ = 0;
  uint64_t budget_ = 0;
};

}  // namespace cgosan
