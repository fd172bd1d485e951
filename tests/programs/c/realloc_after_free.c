// realloc of a freed block: a double-free. Mode "ok" reallocs a live block.
#include "common.h"

NOINLINE char* do_alloc(size_t n) {
  char* p = (char*)malloc(n);
  memset(p, 'f', n);
  return p;
}

NOINLINE void do_free(char* p) { free(p); }

NOINLINE char* do_realloc(char* p, size_t n) { return (char*)realloc(p, n); }

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "bug");
  char* p = do_alloc(40);
  say_ptr("ptr", (void*)p);
  if (is_mode(mode, "ok")) {
    char* q = do_realloc(p, 80);
    say("first=%c", q[0]);
    do_free(q);
  } else if (is_mode(mode, "bug")) {
    do_free(p);
    char* q = do_realloc(p, 80);
    say("realloc=%s", q ? "non-null" : "null");
  } else {
    return unknown_mode(mode);
  }
  say("done");
  return 0;
}
