// libFuzzer target for the ELF readers the symbolizer uses on every module of a stack, in a
// signal handler (report/elf_reader.cc, elf_symbols.cc, elf_build_id.cc): the input is the
// file (written to a memfd, opened through /proc/self/fd), and every query is run over it.
// Any read outside the file or the buffers is a crash under -fsanitize=address.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "report/elf_build_id.h"
#include "report/elf_reader.h"
#include "report/elf_symbols.h"

namespace {

int g_fd = -1;
char g_path[64];

bool CountSymbol(const Elf64_Sym&, const char* name, void* ctx) {
  if (name[0]) ++*static_cast<int*>(ctx);
  return *static_cast<int*>(ctx) < 100000;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_fd < 0) {
    g_fd = memfd_create("elf_fuzz", 0);
    if (g_fd < 0) abort();
    snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
  }
  if (ftruncate(g_fd, 0) != 0 || pwrite(g_fd, data, size, 0) != static_cast<ssize_t>(size))
    abort();
  cgosan::ElfReader elf;
  if (!elf.Open(g_path)) {
    char name[64];
    cgosan::LookupSymbolInFile(g_path, 0x1000, name, sizeof name);
    return 0;
  }
  for (int i = 0; i < elf.num_phdrs(); i++) {
    Elf64_Phdr ph;
    elf.Phdr(i, &ph);
  }
  uint64_t vaddrs[8] = {0};
  int nv = 0;
  for (int i = 0; i < elf.num_sections(); i++) {
    Elf64_Shdr sh;
    if (!elf.Section(i, &sh)) continue;
    if (nv < 8) vaddrs[nv++] = sh.sh_addr + sh.sh_size / 2;
    char buf[32];
    elf.ReadString(sh.sh_offset, sh.sh_size, sh.sh_name % 64, buf, sizeof buf);
  }
  Elf64_Shdr sh;
  elf.FindSection(".text", &sh);
  elf.FindSection(".gopclntab", &sh);
  elf.FindSectionByType(SHT_SYMTAB, &sh);
  elf.FindSectionByType(SHT_NOTE, &sh);
  for (int i = 0; i < nv; i++) elf.SectionContaining(vaddrs[i]);
  char id[128];
  cgosan::ReadElfBuildId(elf, id, sizeof id);
  cgosan::ReadElfBuildId(elf, id, 8);  // too small for most ids
  cgosan::SymbolTableInfo table;
  if (cgosan::FindSymbolTable(elf, &table)) {
    cgosan::SymbolQuery q[8];
    for (int i = 0; i < nv; i++) q[i].vaddr = vaddrs[i];
    cgosan::LookupSymbols(elf, table, q, nv);
    char name[256];
    for (int i = 0; i < nv; i++) {
      if (q[i].found) elf.ReadString(table.str_offset, table.str_size, q[i].name, name, sizeof name);
    }
    int count = 0;
    cgosan::ForEachSymbol(elf, table, CountSymbol, &count);
    cgosan::IsGoElf(elf, table);
  }
  char name[64];
  for (int i = 0; i < nv && i < 2; i++) cgosan::LookupSymbolInFile(g_path, vaddrs[i], name, sizeof name);
  return 0;
}
