// GoRuntimeHooks implementation. The wrappers have the C signatures of runtime/cgo's
// x_cgo_mmap, x_cgo_munmap and x_cgo_thread_start (gcc_mmap.c, gcc_util.c) and are called
// on the g0 stack like them.
#include "preload/go_runtime_hooks.h"

#include <elf.h>
#include <string.h>
#include <sys/mman.h>

#include <cstdint>

#include "preload/go_memory_hooks.h"
#include "preload/mapping_limit.h"
#include "preload/thread_state.h"
#include "report/elf_reader.h"
#include "report/elf_symbols.h"
#include "report/main_executable.h"
#include "shadow/go/go_heap.h"
#include "shadow/go_mappings.h"

namespace cgosan {
namespace {

using MmapFn = uintptr_t (*)(void*, uintptr_t, int32_t, int32_t, int32_t, uint32_t);
using MunmapFn = void (*)(void*, uintptr_t);
using ThreadStartFn = void (*)(void*);

MmapFn g_mmap = nullptr;
MunmapFn g_munmap = nullptr;
ThreadStartFn g_thread_start = nullptr;

uintptr_t GoMmap(void* addr, uintptr_t length, int32_t prot, int32_t flags, int32_t fd,
                 uint32_t offset) {
  uintptr_t result = g_mmap(addr, length, prot, flags, fd, offset);
  // x_cgo_mmap returns errno (a small number) on failure.
  if (result < 4096) return result;
  MappingLimit::OnRuntimeMmap();
  GoMappings::Add(result, length);
  GoHeap::NoteRuntimeMmap(result, length, prot, flags);
  // runtime.sysFault is the runtime's only PROT_NONE mapping over memory it already has
  // (sysReserve passes no MAP_FIXED): up to Go 1.22 this is how efence frees show.
  if (prot == PROT_NONE && (flags & MAP_FIXED)) GoMemoryHooks::NoteEfenceFree(result, length);
  return result;
}

void GoMunmap(void* addr, uintptr_t length) {
  GoMappings::Remove(reinterpret_cast<uintptr_t>(addr), length);
  g_munmap(addr, length);
}

void GoThreadStart(void* start) {
  bool was = t_state.in_go_runtime;
  t_state.in_go_runtime = true;
  g_thread_start(start);
  t_state.in_go_runtime = was;
}

struct HookVariables {
  uintptr_t bias;
  uintptr_t mmap, munmap, thread_start;
};

bool Visit(const Elf64_Sym& s, const char* name, void* ctx) {
  auto* h = static_cast<HookVariables*>(ctx);
  if (ELF64_ST_TYPE(s.st_info) != STT_OBJECT || s.st_size != 8) return true;
  if (strcmp(name, "_cgo_mmap") == 0) h->mmap = h->bias + s.st_value;
  if (strcmp(name, "_cgo_munmap") == 0) h->munmap = h->bias + s.st_value;
  if (strcmp(name, "_cgo_thread_start") == 0) h->thread_start = h->bias + s.st_value;
  return true;
}

// Swaps the function pointer in `variable` for `replacement`, keeping the original.
template <typename Fn>
bool Redirect(uintptr_t variable, Fn* original, Fn replacement) {
  if (!variable) return false;
  auto* slot = reinterpret_cast<Fn*>(variable);
  Fn current = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (!current) return false;
  *original = current;
  __atomic_store_n(slot, replacement, __ATOMIC_RELEASE);
  return true;
}

}  // namespace

int GoRuntimeHooks::Attach() {
  MainExecutable exe;
  ElfReader elf;
  SymbolTableInfo table;
  if (!OpenMainExecutableSymtab(&exe, &elf, &table)) return 0;
  HookVariables h{exe.bias, 0, 0, 0};
  ForEachSymbol(elf, table, Visit, &h);
  return Redirect(h.mmap, &g_mmap, &GoMmap) + Redirect(h.munmap, &g_munmap, &GoMunmap) +
         Redirect(h.thread_start, &g_thread_start, &GoThreadStart);
}

}  // namespace cgosan
