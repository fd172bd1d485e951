// heap-use-after-free: malloc(13), free, then read (mode "read") or write (mode "write")
// one byte. Mode "ok" reads before freeing (the correct twin). Mode "read_with_handler"
// installs the program's own SIGSEGV handler first: after the report, cgosan must pass the
// fault on to it (it prints "handler: addr_ok=1" and exits 42). Mode "read_after_churn"
// first makes and frees 20000 blocks, then reads a block after freeing it: with
// guard=sampled:sample_rate=1 the churn spends the guarded-block budget (sample_budget).
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "common.h"

static volatile uintptr_t expected_fault_addr;

static void program_handler(int signo, siginfo_t* si, void* uc) {
  static const char yes[] = "handler: addr_ok=1\n", no[] = "handler: addr_ok=0\n";
  if ((uintptr_t)si->si_addr == expected_fault_addr && signo == SIGSEGV)
    write(1, yes, sizeof yes - 1);
  else
    write(1, no, sizeof no - 1);
  _exit(42);
}

NOINLINE char* do_alloc(size_t n) {
  char* p = (char*)malloc(n);
  memset(p, 'a', n);
  return p;
}

NOINLINE void do_free(char* p) { free(p); }

NOINLINE int use_after_free_reader(volatile char* p) { return p[0]; }

NOINLINE void use_after_free_writer(volatile char* p) { p[0] = 'x'; }

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "read");
  char* p = do_alloc(13);
  say_ptr("ptr", (void*)p);
  if (is_mode(mode, "ok")) {
    int c = use_after_free_reader(p);
    use_after_free_writer(p);
    do_free(p);
    say("read=%c", c);
  } else if (is_mode(mode, "read")) {
    do_free(p);
    int c = use_after_free_reader(p);
    say("read=%d", c);  // only reached without the preload
  } else if (is_mode(mode, "read_with_handler")) {
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = program_handler;
    act.sa_flags = SA_SIGINFO;
    sigemptyset(&act.sa_mask);
    sigaction(SIGSEGV, &act, NULL);
    expected_fault_addr = (uintptr_t)p;
    do_free(p);
    int c = use_after_free_reader(p);
    say("read=%d", c);
  } else if (is_mode(mode, "read_after_churn")) {
    for (int i = 0; i < 20000; ++i) free(malloc(24));
    char* q = do_alloc(13);
    say_ptr("late", (void*)q);
    do_free(q);
    int c = use_after_free_reader(q);
    do_free(p);
    say("read=%d", c);  // only reached where q was not guarded
  } else if (is_mode(mode, "write")) {
    do_free(p);
    use_after_free_writer(p);
    say("wrote");
  } else {
    return unknown_mode(mode);
  }
  say("done");
  return 0;
}
