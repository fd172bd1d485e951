// fake_asan: stands in for a program carrying another sanitizer's runtime: it exports
// __asan_init (-rdynamic), the symbol cgosan looks for. Mode "uaf" frees a block and reads
// it: with glibc's allocator alone that is silent, so the program ends normally; cgosan,
// which must stay out, would otherwise report it.
#include "common.h"

void __asan_init(void) {}

NOINLINE int read_freed(volatile char* p) { return p[0]; }

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "uaf");
  char* p = (char*)malloc(4096);
  memset(p, 'a', 4096);
  if (is_mode(mode, "uaf")) free(p);
  say("read_done=%d", read_freed(p + 2048) != 0 || 1);
  return 0;
}
