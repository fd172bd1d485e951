// GoHeap: the Go runtime's memory as far as cgosan can know it without guessing: the heap
// arenas it reserved (from its own mmaps), the ranges it freed and faulted under
// GODEBUG=efence=1 (large-object spans and goroutine stacks: efence never reuses them), and
// the number of GC cycles completed. A C access that faults in a freed range is explained
// from here; everything else in Go memory stays "Go heap", never a guess.
//
// Freed ranges live in a ring (the newest win when it wraps) written under a lock by the
// runtime hooks; the fault handler reads it under the same lock unless the faulting thread
// is the one holding it, so a lookup never deadlocks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shadow/stack_depot.h"

namespace cgosan {

enum class GoFreedKind : uint8_t { kHeap, kStack };

struct GoFreedRange {
  uintptr_t base = 0;
  uint64_t size = 0;
  GoFreedKind kind = GoFreedKind::kHeap;
  bool stack_moved = false;  // a stack freed because it grew and was copied
  uint64_t gc_cycle = 0;     // GC cycles completed when it was freed
  int64_t freed_ns = 0;      // CLOCK_MONOTONIC time of the free
  int64_t goroutine = -1;    // stacks: the goroutine whose stack it was (-1: unknown)
  StackId stack = 0;         // stacks: where that goroutine was when the stack moved
};

class GoHeap {
 public:
  // Storage for the freed-range ring; false when it cannot be mapped (then nothing is
  // recorded). Attach-time.
  static bool Init(size_t max_freed_ranges);

  // A runtime mmap: arena reservations are PROT_NONE, aligned to and a multiple of the
  // 64 MiB heap arena size, at addresses the runtime picked itself (no MAP_FIXED).
  static void NoteRuntimeMmap(uintptr_t addr, size_t length, int prot, int flags);
  static bool InArena(uintptr_t addr);

  // Records a range the runtime faulted (freed under efence). The caller tells heap from
  // stack with InArena: spans are inside arenas, efence stacks have mappings of their own.
  static void NoteFreed(const GoFreedRange& range);
  // The newest freed range containing addr. Async-signal-safe.
  static bool FindFreed(uintptr_t addr, GoFreedRange* out);

  static void NoteGcCycleDone();
  static uint64_t GcCycles();

  static uint64_t FreedRangesRecorded();  // all ever, including overwritten ones
  static void ResetAfterFork();
};

}  // namespace cgosan
