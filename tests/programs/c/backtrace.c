// glibc backtrace() from a nested call returns >= 3 frames, the innermost ones are the
// program's own functions, and backtrace_symbols() (which mallocs its result) works.
// Prints "frames>=3 yes", the first three function names, and "OK".
#include <execinfo.h>

#include "common.h"

static void print_name(const char* sym) {
  // "path(function+0x1a) [0x...]" -> "function"
  const char* open = strchr(sym, '(');
  const char* plus = open ? strpbrk(open, "+)") : NULL;
  if (!open || !plus) {
    say("name=?");
    return;
  }
  say("name=%.*s", (int)(plus - open - 1), open + 1);
}

NOINLINE int level3(void) {
  void* pcs[64];
  int n = backtrace(pcs, 64);
  say("frames>=3 %s", n >= 3 ? "yes" : "no");
  char** syms = backtrace_symbols(pcs, n);
  if (!syms) {
    say("FAIL backtrace_symbols");
    return 1;
  }
  for (int i = 0; i < 3 && i < n; i++) print_name(syms[i]);
  free(syms);
  backtrace_symbols_fd(pcs, 1, -1);  // writes nowhere; must not crash
  return 0;
}

NOINLINE int level2(void) { return level3() + 0; }

NOINLINE int level1(void) { return level2() + 0; }

int main(void) {
  int r = level1();
  say(r ? "FAILED" : "OK");
  return r;
}
