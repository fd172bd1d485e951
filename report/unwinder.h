// Unwinder: stack capture with libunwind, kept private to the preload.
//
// Isolation (why dlopen(RTLD_LOCAL) and not a link-time dependency or dlmopen):
// - Debian's libunwind.a is not position-independent, so it cannot be linked into the .so.
// - Linking libunwind.so.8 as DT_NEEDED puts it in the global lookup scope ahead of
//   libgcc_s and glibc, where its `_Unwind_*` and weak `backtrace` would replace theirs in
//   the target (C++ exceptions would unwind through the wrong implementation).
// - dlmopen(LM_ID_NEWLM) isolates it, but glibc's dl_iterate_phdr reports only the caller's
//   namespace, so libunwind there cannot find the program's .eh_frame_hdr and unwinds nothing.
// dlopen with RTLD_LOCAL keeps its symbols out of the global scope (the program keeps
// resolving _Unwind_* to libgcc_s and backtrace to glibc) while it still sees every module.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

class Unwinder {
 public:
  // Loads libunwind (once; not async-signal-safe: call from the preload's constructor).
  // Returns false when it cannot be loaded; captures then return 0 frames. A call made
  // while the first one is still running (from another thread, or nested through malloc
  // inside dlopen) does not wait: it returns false, and captures return 0 frames until the
  // first call has finished.
  static bool Init();
  static bool Ready();
  // In the child of fork (pthread_atfork child handler): stop using libunwind's global
  // cache, whose lock another parent thread may have held at fork.
  static void AfterForkInChild();

  // The caller's stack, innermost first, without frames of cgosan's own module.
  // Safe to call from malloc/free (libunwind's per-thread cache, no locks held by cgosan),
  // but the first capture on each thread re-enters the allocator: glibc allocates
  // libunwind's TLS with malloc (it was dlopened) and libunwind mmaps its trace cache. The
  // preload's reentrancy guard must serve those without capturing again.
  static int CaptureCurrent(uintptr_t* pcs, int max_frames);
  // The same without the Go continuation: the C frames only, ending in runtime.asmcgocall
  // when the thread is in a cgo call (see GoStack::IsAsmcgocall).
  static int CaptureCurrentCFrames(uintptr_t* pcs, int max_frames);

  // The stack of the interrupted context `ucontext` (a signal handler's third argument),
  // starting at its pc. Async-signal-safe. Frames of cgosan's own module are dropped here
  // too: when IsOwnPc(the context's pc), the first pc returned is a return address.
  static int CaptureFromContext(void* ucontext, uintptr_t* pcs, int max_frames);

  // cgosan's own module, whose frames the captures drop. Init() finds it (the object that
  // contains this code: libcgosan.so in the preload, the whole binary in a statically linked
  // test, so tests call SetOwnModuleRange(0, 0) to keep every frame). An explicit setting,
  // before or after Init(), wins; begin == end disables the filtering.
  static void SetOwnModuleRange(uintptr_t begin, uintptr_t end);
  static bool IsOwnPc(uintptr_t pc);

  // The C frames of a call chain given only pc (a return address), sp and bp, as found on
  // a stack (crossing from Go back into the C code that called it). No Go continuation.
  static int CaptureCFramesFrom(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t* pcs,
                                int max_frames);
};

}  // namespace cgosan
