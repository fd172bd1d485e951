// GoRuntimeHooks: the runtime/cgo hook variables that tell the Go runtime's own work apart
// from C's. `_cgo_mmap`/`_cgo_munmap` (the Go runtime maps its heap, stacks and metadata
// through them) are pointed at wrappers that record the ranges in GoMappings;
// `_cgo_thread_start` at one that tags the blocks runtime/cgo allocates for a new thread as
// the Go runtime's own. Found by name in .symtab; without it the hooks stay off.
#pragma once

namespace cgosan {

class GoRuntimeHooks {
 public:
  // Returns the number of hook variables redirected (0..3). Call before the Go runtime runs.
  static int Attach();
};

}  // namespace cgosan
