// Process-wide state of the preload: whether attach has finished, and facts learned then.
#pragma once

#include <atomic>

namespace cgosan {

// False until the constructor has parsed options and set everything up. Before that,
// allocations are tracked only (no guard, no stack) and nothing is reported.
bool PreloadReady();
void SetPreloadReady();

// Whether the process is a Go program (the cgo runtime's crosscall2 is present).
bool IsGoProcess();
void SetGoProcess(bool go);

// Passive: a process the user did not name (the go command or a compiler started by a
// test inherits LD_PRELOAD) and that is not a Go program. cgosan then only forwards to
// glibc's allocator, with glibc's own checks: quiet and cheap.
bool PreloadPassive();
void SetPreloadPassive();

// A finding that ends the program was reported (a fault or a bad free): the program is
// dying of a bug already named, so the end-of-run audits (leaks, retention) stay quiet.
bool FatalFindingReported();
void SetFatalFindingReported();

}  // namespace cgosan
