// GoMemoryHooks: what the Go runtime does with its memory, learned from breakpoints on the
// few runtime functions where it happens (hook_engine.h): map growth, splits and clears
// (shadow/go/map_arrays.h), efence frees made invisibly from Go 1.23 on (runtime.sysFaultOS),
// and completed GC cycles. Per-insert and per-bucket paths are never hooked.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

class GoMemoryHooks {
 public:
  // Installs the hooks this binary's Go version supports. Returns how many were installed;
  // Describe() says which and why any is off (for the verbosity-1 line).
  static int Attach();
  static const char* Describe();
  // Whether the hooks were left off because a debugger is attached (go_hooks not given).
  static bool OffForDebugger();

  // A range the runtime faulted under efence (its runtime/cgo mmap hook sees this up to Go
  // 1.22; from 1.23 on the sysFaultOS hook does): recorded as a freed heap span or stack.
  static void NoteEfenceFree(uintptr_t addr, size_t size);
};

}  // namespace cgosan
