// measure: runs a command and prints its wall time, CPU time and peak RSS for scripts/bench.
// A child's ru_maxrss counts the RSS of whatever process forked it (Linux keeps the
// pre-exec high-water mark), so the benchmarks are started from this small C program
// rather than from Python, whose own RSS would set the floor.
// The preload comes in BENCH_LD_PRELOAD and is set as LD_PRELOAD in the child only, so
// that this launcher itself is never preloaded.
// usage: measure OUTFILE CMD [ARGS...]
// OUTFILE gets one line: "<wall s> <user+sys CPU s> <peak RSS KiB> <exit status>".
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: measure OUTFILE CMD [ARGS...]\n");
    return 2;
  }
  double start = now();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    const char* preload = getenv("BENCH_LD_PRELOAD");
    if (preload) setenv("LD_PRELOAD", preload, 1);
    unsetenv("BENCH_LD_PRELOAD");
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("wait4");
    return 2;
  }
  double wall = now() - start;
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE* out = fopen(argv[1], "w");
  if (!out) {
    perror(argv[1]);
    return 2;
  }
  fprintf(out, "%.6f %.6f %ld %d\n", wall, cpu, ru.ru_maxrss, code);
  fclose(out);
  return code;
}
