// GoRuntime::Attach: locate, check, then publish. Everything here is static storage.
#include "report/go/go_runtime.h"

#include <elf.h>
#include <link.h>

#include <cstring>
#include <initializer_list>

namespace cgosan {
namespace {

GoBinaryInfo g_binary;
Pclntab g_table;
bool g_table_ok = false;
const GoRuntimeLayout* g_layout = nullptr;
RuntimeFunctions g_functions;
GoTypeData g_types;
char g_off_reason[160] = "not attached";

void SetOff(const char* a, const char* b = "") {
  size_t n = 0;
  for (const char* s : {a, b}) {
    for (; *s && n + 1 < sizeof(g_off_reason); ++s) g_off_reason[n++] = *s;
  }
  g_off_reason[n] = '\0';
}

// The runtime functions, by their pclntab names (which carry no ABI suffix).
void FindRuntimeFunctions(RuntimeFunctions* out) {
  struct Wanted {
    const char* name;
    CodeRange* range;
  } wanted[] = {{"runtime.asmcgocall", &out->asmcgocall},
                {"runtime.cgocall", &out->cgocall},
                {"runtime.cgocallback", &out->cgocallback},
                {"crosscall2", &out->crosscall2},
                {"runtime.goexit", &out->goexit}};
  GoFuncInfo f;
  for (uint64_t i = 0; i < g_table.nfunc(); ++i) {
    if (!g_table.FindFuncByIndex(i, &f)) continue;
    const char* fn = g_table.FuncName(f);
    if (fn == nullptr) continue;
    for (Wanted& w : wanted) {
      if (w.range->begin == 0 && strcmp(fn, w.name) == 0) *w.range = CodeRange{f.entry, f.end};
    }
  }
}

struct RangeInImage {
  uintptr_t begin, end;
  bool inside;
};

int CheckMainExecutableSegments(struct dl_phdr_info* info, size_t, void* arg) {
  auto* r = static_cast<RangeInImage*>(arg);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_R) == 0) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (r->begin >= lo && r->end <= lo + ph.p_filesz) r->inside = true;
  }
  return 1;  // the main executable comes first: stop there
}

// moduledata.types..etypes, published only when the whole range is file-backed data of one
// readable segment of the executable: GoTypeName then never reads unmapped memory whatever
// pointer it is given. moduledata's pcHeader and gofunc fields, known independently,
// confirm the version's offset first.
void FindTypeData(const GoBinaryInfo& bin, GoTypeData* out) {
  uint32_t off = bin.go_major == 1 ? ModuledataTypesOffset(bin.go_minor) : 0;
  if (off == 0 || bin.moduledata == 0) return;
  const uint8_t* md = reinterpret_cast<const uint8_t*>(bin.moduledata);
  uintptr_t pc_header, gofunc, types, etypes;
  memcpy(&pc_header, md, sizeof(pc_header));
  memcpy(&gofunc, md + off + 24, sizeof(gofunc));  // after types, etypes, rodata
  if (pc_header != bin.pclntab || (bin.gofunc != 0 && gofunc != bin.gofunc)) return;
  if (!GoTypesFromModuledata(md, off + 16, bin.go_minor, &types, &etypes)) return;
  RangeInImage range = {types, etypes, false};
  dl_iterate_phdr(CheckMainExecutableSegments, &range);
  if (!range.inside) return;
  out->types = types;
  out->etypes = etypes;
  out->bytes = reinterpret_cast<const uint8_t*>(types);
}

}  // namespace

bool GoRuntime::Attach() {
  if (!LoadGoBinary(&g_binary) || !g_binary.found) {
    SetOff("no Go pclntab found in the executable");
    return false;
  }
  g_table_ok = InitPclntab(g_binary, &g_table);
  if (!g_table_ok) {
    SetOff("the Go pclntab could not be read");
    return false;
  }
  FindRuntimeFunctions(&g_functions);
  const GoRuntimeLayout* layout =
      FindGoRuntimeLayout(g_binary.go_major == 1 ? g_binary.go_minor : 0);
  if (!layout) {
    SetOff("unsupported Go version ", g_binary.version[0] ? g_binary.version : "(unknown)");
    return false;
  }
  if (!g_functions.asmcgocall.begin || !g_functions.cgocall.begin) {
    SetOff("runtime.asmcgocall or runtime.cgocall not in the pclntab");
    return false;
  }
  size_t size = g_functions.asmcgocall.end - g_functions.asmcgocall.begin;
  if (!AsmcgocallMatchesLayout(reinterpret_cast<const uint8_t*>(g_functions.asmcgocall.begin),
                               size < 64 ? size : 64, *layout)) {
    SetOff("runtime.asmcgocall does not match the layout of ", g_binary.version);
    return false;
  }
  FindTypeData(g_binary, &g_types);  // no type names without it; the rest still works
  g_layout = layout;
  SetOff("");
  return true;
}

const Pclntab* GoRuntime::Table() { return g_table_ok ? &g_table : nullptr; }
const GoRuntimeLayout* GoRuntime::Layout() { return g_layout; }
const GoBinaryInfo& GoRuntime::Binary() { return g_binary; }
const RuntimeFunctions& GoRuntime::Functions() { return g_functions; }
const char* GoRuntime::OffReason() { return g_off_reason; }
const GoTypeData& GoRuntime::Types() { return g_types; }

}  // namespace cgosan
