// FindMainExecutable: /proc/self/exe for the file, the loader's first object for the bias.
#include "report/main_executable.h"

#include <link.h>
#include <unistd.h>

#include "report/elf_reader.h"
#include "report/elf_symbols.h"

namespace cgosan {

bool FindMainExecutable(MainExecutable* out) {
  ssize_t len = readlink("/proc/self/exe", out->path, sizeof(out->path) - 1);
  if (len <= 0) return false;
  out->path[len] = '\0';
  out->bias = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        *static_cast<uintptr_t*>(data) = info->dlpi_addr;
        return 1;  // the first object is the main executable
      },
      &out->bias);
  return true;
}

bool OpenMainExecutableSymtab(MainExecutable* exe, ElfReader* elf, SymbolTableInfo* table) {
  return FindMainExecutable(exe) && elf->Open(exe->path) && FindSymbolTable(*elf, table) &&
         table->is_symtab;
}

}  // namespace cgosan
