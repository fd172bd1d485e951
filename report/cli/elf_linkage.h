// How an ELF program is linked, as far as preloading goes: statically (the dynamic loader
// never runs, so LD_PRELOAD cannot reach it), against musl, or with a sanitizer runtime of
// its own. Read from the program and dynamic headers and .dynsym through ElfReader.
#pragma once

#include "report/elf_reader.h"

namespace cgosan {
namespace cli {

struct ElfLinkage {
  // `file`'s "statically linked" or "static-pie linked" (what the wrapper asks it when there
  // is no cgosan-tool): no PT_DYNAMIC, or one with DT_FLAGS_1 but no DT_NEEDED and no
  // PT_INTERP.
  bool is_static = false;
  // PT_INTERP names musl's loader (ld-musl-<arch>.so.1).
  bool musl = false;
  // "AddressSanitizer", ...: a DT_NEEDED lib<name>.so or a dynamic symbol __<name>_init, for
  // asan, hwasan, msan, tsan in that order; nullptr for none.
  const char* sanitizer = nullptr;
};

// False when the headers cannot be read (a query failed on a truncated file).
bool ReadElfLinkage(const ElfReader& elf, ElfLinkage* out);

}  // namespace cli
}  // namespace cgosan
