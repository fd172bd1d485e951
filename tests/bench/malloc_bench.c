// malloc_bench: a C malloc/free-heavy workload for scripts/bench (not a test).
// Each of T threads (default 2) does N iterations (default 200000) over a ring of 1024
// slots: free the block in the slot, malloc a new one of a mixed size (16 B .. 64 KiB,
// mostly small, like real programs) and write its first and last byte.
// usage: malloc_bench [iterations per thread] [threads]
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "random_sizes.h"

enum { kSlots = 1024, kMaxThreads = 64 };

static long g_iterations = 200000;

static void* worker(void* arg) {
  uint64_t state = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
  unsigned char* slots[kSlots] = {0};
  unsigned long checksum = 0;
  for (long i = 0; i < g_iterations; i++) {
    int s = (int)(next_random(&state) % kSlots);
    if (slots[s]) checksum += slots[s][0];
    free(slots[s]);
    size_t n = random_size(&state);
    slots[s] = malloc(n);
    if (!slots[s]) abort();
    slots[s][0] = (unsigned char)i;
    slots[s][n - 1] = (unsigned char)i;
  }
  for (int s = 0; s < kSlots; s++) free(slots[s]);
  return (void*)checksum;
}

int main(int argc, char** argv) {
  int threads = 2;
  if (argc > 1) g_iterations = atol(argv[1]);
  if (argc > 2) threads = atoi(argv[2]);
  if (threads < 1 || threads > kMaxThreads || g_iterations < 1) {
    fprintf(stderr, "usage: malloc_bench [iterations per thread] [threads <= %d]\n", kMaxThreads);
    return 2;
  }
  pthread_t tids[kMaxThreads];
  for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, worker, (void*)(uintptr_t)t);
  unsigned long sum = 0;
  for (int t = 0; t < threads; t++) {
    void* r;
    pthread_join(tids[t], &r);
    sum += (unsigned long)r;
  }
  printf("malloc_bench: %d threads x %ld iterations, checksum %lu\n", threads, g_iterations, sum);
  return 0;
}
