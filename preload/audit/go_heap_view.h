// GoHeapView: the live Go heap seen from outside the runtime, for the retention audits and
// the leak check. From an address it says whether that is a live Go object (its bounds from
// the span, whether it is allocated and pinned) or a goroutine stack (whose, from allgs),
// reading the runtime's own bookkeeping (report/go/heap_layout.h) through SafeRead, so a
// racing runtime can make a lookup fail but never crash cgosan. Lookups that cannot be made
// exact fall back to the Go mapping that contains the address: never a guessed object.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shadow/base/internal_vector.h"

namespace cgosan {

struct GoObjectInfo {
  enum Kind { kHeapObject, kStack } kind = kHeapObject;
  uintptr_t base = 0;  // the object (or stack); when !exact, the Go mapping holding it
  uint64_t size = 0;
  bool exact = false;
  bool pinned = false;  // runtime.Pinner (1.21+)
  int64_t goroutine = -1;
};

struct GoroutineStack {
  uintptr_t g = 0, lo = 0, hi = 0;
  int64_t goid = -1;
  uint32_t status = 0;
  uintptr_t sched_sp = 0;
  uintptr_t syscall_sp = 0;  // 0 unless known (spans layout)
};

// A thread's g0 (system) stack: below sched_sp it holds only dead frames while the thread
// runs a goroutine or waits.
struct G0Stack {
  uintptr_t lo = 0, hi = 0, sched_sp = 0;
  bool in_cgo_call = false;  // its goroutine is in a cgo call (C frames live below sched_sp)
  // The M serves a live goroutine. An extra M (for C threads calling Go) keeps a dead g as
  // curg while no C thread uses it, and its bounds then describe a C stack of the past.
  bool has_curg = false;
};

// Half-open ranges of the executable's Go data and bss (its Go globals).
struct GoDataRange {
  uintptr_t begin = 0, end = 0;
};

class GoHeapView {
 public:
  // Attach-time (reads the executable's symbol table). Says why through *why when the span
  // layout is not usable; lookups then fall back to whole mappings.
  static void Init();
  static const char* Describe();  // one phrase for the verbosity-1 line
  static bool SpansKnown();

  // Every g of the process with a stack (allgptr/allglen), sorted by stack.lo.
  static void SnapshotGoroutines(InternalVector<GoroutineStack>* out);

  // The g0 stack of every M (runtime.allm), when the heap layout is known.
  static void SnapshotG0Stacks(InternalVector<G0Stack>* out);

  // Whether addr points into live Go memory; fills *out. `stacks` is a sorted snapshot
  // from SnapshotGoroutines (goroutine stacks outside the arenas exist under efence).
  static bool Lookup(uintptr_t addr, const GoroutineStack* stacks, size_t num_stacks,
                     GoObjectInfo* out);

  // The Go data/bss ranges of the executable (empty without a symbol table).
  static int GoData(const GoDataRange** out);

  // For the leak check: calls fn(base, size) for every allocated object of every in-use
  // span. False when the span layout is unknown (nothing was called).
  using ObjectVisitor = void (*)(uintptr_t base, uint64_t size, void* ctx);
  static bool ForEachAllocatedObject(ObjectVisitor fn, void* ctx);
};

}  // namespace cgosan
