// GoRuntime::Attach: locate, check, then publish. Everything here is static storage.
#include "report/go/go_runtime.h"

#include <cstring>
#include <initializer_list>

namespace cgosan {
namespace {

GoBinaryInfo g_binary;
Pclntab g_table;
bool g_table_ok = false;
const GoRuntimeLayout* g_layout = nullptr;
RuntimeFunctions g_functions;
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
  g_layout = layout;
  SetOff("");
  return true;
}

const Pclntab* GoRuntime::Table() { return g_table_ok ? &g_table : nullptr; }
const GoRuntimeLayout* GoRuntime::Layout() { return g_layout; }
const GoBinaryInfo& GoRuntime::Binary() { return g_binary; }
const RuntimeFunctions& GoRuntime::Functions() { return g_functions; }
const char* GoRuntime::OffReason() { return g_off_reason; }

}  // namespace cgosan
