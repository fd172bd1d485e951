// Definitions for thread_state.h and process_state.h.
#include "preload/thread_state.h"

#include <atomic>

#include <sys/syscall.h>
#include <unistd.h>

#include "preload/process_state.h"

namespace cgosan {

__thread ThreadState t_state __attribute__((tls_model("initial-exec")));

namespace process_state {
std::atomic<bool> g_ready{false};
bool g_go_process = false;
bool g_passive = false;
}  // namespace process_state
using process_state::g_go_process;
using process_state::g_passive;
using process_state::g_ready;

pid_t FetchTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

void SetPreloadReady() { g_ready.store(true, std::memory_order_release); }
void SetGoProcess(bool go) { g_go_process = go; }
void SetPreloadPassive() { g_passive = true; }

std::atomic<bool> g_fatal_reported{false};
bool FatalFindingReported() { return g_fatal_reported.load(std::memory_order_relaxed); }
void SetFatalFindingReported() { g_fatal_reported.store(true, std::memory_order_relaxed); }

}  // namespace cgosan
