// SafeRead: copies memory of this very process that another thread may unmap or protect at
// any moment (guarded slots turn PROT_NONE when freed, goroutine stacks are faulted under
// efence, threads exit). process_vm_readv on the own pid returns EFAULT where a plain load
// would raise SIGSEGV, so the audits that read the program's memory never crash it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

// Copies up to size bytes from addr; returns the bytes copied (stops at the first
// unreadable page), 0 when none.
size_t SafeRead(uintptr_t addr, void* out, size_t size);

// One word; false when it cannot be read.
template <typename T>
bool SafeLoad(uintptr_t addr, T* out) {
  return SafeRead(addr, out, sizeof(T)) == sizeof(T);
}

}  // namespace cgosan
