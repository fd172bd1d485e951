// reliability: cgosan under faults (tests/integration/test_reliability.py).
//   hammer      4 threads allocate and free without pause; after 30 ms the main thread reads
//               a freed block (one heap-use-after-free while the others keep allocating)
//   hammer_ok   the twin: the same threads for a fixed number of rounds, no bug
//   two         two threads read their own freed block at the same moment (a barrier)
//   exhaust     allocates 64-byte blocks until malloc returns NULL (at most 2 million), frees
//               them, prints what it saw; "exhaust_uaf" then reads a freed block
//   fragment    fills the heap with 4000-byte blocks, frees every other one, then allocates
//               64-byte blocks until NULL: they fit in glibc's holes, not in cgosan's tables
//   huge        allocations no allocator can satisfy: each must fail with ENOMEM, and the
//               block realloc could not grow must stay intact
//   two_leaks   two blocks from two different functions dropped (two leak findings)
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static volatile int stop_hammering = 0;

NOINLINE void* hammer(void* arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  void* slots[64] = {0};
  long rounds = arg == NULL ? -1 : 0;
  for (long i = 0; !stop_hammering; ++i) {
    seed = seed * 1103515245u + 12345u;
    int k = (int)((seed >> 8) % 64);
    free(slots[k]);
    slots[k] = malloc(1 + (seed >> 16) % 3000);
    if (slots[k]) memset(slots[k], 1, 1);
    if (rounds < 0 && i >= 20000) break;  // the twin's fixed amount of work
  }
  for (int k = 0; k < 64; ++k) free(slots[k]);
  return NULL;
}

NOINLINE int read_freed(volatile char* p) { return p[0]; }

static pthread_barrier_t barrier;

NOINLINE void* fault_at_once(void* arg) {
  (void)arg;
  char* p = (char*)malloc(24);
  free(p);
  pthread_barrier_wait(&barrier);
  read_freed(p);
  return NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

NOINLINE void leak_one(void) { memset(malloc(40), 1, 40); }
NOINLINE void leak_two(void) { memset(malloc(56), 2, 56); }

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "hammer");
  if (is_mode(mode, "hammer") || is_mode(mode, "hammer_ok")) {
    int bug = is_mode(mode, "hammer");
    pthread_t t[4];
    for (int i = 0; i < 4; ++i)
      pthread_create(&t[i], NULL, hammer, bug ? (void*)(uintptr_t)(i + 1) : NULL);
    if (bug) {
      char* p = (char*)malloc(40);
      sleep_ms(30);
      say("threads=4 hammering");
      free(p);
      read_freed(p);
      sleep_ms(200);  // without cgosan the threads go on a little, then stop
      stop_hammering = 1;
    }
    for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
    say("done");
  } else if (is_mode(mode, "two")) {
    pthread_t t[2];
    pthread_barrier_init(&barrier, NULL, 2);
    for (int i = 0; i < 2; ++i) pthread_create(&t[i], NULL, fault_at_once, NULL);
    for (int i = 0; i < 2; ++i) pthread_join(t[i], NULL);
    say("done");
  } else if (is_mode(mode, "exhaust") || is_mode(mode, "exhaust_uaf")) {
    enum { kMax = 2000000 };
    // The pointer array is mmap'd, not malloc'd (and not in .bss): only the 64-byte blocks
    // come from malloc.
    void** blocks = (void**)mmap(NULL, kMax * sizeof(void*), PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (blocks == MAP_FAILED) return 3;
    char* early = (char*)malloc(32);
    int n = 0, err = 0;
    while (n < kMax) {
      errno = 0;
      void* p = malloc(64);
      if (!p) {
        err = errno;
        break;
      }
      blocks[n++] = p;
    }
    say("got_null=%d enomem=%d", n < kMax, err == ENOMEM);
    for (int i = 0; i < n; ++i) free(blocks[i]);
    say("freed");
    if (is_mode(mode, "exhaust_uaf")) {
      free(early);
      read_freed(early);
    } else {
      free(early);
    }
    say("done");
  } else if (is_mode(mode, "fragment")) {
    // Fills memory with 4000-byte blocks, frees every other one, then allocates 64-byte
    // blocks into the holes: glibc needs no new memory for them, cgosan's block records do.
    enum { kMax = 1 << 20 };
    void** big = (void**)mmap(NULL, kMax * sizeof(void*), PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void** small = (void**)mmap(NULL, kMax * sizeof(void*), PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (big == MAP_FAILED || small == MAP_FAILED) return 3;
    int nb = 0, ns = 0, err = 0;
    while (nb < kMax && (big[nb] = malloc(4000)) != NULL) ++nb;
    for (int i = 0; i < nb; i += 2) free(big[i]);
    while (ns < kMax) {
      errno = 0;
      if ((small[ns] = malloc(64)) == NULL) {
        err = errno;
        break;
      }
      ++ns;
    }
    say("got_null=%d enomem=%d", ns < kMax, err == ENOMEM);
    for (int i = 0; i < ns; ++i) free(small[i]);
    for (int i = 1; i < nb; i += 2) free(big[i]);
    say("done");
  } else if (is_mode(mode, "huge")) {
    char* keep = (char*)malloc(16);
    strcpy(keep, "intact");
    void* r;
    int e;
    // Each result is taken before say() runs: argument evaluation order is unspecified.
    volatile size_t max = SIZE_MAX;  // volatile: no compile-time warning about the sizes
    errno = 0;
    r = malloc(max);
    e = errno;
    say("malloc=%s enomem=%d", r ? "ptr" : "null", e == ENOMEM);
    errno = 0;
    r = malloc(max / 2);
    e = errno;
    say("malloc_half=%s enomem=%d", r ? "ptr" : "null", e == ENOMEM);
    errno = 0;
    r = calloc(max / 8, 16);
    e = errno;
    say("calloc=%s enomem=%d", r ? "ptr" : "null", e == ENOMEM);
    errno = 0;
    r = realloc(keep, max - 4096);
    e = errno;
    say("realloc=%s enomem=%d kept=%s", r ? "ptr" : "null", e == ENOMEM, keep);
    say("posix_memalign=%d", posix_memalign(&r, 64, max - 4096) == ENOMEM);
    r = aligned_alloc(4096, max - 8192);
    say("aligned_alloc=%s", r ? "ptr" : "null");
    free(keep);
    say("done");
  } else if (is_mode(mode, "two_leaks")) {
    leak_one();
    leak_two();
    say("done");
  } else {
    return unknown_mode(mode);
  }
  return 0;
}
