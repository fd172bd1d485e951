// invalid-free: free() of a pointer malloc did not return.
// Modes: middle (8 bytes into a 64-byte block), stack (a local), global (a global array),
// mmap (a page from mmap), realloc_middle (realloc of the middle pointer), ok.
#include <sys/mman.h>

#include "common.h"

char global_buffer[64] = "global";

NOINLINE char* do_alloc(size_t n) {
  char* p = (char*)malloc(n);
  memset(p, 'e', n);
  return p;
}

NOINLINE void do_free(void* p) { free(p); }

NOINLINE void* do_realloc(void* p, size_t n) { return realloc(p, n); }

NOINLINE void free_a_local(void) {
  char local[64];
  memset(local, 0, sizeof local);
  say_ptr("ptr", (void*)local);
  do_free(local);
}

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "middle");
  if (is_mode(mode, "ok")) {
    char* p = do_alloc(64);
    say_ptr("ptr", (void*)p);
    do_free(p);
  } else if (is_mode(mode, "middle")) {
    char* p = do_alloc(64);
    say_ptr("base", (void*)p);
    say_ptr("ptr", (void*)(p + 8));
    do_free(p + 8);
  } else if (is_mode(mode, "realloc_middle")) {
    char* p = do_alloc(64);
    say_ptr("base", (void*)p);
    say_ptr("ptr", (void*)(p + 8));
    void* q = do_realloc(p + 8, 128);
    say("realloc=%s", q ? "non-null" : "null");
  } else if (is_mode(mode, "stack")) {
    free_a_local();
  } else if (is_mode(mode, "global")) {
    say_ptr("ptr", (void*)global_buffer);
    do_free(global_buffer);
  } else if (is_mode(mode, "mmap")) {
    // Two pages, the first made inaccessible, so that glibc (without the preload) does not
    // read a chunk header from a neighbouring mapping; the pointer is the second page.
    char* m = (char*)mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 70;
    memset(m, 0, 8192);
    say_ptr("ptr", (void*)(m + 4096));
    do_free(m + 4096);
  } else {
    return unknown_mode(mode);
  }
  say("done");
  return 0;
}
