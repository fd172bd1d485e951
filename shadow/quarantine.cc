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
  int n = 0;
  // All of entries first (making room by count where the ring is full), then the oldest
  // out until the bytes fit again: the budget may be exceeded only within this call.
  for (int i = 0; i < count; ++i) {
    const Entry& e = entries[i];
    if (e.bytes > budget_) {
      evicted[n++] = e;  // too big to hold: released at once
      continue;
    }
    if (count_ == capacity_) {
      evicted[n++] = ring_[head_];
      bytes_ -= ring_[head_].bytes;
      head_ = Next(head_);
      --count_;
    }
    size_t tail = head_ + count_;  // no division: this runs on every free
    ring_[tail >= capacity_ ? tail - capacity_ : tail] = e;
    ++count_;
    bytes_ += e.bytes;
  }
  // Bounded: a large entry may need many small ones out; the rest go on the next push.
  for (int out = 0; bytes_ > budget_ && out < kMaxEvictPerPush; ++out) {
    evicted[n++] = ring_[head_];
    bytes_ -= ring_[head_].bytes;
    head_ = Next(head_);
    --count_;
  }
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
