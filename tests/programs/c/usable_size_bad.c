// malloc_usable_size of a pointer into the middle of a block: an invalid-free.
// Mode "ok" asks about the block itself.
#include <malloc.h>

#include "common.h"

NOINLINE char* do_alloc(size_t n) {
  char* p = (char*)malloc(n);
  memset(p, 'g', n);
  return p;
}

NOINLINE size_t ask_usable_size(void* p) { return malloc_usable_size(p); }

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "bug");
  char* p = do_alloc(48);
  if (is_mode(mode, "ok")) {
    say_ptr("ptr", (void*)p);
    say("usable>=48: %s", ask_usable_size(p) >= 48 ? "yes" : "no");
  } else if (is_mode(mode, "bug")) {
    say_ptr("base", (void*)p);
    say_ptr("ptr", (void*)(p + 16));
    size_t n = ask_usable_size(p + 16);
    say("usable=%zu", n);
  } else {
    return unknown_mode(mode);
  }
  free(p);
  say("done");
  return 0;
}
