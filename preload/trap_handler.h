// The preload's SIGTRAP handler: int3 hooks of the hook engine are handled there; every
// other SIGTRAP (raise, kill, a foreign int3, a single step) goes to the program's action as
// if cgosan were not there.
#pragma once

#include <signal.h>

namespace cgosan {

void OnTrapSignal(int sig, siginfo_t* info, void* ucontext);

}  // namespace cgosan
