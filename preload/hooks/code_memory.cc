// CodeMemory implementation. Pages come from 64 KiB arenas reserved next to the text they
// serve: mmap with MAP_FIXED_NOREPLACE at hints stepping away from the text in 64 KiB steps
// (the result is checked, as a kernel that predates the flag treats it as a mere hint). Each
// page serves one caller and is never written again, so no thread ever executes code that
// is being changed.
#include "preload/hooks/code_memory.h"

#include <sys/mman.h>

#include <cstring>

#include "preload/hooks/raw_syscall.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace cgosan {
namespace {

constexpr uintptr_t kPage = kNearPageSize;
constexpr uintptr_t kArenaSize = 64 * 1024;
constexpr int kMaxArenas = 16;
// Arenas within this distance of `near` serve it: a margin under 2 GiB for the arena's own
// size and the offsets of the code inside it.
constexpr uintptr_t kReach = (uintptr_t{1} << 31) - (uintptr_t{16} << 20);
constexpr int kMaxProbes = 8192;                       // per direction: 512 MiB of 64 KiB steps
constexpr uintptr_t kLowestHint = uintptr_t{1} << 20;  // above mmap_min_addr

struct Arena {
  uintptr_t base;
  uintptr_t used;  // bytes handed out, in whole pages
};

Arena g_arenas[kMaxArenas];
int g_arena_count = 0;

uintptr_t Distance(uintptr_t a, uintptr_t b) { return a > b ? a - b : b - a; }

bool Fails(long r) { return r < 0 && r > -4096; }

// Reserves kArenaSize at exactly hint (PROT_NONE until pages are handed out).
bool ReserveAt(uintptr_t hint, uintptr_t near) {
  long r = raw::Mmap(hint, kArenaSize, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE);
  if (Fails(r)) return false;
  uintptr_t got = static_cast<uintptr_t>(r);
  if (Distance(got, near) >= kReach || Distance(got + kArenaSize, near) >= kReach) {
    raw::Munmap(got, kArenaSize);
    return false;
  }
  g_arenas[g_arena_count++] = {got, 0};
  return true;
}

Arena* NewArenaNear(uintptr_t near) {
  if (g_arena_count == kMaxArenas) return nullptr;
  uintptr_t start = near & ~(kArenaSize - 1);
  // Below the text first: above it are its data, bss and the brk heap.
  for (int i = 1; i <= kMaxProbes; ++i) {
    uintptr_t step = static_cast<uintptr_t>(i) * kArenaSize;
    if (step >= kReach || start < kLowestHint + step) break;
    if (ReserveAt(start - step, near)) return &g_arenas[g_arena_count - 1];
  }
  for (int i = 1; i <= kMaxProbes; ++i) {
    uintptr_t step = static_cast<uintptr_t>(i) * kArenaSize;
    if (step + kArenaSize >= kReach || start + step < start) break;
    if (ReserveAt(start + step, near)) return &g_arenas[g_arena_count - 1];
  }
  return nullptr;
}

}  // namespace

int EncodeJump(uintptr_t from, uintptr_t to, uint8_t* buf) {
  if (InRel32Reach(from + 5, to)) {
    int32_t rel = static_cast<int32_t>(to - (from + 5));
    buf[0] = 0xe9;
    memcpy(buf + 1, &rel, 4);
    return 5;
  }
  static const uint8_t kJmpIndirect[6] = {0xff, 0x25, 0, 0, 0, 0};  // jmp *0(%rip)
  memcpy(buf, kJmpIndirect, 6);
  memcpy(buf + 6, &to, 8);
  return 14;
}

uintptr_t OpenNearPage(uintptr_t near, const char** why) {
  Arena* arena = nullptr;
  for (int i = 0; i < g_arena_count && !arena; ++i) {
    Arena& a = g_arenas[i];
    if (a.used < kArenaSize && Distance(a.base, near) < kReach &&
        Distance(a.base + kArenaSize, near) < kReach)
      arena = &a;
  }
  if (!arena) arena = NewArenaNear(near);
  if (!arena) {
    *why = "no free address space within 2 GiB of the text for out-of-line code";
    return 0;
  }
  uintptr_t page = arena->base + arena->used;
  if (Fails(raw::Mprotect(page, kPage, PROT_READ | PROT_WRITE))) {
    *why = "mprotect of an out-of-line code page failed";
    return 0;
  }
  arena->used += kPage;
  return page;
}

bool SealNearPage(uintptr_t page, const char** why) {
  if (Fails(raw::Mprotect(page, kPage, PROT_READ | PROT_EXEC))) {
    *why = "mprotect of an out-of-line code page to read+execute failed";
    return false;
  }
  return true;
}

bool PatchText(uintptr_t addr, const uint8_t* bytes, int len, const char** why) {
  uintptr_t first = addr & ~(kPage - 1);
  uintptr_t size = ((addr + static_cast<uintptr_t>(len) + kPage - 1) & ~(kPage - 1)) - first;
  // Writable and still executable, so a thread running elsewhere on the page does not fault;
  // a kernel that refuses W+X gets a read-write window instead.
  if (Fails(raw::Mprotect(first, size, PROT_READ | PROT_WRITE | PROT_EXEC)) &&
      Fails(raw::Mprotect(first, size, PROT_READ | PROT_WRITE))) {
    *why = "mprotect of the text failed";
    return false;
  }
  volatile uint8_t* dst = reinterpret_cast<volatile uint8_t*>(addr);
  // The first byte last: until it changes, the instruction there is still the original.
  for (int i = len - 1; i >= 0; --i) dst[i] = bytes[i];
  if (Fails(raw::Mprotect(first, size, PROT_READ | PROT_EXEC))) {
    *why = "mprotect of the text back to read+execute failed";
    return false;
  }
  return true;
}

}  // namespace cgosan
