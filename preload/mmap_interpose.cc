// The interposed mmap/munmap/mremap. For now they forward to the kernel directly (the
// same system calls glibc makes); they are the place where the Go heap's arenas become
// visible to the address-space model (the Go runtime maps through libc's mmap).
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CGOSAN_EXPORT extern "C" __attribute__((visibility("default")))

CGOSAN_EXPORT void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  long r = syscall(SYS_mmap, addr, length, prot, flags, fd, offset);
  return reinterpret_cast<void*>(r);  // syscall() returns -1 (MAP_FAILED) with errno set
}

CGOSAN_EXPORT void* mmap64(void* addr, size_t length, int prot, int flags, int fd, off_t offset)
    __attribute__((alias("mmap")));

CGOSAN_EXPORT int munmap(void* addr, size_t length) {
  return static_cast<int>(syscall(SYS_munmap, addr, length));
}

CGOSAN_EXPORT void* mremap(void* old_address, size_t old_size, size_t new_size, int flags, ...) {
  void* new_address = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_address = va_arg(ap, void*);
    va_end(ap);
  }
  long r = syscall(SYS_mremap, old_address, old_size, new_size, flags, new_address);
  return reinterpret_cast<void*>(r);
}
