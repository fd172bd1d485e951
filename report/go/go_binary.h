// GoBinaryInfo: where the Go runtime's tables are in the main executable, found once at
// attach time: the pclntab (runtime.pclntab symbol, .gopclntab section, firstmoduledata's
// pcHeader, or for a stripped binary a scan of the read-only data), go:func.* (for inline
// trees), the Go version and GOEXPERIMENT from .go.buildinfo, and the load bias. Not
// async-signal-safe (opens and reads the ELF file); the Pclntab built from the result is.
#pragma once

#include <cstddef>
#include <cstdint>

#include "report/go/pclntab.h"

namespace cgosan {

struct GoBinaryInfo {
  bool found = false;  // a plausible pclntab was located
  int go_major = 0;
  int go_minor = 0;  // 0 when .go.buildinfo was not found
  char version[32] = {};
  char goexperiment[128] = {};
  uintptr_t pclntab = 0;  // where the table can be read (runtime address in-process)
  size_t pclntab_size = 0;
  uintptr_t text_start = 0;  // runtime address of the Go text (pcHeader.textStart)
  uint32_t magic = 0;
  uintptr_t gofunc = 0;  // go:func.* (funcdata base), 0 when unknown
  size_t gofunc_size = 0;
  uintptr_t moduledata = 0;  // runtime.firstmoduledata, 0 when unknown
  uintptr_t load_bias = 0;
  bool has_symtab = false;
  const char* pclntab_source = "";  // "symbol", "section", "moduledata" or "scan"
  // LoadGoBinaryFromFile's private mapping of the file.
  void* file_map = nullptr;
  size_t file_map_size = 0;
};

// The main executable of this process, read in place (its mapped image).
bool LoadGoBinary(GoBinaryInfo* info);

// A file mapped read-only for tests and tools. Addresses in *info are those of the mapping
// (pclntab, gofunc) and vaddr+bias (text_start). The mapping stays until UnloadGoBinaryFile.
bool LoadGoBinaryFromFile(const char* path, uintptr_t bias, GoBinaryInfo* info);
void UnloadGoBinaryFile(GoBinaryInfo* info);

// A Pclntab over the located table (with its go:func.* region). False if !info.found.
bool InitPclntab(const GoBinaryInfo& info, Pclntab* table);

}  // namespace cgosan
