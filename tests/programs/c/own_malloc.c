// own_malloc: a program with an allocator of its own (a bump allocator on one static arena,
// free a no-op), exported (-rdynamic) so that libc's calls reach it too, as jemalloc or
// tcmalloc linked into a program would. Mode "uaf" reads a block after freeing it: harmless
// with this allocator, so the program must end normally. cgosan must stay out of it.
#include <errno.h>
#include <stdint.h>

#include "common.h"

static char arena[64 << 20];
static size_t used;

void* malloc(size_t n) {
  size_t at = (used + 15) & ~(size_t)15;
  if (n > sizeof(arena) - at) {
    errno = ENOMEM;
    return NULL;
  }
  used = at + n;
  return arena + at;
}
void free(void* p) { (void)p; }
void* calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void* p = malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}
void* realloc(void* old, size_t n) {
  void* p = malloc(n);
  if (p && old) memcpy(p, old, n);  // the arena is contiguous: reading past old is fine
  return p;
}

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "uaf");
  char* p = (char*)malloc(16);
  strcpy(p, "mine");
  if (is_mode(mode, "uaf")) free(p);
  say("read=%s", p);
  return 0;
}
