// Memory for cgosan's own tables, taken straight from the kernel.
// Never through malloc (we are malloc) nor through the interposed mmap (that would record
// cgosan's own mappings as the program's).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

// Anonymous private read-write memory, MAP_NORESERVE: pages cost nothing until touched.
// Returns nullptr on failure.
void* InternalMmap(size_t size);
// The same, with every page faulted in now (MAP_POPULATE): for tables written at once.
void* InternalMmapPopulated(size_t size);
// Anonymous PROT_NONE reservation.
void* InternalReserve(size_t size);
void InternalMunmap(void* p, size_t size);
// Raw system calls that bypass the interposed wrappers; return 0 / pointer or -errno style
// (see definitions).
int InternalMprotect(void* p, size_t size, int prot);
// Replaces [p, p+size) with fresh anonymous MAP_NORESERVE pages of protection prot: drops
// the contents and makes the range a mapping of its own, in one system call.
bool InternalMapFixed(void* p, size_t size, int prot);
// madvise(2) without the interposed wrappers; 0 or -errno.
int InternalMadvise(void* p, size_t size, int advice);

// The ranges InternalMmap/InternalReserve handed out and not unmapped: cgosan's own
// tables hold the address of every block, so the leak check must never scan them as roots.
struct InternalRange {
  uintptr_t base, size;
};
// Copies up to max ranges into out; returns the count copied.
size_t InternalMappings(InternalRange* out, size_t max);
// fork(): the child's only thread may find the registry's lock held by a thread it lost.
void InternalMappingsResetAfterFork();

size_t PageSize();
inline uintptr_t RoundUp(uintptr_t x, uintptr_t align) { return (x + align - 1) & ~(align - 1); }
inline uintptr_t RoundDown(uintptr_t x, uintptr_t align) { return x & ~(align - 1); }

}  // namespace cgosan
