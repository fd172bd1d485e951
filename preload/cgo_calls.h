// CgoCalls: every cgo call of the program, seen as it happens.
//
// cgo calls C through a package variable per C function, `<pkg>._cgo_<hash>_Cfunc_<name>`,
// holding the address of the C wrapper; runtime.cgocall reloads it on every call. At attach
// each such variable (a local 8-byte object in .data, found in .symtab and cross-checked
// against the wrapper's own function symbol) is pointed at a small generated thunk that
// records the call on the calling thread, calls the original wrapper, and pops the record.
// The per-thread record is resynchronised by stack pointer on every entry and exit, so a
// Go panic through C frames or a callback that never returns cannot leave it unbalanced.
#pragma once

#include <cstdint>

namespace cgosan {

struct CgoCall {
  const char* function;  // the C function as Go code names it after "C." ("free", "_Cmalloc")
  uintptr_t frame;       // the argument frame (a pointer into the goroutine's stack)
  uint32_t frame_size;   // its size: the `args` of the Go stub <pkg>._Cfunc_<name> (0: unknown)
  // Words of the frame that point into the Go runtime's memory (GoMappings): the Go
  // pointers this call received (the first kMaxGoPointers of them).
  static constexpr int kMaxGoPointers = 4;
  uint8_t num_go_pointers;
  uintptr_t go_pointers[kMaxGoPointers];
  uintptr_t entry_sp;  // the thunk's stack pointer on entry (for resynchronisation)
};

class CgoCalls {
 public:
  // Redirects the cgo call variables of the main executable. Returns the number of
  // variables redirected; 0 without a symbol table (said at verbosity 1 by the caller).
  static int Attach();

  // The innermost cgo call in progress on this thread, or nullptr. Async-signal-safe.
  static const CgoCall* Current();
  // Whether this thread is inside C.CString/C.CBytes/C.malloc (cgo's _Cmalloc).
  static bool InCgoMalloc();
};

}  // namespace cgosan
