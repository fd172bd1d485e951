// GoStack implementation (see go_stack.h for the walk and its limits).
#include "report/go_stack.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "report/elf_reader.h"
#include "report/elf_symbols.h"

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

uintptr_t MainExecutableBias() {
  uintptr_t bias = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        *static_cast<uintptr_t*>(data) = info->dlpi_addr;
        return 1;  // the first object is the main executable
      },
      &bias);
  return bias;
}

// Scans the symbol table for functions named in `names` (any of them) into *out.
bool FindFunction(const ElfReader& elf, const SymbolTableInfo& table, const char* const* names,
                  int count, uintptr_t bias, Range* out) {
  Elf64_Sym syms[256];
  char name[64];
  for (uint64_t i = 0; i < table.sym_count; i += 256) {
    uint64_t n = table.sym_count - i < 256 ? table.sym_count - i : 256;
    if (!elf.Read(table.sym_offset + i * sizeof(Elf64_Sym), syms, n * sizeof(Elf64_Sym))) return false;
    for (uint64_t k = 0; k < n; ++k) {
      const Elf64_Sym& s = syms[k];
      if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_size == 0) continue;
      if (!elf.ReadString(table.str_offset, table.str_size, s.st_name, name, sizeof(name))) continue;
      for (int j = 0; j < count; ++j) {
        if (strcmp(name, names[j]) == 0) {
          out->begin = bias + s.st_value;
          out->end = out->begin + s.st_size;
          return true;
        }
      }
    }
  }
  return false;
}

template <typename T>
T Load(uintptr_t addr) {
  return *reinterpret_cast<const T*>(addr);
}

bool Plausible(uintptr_t p) { return p >= 4096 && (p & 7) == 0; }

}  // namespace

bool GoStack::Init() {
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) return false;
  exe[len] = '\0';
  ElfReader elf;
  SymbolTableInfo table;
  if (!elf.Open(exe) || !FindSymbolTable(elf, &table) || !table.is_symtab) return false;
  uintptr_t bias = MainExecutableBias();
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
