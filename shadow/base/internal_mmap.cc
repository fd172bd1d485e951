// Kernel memory for cgosan's tables via raw system calls (see internal_mmap.h for why).
#include "shadow/base/internal_mmap.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cgosan {
namespace {

void* RawMmap(void* addr, size_t size, int prot, int flags) {
  long r = syscall(SYS_mmap, addr, size, prot, flags, -1, 0);
  if (r < 0 && r > -4096) return nullptr;  // syscall() already returns -1 with errno set
  if (r == -1) return nullptr;
  return reinterpret_cast<void*>(r);
}

}  // namespace

void* InternalMmap(size_t size) {
  return RawMmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
}

void* InternalReserve(size_t size) {
  return RawMmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
}

void InternalMunmap(void* p, size_t size) { syscall(SYS_munmap, p, size); }

int InternalMprotect(void* p, size_t size, int prot) {
  return static_cast<int>(syscall(SYS_mprotect, p, size, prot));
}

bool InternalDiscardAndProtect(void* p, size_t size) {
  return RawMmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED) == p;
}

size_t PageSize() {
  static size_t page = 0;
  if (page == 0) {
    long v = sysconf(_SC_PAGESIZE);
    page = v > 0 ? static_cast<size_t>(v) : 4096;
  }
  return page;
}

}  // namespace cgosan
