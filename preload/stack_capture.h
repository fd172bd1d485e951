// The stacks the allocator entry points record, at three prices. Inline, so that the only
// cgosan frames libunwind walks through are the interposed function and the capture itself:
// every frame of ours costs as much to unwind as one of the program's.
//  - Full: malloc_context_size frames, C and Go (blocks with a guard page, C programs).
//  - UnderCgo: the same frames for a thread inside a cgo call, but the Go part (from
//    runtime.cgocall up) is walked once per call and reused by every allocation in it.
//  - OneFrame: the caller of the interposed function (blocks without a guard page at free,
//    and C code's own blocks in guard=cgo).
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

__attribute__((always_inline)) inline StackId CaptureStackUnderCgo(const CgoCall& call) {
  int depth = StackDepth();
  if (depth <= 0) return 0;
  uintptr_t pcs[StackDepot::kMaxDepth];
  int n = Unwinder::CaptureCurrentCFrames(pcs, depth);
  if (n > 0 && n < depth && GoStack::IsAsmcgocall(pcs[n - 1])) {
    if (!call.go_frames_known) {
      uintptr_t go[StackDepot::kMaxDepth];
      call.go_frames = StackDepot::Put(go, GoStack::CaptureCgoCallGoroutine(go, depth));
      call.go_frames_known = true;
    }
    const uintptr_t* go;
    int m = StackDepot::Get(call.go_frames, &go);
    for (int i = 0; i < m && n < depth; ++i) pcs[n++] = go[i];
  }
  return StackDepot::Put(pcs, n);
}

inline StackId OneFrameStack(void* caller) {
  uintptr_t pc = reinterpret_cast<uintptr_t>(caller);
  return StackDepth() > 0 ? StackDepot::Put(&pc, 1) : 0;
}

}  // namespace cgosan
