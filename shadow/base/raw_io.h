// Raw I/O and identity helpers usable from signal handlers and before libc is initialised:
// direct system calls, no errno games beyond EINTR, no allocation.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace cgosan {

// Writes all of buf (retrying on EINTR and short writes). Returns false on error.
bool RawWriteAll(int fd, const char* buf, size_t len);
pid_t RawGetPid();
pid_t RawGetTid();
// Reads a whole small file (e.g. under /proc) into buf; returns bytes read or -1.
ssize_t RawReadFile(const char* path, char* buf, size_t cap);

}  // namespace cgosan
