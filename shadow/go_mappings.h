// GoMappings: the address ranges the Go runtime mapped for itself (heap arenas, stacks,
// runtime metadata), learned from the runtime's own mmap calls (preload redirects its
// _cgo_mmap/_cgo_munmap hooks). Kept as a sorted set of disjoint ranges so that a lookup,
// made for every word of every cgo call's argument frame, is a short binary search with no
// lock: writers (rare: the runtime maps in large steps) publish under a sequence counter.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

class GoMappings {
 public:
  static void Add(uintptr_t addr, size_t length);
  static void Remove(uintptr_t addr, size_t length);
  // Async-signal-safe. Starts with a bounds check against the lowest and highest range, so
  // that the common non-pointer word costs two compares.
  static bool Contains(uintptr_t addr);
  static size_t RangeCount();
  static uint64_t Bytes();
};

}  // namespace cgosan
