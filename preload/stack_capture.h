// The stacks the allocator entry points record, at three prices. Inline, so that the only
// cgosan frames libunwind walks through are the interposed function and the capture itself:
// every frame of ours costs as much to unwind as one of the program's.
//  - Full: malloc_context_size frames, C and Go (blocks with a guard page, C programs).
//  - UnderCgo: the same frames for a thread inside a cgo call, but the Go part (from
//    runtime.cgocall up) is walked once per call and reused by every allocation in it, and
//    the C part is remembered per thread (CgoStackCache below): an allocation from where
//    one was made before costs a check of the stack instead of an unwind.
//  - OneFrame: the caller of the interposed function (blocks without a guard page at free,
//    and C code's own blocks in guard=cgo), its depot id remembered per thread.
#pragma once

#include <cstdint>

#include "preload/cgo_calls.h"
#include "report/go_stack.h"
#include "report/unwinder.h"
#include "shadow/options.h"
#include "shadow/stack_depot.h"

namespace cgosan {

inline int StackDepth() {
  int depth = static_cast<int>(GetOptions().malloc_context_size);
  return depth > StackDepot::kMaxDepth ? StackDepot::kMaxDepth : depth;
}

__attribute__((always_inline)) inline StackId CaptureFullStack() {
  int depth = StackDepth();
  if (depth <= 0) return 0;
  uintptr_t pcs[StackDepot::kMaxDepth];
  return StackDepot::Put(pcs, Unwinder::CaptureCurrent(pcs, depth));
}

// The C stacks of this thread's allocations under cgo calls, by where they were taken: the
// interposer's return address and the depth below the cgo call's entry. The key alone could
// match a different chain of callers with the same frame sizes, so a hit is confirmed by
// reading each C frame's return address again from the stack slot where the capture found
// it: the same return addresses in the same slots are the same chain of C callers. The
// depot id of the whole stack is kept with the Go part (the call's go_frames) it was built
// with, so a hit is the final answer.
class CgoStackCache {
 public:
  static constexpr int kEntries = 16;
  static constexpr int kMaxCFrames = 16;

  struct Entry {
    uintptr_t caller;
    uintptr_t depth;  // 0: empty
    StackId go_frames;
    StackId stack;
    int n;
    uint32_t slot[kMaxCFrames];  // of each C frame's return address, above the anchor
    uintptr_t pc[kMaxCFrames];
  };

  // anchor: a fixed point of the capturing frame (its frame address); entry_sp: the cgo
  // call's, above every C frame of the call.
  __attribute__((always_inline)) static StackId Find(uintptr_t caller, uintptr_t anchor,
                                                     uintptr_t entry_sp, StackId go_frames) {
    const Entry& e = t_entries[IndexOf(caller, entry_sp - anchor)];
    if (e.caller != caller || e.depth != entry_sp - anchor || e.go_frames != go_frames) return 0;
    for (int i = 0; i < e.n; ++i) {
      if (*reinterpret_cast<const uintptr_t*>(anchor + e.slot[i]) != e.pc[i]) return 0;
    }
    return e.stack;
  }

  // Remembers stack (pcs[0..n_c) its C frames, the last in runtime.asmcgocall) when every
  // frame's return address is found on the stack between anchor and entry_sp, in order.
  static void Remember(uintptr_t caller, uintptr_t anchor, uintptr_t entry_sp, StackId go_frames,
                       StackId stack, const uintptr_t* pcs, int n_c);

 private:
  static size_t IndexOf(uintptr_t caller, uintptr_t depth) {
    return ((caller ^ (depth << 7)) * 0x9e3779b97f4a7c15ull) >> (64 - 4);
  }
  static_assert(kEntries == 16, "IndexOf keeps 4 bits");
  static __thread Entry t_entries[kEntries] __attribute__((tls_model("initial-exec")));
};

// anchor: __builtin_frame_address(0) of the function the capture is inlined into; caller:
// the interposed function's return address.
__attribute__((always_inline)) inline StackId CaptureStackUnderCgo(const CgoCall& call,
                                                                   uintptr_t caller,
                                                                   uintptr_t anchor) {
  int depth = StackDepth();
  if (depth <= 0) return 0;
  if (!call.go_frames_known) {
    uintptr_t go[StackDepot::kMaxDepth];
    call.go_frames = StackDepot::Put(go, GoStack::CaptureCgoCallGoroutine(go, depth));
    call.go_frames_known = true;
  }
  if (StackId hit = CgoStackCache::Find(caller, anchor, call.entry_sp, call.go_frames)) return hit;
  uintptr_t pcs[StackDepot::kMaxDepth];
  int n = Unwinder::CaptureCurrentCFrames(pcs, depth);
  if (n > 0 && n < depth && GoStack::IsAsmcgocall(pcs[n - 1])) {
    int n_c = n;
    const uintptr_t* go;
    int m = StackDepot::Get(call.go_frames, &go);
    for (int i = 0; i < m && n < depth; ++i) pcs[n++] = go[i];
    StackId stack = StackDepot::Put(pcs, n);
    CgoStackCache::Remember(caller, anchor, call.entry_sp, call.go_frames, stack, pcs, n_c);
    return stack;
  }
  return StackDepot::Put(pcs, n);
}

// The depot ids of this thread's recent one-frame stacks, by pc.
class OneFrameCache {
 public:
  static constexpr int kEntries = 64;
  struct Entry {
    uintptr_t pc;
    StackId stack;
  };
  static Entry& For(uintptr_t pc) {
    return t_entries[((pc >> 2) * 0x9e3779b97f4a7c15ull) >> (64 - 6)];
  }
  // pc's depot id when this thread has it, else 0.
  static StackId Find(uintptr_t pc) {
    const Entry& e = For(pc);
    return e.pc == pc ? e.stack : 0;
  }
  static_assert(kEntries == 64, "For keeps 6 bits");

 private:
  static __thread Entry t_entries[kEntries] __attribute__((tls_model("initial-exec")));
};

inline StackId OneFrameStack(void* caller) {
  uintptr_t pc = reinterpret_cast<uintptr_t>(caller);
  if (StackDepth() <= 0) return 0;
  if (StackId hit = OneFrameCache::Find(pc)) return hit;
  StackId stack = StackDepot::Put(&pc, 1);
  OneFrameCache::Entry& e = OneFrameCache::For(pc);
  e.pc = pc;
  e.stack = stack;
  return stack;
}

}  // namespace cgosan
