// SafeRead implementation: one raw process_vm_readv per call, retried past short reads.
#include "shadow/base/safe_read.h"

#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shadow/base/raw_io.h"

namespace cgosan {

namespace {
// Cached: audits make thousands of reads. A forked child must call SafeReadAfterFork (the
// runtime's own clone-then-exec children never read through here).
pid_t g_pid = 0;
}  // namespace

void SafeReadAfterFork() { __atomic_store_n(&g_pid, 0, __ATOMIC_RELAXED); }

size_t SafeRead(uintptr_t addr, void* out, size_t size) {
  pid_t pid = __atomic_load_n(&g_pid, __ATOMIC_RELAXED);
  if (pid == 0) {
    pid = RawGetPid();
    __atomic_store_n(&g_pid, pid, __ATOMIC_RELAXED);
  }
  size_t done = 0;
  while (done < size) {
    struct iovec local = {static_cast<char*>(out) + done, size - done};
    struct iovec remote = {reinterpret_cast<void*>(addr + done), size - done};
    long n = syscall(SYS_process_vm_readv, pid, &local, 1, &remote, 1, 0);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace cgosan
