// double-free: the same block freed twice (first by do_free, then by do_free_again).
#include "common.h"

NOINLINE char* do_alloc(size_t n) {
  char* p = (char*)malloc(n);
  memset(p, 'd', n);
  return p;
}

NOINLINE void do_free(char* p) { free(p); }

NOINLINE void do_free_again(char* p) { free(p); }

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "bug");
  char* p = do_alloc(24);
  say_ptr("ptr", (void*)p);
  if (is_mode(mode, "ok")) {
    do_free(p);
  } else if (is_mode(mode, "bug")) {
    do_free(p);
    do_free_again(p);
  } else {
    return unknown_mode(mode);
  }
  say("done");
  return 0;
}
