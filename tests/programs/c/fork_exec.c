// fork + exec from a multi-threaded parent: worker threads keep allocating while the main
// thread forks; each child allocates and frees, then execs /bin/echo. The parent waits for
// every child and checks its status. Prints the children's echo lines, then "parent OK".
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define WORKERS 4
#define CHILDREN 10

static volatile int stop = 0;

static void* worker(void* arg) {
  uint64_t x = (uint64_t)(uintptr_t)arg * 2654435761u + 1;
  while (!stop) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    size_t n = 1 + (x >> 33) % 2000;
    char* p = (char*)malloc(n);
    memset(p, 1, n);
    p = (char*)realloc(p, n * 2);
    free(p);
  }
  return NULL;
}

NOINLINE static int child_work(int i) {
  // In the child: the allocator must work (no lock left held by a parent thread).
  void* blocks[100];
  for (int j = 0; j < 100; j++) {
    blocks[j] = malloc(16 + (size_t)j * 8);
    if (!blocks[j]) return 1;
    memset(blocks[j], j, 16 + (size_t)j * 8);
  }
  for (int j = 0; j < 100; j++) free(blocks[j]);
  char* msg = (char*)malloc(32);
  snprintf(msg, 32, "child %d", i);
  char* args[] = {(char*)"/bin/echo", msg, NULL};
  execv("/bin/echo", args);
  return 2;  // exec failed
}

int main(void) {
  void* keep = malloc(1000);  // a block the parent owns across the forks
  memset(keep, 7, 1000);
  pthread_t threads[WORKERS];
  for (long i = 0; i < WORKERS; i++) pthread_create(&threads[i], NULL, worker, (void*)(intptr_t)i);
  int failures = 0;
  for (int i = 0; i < CHILDREN; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
      say("FAIL fork");
      return 1;
    }
    if (pid == 0) _exit(child_work(i) + 100);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      say("FAIL child %d status 0x%x", i, status);
      failures++;
    }
  }
  stop = 1;
  for (int i = 0; i < WORKERS; i++) pthread_join(threads[i], NULL);
  free(keep);
  if (failures) return 1;
  say("parent OK");
  return 0;
}
