// Conflict detection at attach: other sanitizers' runtimes by their init symbols, another
// malloc by where the global "malloc" resolves, and AT_SECURE.
#include "preload/conflicts.h"

#include <dlfcn.h>
#include <sys/auxv.h>

#include <cstring>

#include "shadow/base/text_buffer.h"

namespace cgosan {
namespace {

struct KnownRuntime {
  const char* symbol;
  const char* reason;
};

// Their runtimes interpose malloc and own SIGSEGV and shadow memory at fixed addresses.
const KnownRuntime kRuntimes[] = {
    {"__asan_init", "it carries AddressSanitizer (__asan_init)"},
    {"__hwasan_init", "it carries HWAddressSanitizer (__hwasan_init)"},
    {"__msan_init", "it carries MemorySanitizer (__msan_init)"},
    {"__tsan_init", "it carries ThreadSanitizer (__tsan_init)"},
};

// Any code address of this library, to tell our own definitions from others.
void Anchor() {}

}  // namespace

const char* ConflictingRuntime() {
  for (const KnownRuntime& r : kRuntimes) {
    if (dlsym(RTLD_DEFAULT, r.symbol) != nullptr) return r.reason;
  }
  // The first "malloc" in the global scope is the one everybody calls. If it is not ours
  // (the executable defines malloc, or an allocator was preloaded before cgosan), blocks
  // would cross between two allocators: stay out rather than corrupt the heap.
  void* global_malloc = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info theirs = {}, ours = {};
  if (global_malloc != nullptr && dladdr(global_malloc, &theirs) != 0 &&
      dladdr(reinterpret_cast<void*>(&Anchor), &ours) != 0 && theirs.dli_fbase != ours.dli_fbase) {
    static char reason[512];
    TextBuffer out(reason, sizeof(reason));
    out.Append("malloc is defined by ");
    out.Append(theirs.dli_fname && theirs.dli_fname[0] ? theirs.dli_fname : "the executable");
    out.Append(", not by cgosan (an allocator of its own, or one preloaded before cgosan)");
    return out.data();
  }
  return nullptr;
}

bool SecureExecution() { return getauxval(AT_SECURE) != 0; }

}  // namespace cgosan
