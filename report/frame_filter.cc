// Which frames are the user's: the single rule behind the signature and the SUMMARY line.
// Everything a sanitizer, allocator, libc, the Go runtime or cgo puts on a stack is noise
// for deduplication (ClusterFuzz skips the same classes of frames).
#include <cstring>

#include "report/go_symbol_name.h"
#include "report/report_internal.h"

namespace cgosan {
namespace {

bool StartsWith(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

// `name` equals `want`, optionally followed by a symbol version ("malloc@@GLIBC_2.2.5").
bool NameIs(const char* name, const char* want) {
  size_t n = strlen(want);
  return strncmp(name, want, n) == 0 && (name[n] == '\0' || name[n] == '@');
}

bool IsOwnOrSystemModule(const char* module) {
  if (module == nullptr) return false;
  const char* base = Basename(module);
  return strcmp(base, "libcgosan.so") == 0 || strcmp(base, "libc.so.6") == 0 ||
         strcmp(base, "ld-linux-x86-64.so.2") == 0;
}

bool IsAllocatorFunction(const char* fn) {
  static const char* const kAllocator[] = {
      "malloc",        "free",     "calloc", "realloc", "reallocarray",       "posix_memalign",
      "aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size",
  };
  for (const char* a : kAllocator) {
    if (NameIs(fn, a)) return true;
  }
  // Demangled or, when demangling was not possible, mangled operator new/delete
  // (_Znwm, _Znam, _ZdlPv, _ZdaPv and their aligned/nothrow/sized variants).
  return StartsWith(fn, "operator new") || StartsWith(fn, "operator delete") ||
         StartsWith(fn, "_Znw") || StartsWith(fn, "_Zna") || StartsWith(fn, "_Zdl") ||
         StartsWith(fn, "_Zda");
}

bool IsGoRuntimeFunction(const char* fn) {
  // runtime/cgo, runtime/internal/... are the runtime too.
  return StartsWith(fn, "runtime.") || StartsWith(fn, "runtime/");
}

// Glue (go_symbol_name.h), and runtime/cgo's own C code (x_cgo_init, _cgo_sys_thread_start...).
bool IsCgoGlueFunction(const char* fn) {
  return IsCgoGlueName(fn) || strstr(fn, "_Cfunc_") != nullptr || StartsWith(fn, "_cgo_") ||
         StartsWith(fn, "x_cgo_") || StartsWith(fn, "crosscall");
}

}  // namespace

bool IsUserFrame(const Frame& frame) {
  if (frame.glue) return false;
  if (IsOwnOrSystemModule(frame.module)) return false;
  const char* fn = frame.function;
  if (fn == nullptr) return true;  // unknown code in the program's own modules
  // C start-up code linked into the program (crt1.o, crti.o) is nobody's bug.
  if (strcmp(fn, "_start") == 0 || strcmp(fn, "_init") == 0 || strcmp(fn, "_fini") == 0)
    return false;
  return !IsAllocatorFunction(fn) && !IsGoRuntimeFunction(fn) && !IsCgoGlueFunction(fn);
}

int CgoCallerIndex(const Stack& stack) {
  int n = stack.num_frames < kMaxFramesPerStack ? stack.num_frames : kMaxFramesPerStack;
  int i = 0;
  while (i < n && !stack.frames[i].glue) ++i;
  while (i < n && stack.frames[i].glue) ++i;
  return i < n ? i : -1;
}

const Stack* PrimaryStack(const Finding& f) {
  const Stack* access = f.FindStack("access");
  if (access != nullptr) return access;
  return f.num_stacks > 0 ? &f.stacks[0] : nullptr;
}

}  // namespace cgosan
