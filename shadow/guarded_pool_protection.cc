// The system calls behind GuardedPool's two protection schemes (why two: the top of
// guarded_pool.cc). Raw calls only (internal_mmap.h): never the interposed wrappers.
#include "shadow/guarded_pool_protection.h"

#include <errno.h>
#include <sys/mman.h>

#include "shadow/base/internal_mmap.h"

namespace cgosan {
namespace {

// Linux 6.13 <linux/mman.h>; older headers lack them, older kernels refuse them (EINVAL).
constexpr int kMadvGuardInstall = 102;
constexpr int kMadvGuardRemove = 103;

}  // namespace

bool OpenChunk(uintptr_t from, size_t len) {
  void* p = reinterpret_cast<void*>(from);
  if (InternalMadvise(p, len, kMadvGuardInstall) != 0) return false;
  if (InternalMprotect(p, len, PROT_READ | PROT_WRITE) != 0) {
    // Markers left on PROT_NONE pages would fault on every block the mprotect scheme puts
    // there, if this was the probe at Init.
    InternalMadvise(p, len, kMadvGuardRemove);
    return false;
  }
  return true;
}

bool OpenSlotPages(SlotProtection scheme, uintptr_t data, size_t bytes, bool* mprotected) {
  void* p = reinterpret_cast<void*>(data);
  if (scheme == SlotProtection::kGuardMarkers && *mprotected) {
    // Only once it is open again: a slot that stays PROT_NONE must keep being opened so.
    if (InternalMprotect(p, bytes, PROT_READ | PROT_WRITE) != 0) return false;
    *mprotected = false;
    return true;
  }
  if (scheme == SlotProtection::kGuardMarkers) {
    return InternalMadvise(p, bytes, kMadvGuardRemove) == 0;
  }
  // Splits the slot's data pages off the PROT_NONE reservation: about two mappings.
  return InternalMprotect(p, bytes, PROT_READ | PROT_WRITE) == 0;
}

void CloseSlotPages(SlotProtection scheme, uintptr_t data, size_t bytes, bool* mprotected) {
  void* p = reinterpret_cast<void*>(data);
  if (scheme == SlotProtection::kGuardMarkers) {
    int r;
    do {  // the kernel may give up (EINTR, EAGAIN) rather than wait: try again
      r = InternalMadvise(p, bytes, kMadvGuardInstall);
    } while (r == -EINTR || r == -EAGAIN);
    if (r != 0) {  // never leave a freed slot accessible
      InternalMprotect(p, bytes, PROT_NONE);
      InternalMadvise(p, bytes, MADV_DONTNEED);
      *mprotected = true;
    }
    return;
  }
  // One call that drops the contents: fresh pages with the reservation's flags and no
  // anon_vma, so the range merges back with the guards around it (an mprotect could leave
  // it apart, a mapping more per freed slot). Should the kernel refuse, the slot is still
  // made inaccessible: a freed slot never stays open.
  if (!InternalMapFixed(p, bytes, PROT_NONE)) {
    InternalMprotect(p, bytes, PROT_NONE);
    InternalMadvise(p, bytes, MADV_DONTNEED);
  }
}

}  // namespace cgosan
