// In the process, symbols the preload must not take over still resolve to their usual
// owners: _Unwind_* to libgcc_s.so.1, backtrace to libc.so.6, and no libunwind symbols are
// visible. Built with -Wl,--no-as-needed -lgcc_s so libgcc_s is loaded. Prints each
// symbol's module path (or "absent") and OK/FAILED.
#define _GNU_SOURCE
#include <dlfcn.h>

#include "common.h"

static int failures = 0;

static const char* owner(const char* sym) {
  void* addr = dlsym(RTLD_DEFAULT, sym);
  if (!addr) return NULL;
  Dl_info info;
  if (!dladdr(addr, &info) || !info.dli_fname) return "?";
  return info.dli_fname;
}

static void expect(const char* sym, const char* suffix) {
  const char* path = owner(sym);
  say("%s %s", sym, path ? path : "absent");
  if (suffix == NULL) {
    if (path) failures++;
    return;
  }
  size_t n = path ? strlen(path) : 0, m = strlen(suffix);
  if (!path || n < m || strcmp(path + n - m, suffix) != 0) {
    say("FAIL %s expected in %s", sym, suffix);
    failures++;
  }
}

int main(void) {
  expect("_Unwind_RaiseException", "/libgcc_s.so.1");
  expect("_Unwind_Resume", "/libgcc_s.so.1");
  expect("_Unwind_Backtrace", "/libgcc_s.so.1");
  expect("_Unwind_GetIP", "/libgcc_s.so.1");
  expect("_Unwind_Find_FDE", "/libgcc_s.so.1");
  expect("backtrace", "/libc.so.6");
  expect("backtrace_symbols", "/libc.so.6");
  expect("unw_backtrace", NULL);
  expect("_ULx86_64_step", NULL);
  expect("unw_getcontext", NULL);
  say(failures ? "FAILED" : "OK");
  return failures ? 1 : 0;
}
