// Every allocation entry point behaves as glibc documents it (mode "ok", prints OK), and a
// one-byte overflow of blocks from calloc/realloc/memalign/posix_memalign/aligned_alloc
// faults on the guard page (modes *_overflow; the pointer printed is the overflowing byte's
// block, the overflow is at ptr+size printed as "size=N").
// Mode "usable_write" writes every byte malloc_usable_size() reports (allowed by glibc).
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <unistd.h>

#include "common.h"

// A failed realloc/reallocarray leaves the block live; gcc 12 cannot know it failed.
#pragma GCC diagnostic ignored "-Wuse-after-free"

static int failures = 0;

// Sizes that cannot be allocated, read through volatiles so the compiler does not warn.
static volatile size_t half_max = SIZE_MAX / 2, quarter_max = SIZE_MAX / 4,
                       huge = SIZE_MAX - 4096;

#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      say("FAIL line %d: %s", __LINE__, #cond);                  \
      failures++;                                                \
    }                                                            \
  } while (0)

static int aligned(const void* p, size_t a) { return ((uintptr_t)p % a) == 0; }

static int all_bytes(const unsigned char* p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v) return 0;
  return 1;
}

NOINLINE int overflow_reader(volatile char* p, long i) { return p[i]; }

static void check_calloc(void) {
  unsigned char* p = (unsigned char*)calloc(100, 7);
  CHECK(p != NULL && aligned(p, 16));
  CHECK(all_bytes(p, 700, 0));
  memset(p, 0xab, 700);
  free(p);
  // Reused memory is zeroed too.
  for (int i = 0; i < 100; i++) {
    unsigned char* q = (unsigned char*)malloc(64);
    memset(q, 0xcd, 64);
    free(q);
    q = (unsigned char*)calloc(8, 8);
    CHECK(all_bytes(q, 64, 0));
    free(q);
  }
  // Large calloc (beyond any small-block path).
  p = (unsigned char*)calloc(1, 1 << 20);
  CHECK(p != NULL && all_bytes(p, 1 << 20, 0));
  free(p);
  errno = 0;
  p = (unsigned char*)calloc(half_max, 4);
  CHECK(p == NULL && errno == ENOMEM);
  p = (unsigned char*)calloc(0, 16);
  free(p);
}

static void check_realloc(void) {
  unsigned char* p = (unsigned char*)realloc(NULL, 10);
  CHECK(p != NULL);
  for (int i = 0; i < 10; i++) p[i] = (unsigned char)i;
  p = (unsigned char*)realloc(p, 5000);  // grow
  CHECK(p != NULL);
  for (int i = 0; i < 10; i++) CHECK(p[i] == (unsigned char)i);
  memset(p + 10, 0x11, 4990);
  p = (unsigned char*)realloc(p, 3);  // shrink
  CHECK(p != NULL);
  for (int i = 0; i < 3; i++) CHECK(p[i] == (unsigned char)i);
  p = (unsigned char*)realloc(p, 200000);
  CHECK(p != NULL);
  for (int i = 0; i < 3; i++) CHECK(p[i] == (unsigned char)i);
  memset(p, 0x22, 200000);
  p = (unsigned char*)realloc(p, 16);
  CHECK(p != NULL && all_bytes(p, 16, 0x22));
  free(p);

  errno = 0;
  p = (unsigned char*)malloc(8);
  void* q = reallocarray(p, quarter_max, 8);
  CHECK(q == NULL && errno == ENOMEM);
  q = reallocarray(p, 10, 8);
  CHECK(q != NULL);
  memset(q, 1, 80);
  free(q);

  errno = 0;
  p = (unsigned char*)malloc(8);
  q = realloc(p, huge);
  CHECK(q == NULL && errno == ENOMEM);
  free(p);  // the original block is still live after a failed realloc
}

static void check_aligned(void) {
  static const size_t aligns[] = {8, 16, 32, 64, 128, 256, 4096, 8192, 65536};
  static const size_t sizes[] = {1, 13, 64, 100, 4096, 5000, 70000};
  for (size_t a = 0; a < sizeof aligns / sizeof *aligns; a++) {
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
      size_t al = aligns[a], n = sizes[s];
      void* p = NULL;
      CHECK(posix_memalign(&p, al, n) == 0 && p != NULL && aligned(p, al));
      memset(p, 0x33, n);
      CHECK(malloc_usable_size(p) >= n);
      free(p);

      p = memalign(al, n);
      CHECK(p != NULL && aligned(p, al));
      memset(p, 0x44, n);
      free(p);

      p = aligned_alloc(al, n);
      CHECK(p != NULL && aligned(p, al));
      memset(p, 0x55, n);
      free(p);
    }
  }
  void* p = (void*)1;
  CHECK(posix_memalign(&p, 3, 16) == EINVAL);
  CHECK(posix_memalign(&p, 24, 16) == EINVAL);

  long page = sysconf(_SC_PAGESIZE);
  p = valloc(100);
  CHECK(p != NULL && aligned(p, (size_t)page));
  memset(p, 0x66, 100);
  free(p);
  p = pvalloc(100);
  CHECK(p != NULL && aligned(p, (size_t)page));
  CHECK(malloc_usable_size(p) >= (size_t)page);
  memset(p, 0x77, (size_t)page);  // pvalloc rounds the size up to a whole page
  free(p);
}

static void check_malloc(void) {
  static const size_t sizes[] = {0, 1, 7, 8, 15, 16, 17, 24, 31, 32, 33, 100, 1000, 4095,
                                 4096, 4097, 10000, 65536, 131072, 1 << 20, 5 << 20};
  void* blocks[sizeof sizes / sizeof *sizes];
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    unsigned char* p = (unsigned char*)malloc(sizes[i]);
    CHECK(p != NULL && aligned(p, 16));
    CHECK(malloc_usable_size(p) >= sizes[i]);
    memset(p, (int)i, sizes[i]);
    blocks[i] = p;
  }
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    CHECK(all_bytes((unsigned char*)blocks[i], sizes[i], (unsigned char)i));
    free(blocks[i]);
  }
  free(NULL);
  CHECK(malloc_usable_size(NULL) == 0);
  errno = 0;
  void* p = malloc(huge);
  CHECK(p == NULL && errno == ENOMEM);
}

static void usable_write(void) {
  static const size_t sizes[] = {1, 13, 24, 100, 1000, 4097};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    unsigned char* p = (unsigned char*)malloc(sizes[i]);
    size_t u = malloc_usable_size(p);
    CHECK(u >= sizes[i]);
    memset(p, 0x5a, u);
    free(p);
  }
}

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "ok");
  if (is_mode(mode, "ok")) {
    check_malloc();
    check_calloc();
    check_realloc();
    check_aligned();
    say(failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
  }
  if (is_mode(mode, "usable_write")) {
    usable_write();
    say(failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
  }
  char* p = NULL;
  long size = 0;
  if (is_mode(mode, "calloc_overflow")) {
    size = 32;
    p = (char*)calloc(4, 8);
  } else if (is_mode(mode, "realloc_overflow")) {
    size = 48;
    p = (char*)malloc(16);
    p = (char*)realloc(p, 48);
  } else if (is_mode(mode, "memalign_overflow")) {
    size = 64;
    p = (char*)memalign(64, 64);
  } else if (is_mode(mode, "posix_memalign_overflow")) {
    size = 96;
    void* v = NULL;
    if (posix_memalign(&v, 32, 96) != 0) return 70;
    p = (char*)v;
  } else if (is_mode(mode, "aligned_alloc_overflow")) {
    size = 256;
    p = (char*)aligned_alloc(128, 256);
  } else {
    return unknown_mode(mode);
  }
  say_ptr("ptr", (void*)p);
  say("size=%ld", size);
  int c = overflow_reader(p, size);
  say("read=%d", c);
  free(p);
  say("done");
  return 0;
}
