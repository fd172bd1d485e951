// leak: "bug" allocates ten 40-byte blocks in make_leak and drops every pointer to them;
// "ok" (the twin) keeps them reachable from a global and frees half, "stack" keeps one
// reachable only from main's stack and calls exit() from main (so main's frame is live while
// the exit handlers run). Run with leak_check=1 (a C program's default is 0).
#include "common.h"

void* kept[10];

NOINLINE void make_leak(void) {
  for (int i = 0; i < 10; ++i) {
    char* p = (char*)malloc(40);
    memset(p, 'l', 40);
  }
}

// Zeroes the stack below main's frame, where make_leak's dead frames left copies of the
// pointers: the exit handlers' frames later sit there, and conservative scanning of live
// frames would take those stale words for references.
NOINLINE void scrub_stack(void) {
  volatile char pad[64 * 1024];
  memset((char*)pad, 0, sizeof(pad));
}

NOINLINE void keep_some(void) {
  for (int i = 0; i < 10; ++i) kept[i] = malloc(40);
  for (int i = 0; i < 5; ++i) free(kept[i]);
}

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "bug");
  volatile void* on_stack = NULL;
  if (is_mode(mode, "bug")) {
    make_leak();
    scrub_stack();
  } else if (is_mode(mode, "ok")) {
    keep_some();
  } else if (is_mode(mode, "stack")) {
    on_stack = malloc(40);
    say("done");
    exit(0);
  } else {
    return unknown_mode(mode);
  }
  say("done");
  (void)on_stack;
  return 0;
}
