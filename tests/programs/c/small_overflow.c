// A 1-2 byte overflow into the slack after a 13-byte block (13 rounds up to 16, so the
// guard page is 3 bytes away): no fault, but the canary is found broken at free.
// Mode "ok" writes only inside the block.
#include "common.h"

NOINLINE char* do_alloc(size_t n) {
  char* p = (char*)malloc(n);
  memset(p, 'c', n);
  return p;
}

NOINLINE void do_free(char* p) { free(p); }

NOINLINE void slack_writer(volatile char* p, long from, long to) {
  for (long i = from; i < to; i++) p[i] = 'z';
}

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "bug");
  char* p = do_alloc(13);
  say_ptr("ptr", (void*)p);
  if (is_mode(mode, "ok")) {
    slack_writer(p, 0, 13);
  } else if (is_mode(mode, "bug")) {
    slack_writer(p, 13, 15);  // p[13] and p[14]
    say("overflowed");
  } else {
    return unknown_mode(mode);
  }
  do_free(p);
  say("done");
  return 0;
}
