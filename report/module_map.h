// ModuleMap: the process's mappings as /proc/self/maps lists them, grouped into modules
// (one per mapped file), in static tables: no malloc, usable from a signal handler.
// Unnamed anonymous mappings are left out (no module owns them) except one directly after a
// file mapping, which may be that module's .bss; named ones ("[vdso]",
// "[stack]", ...) are kept so an address there can still be described. The ELF facts about a
// module (load bias, symbol table, Go or not) are filled in lazily by the symbolizer, which
// is the only user and serializes access (nothing here is locked).
#pragma once

#include <cstdint>

#include "report/elf_symbols.h"

namespace cgosan {

struct ModuleEntry {
  const char* path = nullptr;  // in SymbolStringPool
  // The module's lowest mapping and its file offset: anchor for the load bias.
  uintptr_t first_start = 0;
  uint64_t first_offset = 0;

  // Lazily filled from the ELF file (see Symbolizer).
  bool probed = false;
  bool elf_ok = false;
  bool bias_known = false;
  uintptr_t bias = 0;     // pc - bias = ELF virtual address
  uint64_t load_end = 0;  // end of the highest PT_LOAD (vaddr + memsz), .bss included
  SymbolTableInfo symbols;
  int8_t is_go = -1;  // -1: not checked yet
};

struct MappingEntry {
  uintptr_t start = 0;
  uintptr_t end = 0;
  int module = -1;             // index of the file's ModuleEntry, -1 for pseudo mappings
  const char* name = nullptr;  // the maps name: the path, or "[vdso]", "[stack]", ...
  // An unnamed mapping right after the module's file mapping: the rest of its .bss, if the
  // ELF says the module extends that far (checked at lookup), else unrelated memory.
  bool anon_tail = false;
};

class ModuleMap {
 public:
  static constexpr int kMaxMappings = 2048;
  static constexpr int kMaxModules = 1024;

  // Re-reads /proc/self/maps. Names are copied into SymbolStringPool: reset that first.
  static void Load();
  static bool Loaded();
  // The mapping holding addr, or nullptr (binary search; mappings are sorted by address).
  static const MappingEntry* Find(uintptr_t addr);
  static ModuleEntry* Module(int index);
  static int NumModules();
  static int NumMappings();
};

}  // namespace cgosan
