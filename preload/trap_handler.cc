// The SIGTRAP handler. errno is saved around everything: a hook can interrupt any Go or C
// code, and a callback's system calls must not leak into it.
#include "preload/trap_handler.h"

#include <errno.h>

#include "preload/hooks/hook_engine.h"
#include "preload/signal_table.h"

namespace cgosan {

void OnTrapSignal(int sig, siginfo_t* info, void* ucontext) {
  int saved_errno = errno;
  if (!HookEngine::OnTrap(info, static_cast<ucontext_t*>(ucontext))) {
    SignalTable::DeliverToProgram(sig, info, ucontext);
  }
  errno = saved_errno;
}

}  // namespace cgosan
