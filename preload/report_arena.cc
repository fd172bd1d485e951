// ReportArena implementation: a bump allocator over 4 MiB of static storage with a size
// header before each allocation.
#include "preload/report_arena.h"

#include <atomic>
#include <cstdint>
#include <cstring>

namespace cgosan {

alignas(64) char ReportArena::storage_[ReportArena::kBytes];

namespace {

constexpr size_t kArenaBytes = ReportArena::kBytes;
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
  uintptr_t base = reinterpret_cast<uintptr_t>(storage_ + start) + sizeof(Header);
  uintptr_t user = (base + alignment - 1) & ~(alignment - 1);
  reinterpret_cast<Header*>(user)[-1].size = size;
  return reinterpret_cast<void*>(user);
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
