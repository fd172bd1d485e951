// ElfSymbols: the chunked symbol-table scan and the alias / fallback ranking.
#include "report/elf_symbols.h"

#include <cstring>

namespace cgosan {
namespace {

// One chunk of symbols (24 KiB), static because signal stacks are small.
constexpr size_t kSymChunk = 1024;
Elf64_Sym g_sym_chunk[kSymChunk];
// One chunk of a string table, for the runtime.pclntab search.
constexpr size_t kStrChunk = 64 * 1024;
char g_str_chunk[kStrChunk];

bool TableFromSection(const ElfReader& elf, const Elf64_Shdr& sym, SymbolTableInfo* out) {
  if (sym.sh_entsize != 0 && sym.sh_entsize != sizeof(Elf64_Sym)) return false;
  if (!elf.InFile(sym.sh_offset, sym.sh_size) || sym.sh_size < sizeof(Elf64_Sym)) return false;
  Elf64_Shdr str;
  if (!elf.Section(static_cast<int>(sym.sh_link), &str) || str.sh_type != SHT_STRTAB ||
      !elf.InFile(str.sh_offset, str.sh_size)) {
    return false;
  }
  out->present = true;
  out->is_symtab = sym.sh_type == SHT_SYMTAB;
  out->sym_offset = sym.sh_offset;
  out->sym_count = sym.sh_size / sizeof(Elf64_Sym);
  out->str_offset = str.sh_offset;
  out->str_size = str.sh_size;
  return true;
}

bool IsCodeSymbol(const Elf64_Sym& s) {
  unsigned type = ELF64_ST_TYPE(s.st_info);
  if (type != STT_FUNC && type != STT_NOTYPE) return false;
  return s.st_shndx != SHN_UNDEF && s.st_shndx < SHN_LORESERVE && s.st_value != 0 && s.st_name != 0;
}

int BindingRank(unsigned char info) {
  switch (ELF64_ST_BIND(info)) {
    case STB_GLOBAL:
      return 2;
    case STB_WEAK:
      return 1;
    default:
      return 0;
  }
}

int LeadingUnderscores(const ElfReader& elf, const SymbolTableInfo& t, uint32_t name) {
  char head[8];
  if (!elf.ReadString(t.str_offset, t.str_size, name, head, sizeof(head))) return 8;
  int n = 0;
  while (head[n] == '_') ++n;
  return n;
}

// Whether candidate s should replace q's current best. Names are read only for exact ties.
bool Better(const ElfReader& elf, const SymbolTableInfo& t, const SymbolQuery& q,
            const Elf64_Sym& s, bool exact, int* s_underscores) {
  if (!q.found) return true;
  if (exact != q.exact) return exact;
  if (!exact) {
    // Nearest preceding wins; at one address a sized symbol, whose extent is known, wins.
    if (s.st_value != q.value) return s.st_value > q.value;
    return s.st_size > 0 && q.size == 0;
  }
  if (s.st_size != q.size) return s.st_size < q.size;  // the innermost range
  if (s.st_value != q.value) return s.st_value > q.value;
  bool s_func = ELF64_ST_TYPE(s.st_info) == STT_FUNC;
  bool q_func = ELF64_ST_TYPE(q.info) == STT_FUNC;
  if (s_func != q_func) return s_func;
  *s_underscores = LeadingUnderscores(elf, t, s.st_name);
  if (*s_underscores != q.underscores) return *s_underscores < q.underscores;
  return BindingRank(s.st_info) > BindingRank(q.info);
}

void Consider(const ElfReader& elf, const SymbolTableInfo& t, SymbolQuery* q, const Elf64_Sym& s) {
  if (s.st_value > q->vaddr) return;
  bool exact = s.st_size > 0 && q->vaddr - s.st_value < s.st_size;
  // A preceding symbol only counts inside the same section: past a section's end (PLT,
  // padding, another section) it would name the wrong code.
  if (!exact && (q->section < 0 || s.st_shndx != q->section)) return;
  int underscores = -1;
  if (!Better(elf, t, *q, s, exact, &underscores)) return;
  if (exact && underscores < 0) underscores = LeadingUnderscores(elf, t, s.st_name);
  q->found = true;
  q->exact = exact;
  q->value = s.st_value;
  q->size = s.st_size;
  q->name = s.st_name;
  q->info = s.st_info;
  q->underscores = underscores;
}

// Searches the string table for "runtime.pclntab" as a whole string.
bool StringTableHas(const ElfReader& elf, const SymbolTableInfo& t, const char* needle) {
  const size_t len = strlen(needle);
  // Overlap chunks by len+1 bytes so a match across a boundary is seen whole.
  const uint64_t step = kStrChunk - len - 2;
  for (uint64_t off = 0; off < t.str_size; off += step) {
    uint64_t want = t.str_size - off < kStrChunk ? t.str_size - off : kStrChunk;
    size_t got = elf.ReadUpTo(t.str_offset + off, g_str_chunk, static_cast<size_t>(want));
    if (got < len) return false;
    for (size_t i = 0; i + len <= got; ++i) {
      if (g_str_chunk[i] != needle[0] || memcmp(g_str_chunk + i, needle, len) != 0) continue;
      bool starts = (i == 0) ? off == 0 : g_str_chunk[i - 1] == '\0';
      bool ends = i + len < got && g_str_chunk[i + len] == '\0';
      if (starts && ends) return true;
    }
    if (got < want) return false;
  }
  return false;
}

}  // namespace

bool FindSymbolTable(const ElfReader& elf, SymbolTableInfo* out) {
  *out = SymbolTableInfo();
  Elf64_Shdr sh;
  if (elf.FindSectionByType(SHT_SYMTAB, &sh) >= 0 && TableFromSection(elf, sh, out)) {
    return true;
  }
  if (elf.FindSectionByType(SHT_DYNSYM, &sh) >= 0 && TableFromSection(elf, sh, out)) {
    return true;
  }
  *out = SymbolTableInfo();
  return false;
}

void LookupSymbols(const ElfReader& elf, const SymbolTableInfo& table, SymbolQuery* queries,
                   int count) {
  for (int i = 0; i < count; ++i) {
    SymbolQuery& q = queries[i];
    q.found = q.exact = false;
    q.underscores = -1;
    q.section = elf.SectionContaining(q.vaddr);
  }
  if (!table.present || count <= 0) return;
  for (uint64_t first = 0; first < table.sym_count; first += kSymChunk) {
    uint64_t n = table.sym_count - first < kSymChunk ? table.sym_count - first : kSymChunk;
    size_t bytes = static_cast<size_t>(n) * sizeof(Elf64_Sym);
    size_t got = elf.ReadUpTo(table.sym_offset + first * sizeof(Elf64_Sym), g_sym_chunk, bytes);
    n = got / sizeof(Elf64_Sym);
    for (uint64_t k = 0; k < n; ++k) {
      const Elf64_Sym& s = g_sym_chunk[k];
      if (!IsCodeSymbol(s)) continue;
      for (int i = 0; i < count; ++i) Consider(elf, table, &queries[i], s);
    }
    if (got < bytes) break;
  }
  for (int i = 0; i < count; ++i) {
    SymbolQuery& q = queries[i];
    // The nearest preceding symbol names vaddr only when its extent is unknown: a sized one
    // that ends before vaddr says vaddr is in some other, unnamed code (a static function
    // absent from .dynsym), and a wrong name would mislead more than none.
    if (q.found && !q.exact && q.size > 0) q.found = false;
    // A name outside the string table is no name.
    if (q.found && q.name >= table.str_size) q.found = false;
  }
}

bool IsGoElf(const ElfReader& elf, const SymbolTableInfo& table) {
  Elf64_Shdr sh;
  if (elf.FindSection(".go.buildinfo", &sh) >= 0 || elf.FindSection(".gopclntab", &sh) >= 0 ||
      elf.FindSection(".note.go.buildid", &sh) >= 0) {
    return true;
  }
  return table.present && table.is_symtab && StringTableHas(elf, table, "runtime.pclntab");
}

bool ForEachSymbol(const ElfReader& elf, const SymbolTableInfo& table, SymbolVisitor visit,
                   void* ctx) {
  constexpr uint64_t kChunk = 256;
  Elf64_Sym syms[kChunk];
  char name[256];
  for (uint64_t i = 0; i < table.sym_count; i += kChunk) {
    uint64_t n = table.sym_count - i < kChunk ? table.sym_count - i : kChunk;
    if (!elf.Read(table.sym_offset + i * sizeof(Elf64_Sym), syms, n * sizeof(Elf64_Sym))) {
      return false;
    }
    for (uint64_t k = 0; k < n; ++k) {
      if (!elf.ReadString(table.str_offset, table.str_size, syms[k].st_name, name, sizeof(name))) {
        continue;
      }
      if (!visit(syms[k], name, ctx)) return true;
    }
  }
  return true;
}

bool LookupSymbolInFile(const char* path, uint64_t vaddr, char* name, size_t cap) {
  if (cap > 0) name[0] = '\0';
  ElfReader elf;
  SymbolTableInfo table;
  if (!elf.Open(path) || !FindSymbolTable(elf, &table)) return false;
  SymbolQuery q;
  q.vaddr = vaddr;
  LookupSymbols(elf, table, &q, 1);
  if (!q.found) return false;
  return elf.ReadString(table.str_offset, table.str_size, q.name, name, cap) && name[0] != '\0';
}

}  // namespace cgosan
