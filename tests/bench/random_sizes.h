// The block sizes of the allocation benchmarks (malloc_bench.c, cgo_malloc_bench): one
// generator, so that the C-only and the called-from-Go workloads allocate alike.
#pragma once

#include <stddef.h>
#include <stdint.h>

static inline uint64_t next_random(uint64_t* state) {  // xorshift64
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

// 16 B .. 64 KiB, each power of two half as likely as the one below it.
static inline size_t random_size(uint64_t* state) {
  uint64_t r = next_random(state);
  int shift = 4;
  while (shift < 16 && (r & 1)) {
    shift++;
    r >>= 1;
  }
  size_t lo = (size_t)1 << shift;
  size_t n = lo + (size_t)((r >> 8) % lo);
  return n > 65536 ? 65536 : n;
}
