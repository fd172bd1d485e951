// Raw system calls for the hook engine's paths that run where libc must not be relied on:
// the exit trampoline (a goroutine stack with a few hundred bytes, or a signal stack with
// every signal blocked) and the SIGTRAP handler. Inline, no errno, no stack of their own.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>

#include <cstdint>

namespace cgosan {
namespace raw {

inline long Syscall6(long nr, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}

inline long GetPid() { return Syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0); }

// Returns -errno on failure.
inline long Mmap(uintptr_t addr, uintptr_t size, int prot, int flags) {
  return Syscall6(SYS_mmap, static_cast<long>(addr), static_cast<long>(size), prot, flags, -1, 0);
}
inline long Munmap(uintptr_t addr, uintptr_t size) {
  return Syscall6(SYS_munmap, static_cast<long>(addr), static_cast<long>(size), 0, 0, 0, 0);
}
inline long Mprotect(uintptr_t addr, uintptr_t size, int prot) {
  return Syscall6(SYS_mprotect, static_cast<long>(addr), static_cast<long>(size), prot, 0, 0, 0);
}

struct Timespec {
  long sec, nsec;
};

// Private futexes: the words live in this process only. timeout: relative, nullptr = none
// (a pointer, not a value: building one on the stack may use a vector store, which the exit
// trampoline's leaf must not).
inline long FutexWait(const uint32_t* word, uint32_t expected, const Timespec* timeout) {
  return Syscall6(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAIT_PRIVATE, expected,
                  reinterpret_cast<long>(timeout), 0, 0);
}
inline long FutexWake(const uint32_t* word, int count) {
  return Syscall6(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAKE_PRIVATE, count, 0, 0, 0);
}

}  // namespace raw
}  // namespace cgosan
