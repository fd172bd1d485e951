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
// In a forked child (the pid SafeRead reads from is cached).
void SafeReadAfterFork();

// One word; false when it cannot be read.
template <typename T>
bool SafeLoad(uintptr_t addr, T* out) {
  return SafeRead(addr, out, sizeof(T)) == sizeof(T);
}

// Calls fn(address, word) for every aligned word of [begin, end) that can be read, copying
// through `chunk` (chunk_bytes, a multiple of 8) with SafeRead; unreadable pages are skipped.
template <typename Fn>
void ForEachReadableWord(uintptr_t begin, uintptr_t end, uint8_t* chunk, size_t chunk_bytes,
                         Fn fn) {
  begin = (begin + 7) & ~uintptr_t{7};
  for (uintptr_t at = begin; at + 8 <= end;) {
    size_t want = (end - at) & ~uintptr_t{7};
    if (want > chunk_bytes) want = chunk_bytes;
    size_t got = SafeRead(at, chunk, want) & ~size_t{7};
    for (size_t i = 0; i < got; i += 8) {
      uintptr_t w;
      __builtin_memcpy(&w, chunk + i, 8);
      fn(at + i, w);
    }
    at = got < want ? ((at + got) | 4095) + 1 : at + got;
  }
}

}  // namespace cgosan
