// Raw I/O helpers: thin wrappers over syscall(2) so they work in any context.
#include "shadow/base/raw_io.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cgosan {

bool RawWriteAll(int fd, const char* buf, size_t len) {
  while (len > 0) {
    long n = syscall(SYS_write, fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

pid_t RawGetPid() { return static_cast<pid_t>(syscall(SYS_getpid)); }
pid_t RawGetTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

ssize_t RawReadFile(const char* path, char* buf, size_t cap) {
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return -1;
  size_t total = 0;
  while (total < cap) {
    long n = syscall(SYS_read, fd, buf + total, cap - total);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  syscall(SYS_close, fd);
  return static_cast<ssize_t>(total);
}

}  // namespace cgosan
