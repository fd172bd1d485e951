// Per-thread state of the preload: the reentrancy depth that sends cgosan's own
// allocations straight to the real allocator, the "making a report" flag that serves
// malloc from the report arena, the cached tid and the sampling counter.
// initial-exec TLS: the preload is loaded at startup, so its TLS block is static and an
// access never calls __tls_get_addr (which may allocate).
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace cgosan {

struct ThreadState {
  int depth;
  bool in_report;
  bool in_go_runtime;  // inside runtime/cgo's own C code (x_cgo_thread_start)
  pid_t tid;
  uint64_t sample_countdown;  // blocks until the next sampled one (0: start over)
};

extern __thread ThreadState t_state __attribute__((tls_model("initial-exec")));

pid_t FetchTid();  // the gettid system call
inline pid_t CurrentTid() {  // inline: every tracked malloc and free asks
  if (t_state.tid == 0) t_state.tid = FetchTid();
  return t_state.tid;
}

// Marks cgosan's own work on this thread: allocations made meanwhile are tracked but get
// no stack and no guard, and never report.
class ReentrancyGuard {
 public:
  ReentrancyGuard() { ++t_state.depth; }
  ~ReentrancyGuard() { --t_state.depth; }
  ReentrancyGuard(const ReentrancyGuard&) = delete;
  ReentrancyGuard& operator=(const ReentrancyGuard&) = delete;
};

}  // namespace cgosan
