// GoMappings: the address ranges the Go runtime mapped for itself (heap arenas, stacks,
// runtime metadata), learned from the runtime's own mmap calls (preload redirects its
// _cgo_mmap/_cgo_munmap hooks). Kept as a sorted set of disjoint ranges so that a lookup,
// made for every word of every cgo call's argument frame, is a short binary search with no
// lock: writers (rare: the runtime maps in large steps) publish under a sequence counter.
// Each thread remembers the range of its last hit, and the gap of its last miss, with the
// counter they were found under, so the words a thread's cgo calls keep passing (a pointer
// into the same arena, a stale C pointer) cost a few compares instead of a search.
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
  // inline, so that the common non-pointer word costs two compares, then the last hit.
  static bool Contains(uintptr_t addr) {
    bool in;
    return Decided(addr, &in) ? in : ContainsSearched(addr);
  }
  // Contains without the search: whether the bounds, this thread's last hit or its last
  // gap decide, and then *in. Makes no call, for a caller whose common case makes none.
  static bool Decided(uintptr_t addr, bool* in) {
    // The bounds first: most words of a frame (integers, C pointers) end there.
    *in = false;
    if (addr < low_.load(std::memory_order_relaxed) ||
        addr >= high_.load(std::memory_order_relaxed)) {
      return true;
    }
    // The last hit stands while no writer has published since (the counter it was found
    // under; odd values never match: a hit being written is marked with an odd one, so a
    // signal handler never takes a half-written one). The handlers that look here run for
    // synchronous faults, which never arrive between these loads of thread-local words.
    unsigned seq = seq_.load(std::memory_order_acquire);
    const LastHit& h = t_last_hit_;
    if (addr - h.begin < h.size && h.seq == seq) {
      *in = true;
      return true;
    }
    // The same for the last gap between ranges a word fell into (a stale C pointer in a
    // frame's result slot, met call after call).
    const LastHit& gap = t_last_gap_;
    return addr - gap.begin < gap.size && gap.seq == seq;
  }
  // The search Decided leaves: remembers what it finds as this thread's last hit or gap.
  static bool ContainsSearched(uintptr_t addr);
  static size_t RangeCount();
  static uint64_t Bytes();
  // The writers' (Add, Remove) publication of the bounds, under their sequence counter.
  static void SetBounds(uintptr_t low, uintptr_t high);
  // The writers' sequence counter: odd while a writer rewrites the table.
  static inline std::atomic<unsigned> seq_{0};
  // A range remembered by a thread, under counter value `seq`.
  struct LastHit {
    uintptr_t begin, size;
    unsigned seq;
  };

 private:
  // [low_, high_) covers every range (empty: low_ > high_).
  static inline std::atomic<uintptr_t> low_{~uintptr_t{0}};
  static inline std::atomic<uintptr_t> high_{0};
  // This thread's last range found by ContainsSearched, and the last gap between ranges
  // it searched in vain.
  static __thread LastHit t_last_hit_ __attribute__((tls_model("initial-exec")));
  static __thread LastHit t_last_gap_ __attribute__((tls_model("initial-exec")));
};

}  // namespace cgosan
