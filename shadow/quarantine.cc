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

int Quarantine::Push(Entry e, Entry* evicted) {
  if (!ring_ || budget_ == 0) {
    evicted[0] = e;
    return 1;
  }
  SpinLockGuard guard(lock_);
  int n = 0;
  // Room for e: by count, then by bytes, evicting the oldest.
  while (n < kMaxEvictPerPush && count_ > 0 &&
         (count_ == capacity_ || bytes_ + e.bytes > budget_)) {
    evicted[n++] = ring_[head_];
    bytes_ -= ring_[head_].bytes;
    head_ = Next(head_);
    --count_;
  }
  if (count_ == capacity_ || e.bytes > budget_) {
    evicted[n++] = e;  // too big to hold (or eviction limit reached): released at once
    return n;
  }
  size_t tail = head_ + count_;  // no division: this runs on every free
  ring_[tail >= capacity_ ? tail - capacity_ : tail] = e;
  ++count_;
  bytes_ += e.bytes;
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
