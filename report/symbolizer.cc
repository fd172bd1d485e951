// Symbolizer: ties the module table, the ELF readers and the name pool together. A stack is
// symbolized one module at a time so each module's symbol table is scanned once per stack.
// Not thread-safe by design (static buffers, no locks): reports are made one at a time.
#include "report/symbolizer.h"

#include <cxxabi.h>
#include <errno.h>

#include <cstdlib>
#include <cstring>

#include "report/elf_build_id.h"
#include "report/elf_reader.h"
#include "report/elf_symbols.h"
#include "report/go/go_runtime.h"
#include "report/go_symbol_name.h"
#include "report/module_map.h"
#include "report/string_pool.h"

namespace cgosan {
namespace {

constexpr uint64_t kPageSize = 4096;

// Raw symbol names are read here before being pooled (long Go and C++ names are truncated).
constexpr size_t kNameMax = 4096;
char g_name_buf[kNameMax];

// (module, string table index) -> pooled name: alloc and free stacks share most frames, so
// this keeps one report's pool use and demangling work small. Cleared by Refresh().
struct NameCacheEntry {
  int module;
  uint32_t name;
  const char* text;
  FrameLang lang;
};
constexpr int kNameCacheSize = 4096;
NameCacheEntry g_name_cache[kNameCacheSize];

// Per-stack scratch, static rather than on a small signal stack.
int g_frame_module[kMaxFramesPerStack];
uintptr_t g_lookup_pcs[kMaxFramesPerStack];
SymbolQuery g_queries[kMaxFramesPerStack];
int g_query_frame[kMaxFramesPerStack];

// Signal handlers must leave errno as they found it; the raw syscalls here may change it.
class ErrnoSaver {
 public:
  ErrnoSaver() : saved_(errno) {}
  ~ErrnoSaver() { errno = saved_; }

 private:
  int saved_;
};

void ClearNameCache() {
  for (NameCacheEntry& e : g_name_cache) e.module = -1;
}

void EnsureLoaded() {
  if (!ModuleMap::Loaded()) Symbolizer::Refresh();
}

// Fills the module's ELF facts once per Refresh(). The load bias comes from the PT_LOAD that
// the module's first mapping maps: the kernel maps page-aligned file offset to page-aligned
// vaddr, so bias = mapping start - page_down(p_vaddr). 0 for a non-PIE executable.
void Probe(ModuleEntry* m, ElfReader* elf) {
  if (m->probed) return;
  m->probed = true;
  if (!elf->Open(m->path)) return;
  m->elf_ok = true;
  for (int i = 0; i < elf->num_phdrs(); ++i) {
    Elf64_Phdr ph;
    if (!elf->Phdr(i, &ph) || ph.p_type != PT_LOAD) continue;
    if (ph.p_vaddr + ph.p_memsz > m->load_end) m->load_end = ph.p_vaddr + ph.p_memsz;
    if (m->bias_known || (ph.p_offset & ~(kPageSize - 1)) != m->first_offset) continue;
    m->bias = m->first_start - (ph.p_vaddr & ~(kPageSize - 1));
    m->bias_known = true;
  }
  FindSymbolTable(*elf, &m->symbols);
}

void EnsureProbed(ModuleEntry* m) {
  if (m->probed) return;
  ElfReader elf;
  Probe(m, &elf);
}

// The mapping holding addr and its module (nullptr for pseudo mappings). An unnamed tail
// mapping counts only as far as the module's segments reach (its .bss).
const MappingEntry* Locate(uintptr_t addr, ModuleEntry** module) {
  *module = nullptr;
  const MappingEntry* map = ModuleMap::Find(addr);
  if (map == nullptr) return nullptr;
  ModuleEntry* m = ModuleMap::Module(map->module);
  if (m == nullptr) return map;
  EnsureProbed(m);
  if (map->anon_tail && !(m->bias_known && addr - m->bias < m->load_end)) return nullptr;
  *module = m;
  return map;
}

// Opens the module's file and makes sure it has been probed; false when it is no ELF file.
bool OpenModule(ModuleEntry* m, ElfReader* elf) {
  if (!m->probed) {
    Probe(m, elf);
    return elf->is_open();
  }
  return m->elf_ok && elf->Open(m->path);
}

uintptr_t OffsetInModule(const ModuleEntry& m, uintptr_t pc) {
  if (m.bias_known) return pc - m.bias;
  // Not an ELF file we understand: the offset in the file is the best we can say.
  return pc - m.first_start + m.first_offset;
}

bool ModuleIsGo(ModuleEntry* m, const ElfReader& elf) {
  if (m->is_go < 0) m->is_go = IsGoElf(elf, m->symbols) ? 1 : 0;
  return m->is_go == 1;
}

void StripGoAbiSuffix(char* name) {
  size_t len = strlen(name);
  static const char* const kSuffixes[] = {".abi0", ".abiinternal"};
  for (const char* suffix : kSuffixes) {
    size_t n = strlen(suffix);
    if (len > n && strcmp(name + len - n, suffix) == 0) name[len - n] = '\0';
  }
}

// The pooled, demangled name for a string table entry, and its language.
const char* NameFor(int module_index, ModuleEntry* m, const ElfReader& elf, uint32_t name,
                    FrameLang* lang) {
  uint32_t slot =
      (static_cast<uint32_t>(module_index) * 0x9e3779b1u ^ name * 0x85ebca6bu) % kNameCacheSize;
  NameCacheEntry& cached = g_name_cache[slot];
  if (cached.module == module_index && cached.name == name) {
    *lang = cached.lang;
    return cached.text;
  }
  if (!elf.ReadString(m->symbols.str_offset, m->symbols.str_size, name, g_name_buf,
                      sizeof(g_name_buf)) ||
      g_name_buf[0] == '\0') {
    return nullptr;
  }
  const char* text = nullptr;
  if (g_name_buf[0] == '_' && g_name_buf[1] == 'Z') {
    // The one allocation here: accepted, the preload serves it from its report arena.
    int status = -1;
    char* demangled = abi::__cxa_demangle(g_name_buf, nullptr, nullptr, &status);
    if (status == 0 && demangled != nullptr) text = SymbolStringPool::Copy(demangled);
    free(demangled);
  }
  *lang = LooksLikeGoFunction(g_name_buf) && ModuleIsGo(m, elf) ? FrameLang::kGo : FrameLang::kC;
  // Go names a function without the linker's ABI suffix ("runtime.asmcgocall", not
  // "runtime.asmcgocall.abi0"); so do we.
  if (*lang == FrameLang::kGo) StripGoAbiSuffix(g_name_buf);
  if (text == nullptr) text = SymbolStringPool::Copy(g_name_buf);
  if (text == nullptr) return nullptr;
  cached = NameCacheEntry{module_index, name, text, *lang};
  return text;
}

// Resolves the function names of all frames attributed to module `module_index`.
void SymbolizeModuleFrames(int module_index, Frame* frames, int n) {
  ModuleEntry* m = ModuleMap::Module(module_index);
  ElfReader elf;
  if (m == nullptr || !OpenModule(m, &elf) || !m->bias_known || !m->symbols.present) return;
  int count = 0;
  for (int i = 0; i < n; ++i) {
    if (g_frame_module[i] != module_index) continue;
    g_queries[count] = SymbolQuery();
    g_queries[count].vaddr = g_lookup_pcs[i] - m->bias;
    g_query_frame[count] = i;
    ++count;
  }
  LookupSymbols(elf, m->symbols, g_queries, count);
  for (int k = 0; k < count; ++k) {
    if (!g_queries[k].found) continue;
    Frame& f = frames[g_query_frame[k]];
    FrameLang lang = FrameLang::kC;
    f.function = NameFor(module_index, m, elf, g_queries[k].name, &lang);
    if (f.function != nullptr) f.lang = lang;
  }
}

// frames[i].pc is set; g_lookup_pcs[i] is where to look it up (pc or pc-1).
void SymbolizeFrames(Frame* frames, int n) {
  for (int i = 0; i < n; ++i) {
    Frame& f = frames[i];
    uintptr_t pc = f.pc;
    f = Frame();
    f.pc = pc;
    g_frame_module[i] = -1;
    ModuleEntry* m = nullptr;
    const MappingEntry* map = Locate(g_lookup_pcs[i], &m);
    if (map == nullptr) continue;
    f.module = map->name;
    if (m == nullptr) {
      f.module_offset = pc - map->start;
      continue;
    }
    f.module_offset = OffsetInModule(*m, pc);
    g_frame_module[i] = map->module;
  }
  for (int i = 0; i < n; ++i) {
    int module_index = g_frame_module[i];
    if (module_index < 0) continue;
    SymbolizeModuleFrames(module_index, frames, n);
    // Done with this module: later frames of it were resolved in the same pass.
    for (int j = i; j < n; ++j) {
      if (g_frame_module[j] == module_index) g_frame_module[j] = -1;
    }
  }
}

}  // namespace

void Symbolizer::Refresh() {
  ErrnoSaver errno_saver;
  SymbolStringPool::Reset();
  ClearNameCache();
  ModuleMap::Load();
}

void Symbolizer::Symbolize(uintptr_t pc, Frame* out) {
  ErrnoSaver errno_saver;
  EnsureLoaded();
  out->pc = pc;
  g_lookup_pcs[0] = pc;
  SymbolizeFrames(out, 1);
}

const char* Symbolizer::ModuleOf(uintptr_t pc, uintptr_t* module_offset) {
  ErrnoSaver errno_saver;
  EnsureLoaded();
  if (module_offset != nullptr) *module_offset = 0;
  ModuleEntry* m = nullptr;
  const MappingEntry* map = Locate(pc, &m);
  if (map == nullptr) return nullptr;
  if (module_offset != nullptr) {
    *module_offset = m != nullptr ? OffsetInModule(*m, pc) : pc - map->start;
  }
  return map->name;
}

bool Symbolizer::ReadBuildId(const char* path, char* out, size_t cap) {
  ErrnoSaver errno_saver;
  if (cap > 0) out[0] = '\0';
  ElfReader elf;
  return elf.Open(path) && ReadElfBuildId(elf, out, cap);
}

// Go frames get their names, file:line and inlined callers from the binary's pclntab:
// one physical frame may become several (inlined first). Writes into a scratch copy, then
// back, because the expansion shifts the frames after it.
int ExpandGoFrames(Frame* frames, int n) {
  const Pclntab* table = GoRuntime::Table();
  if (table == nullptr) return n;
  static Frame scratch[kMaxFramesPerStack];
  int out = 0;
  for (int i = 0; i < n && out < kMaxFramesPerStack; ++i) {
    GoFuncInfo func;
    GoFrame expanded[16];
    int k = table->FindFunc(g_lookup_pcs[i], &func)
                ? table->ExpandInline(g_lookup_pcs[i], expanded, 16)
                : 0;
    if (k <= 0) {
      scratch[out++] = frames[i];
      continue;
    }
    for (int j = 0; j < k && out < kMaxFramesPerStack; ++j) {
      Frame f = frames[i];
      if (expanded[j].function != nullptr) f.function = expanded[j].function;
      f.file = expanded[j].file;
      f.line = expanded[j].line;
      f.inlined = expanded[j].inlined;
      f.lang = FrameLang::kGo;
      scratch[out++] = f;
    }
  }
  for (int i = 0; i < out; ++i) frames[i] = scratch[i];
  return out;
}

void Symbolizer::SymbolizeStack(const uintptr_t* pcs, int n, bool first_is_exact, Stack* out) {
  ErrnoSaver errno_saver;
  EnsureLoaded();
  if (n > kMaxFramesPerStack) n = kMaxFramesPerStack;
  if (n < 0) n = 0;
  for (int i = 0; i < n; ++i) {
    out->frames[i].pc = pcs[i];
    bool exact = i == 0 && first_is_exact;
    g_lookup_pcs[i] = exact || pcs[i] == 0 ? pcs[i] : pcs[i] - 1;
  }
  SymbolizeFrames(out->frames, n);
  n = ExpandGoFrames(out->frames, n);
  for (int i = 0; i < n; ++i) out->frames[i].glue = IsCgoGlueName(out->frames[i].function);
  out->num_frames = n;
}

}  // namespace cgosan
