// ElfBuildId: the NT_GNU_BUILD_ID note of an ELF file, from a PT_NOTE segment or, when the
// program headers have none, from an SHT_NOTE section. Same constraints as ElfReader.
#pragma once

#include <cstddef>

#include "report/elf_reader.h"

namespace cgosan {

// Lowercase hex of the build id into out (NUL-terminated); false if none or cap too small.
bool ReadElfBuildId(const ElfReader& elf, char* out, size_t cap);

}  // namespace cgosan
