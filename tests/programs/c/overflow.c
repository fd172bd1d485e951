// heap-buffer-overflow on the guard page: a 32-byte block is right-aligned against the
// guard, so reading (mode "read") or writing (mode "write") p[32] faults at once.
// Mode "under" reads p[-1] (found with CGOSAN_OPTIONS=guard_left=1). Mode "ok" stays inside.
#include "common.h"

NOINLINE char* do_alloc(size_t n) {
  char* p = (char*)malloc(n);
  memset(p, 'b', n);
  return p;
}

NOINLINE void do_free(char* p) { free(p); }

NOINLINE int overflow_reader(volatile char* p, long i) { return p[i]; }

NOINLINE void overflow_writer(volatile char* p, long i) { p[i] = 'y'; }

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "read");
  char* p = do_alloc(32);
  say_ptr("ptr", (void*)p);
  if (is_mode(mode, "ok")) {
    int sum = overflow_reader(p, 0) + overflow_reader(p, 31);
    overflow_writer(p, 31);
    say("sum=%d", sum);
  } else if (is_mode(mode, "read")) {
    int c = overflow_reader(p, 32);
    say("read=%d", c);
  } else if (is_mode(mode, "write")) {
    overflow_writer(p, 32);
    say("wrote");
  } else if (is_mode(mode, "under")) {
    int c = overflow_reader(p, -1);
    say("read=%d", c);
  } else {
    return unknown_mode(mode);
  }
  do_free(p);
  say("done");
  return 0;
}
