// SignalTable: the program's view of the signals cgosan owns (SIGSEGV, SIGBUS, and SIGTRAP
// while the hook engine is on). Each is virtualised from the moment cgosan's handler for it
// is installed: the kernel keeps cgosan's handler in front; what the program installs is
// recorded here and is what it reads back, so Go never sees cgosan's handler as the "old"
// one (it would forward faults back to us in a loop). Signals that are not cgosan's are
// delivered to the recorded action exactly as the kernel would have.
#pragma once

#include <signal.h>

namespace cgosan {

class SignalTable {
 public:
  using Handler = void (*)(int, siginfo_t*, void*);

  // The signals cgosan may own.
  static bool Owns(int sig) { return sig == SIGSEGV || sig == SIGBUS || sig == SIGTRAP; }

  // Installs cgosan's handler for SIGSEGV and SIGBUS (the fault handler).
  static void InstallHandlers(Handler handler);
  // Installs cgosan's handler for one owned signal, taking whatever was installed before (by
  // a library constructor) as the program's action. The handler runs on the alternate stack
  // with SA_NODEFER and every signal blocked but the synchronous ones (SIGSEGV, SIGBUS,
  // SIGTRAP, SIGILL, SIGFPE: blocked, the kernel would kill the process instead). False
  // when the kernel refuses it.
  static bool InstallHandler(int sig, Handler handler);
  // Whether cgosan's handler is in front for sig (the program's sigaction is virtualised).
  static bool Installed(int sig);
  // The fault handlers (SIGSEGV, SIGBUS) are in front.
  static bool Installed() { return Installed(SIGSEGV); }

  // The program's sigaction() on an owned signal.
  static void Exchange(int sig, const struct sigaction* act, struct sigaction* old);

  // Delivers a signal that is not cgosan's to the program's recorded action.
  static void DeliverToProgram(int sig, siginfo_t* info, void* ucontext);
  // Whether the program has a handler of its own (not SIG_DFL/SIG_IGN) for sig.
  static bool ProgramHasHandler(int sig);

  // glibc's own sigaction (never the interposed one).
  static int RealSigaction(int sig, const struct sigaction* act, struct sigaction* old);
};

}  // namespace cgosan
