// The SIGSEGV/SIGBUS handler: reports faults on guarded memory, passes the rest on.
#pragma once

#include <signal.h>

namespace cgosan {

void OnFaultSignal(int sig, siginfo_t* info, void* ucontext);

}  // namespace cgosan
