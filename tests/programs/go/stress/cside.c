// C side of stress: the callback into Go, C threads allocating while the process forks,
// and the children (continued allocation with threads of their own, or exec).
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "_cgo_export.h"

int c_call_back(const char* s, int i) { return goCallback((int)strlen(s), i); }

static volatile int stop_allocators;
static pthread_t allocators[16];
static int n_allocators;

static void* allocate_loop(void* arg) {
  uint64_t x = (uint64_t)(uintptr_t)arg * 2654435761u + 1;
  void* keep[32] = {0};
  while (!stop_allocators) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    int slot = (int)((x >> 40) % 32);
    free(keep[slot]);
    keep[slot] = malloc(1 + (x >> 33) % 3000);
    if (keep[slot]) memset(keep[slot], 1, 1);
    if ((x >> 20) % 8 == 0) keep[slot] = realloc(keep[slot], 1 + (x >> 45) % 9000);
  }
  for (int i = 0; i < 32; i++) free(keep[i]);
  return NULL;
}

void c_start_allocators(int n) {
  stop_allocators = 0;
  n_allocators = n > 16 ? 16 : n;
  for (int i = 0; i < n_allocators; i++)
    pthread_create(&allocators[i], NULL, allocate_loop, (void*)(uintptr_t)(i + 1));
}

void c_stop_allocators(void) {
  stop_allocators = 1;
  for (int i = 0; i < n_allocators; i++) pthread_join(allocators[i], NULL);
  n_allocators = 0;
}

// In the child: the allocator must work although other threads held its locks at fork.
static int child_keeps_allocating(int i) {
  stop_allocators = 0;
  pthread_t t[2];
  for (int k = 0; k < 2; k++)
    if (pthread_create(&t[k], NULL, allocate_loop, (void*)(uintptr_t)(100 + i * 2 + k)) != 0)
      return 3;
  char* blocks[256] = {0};
  for (int j = 0; j < 20000; j++) {
    int s = j % 256;
    free(blocks[s]);
    blocks[s] = malloc(8 + (size_t)(j * 7) % 4000);
    if (!blocks[s]) return 4;
    blocks[s][0] = (char)j;
  }
  for (int j = 0; j < 256; j++) free(blocks[j]);
  stop_allocators = 1;
  for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
  return 0;
}

int c_fork_children(int children) {
  int failed = 0;
  for (int i = 0; i < children; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return children;
    if (pid == 0) {
      if (i % 2) exit(child_keeps_allocating(i));  // exit, not _exit: atexit handlers run
      char msg[32];
      snprintf(msg, sizeof msg, "child %d", i);
      char* args[] = {(char*)"/bin/echo", msg, NULL};
      execv("/bin/echo", args);
      _exit(5);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "child %d: status 0x%x\n", i, status);
      failed++;
    }
  }
  return failed;
}
