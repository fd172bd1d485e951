// C side of behaviour: dlopen of a C library, threads created in C that call into Go.
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "_cgo_export.h"

double dl_call_cos(double x) {
  void* h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
  if (!h) return -1;
  double (*fn)(double) = (double (*)(double))dlsym(h, "cos");
  double r = fn ? fn(x) : -2;
  dlclose(h);
  return r;
}

int dl_missing_symbol(void) {
  void* h = dlopen("libm.so.6", RTLD_NOW);
  if (!h) return -1;
  int missing = dlsym(h, "no_such_symbol_in_libm") == NULL;
  dlclose(h);
  return missing;
}

typedef struct {
  int calls;
  long sum;
} ThreadArg;

static void* c_thread(void* p) {
  ThreadArg* a = (ThreadArg*)p;
  for (int i = 0; i < a->calls; i++) {
    char* scratch = malloc(32 + i % 64);
    a->sum += goFromCThread(i) - i;
    free(scratch);
  }
  return NULL;
}

long run_c_threads(int threads, int calls) {
  pthread_t t[64];
  ThreadArg args[64];
  long total = 0;
  if (threads > 64) threads = 64;
  for (int i = 0; i < threads; i++) {
    args[i].calls = calls;
    args[i].sum = 0;
    pthread_create(&t[i], NULL, c_thread, &args[i]);
  }
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    total += args[i].sum;
  }
  return total;
}

long c_gettid(void) { return syscall(SYS_gettid); }

int c_add(int a, int b) { return a + b; }
