// GoMappings: the address ranges the Go runtime mapped for itself (heap arenas, stacks,
// runtime metadata), learned from the runtime's own mmap calls (preload redirects its
// _cgo_mmap/_cgo_munmap hooks). Kept as a sorted set of disjoint ranges so that a lookup,
// made for every word of every cgo call's argument frame, is a short binary search with no
// lock: writers (rare: the runtime maps in large steps) publish under a sequence counter.
#pragma once

#include <cstddef>
#include <atomic>
#include <cstdint>

namespace cgosan {

class GoMappings {
 public:
  static void Add(uintptr_t addr, size_t length);
  static void Remove(uintptr_t addr, size_t length);
  // Async-signal-safe. Starts with a bounds check against the lowest and highest range,
  // inline, so that the common non-pointer word costs two compares.
  static bool Contains(uintptr_t addr) {
    return addr >= low_.load(std::memory_order_relaxed) &&
           addr < high_.load(std::memory_order_relaxed) && ContainsSearched(addr);
  }
  static size_t RangeCount();
  static uint64_t Bytes();
  // The writers' (Add, Remove) publication of the bounds, under their sequence counter.
  static void SetBounds(uintptr_t low, uintptr_t high);

 private:
  static bool ContainsSearched(uintptr_t addr);
  // [low_, high_) covers every range (empty: low_ > high_).
  static inline std::atomic<uintptr_t> low_{~uintptr_t{0}};
  static inline std::atomic<uintptr_t> high_{0};
};

}  // namespace cgosan
