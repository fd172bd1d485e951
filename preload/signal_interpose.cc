// The interposed sigaction() and signal(): the program's view of the signals cgosan has a
// handler in front for (SIGSEGV/SIGBUS, SIGTRAP with the hook engine on) goes to the
// SignalTable; every other signal, and everything before attach, goes to glibc.
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "preload/signal_table.h"

#define CGOSAN_EXPORT extern "C" __attribute__((visibility("default")))

using cgosan::SignalTable;

CGOSAN_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (!SignalTable::Owns(sig) || !SignalTable::Installed(sig)) {
    return SignalTable::RealSigaction(sig, act, old);
  }
  SignalTable::Exchange(sig, act, old);
  return 0;
}

// glibc's signal(): BSD semantics (SA_RESTART, the signal blocked in its handler).
CGOSAN_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  if (sig <= 0 || sig >= _NSIG || handler == SIG_ERR) {
    errno = EINVAL;
    return SIG_ERR;
  }
  struct sigaction act, old;
  memset(&act, 0, sizeof(act));
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  act.sa_flags = SA_RESTART;
  if (sigaction(sig, &act, &old) < 0) return SIG_ERR;
  return old.sa_handler;
}
