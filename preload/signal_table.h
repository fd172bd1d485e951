// SignalTable: the program's view of the signals cgosan owns (SIGSEGV, SIGBUS).
// The kernel keeps cgosan's handler in front; what the program installs is recorded here
// and is what it reads back, so Go never sees cgosan's handler as the "old" one (it would
// forward faults back to us in a loop). Faults that are not cgosan's are delivered to the
// recorded action exactly as the kernel would have.
#pragma once

#include <signal.h>

namespace cgosan {

class SignalTable {
 public:
  static bool Owns(int sig) { return sig == SIGSEGV || sig == SIGBUS; }

  // Installs cgosan's handler for the owned signals, taking whatever was installed before
  // (by a library constructor) as the program's action.
  static void InstallHandlers(void (*handler)(int, siginfo_t*, void*));
  static bool Installed();

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
