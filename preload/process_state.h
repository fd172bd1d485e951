// Process-wide state of the preload: whether attach has finished, and facts learned then.
#pragma once

#include <atomic>

#include "shadow/options.h"

namespace cgosan {

// The state behind the accessors below (thread_state.cc), inline because every malloc asks.
namespace process_state {
extern std::atomic<bool> g_ready;
extern bool g_go_process;
extern bool g_passive;
}  // namespace process_state

// False until the constructor has parsed options and set everything up. Before that,
// allocations are tracked only (no guard, no stack) and nothing is reported.
inline bool PreloadReady() { return process_state::g_ready.load(std::memory_order_acquire); }
void SetPreloadReady();

// Whether the process is a Go program (the cgo runtime's crosscall2 is present).
inline bool IsGoProcess() { return process_state::g_go_process; }
void SetGoProcess(bool go);

// Passive: a process the user did not name (the go command or a compiler started by a
// test inherits LD_PRELOAD) and that is not a Go program. cgosan then only forwards to
// glibc's allocator, with glibc's own checks: quiet and cheap.
inline bool PreloadPassive() { return process_state::g_passive; }
void SetPreloadPassive();

// Whether a block that is not sampled is glibc's, untracked: guard=sampled follows GWP-ASan
// (an unsampled block costs the program one counter decrement), and a passive process hands
// every block to glibc. The allocator's fast path and the heap's configuration at attach
// both follow it.
inline bool UntrackedMode() {
  return PreloadPassive() || GetOptions().guard_mode() == GuardMode::kSampled;
}

// A finding that ends the program was reported (a fault or a bad free): the program is
// dying of a bug already named, so the end-of-run audits (leaks, retention) stay quiet.
bool FatalFindingReported();
void SetFatalFindingReported();

}  // namespace cgosan
