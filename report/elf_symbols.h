// ElfSymbols: pc -> function symbol in one ELF file, by a sequential scan of .symtab (or
// .dynsym when the file is stripped) read in chunks. Scanning instead of building an index
// keeps memory fixed and works from a signal handler; a batch of addresses is answered in
// one pass so a whole stack costs one scan per module. Not reentrant (shared chunk buffer):
// the symbolizer serializes its callers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "report/elf_reader.h"

namespace cgosan {

// Where a file's symbol table and its string table are (found once per module).
struct SymbolTableInfo {
  bool present = false;
  bool is_symtab = false;  // .symtab (full) rather than .dynsym (exports only)
  uint64_t sym_offset = 0;
  uint64_t sym_count = 0;
  uint64_t str_offset = 0;
  uint64_t str_size = 0;
};

// Prefers .symtab, falls back to .dynsym; every location is checked against the file.
bool FindSymbolTable(const ElfReader& elf, SymbolTableInfo* out);

// One address to resolve; the result fields are filled by LookupSymbols.
struct SymbolQuery {
  uint64_t vaddr = 0;
  bool found = false;
  bool exact = false;  // vaddr lies inside [value, value+size)
  uint64_t value = 0;
  uint64_t size = 0;
  uint32_t name = 0;  // index into the string table
  // Private to the scan.
  int section = -1;
  unsigned char info = 0;
  int underscores = -1;
};

// Resolves every query: the FUNC/NOTYPE symbol containing vaddr (aliases: the name with the
// fewest leading underscores, then global over weak over local: "getpid", not "__getpid"),
// else the nearest preceding such symbol in the same section when its size is unknown (0).
void LookupSymbols(const ElfReader& elf, const SymbolTableInfo& table, SymbolQuery* queries,
                   int count);

// Calls visit(symbol, name, ctx) for every symbol of the table in file order, until it
// returns false; names longer than 255 bytes are passed truncated. Returns false when the
// table could not be read. For attach-time scans (reads the file in chunks).
using SymbolVisitor = bool (*)(const Elf64_Sym& symbol, const char* name, void* ctx);
bool ForEachSymbol(const ElfReader& elf, const SymbolTableInfo& table, SymbolVisitor visit,
                   void* ctx);

// Whether the file is a Go binary: a .go.buildinfo/.gopclntab/.note.go.buildid section or,
// failing those, a runtime.pclntab symbol in .symtab.
bool IsGoElf(const ElfReader& elf, const SymbolTableInfo& table);

// One-shot lookup straight from a file (tests and tools): the raw (not demangled) name of
// the function at ELF virtual address vaddr. False when unknown, including for any file
// that is not a well-formed ELF object.
bool LookupSymbolInFile(const char* path, uint64_t vaddr, char* name, size_t cap);

}  // namespace cgosan
