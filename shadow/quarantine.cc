// Quarantine implementation: a ring buffer in InternalMmap memory, evicting by byte budget
// and by entry count.
#include "shadow/quarantine.h"

#include "shadow/base/internal_mmap.h"

namespace cgosan {

bool Quarantine::Init(uint64_t budget_bytes, size_t max_entries) {
  budget_ = budget_bytes;
  capacity_ = max_entries;
  ring_ = static_cast<Entry*>(InternalMmap(max_entries * sizeof(Entry)));
  return ring_ != nullptr;
}

int Quarantine::Push(const Entry* entries, int count, Entry* evicted) {
  if (!ring_ || budget_ == 0) {
    for (int i = 0; i < count; ++i) evicted[i] = entries[i];
    return count;
  }
  SpinLockGuard guard(lock_);
  // In locals: the ring's and evicted's stores could alias the members otherwise, and every
  // iteration would reload them.
  Entry* const ring = ring_;
  const size_t capacity = capacity_;
  const uint64_t budget = budget_;
  size_t head = head_, held = count_;
  uint64_t bytes = bytes_;
  auto evict_oldest = [&](Entry* out) {
    *out = ring[head];
    bytes -= ring[head].bytes;
    head = head + 1 == capacity ? 0 : head + 1;
    --held;
  };
  int n = 0;
  // All of entries first (making room by count where the ring is full), then the oldest
  // out until the bytes fit again: the budget may be exceeded only within this call.
  for (int i = 0; i < count; ++i) {
    const Entry& e = entries[i];
    if (e.bytes > budget) {
      evicted[n++] = e;  // too big to hold: released at once
      continue;
    }
    if (held == capacity) evict_oldest(&evicted[n++]);
    size_t tail = head + held;  // no division: this runs on every free
    ring[tail >= capacity ? tail - capacity : tail] = e;
    ++held;
    bytes += e.bytes;
  }
  // Bounded: a large entry may need many small ones out; the rest go on the next push.
  for (int out = 0; bytes > budget && out < kMaxEvictPerPush; ++out) evict_oldest(&evicted[n++]);
  head_ = head;
  count_ = held;
  bytes_ = bytes;
  return n;
}

bool Quarantine::PopOldest(Entry* out) {
  SpinLockGuard guard(lock_);
  if (count_ == 0) return false;
  *out = ring_[head_];
  bytes_ -= out->bytes;
  head_ = Next(head_);
  --count_;
  return true;
}

}  // namespace cgosan
