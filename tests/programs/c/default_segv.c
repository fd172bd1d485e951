// Faults that are not cgosan's, in a program with no handler of its own: the process must
// die by the same signal as without the preload, with no report.
// Modes: null (read of address 0), null_write, rodata (write to a string literal),
// prot_none (read of the program's own PROT_NONE mapping), bus (SIGBUS: touch an mmap'd
// file page past its end), abort (SIGABRT, for comparison).
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

NOINLINE int null_reader(volatile int* p) { return *p; }

NOINLINE void writer(volatile char* p) { *p = 'w'; }

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "null");
  char* block = (char*)malloc(100);  // the heap is in use, as in any program
  memset(block, 0, 100);
  say("start %s", mode);
  if (is_mode(mode, "null")) {
    say("value=%d", null_reader((volatile int*)0));
  } else if (is_mode(mode, "null_write")) {
    writer((volatile char*)0);
  } else if (is_mode(mode, "rodata")) {
    writer((volatile char*)(uintptr_t)"read-only literal");
  } else if (is_mode(mode, "prot_none")) {
    char* m = (char*)mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    say("value=%d", null_reader((volatile int*)(m + 64)));
  } else if (is_mode(mode, "bus")) {
    char path[] = "/tmp/cgosan-bus-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 70;
    unlink(path);
    if (ftruncate(fd, 100) != 0) return 71;
    char* m = (char*)mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return 72;
    writer(m + 4096 + 8);  // beyond the last page of the file: SIGBUS
  } else if (is_mode(mode, "abort")) {
    abort();
  } else {
    return unknown_mode(mode);
  }
  say("survived");
  free(block);
  return 0;
}
