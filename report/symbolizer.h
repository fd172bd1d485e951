// Symbolizer: pc -> module, offset, function name (and file:line where known), usable from
// a signal handler: modules come from /proc/self/maps, symbols from each ELF file's .symtab
// or .dynsym read with pread into fixed buffers. Nothing here calls malloc except the C++
// demangler, which the preload serves from its report arena while a report is being made.
// Not thread-safe (static tables and buffers, no locks): the caller makes one report at a
// time. The module list is read by Refresh(); the lookups call it themselves only when it
// has never run, so a caller that wants modules loaded since then calls Refresh() first.
#pragma once

#include <cstddef>
#include <cstdint>

#include "report/finding.h"

namespace cgosan {

class Symbolizer {
 public:
  // Re-reads the module list (call once per report: modules may have been loaded since).
  static void Refresh();
  // Looks pc up as is. Fills everything but file/line (no DWARF yet) and glue/inlined; lang is
  // kGo for Go functions of a Go binary. module is the mapped path or the maps name of an
  // anonymous mapping ("[vdso]", ...), module_offset the ELF virtual address (pc - load
  // bias; what addr2line takes). Strings stay valid until the next Refresh().
  static void Symbolize(uintptr_t pc, Frame* out);
  // Path (or maps name) of the module containing pc, or nullptr; *module_offset as above.
  static const char* ModuleOf(uintptr_t pc, uintptr_t* module_offset);
  // The GNU build id of the ELF file at `path` as lowercase hex into out (cap bytes incl. NUL).
  // Returns false when there is none.
  static bool ReadBuildId(const char* path, char* out, size_t cap);
  // Symbolizes raw pcs into out->frames (up to kMaxFramesPerStack). Return addresses are
  // looked up at pc-1 so that a call at the end of a function names that function; the
  // first frame is looked up as is when first_is_exact (a faulting pc). Frame.pc and
  // module_offset keep the raw pc.
  static void SymbolizeStack(const uintptr_t* pcs, int n, bool first_is_exact, Stack* out);
};

}  // namespace cgosan
