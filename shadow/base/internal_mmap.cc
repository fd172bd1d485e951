// Kernel memory for cgosan's tables via raw system calls (see internal_mmap.h for why).
#include "shadow/base/internal_mmap.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shadow/base/spin_lock.h"

namespace cgosan {
namespace {

constexpr size_t kMaxRanges = 16384;
InternalRange g_ranges[kMaxRanges];
size_t g_num_ranges = 0;
SpinLock g_ranges_lock;

void* Registered(void* p, size_t size) {
  if (!p) return p;
  SpinLockGuard guard(g_ranges_lock);
  if (g_num_ranges < kMaxRanges) g_ranges[g_num_ranges++] = {reinterpret_cast<uintptr_t>(p), size};
  return p;
}

void Unregister(void* p) {
  SpinLockGuard guard(g_ranges_lock);
  for (size_t i = 0; i < g_num_ranges; ++i) {
    if (g_ranges[i].base == reinterpret_cast<uintptr_t>(p)) {
      g_ranges[i] = g_ranges[--g_num_ranges];
      return;
    }
  }
}

void* RawMmap(void* addr, size_t size, int prot, int flags) {
  long r = syscall(SYS_mmap, addr, size, prot, flags, -1, 0);
  if (r < 0 && r > -4096) return nullptr;  // syscall() already returns -1 with errno set
  if (r == -1) return nullptr;
  return reinterpret_cast<void*>(r);
}

}  // namespace

void* InternalMmap(size_t size) {
  return Registered(RawMmap(nullptr, size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE),
                    size);
}

void* InternalMmapPopulated(size_t size) {
  return Registered(RawMmap(nullptr, size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE),
                    size);
}

void* InternalReserve(size_t size) {
  return Registered(RawMmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE),
                    size);
}

void InternalMunmap(void* p, size_t size) {
  Unregister(p);
  syscall(SYS_munmap, p, size);
}

void InternalMappingsResetAfterFork() { g_ranges_lock.ResetAfterFork(); }

size_t InternalMappings(InternalRange* out, size_t max) {
  SpinLockGuard guard(g_ranges_lock);
  size_t n = g_num_ranges < max ? g_num_ranges : max;
  for (size_t i = 0; i < n; ++i) out[i] = g_ranges[i];
  return n;
}

int InternalMprotect(void* p, size_t size, int prot) {
  return static_cast<int>(syscall(SYS_mprotect, p, size, prot));
}

bool InternalMapFixed(void* p, size_t size, int prot) {
  return RawMmap(p, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED) == p;
}

int InternalMadvise(void* p, size_t size, int advice) {
  long r = syscall(SYS_madvise, p, size, advice);
  return r == 0 ? 0 : -errno;
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
