// GoStack: continues a C stack into the goroutine that made the cgo call.
// libunwind stops at runtime.asmcgocall (Go code has no .eh_frame). There, the thread runs
// on its g0 stack, the current g (%fs:-8) is g0, and g0.m.curg is the goroutine blocked in
// runtime.cgocall, whose saved frame pointer (g.sched.bp) starts a frame-pointer chain
// through its Go frames (Go keeps frame pointers on amd64). That chain is walked inside
// the goroutine's stack bounds only, so a bad value ends the walk instead of faulting.
//
// Go frames are walked by their frame pointers (Go keeps them on amd64), or by the
// pclntab's SP deltas, as Go's own traceback does, where no frame pointer is known. At
// runtime.cgocallback (C called Go) the walk crosses back onto the g0 stack: crosscall2, the
// C frames that called Go (libunwind from the registers crosscall2 saved), and, when those
// end in an outer runtime.asmcgocall, the goroutine's outer frames. The g/m offsets come
// from the per-version layout table (report/go/runtime_layout.h).
#pragma once

#include <cstdint>

namespace cgosan {

class GoStack {
 public:
  // Takes the runtime layout and function ranges from GoRuntime (call GoRuntime::Attach
  // first). False when the Go features are off; continuation then stays off.
  static bool Init();

  // If pcs[n-1] is inside runtime.asmcgocall, appends the goroutine's frames (runtime.cgocall,
  // the cgo stub, its Go callers) up to max. Returns the new count. Async-signal-safe.
  static int ContinueFromCgoCall(uintptr_t* pcs, int n, int max);

  // The id of the goroutine running on (or, during a cgo call or a signal, owning) this
  // thread; -1 on threads without one. Async-signal-safe: %fs:-8 is the executable's own
  // TLS slot, zero on threads the Go runtime never ran on.
  static int64_t CurrentGoroutineId();
};

}  // namespace cgosan
