// Who the process and the reporting thread are: pid, exe, argv and build id collected once
// into static storage (reports run in signal handlers and may not allocate), and the
// thread's tid and name read on demand.
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "report/report_context.h"
#include "report/report_internal.h"
#include "report/report_writer.h"
#include "report/symbolizer.h"
#include "shadow/base/raw_io.h"

namespace cgosan {
namespace {

constexpr size_t kMaxExePath = 4096;
constexpr size_t kMaxCmdline = 64 * 1024;
constexpr int kMaxArgs = 256;
constexpr size_t kMaxBuildId = 129;  // 64 bytes of id as hex + NUL: more than any linker makes

struct ProcessStorage {
  char exe[kMaxExePath];
  char cmdline[kMaxCmdline];
  const char* argv[kMaxArgs + 1];
  char build_id[kMaxBuildId];
  ProcessInfo info;
  bool collected;
};
ProcessStorage g_process =
    {};  // constant-initialised: the preload fills it before dynamic initialisers run

void ReadExe(ProcessStorage* p) {
  long n = syscall(SYS_readlink, "/proc/self/exe", p->exe, sizeof(p->exe) - 1);
  if (n <= 0) {
    p->exe[0] = '\0';
    p->info.exe = nullptr;
    p->info.exe_name = "unknown";
    return;
  }
  p->exe[n] = '\0';
  p->info.exe = p->exe;
  p->info.exe_name = Basename(p->exe);
  if (p->info.exe_name[0] == '\0') p->info.exe_name = "unknown";
}

void ReadArgv(ProcessStorage* p) {
  // The last byte stays NUL so that a cmdline longer than the buffer still ends its last
  // (cut) argument.
  ssize_t n = RawReadFile("/proc/self/cmdline", p->cmdline, sizeof(p->cmdline) - 1);
  if (n < 0) n = 0;
  p->cmdline[n] = '\0';
  int argc = 0;
  for (ssize_t i = 0; i < n && argc < kMaxArgs;) {
    p->argv[argc++] = p->cmdline + i;
    i += static_cast<ssize_t>(strlen(p->cmdline + i)) + 1;
  }
  p->argv[argc] = nullptr;
  p->info.argc = argc;
  p->info.argv = p->argv;
}

}  // namespace

void CollectProcessInfo() {
  ProcessStorage* p = &g_process;
  p->info.pid = RawGetPid();
  ReadExe(p);
  ReadArgv(p);
  p->info.build_id = nullptr;
  if (p->info.exe != nullptr &&
      Symbolizer::ReadBuildId(p->info.exe, p->build_id, sizeof(p->build_id))) {
    p->info.build_id = p->build_id;
  }
  CollectReportContext(p->info);
  p->collected = true;
}

const ProcessInfo& CurrentProcessInfo() {
  if (!g_process.collected) {
    CollectProcessInfo();
  } else {
    // After fork only the pid changes (exec starts a new image with a new preload).
    g_process.info.pid = RawGetPid();
  }
  return g_process.info;
}

void CurrentThreadInfo(ThreadInfo* out) {
  out->tid = RawGetTid();
  out->name[0] = '\0';
  char comm[sizeof(out->name)];
  ssize_t n = RawReadFile("/proc/thread-self/comm", comm, sizeof(comm) - 1);
  if (n < 0) {
    // Kernels before 3.17 have no /proc/thread-self.
    InlineTextBuffer<64> path;
    path.Append("/proc/self/task/").Dec(out->tid).Append("/comm");
    n = RawReadFile(path.data(), comm, sizeof(comm) - 1);
  }
  if (n <= 0) return;
  while (n > 0 && (comm[n - 1] == '\n' || comm[n - 1] == '\0')) --n;
  memcpy(out->name, comm, static_cast<size_t>(n));
  out->name[n] = '\0';
}

}  // namespace cgosan
