// The program's view of SIGSEGV/SIGBUS handlers must be exactly what it installed, even
// though cgosan keeps its own handler in the kernel. Every line printed must be identical
// with and without the preload.
// Mode "table" (default): queries, installs, SA_RESETHAND, signal(), SIG_IGN, and real
// faults delivered to the program's handler with the right siginfo and ucontext.
// Mode "mask": the signal mask the program's handler runs with (sa_mask, SA_NODEFER).
// Mode "altstack": a handler installed with SA_ONSTACK runs on the program's sigaltstack.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "common.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

static sigjmp_buf env;
static volatile int got_signo, got_code, got_write, got_has_uc;
static volatile uintptr_t got_addr;
static volatile int blocked_segv, blocked_usr1, blocked_usr2, on_altstack;
static char* altstack_lo;
static size_t altstack_size;
static volatile int plain_calls, plain2_calls;

NOINLINE void on_fault(int signo, siginfo_t* si, void* ucv) {
  ucontext_t* uc = (ucontext_t*)ucv;
  got_signo = signo;
  got_code = si->si_code;
  got_addr = (uintptr_t)si->si_addr;
  got_has_uc = uc != NULL;
  got_write = uc ? (int)((uc->uc_mcontext.gregs[REG_ERR] >> 1) & 1) : -1;
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  blocked_segv = sigismember(&cur, SIGSEGV);
  blocked_usr1 = sigismember(&cur, SIGUSR1);
  blocked_usr2 = sigismember(&cur, SIGUSR2);
  char here;
  on_altstack = altstack_lo && &here >= altstack_lo && &here < altstack_lo + altstack_size;
  siglongjmp(env, 1);
}

NOINLINE void on_plain(int signo) {
  plain_calls++;
  siglongjmp(env, 1);
}

NOINLINE void on_plain2(int signo) {
  plain2_calls++;
  got_signo = signo;
  siglongjmp(env, 1);
}

static const char* handler_name(const struct sigaction* sa) {
  static char buf[256];
  void* h = (sa->sa_flags & SA_SIGINFO) ? (void*)sa->sa_sigaction : (void*)sa->sa_handler;
  if (h == (void*)SIG_DFL) return "SIG_DFL";
  if (h == (void*)SIG_IGN) return "SIG_IGN";
  if (h == (void*)on_fault) return "on_fault";
  if (h == (void*)on_plain) return "on_plain";
  if (h == (void*)on_plain2) return "on_plain2";
  Dl_info info;
  const char* mod = dladdr(h, &info) && info.dli_fname ? info.dli_fname : "?";
  const char* slash = strrchr(mod, '/');
  snprintf(buf, sizeof buf, "OTHER(%s)", slash ? slash + 1 : mod);
  return buf;
}

static const char* flags_name(int flags) {
  static char buf[256];
  buf[0] = 0;
  flags &= ~SA_RESTORER;  // added by glibc itself
  static const struct { int bit; const char* name; } names[] = {
      {SA_SIGINFO, "SIGINFO"}, {SA_ONSTACK, "ONSTACK"}, {SA_RESTART, "RESTART"},
      {SA_NODEFER, "NODEFER"}, {SA_RESETHAND, "RESETHAND"}, {SA_NOCLDSTOP, "NOCLDSTOP"}};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    if (flags & names[i].bit) {
      strcat(buf, buf[0] ? "|" : "");
      strcat(buf, names[i].name);
      flags &= ~names[i].bit;
    }
  }
  if (flags) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s0x%x", buf[0] ? "|" : "",
                      flags);
  return buf[0] ? buf : "0";
}

static void show(const char* label, int sig) {
  struct sigaction q;
  memset(&q, 0xa5, sizeof q);
  int r = sigaction(sig, NULL, &q);
  say("%s: r=%d handler=%s flags=%s mask_usr1=%d mask_usr2=%d", label, r, handler_name(&q),
      flags_name(q.sa_flags), sigismember(&q.sa_mask, SIGUSR1), sigismember(&q.sa_mask, SIGUSR2));
}

// Only the handler: after an SA_RESETHAND delivery the kernel keeps the other flags, a
// detail no program depends on.
static void show_handler(const char* label, int sig) {
  struct sigaction q;
  memset(&q, 0xa5, sizeof q);
  int r = sigaction(sig, NULL, &q);
  say("%s: r=%d handler=%s", label, r, handler_name(&q));
}

static void install(int sig, void (*fn)(int, siginfo_t*, void*), int flags, int usr1_in_mask,
                    const char* label) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  memset(&old, 0xa5, sizeof old);
  act.sa_sigaction = fn;
  act.sa_flags = flags;
  sigemptyset(&act.sa_mask);
  if (usr1_in_mask) sigaddset(&act.sa_mask, SIGUSR1);
  int r = sigaction(sig, &act, &old);
  say("%s: r=%d old=%s old_flags=%s", label, r, handler_name(&old), flags_name(old.sa_flags));
}

static void install_simple(int sig, void (*fn)(int), const char* label) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = fn;
  sigemptyset(&act.sa_mask);
  int r = sigaction(sig, &act, &old);
  say("%s: r=%d old=%s", label, r, handler_name(&old));
}

// Faults at `addr` (read or write) and reports what the handler saw.
NOINLINE static void fault_at(const char* label, uintptr_t addr, int write) {
  got_signo = got_code = got_write = got_has_uc = 0;
  got_addr = 0;
  if (sigsetjmp(env, 1) == 0) {
    if (write)
      *(volatile int*)addr = 1;
    else
      (void)*(volatile int*)addr;
    say("%s: no fault", label);
    return;
  }
  say("%s: signo=%d code=%d addr_ok=%d has_uc=%d write=%d", label, got_signo, got_code,
      got_addr == addr, got_has_uc, got_write);
}

static int mode_table(void) {
  show("initial SIGSEGV", SIGSEGV);
  show("initial SIGBUS", SIGBUS);
  install(SIGSEGV, on_fault, SA_SIGINFO | SA_RESTART, 1, "install on_fault");
  show("query", SIGSEGV);
  show("query SIGBUS unchanged", SIGBUS);
  fault_at("null read 0x8", 0x8, 0);
  fault_at("null write 0x40", 0x40, 1);
  char* page = (char*)mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  fault_at("prot_none read", (uintptr_t)(page + 5), 0);
  fault_at("prot_none write", (uintptr_t)(page + 100), 1);
  munmap(page, 4096);
  show("query after faults", SIGSEGV);

  install(SIGSEGV, on_fault, SA_SIGINFO | SA_RESETHAND, 0, "install resethand");
  show("query resethand", SIGSEGV);
  fault_at("resethand fault", 0x10, 0);
  show_handler("query after resethand fault", SIGSEGV);

  void (*prev)(int) = signal(SIGSEGV, on_plain);
  say("signal(on_plain) returned %s", prev == SIG_DFL ? "SIG_DFL" : prev == on_plain ? "on_plain" : "OTHER");
  prev = signal(SIGSEGV, on_plain2);
  say("signal(on_plain2) returned %s", prev == SIG_DFL ? "SIG_DFL" : prev == on_plain ? "on_plain" : "OTHER");
  show("query after signal()", SIGSEGV);
  if (sigsetjmp(env, 1) == 0) {
    (void)*(volatile int*)0x18;
    say("signal() fault: no fault");
  } else {
    say("signal() fault: plain=%d plain2=%d signo=%d", plain_calls, plain2_calls, got_signo);
  }

  install_simple(SIGBUS, SIG_IGN, "SIGBUS SIG_IGN");
  show("query SIGBUS", SIGBUS);
  install_simple(SIGBUS, SIG_DFL, "SIGBUS SIG_DFL");
  show("query SIGBUS again", SIGBUS);

  install_simple(SIGSEGV, SIG_DFL, "SIGSEGV SIG_DFL");
  show("final SIGSEGV", SIGSEGV);
  say("sigaction(SIGSEGV, NULL, NULL)=%d", sigaction(SIGSEGV, NULL, NULL));
  return 0;
}

static int mode_mask(void) {
  install(SIGSEGV, on_fault, SA_SIGINFO, 1, "install sa_mask=USR1");
  fault_at("fault", 0x8, 0);
  say("in handler: segv_blocked=%d usr1_blocked=%d usr2_blocked=%d", blocked_segv, blocked_usr1,
      blocked_usr2);
  install(SIGSEGV, on_fault, SA_SIGINFO | SA_NODEFER, 0, "install NODEFER");
  fault_at("fault", 0x8, 0);
  say("in handler: segv_blocked=%d usr1_blocked=%d usr2_blocked=%d", blocked_segv, blocked_usr1,
      blocked_usr2);
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  say("after: segv_blocked=%d usr1_blocked=%d", sigismember(&cur, SIGSEGV),
      sigismember(&cur, SIGUSR1));
  return 0;
}

static int mode_altstack(void) {
  altstack_size = 64 * 1024;
  altstack_lo = (char*)malloc(altstack_size);
  stack_t ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = altstack_lo;
  ss.ss_size = altstack_size;
  say("sigaltstack=%d", sigaltstack(&ss, NULL));
  install(SIGSEGV, on_fault, SA_SIGINFO | SA_ONSTACK, 0, "install ONSTACK");
  fault_at("fault", 0x8, 0);
  say("on_altstack=%d", on_altstack);
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = mode_arg(argc, argv, "table");
  int r;
  if (is_mode(mode, "table"))
    r = mode_table();
  else if (is_mode(mode, "mask"))
    r = mode_mask();
  else if (is_mode(mode, "altstack"))
    r = mode_altstack();
  else
    return unknown_mode(mode);
  say("done");
  return r;
}
