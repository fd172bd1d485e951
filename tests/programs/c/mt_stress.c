// Multi-threaded malloc/free/realloc/calloc/posix_memalign/memalign/aligned_alloc stress:
// 8 threads x N operations (argv[1], default 200000) on mixed sizes, checking that every
// block keeps its contents and alignment.
// Prints "OK <threads> <ops>"; any corruption prints FAIL and exits 1.
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

#include "common.h"

#define THREADS 8
#define SLOTS 64

static long ops_per_thread = 200000;

typedef struct {
  unsigned char* p;
  size_t n;
  unsigned char tag;
} Slot;

static uint64_t next_random(uint64_t* s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static size_t pick_size(uint64_t r) {
  switch (r % 16) {
    case 0: return 0;
    case 1: return 1 + (r >> 8) % 8;
    case 2: case 3: case 4: case 5: return 1 + (r >> 8) % 64;
    case 6: case 7: case 8: return 1 + (r >> 8) % 512;
    case 9: case 10: return 1 + (r >> 8) % 4096;
    case 11: return 4096 + (r >> 8) % 16384;
    case 12: return 16 * (1 + (r >> 8) % 32);
    case 13: return 24;
    case 14: return 13;
    default: return (r >> 8) % 200000 < 100 ? 100000 + (r >> 8) % 200000 : 48;
  }
}

static int check_slot(const Slot* s) {
  for (size_t i = 0; i < s->n; i++)
    if (s->p[i] != s->tag) return 0;
  return 1;
}

static void fill_slot(Slot* s, unsigned char tag) {
  s->tag = tag;
  memset(s->p, tag, s->n);
}

static void* worker(void* arg) {
  uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(uintptr_t)arg + 1;
  Slot slots[SLOTS];
  memset(slots, 0, sizeof slots);
  long bad = 0;
  for (long op = 0; op < ops_per_thread; op++) {
    uint64_t r = next_random(&seed);
    Slot* s = &slots[r % SLOTS];
    unsigned char tag = (unsigned char)(r >> 56);
    if (s->p == NULL) {
      size_t n = pick_size(r >> 6);
      switch ((r >> 3) % 6) {
        case 0: s->p = (unsigned char*)calloc(1, n ? n : 1); n = n ? n : 1;
          for (size_t i = 0; i < n; i++) if (s->p[i]) bad++;
          break;
        case 1: {
          void* v = NULL;
          if (posix_memalign(&v, 64, n) != 0) bad++;
          if (((uintptr_t)v & 63) != 0) bad++;
          s->p = (unsigned char*)v;
          break;
        }
        case 2: {
          size_t align = (size_t)16 << ((r >> 20) % 9);  // 16 .. 4096
          s->p = (unsigned char*)memalign(align, n);
          if (((uintptr_t)s->p & (align - 1)) != 0) bad++;
          break;
        }
        case 3: {
          size_t align = (size_t)32 << ((r >> 20) % 4);  // 32 .. 256
          s->p = (unsigned char*)aligned_alloc(align, (n + align - 1) / align * align);
          if (((uintptr_t)s->p & (align - 1)) != 0) bad++;
          break;
        }
        default: s->p = (unsigned char*)malloc(n); break;
      }
      if (s->p == NULL && n != 0) { bad++; continue; }
      s->n = n;
      fill_slot(s, tag);
    } else {
      if (!check_slot(s)) bad++;
      if ((r >> 3) % 3 == 0) {
        size_t n = pick_size(r >> 7);
        unsigned char* q = (unsigned char*)realloc(s->p, n ? n : 1);
        if (q == NULL) { bad++; continue; }
        size_t keep = s->n < n ? s->n : n;
        for (size_t i = 0; i < keep; i++) if (q[i] != s->tag) { bad++; break; }
        s->p = q;
        s->n = n;
        fill_slot(s, tag);
      } else {
        free(s->p);
        s->p = NULL;
        s->n = 0;
      }
    }
  }
  for (int i = 0; i < SLOTS; i++) {
    if (slots[i].p && !check_slot(&slots[i])) bad++;
    free(slots[i].p);
  }
  return (void*)(intptr_t)bad;
}

int main(int argc, char** argv) {
  if (argc > 1) ops_per_thread = atol(argv[1]);
  pthread_t threads[THREADS];
  for (long i = 0; i < THREADS; i++) {
    if (pthread_create(&threads[i], NULL, worker, (void*)(intptr_t)(i + 1)) != 0) {
      say("FAIL pthread_create");
      return 1;
    }
  }
  long bad = 0;
  for (int i = 0; i < THREADS; i++) {
    void* r;
    pthread_join(threads[i], &r);
    bad += (long)(intptr_t)r;
  }
  if (bad) {
    say("FAIL %ld", bad);
    return 1;
  }
  say("OK %d %ld", THREADS, ops_per_thread);
  return 0;
}
