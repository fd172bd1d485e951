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
  // Whether pc is inside runtime.asmcgocall: C frames that end there continue on a goroutine.
  static bool IsAsmcgocall(uintptr_t pc);
  // On a thread inside a cgo call (on g0): the calling goroutine's frames alone, from
  // runtime.cgocall up. Async-signal-safe.
  static int CaptureCgoCallGoroutine(uintptr_t* pcs, int max);
  // The same from a known m and g, with where each return address was read from (slots;
  // *crossed: the walk went through a callback's C frames, whose slots are not known).
  // For GoCallFrames' misses. Async-signal-safe.
  static int WalkCgoCallGoroutine(uintptr_t m, uintptr_t g, uintptr_t* pcs, uintptr_t* slots,
                                  int max, bool* crossed);

  // Go frames from a point where the frame of the function at pc is not set up (its first
  // instruction or its ret): the return address is at sp, bp is the caller's frame pointer.
  // The frame pointer chain is walked inside g's stack bounds. pcs[0] is pc + 1 so that,
  // like the return addresses after it, it symbolizes correctly when looked up at pc - 1.
  // Async-signal-safe.
  static int CaptureAtBoundary(uintptr_t g, uintptr_t pc, uintptr_t sp, uintptr_t bp,
                               uintptr_t* pcs, int max);
  // The frames of a goroutine that is not running, from its saved scheduling state
  // (g.sched: blocked, or being given a bigger stack). Async-signal-safe.
  static int CaptureSaved(uintptr_t g, uintptr_t* pcs, int max);
  // The goroutine (a g address) this thread runs or, on g0 or gsignal, serves (m.curg);
  // 0 when none. And that goroutine's id, its stack bounds. Async-signal-safe.
  static uintptr_t CurrentGoroutine();
  static int64_t GoroutineId(uintptr_t g);
  static bool StackBoundsOf(uintptr_t g, uintptr_t* lo, uintptr_t* hi);
  // Whether g is having its stack moved (newstack's _Gcopystack status).
  static bool IsCopyingStack(uintptr_t g);

  // The id of the goroutine running on (or, during a cgo call or a signal, owning) this
  // thread; -1 on threads without one. Async-signal-safe: %fs:-8 is the executable's own
  // TLS slot, zero on threads the Go runtime never ran on.
  static int64_t CurrentGoroutineId();

 private:
  static int AppendCgoCallGoroutine(uintptr_t* pcs, int n, int max);
};

}  // namespace cgosan
