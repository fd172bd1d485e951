// MainExecutable: the program's own ELF file and where it is loaded (PIE or not).
// For attach-time readers of the executable (Go stack continuation, cgo call interception).
// Not async-signal-safe (readlink, dl_iterate_phdr).
#pragma once

#include <cstdint>

namespace cgosan {

struct MainExecutable {
  char path[4096];
  uintptr_t bias;  // runtime address = ELF virtual address + bias (0 for non-PIE)
};

bool FindMainExecutable(MainExecutable* out);

class ElfReader;
struct SymbolTableInfo;

// FindMainExecutable, then opens it and finds its full symbol table (.symtab, not only
// .dynsym). False when the executable has none (stripped).
bool OpenMainExecutableSymtab(MainExecutable* exe, ElfReader* elf, SymbolTableInfo* table);

}  // namespace cgosan
