// GoRuntime: what cgosan knows about the Go program it runs in, decided once at attach:
// the binary's Go version and tables (go_binary.h), the runtime layout for that version
// (runtime_layout.h, cross-checked against runtime.asmcgocall's code), and the address
// ranges of the runtime functions the unwinder needs. Any doubt switches the Go features
// off, with the reason available for a verbosity-1 line; nothing is guessed.
#pragma once

#include <cstdint>

#include "report/go/go_binary.h"
#include "report/go/go_type_name.h"
#include "report/go/pclntab.h"
#include "report/go/runtime_layout.h"

namespace cgosan {

struct CodeRange {
  uintptr_t begin = 0, end = 0;
  bool Contains(uintptr_t pc) const { return pc >= begin && pc < end; }
};

// The runtime functions the unwinder recognises, found in one pass over the pclntab.
struct RuntimeFunctions {
  CodeRange asmcgocall, cgocall, cgocallback, crosscall2, goexit;
};

class GoRuntime {
 public:
  // Not async-signal-safe. Returns whether the Go features are on.
  static bool Attach();

  // The binary's pclntab, or nullptr when it was not found. Async-signal-safe readers.
  static const Pclntab* Table();
  // The runtime layout, or nullptr when the version is unknown or failed the check.
  static const GoRuntimeLayout* Layout();
  static const GoBinaryInfo& Binary();
  static const RuntimeFunctions& Functions();
  // Why the Go features are off ("" when they are on).
  static const char* OffReason();
  // The executable's type data (moduledata.types..etypes), checked to lie in its mapped
  // image; invalid (TypesBase() 0) when not found. Type names are decoded against it.
  static const GoTypeData& Types();
  static uintptr_t TypesBase() { return Types().types; }
};

}  // namespace cgosan
