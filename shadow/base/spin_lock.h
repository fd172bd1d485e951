// SpinLock: the lock guarding cgosan's own tables.
// Why not a mutex: these tables are touched from inside malloc before libc is fully
// initialised and must never allocate or recurse into the program's allocator; critical
// sections are a few dozen instructions, so spinning with a yield fallback is enough.
#pragma once

#include <sched.h>

#include <atomic>

namespace cgosan {

class SpinLock {
 public:
  constexpr SpinLock() = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void Lock() {
    for (int spins = 0; locked_.exchange(true, std::memory_order_acquire); ++spins) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) {
          sched_yield();
          spins = 0;
        } else {
          __builtin_ia32_pause();
        }
      }
    }
  }
  bool TryLock() { return !locked_.exchange(true, std::memory_order_acquire); }
  void Unlock() { locked_.store(false, std::memory_order_release); }
  // After fork() only the calling thread exists; a lock another thread held is free again.
  void ResetAfterFork() { locked_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

class SpinLockGuard {
 public:
  explicit SpinLockGuard(SpinLock& lock) : lock_(lock) { lock_.Lock(); }
  ~SpinLockGuard() { lock_.Unlock(); }
  SpinLockGuard(const SpinLockGuard&) = delete;
  SpinLockGuard& operator=(const SpinLockGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace cgosan
