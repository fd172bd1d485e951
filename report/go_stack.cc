// GoStack implementation (see go_stack.h for the walk and its limits).
#include "report/go_stack.h"

#include <elf.h>
#include <string.h>
#include <unistd.h>

#include "report/elf_reader.h"
#include "report/elf_symbols.h"
#include "report/main_executable.h"

namespace cgosan {
namespace {

// Offsets into runtime.g and runtime.m, identical in Go 1.19-1.24.
constexpr uintptr_t kGStackLo = 0, kGStackHi = 8, kGM = 48, kGSchedSp = 56, kGSchedBp = 104;
constexpr uintptr_t kMG0 = 0, kMCurg = 192;

struct Range {
  uintptr_t begin = 0, end = 0;
  bool Contains(uintptr_t pc) const { return pc >= begin && pc < end; }
};

Range g_asmcgocall;
Range g_cgocall;
bool g_enabled = false;

struct FunctionSearch {
  const char* const* names;
  int count;
  uintptr_t bias;
  Range* out;
  bool found;
};

// Finds the first function named one of `names` into *out.
bool FindFunction(const ElfReader& elf, const SymbolTableInfo& table, const char* const* names,
                  int count, uintptr_t bias, Range* out) {
  FunctionSearch search{names, count, bias, out, false};
  ForEachSymbol(
      elf, table,
      [](const Elf64_Sym& s, const char* name, void* ctx) {
        auto* search = static_cast<FunctionSearch*>(ctx);
        if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_size == 0) return true;
        for (int j = 0; j < search->count; ++j) {
          if (strcmp(name, search->names[j]) == 0) {
            search->out->begin = search->bias + s.st_value;
            search->out->end = search->out->begin + s.st_size;
            search->found = true;
            return false;
          }
        }
        return true;
      },
      &search);
  return search.found;
}

template <typename T>
T Load(uintptr_t addr) {
  return *reinterpret_cast<const T*>(addr);
}

bool Plausible(uintptr_t p) { return p >= 4096 && (p & 7) == 0; }

}  // namespace

bool GoStack::Init() {
  MainExecutable exe;
  ElfReader elf;
  SymbolTableInfo table;
  if (!FindMainExecutable(&exe) || !elf.Open(exe.path) || !FindSymbolTable(elf, &table) ||
      !table.is_symtab) {
    return false;
  }
  uintptr_t bias = exe.bias;
  const char* asmcgocall[] = {"runtime.asmcgocall.abi0", "runtime.asmcgocall"};
  const char* cgocall[] = {"runtime.cgocall"};
  g_enabled = FindFunction(elf, table, asmcgocall, 2, bias, &g_asmcgocall) &&
              FindFunction(elf, table, cgocall, 1, bias, &g_cgocall);
  return g_enabled;
}

bool GoStack::Enabled() { return g_enabled; }

int GoStack::ContinueFromCgoCall(uintptr_t* pcs, int n, int max) {
  if (!g_enabled || n <= 0 || n >= max || !g_asmcgocall.Contains(pcs[n - 1])) return n;
  // asmcgocall on the stack means a Go thread in a cgo call: %fs:-8 holds g0.
  uintptr_t g0;
  asm volatile("movq %%fs:-8, %0" : "=r"(g0));
  if (!Plausible(g0)) return n;
  uintptr_t m = Load<uintptr_t>(g0 + kGM);
  if (!Plausible(m) || Load<uintptr_t>(m + kMG0) != g0) return n;
  uintptr_t g = Load<uintptr_t>(m + kMCurg);
  if (!Plausible(g) || g == g0) return n;
  uintptr_t lo = Load<uintptr_t>(g + kGStackLo), hi = Load<uintptr_t>(g + kGStackHi);
  uintptr_t sp = Load<uintptr_t>(g + kGSchedSp), bp = Load<uintptr_t>(g + kGSchedBp);
  if (!(lo < sp && sp < hi && hi - lo <= (uintptr_t{1} << 30))) return n;
  auto on_stack = [&](uintptr_t p) { return p >= sp && p + 16 <= hi && (p & 7) == 0; };
  // runtime.cgocall's own frame: its return address into cgocall sits at the goroutine SP
  // (Go 1.19) or just above the BP saved there (Go 1.21+).
  const uintptr_t slots[] = {sp, sp + 8};
  for (uintptr_t slot : slots) {
    uintptr_t pc = on_stack(slot) ? Load<uintptr_t>(slot) : 0;
    if (g_cgocall.Contains(pc)) {
      pcs[n++] = pc;
      break;
    }
  }
  // Then the frame-pointer chain: [bp] is the caller's bp, [bp+8] the return address.
  while (n < max && on_stack(bp)) {
    uintptr_t ret = Load<uintptr_t>(bp + 8);
    uintptr_t next = Load<uintptr_t>(bp);
    if (ret == 0) break;
    pcs[n++] = ret;
    if (next <= bp) break;
    bp = next;
  }
  return n;
}

}  // namespace cgosan
