// ReportArena implementation: a bump allocator over 4 MiB of static storage with a size
// header before each allocation.
#include "preload/report_arena.h"

#include <atomic>
#include <cstdint>
#include <cstring>

namespace cgosan {
namespace {

constexpr size_t kArenaBytes = 4 << 20;
alignas(64) char g_arena[kArenaBytes];
std::atomic<size_t> g_used{0};

struct Header {
  size_t size;
  size_t pad;
};

}  // namespace

void* ReportArena::Allocate(size_t size, size_t alignment) {
  if (alignment < 16) alignment = 16;
  size_t need = size + sizeof(Header) + alignment;
  size_t start = g_used.fetch_add(need, std::memory_order_relaxed);
  if (start + need > kArenaBytes) return nullptr;
  uintptr_t base = reinterpret_cast<uintptr_t>(g_arena + start) + sizeof(Header);
  uintptr_t user = (base + alignment - 1) & ~(alignment - 1);
  reinterpret_cast<Header*>(user)[-1].size = size;
  return reinterpret_cast<void*>(user);
}

bool ReportArena::Owns(const void* p) {
  auto c = static_cast<const char*>(p);
  return c >= g_arena && c < g_arena + kArenaBytes;
}

size_t ReportArena::SizeOf(const void* p) { return static_cast<const Header*>(p)[-1].size; }

void* ReportArena::Reallocate(void* p, size_t size) {
  void* q = Allocate(size, 16);
  if (q && p) {
    size_t old = SizeOf(p);
    memcpy(q, p, old < size ? old : size);
  }
  return q;
}

}  // namespace cgosan
