// Definitions for thread_state.h and process_state.h.
#include "preload/thread_state.h"

#include <atomic>

#include <sys/syscall.h>
#include <unistd.h>

#include "preload/process_state.h"

namespace cgosan {

__thread ThreadState t_state __attribute__((tls_model("initial-exec")));

namespace {
std::atomic<bool> g_ready{false};
bool g_go_process = false;
bool g_passive = false;
}  // namespace

pid_t CurrentTid() {
  if (t_state.tid == 0) t_state.tid = static_cast<pid_t>(syscall(SYS_gettid));
  return t_state.tid;
}

bool PreloadReady() { return g_ready.load(std::memory_order_acquire); }
void SetPreloadReady() { g_ready.store(true, std::memory_order_release); }
bool IsGoProcess() { return g_go_process; }
void SetGoProcess(bool go) { g_go_process = go; }
bool PreloadPassive() { return g_passive; }
void SetPreloadPassive() { g_passive = true; }

std::atomic<bool> g_fatal_reported{false};
bool FatalFindingReported() { return g_fatal_reported.load(std::memory_order_relaxed); }
void SetFatalFindingReported() { g_fatal_reported.store(true, std::memory_order_relaxed); }

}  // namespace cgosan
