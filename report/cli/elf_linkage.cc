// The rules copy scripts/cgosan's shell checks (file(1), readelf | grep), which stay its
// fallback: a program must get the same verdict with or without cgosan-tool.
#include "report/cli/elf_linkage.h"

#include <string.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "report/elf_symbols.h"

namespace cgosan {
namespace cli {
namespace {

struct Sanitizer {
  const char* lib;
  const char* init;
  const char* name;
};
constexpr Sanitizer kSanitizers[] = {
    {"libasan.so", "__asan_init", "AddressSanitizer"},
    {"libhwasan.so", "__hwasan_init", "HWAddressSanitizer"},
    {"libmsan.so", "__msan_init", "MemorySanitizer"},
    {"libtsan.so", "__tsan_init", "ThreadSanitizer"},
};

bool StartsWith(const std::string& s, const char* prefix) {
  return s.compare(0, strlen(prefix), prefix) == 0;
}

// readelf -d prints DT_STRTAB's strings; the table is found by its address.
bool VaddrToOffset(const ElfReader& elf, uint64_t vaddr, uint64_t* offset) {
  Elf64_Phdr ph;
  for (int i = 0; i < elf.num_phdrs(); ++i) {
    if (!elf.Phdr(i, &ph) || ph.p_type != PT_LOAD) continue;
    if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr < ph.p_filesz) {
      *offset = ph.p_offset + (vaddr - ph.p_vaddr);
      return true;
    }
  }
  return false;
}

struct DynamicInfo {
  bool present = false;
  bool has_flags_1 = false;
  std::vector<std::string> needed;
};

bool ReadDynamic(const ElfReader& elf, const Elf64_Phdr& ph, DynamicInfo* out) {
  out->present = true;
  std::vector<uint64_t> needed_names;
  uint64_t strtab = 0, strsz = 0;
  bool have_strtab = false;
  for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= ph.p_filesz; off += sizeof(Elf64_Dyn)) {
    Elf64_Dyn dyn;
    if (!elf.Read(ph.p_offset + off, &dyn, sizeof(dyn))) return false;
    if (dyn.d_tag == DT_NULL) break;
    if (dyn.d_tag == DT_FLAGS_1) out->has_flags_1 = true;  // file(1) looks for it, not DF_1_PIE
    if (dyn.d_tag == DT_NEEDED) needed_names.push_back(dyn.d_un.d_val);
    if (dyn.d_tag == DT_STRTAB) {
      have_strtab = true;
      strtab = dyn.d_un.d_ptr;
    }
    if (dyn.d_tag == DT_STRSZ) strsz = dyn.d_un.d_val;
  }
  // An unreadable name still counts as a needed library for the static-pie rule.
  out->needed.assign(needed_names.size(), std::string());
  uint64_t strtab_offset;
  if (!have_strtab || !VaddrToOffset(elf, strtab, &strtab_offset)) return true;
  char name[256];
  for (size_t i = 0; i < needed_names.size(); ++i) {
    if (elf.ReadString(strtab_offset, strsz, needed_names[i], name, sizeof(name)))
      out->needed[i] = name;
  }
  return true;
}

// grep's \b after the name: the symbol may only go on with a non-word character.
bool IsInitSymbol(const char* symbol, const char* init) {
  size_t n = strlen(init);
  if (strncmp(symbol, init, n) != 0) return false;
  char next = symbol[n];
  bool word = next == '_' || (next >= '0' && next <= '9') || (next >= 'a' && next <= 'z') ||
              (next >= 'A' && next <= 'Z');
  return !word;
}

// Bit i set: the dynamic symbol table holds kSanitizers[i].init.
unsigned DynamicInitSymbols(const ElfReader& elf) {
  Elf64_Shdr dynsym, strings;
  if (elf.FindSectionByType(SHT_DYNSYM, &dynsym) < 0 ||
      !elf.Section(static_cast<int>(dynsym.sh_link), &strings)) {
    return 0;
  }
  SymbolTableInfo table;
  table.present = true;
  table.sym_offset = dynsym.sh_offset;
  table.sym_count = dynsym.sh_size / sizeof(Elf64_Sym);
  table.str_offset = strings.sh_offset;
  table.str_size = strings.sh_size;
  unsigned found = 0;
  ForEachSymbol(
      elf, table,
      [](const Elf64_Sym&, const char* name, void* ctx) {
        for (size_t i = 0; i < std::size(kSanitizers); ++i) {
          if (IsInitSymbol(name, kSanitizers[i].init)) *static_cast<unsigned*>(ctx) |= 1u << i;
        }
        return true;
      },
      &found);
  return found;
}

// readelf's "[Requesting program interpreter: PATH]" line, grepped for
// 'interpreter: [^]]*/ld-musl-': the name must come before any ']' or newline.
bool NamesMusl(const std::string& interp) {
  size_t at = interp.find("/ld-musl-");
  return at != std::string::npos && interp.find_first_of("]\n") > at;
}

}  // namespace

bool ReadElfLinkage(const ElfReader& elf, ElfLinkage* out) {
  *out = ElfLinkage();
  DynamicInfo dynamic;
  bool has_interp = false;
  for (int i = 0; i < elf.num_phdrs(); ++i) {
    Elf64_Phdr ph;
    if (!elf.Phdr(i, &ph)) return false;
    if (ph.p_type == PT_DYNAMIC && !dynamic.present && !ReadDynamic(elf, ph, &dynamic)) {
      return false;
    }
    if (ph.p_type == PT_INTERP && !has_interp) {
      has_interp = true;
      char path[4096] = {};
      elf.ReadUpTo(ph.p_offset, path, std::min<uint64_t>(ph.p_filesz, sizeof(path) - 1));
      out->musl = NamesMusl(path);
    }
  }
  out->is_static =
      !dynamic.present || (dynamic.has_flags_1 && dynamic.needed.empty() && !has_interp);
  unsigned init_symbols = DynamicInitSymbols(elf);
  for (size_t i = 0; i < std::size(kSanitizers) && !out->sanitizer; ++i) {
    bool needed = false;
    for (const std::string& lib : dynamic.needed) needed |= StartsWith(lib, kSanitizers[i].lib);
    if (needed || (init_symbols & (1u << i)) != 0) out->sanitizer = kSanitizers[i].name;
  }
  return true;
}

}  // namespace cli
}  // namespace cgosan
