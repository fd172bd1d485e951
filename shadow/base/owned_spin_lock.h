// OwnedSpinLock: a SpinLock that remembers its holder, for tables that a fault handler must
// read. The handler cannot wait for a lock its own thread holds (it interrupted that
// thread), so it asks TryLockUnlessHeldBySelf and gives up instead of deadlocking.
#pragma once

#include <sys/types.h>

#include <atomic>

#include "shadow/base/raw_io.h"
#include "shadow/base/spin_lock.h"

namespace cgosan {

class OwnedSpinLock {
 public:
  constexpr OwnedSpinLock() = default;

  void Lock() {
    pid_t self = RawGetTid();
    lock_.Lock();
    owner_.store(self, std::memory_order_relaxed);
  }
  void Unlock() {
    owner_.store(0, std::memory_order_relaxed);
    lock_.Unlock();
  }
  // Waits for another holder; false at once when the caller's own thread holds it.
  bool LockUnlessHeldBySelf() {
    pid_t self = RawGetTid();
    if (owner_.load(std::memory_order_relaxed) == self) return false;
    lock_.Lock();
    owner_.store(self, std::memory_order_relaxed);
    return true;
  }
  void ResetAfterFork() {
    owner_.store(0, std::memory_order_relaxed);
    lock_.ResetAfterFork();
  }

 private:
  SpinLock lock_;
  std::atomic<pid_t> owner_{0};
};

}  // namespace cgosan
