// CHeap implementation: routes blocks between the guarded pool and glibc's allocator
// (glibc's __libc_* entry points: the real allocator, which never calls back into ours).
#include "shadow/c_heap.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include "shadow/block_table.h"
#include "shadow/guarded_pool.h"
#include "shadow/options.h"
#include "shadow/quarantine.h"

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* p);
}

namespace cgosan {
namespace {

// Freed unguarded blocks, one FIFO per group of threads (by tid) so that threads freeing at
// once do not contend on one lock; each holds its share of the budget.
constexpr int kQuarantineShards = 8;
constexpr size_t kUnguardedQuarantineEntries = size_t{1} << 16;
struct alignas(64) QuarantineShard {
  Quarantine q;
};
QuarantineShard g_unguarded_quarantine[kQuarantineShards];
bool g_configured = false;
int g_fill_byte = -1;

void Fill(void* p, size_t size) {
  if (g_fill_byte >= 0) memset(p, g_fill_byte, size < kFillLimit ? size : kFillLimit);
}

// test_fail_malloc_after (testing only): the real allocator runs out after N blocks.
bool InjectedFailure() {
  static std::atomic<int64_t> allocations{0};
  int64_t after = GetOptions().test_fail_malloc_after;
  return after > 0 && allocations.fetch_add(1, std::memory_order_relaxed) >= after;
}

void* RealAllocate(size_t size, size_t alignment, bool zero) {
  if (__builtin_expect(InjectedFailure(), 0)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (alignment <= 16)
    return zero ? __libc_calloc(1, size ? size : 1) : __libc_malloc(size ? size : 1);
  void* p = __libc_memalign(alignment, size ? size : 1);
  if (p && zero) memset(p, 0, size);
  return p;
}

void ReleaseUnguarded(uintptr_t base) {
  BlockTable::Erase(base);
  __libc_free(reinterpret_cast<void*>(base));
}

}  // namespace

void CHeap::Configure(const CHeapConfig& config) {
  if (config.guard_enabled) {
    GuardedPoolConfig pool;
    pool.pool_bytes = config.guard_pool_bytes;
    pool.quarantine_bytes = config.quarantine_bytes;
    pool.max_live_slots = config.max_live_guarded;
    pool.left_aligned = config.guard_left;
    GuardedPool::Init(pool);
  }
  for (QuarantineShard& shard : g_unguarded_quarantine) {
    shard.q.Init(config.unguarded_quarantine_bytes / kQuarantineShards,
           kUnguardedQuarantineEntries / kQuarantineShards);
  }
  g_fill_byte = config.fill_byte;
  if (!config.mostly_untracked) BlockTable::StopCountingRegions();
  g_configured = true;
}

void* CHeap::Allocate(size_t size, size_t alignment, bool zero, bool guard, StackId stack,
                      pid_t tid, BlockOrigin origin) {
  if (guard && GuardedPool::Enabled()) {
    void* p = GuardedPool::Allocate(size, alignment, stack, tid, origin);
    if (p) {
      if (zero) {
        memset(p, 0, size);
      } else {
        Fill(p, size);
      }
      return p;
    }
  }
  void* p = RealAllocate(size, alignment, zero);
  if (!p) return nullptr;
  if (!zero) Fill(p, size);
  HeapBlock b;
  b.base = reinterpret_cast<uintptr_t>(p);
  b.size = size;
  b.alloc_stack = stack;
  b.alloc_tid = tid;
  b.alignment = static_cast<uint32_t>(alignment);
  b.origin = origin;
  if (!BlockTable::Insert(b)) {
    // Out of memory for the table: an untracked block's free would look invalid, so the
    // allocation fails instead, as it soon would without cgosan.
    __libc_free(p);
    errno = ENOMEM;
    return nullptr;
  }
  return p;
}

void* CHeap::AllocateUntracked(size_t size, size_t alignment, bool zero) {
  return RealAllocate(size, alignment, zero);
}


void CHeap::ReleaseUnguardedRecords() {
  for (QuarantineShard& shard : g_unguarded_quarantine) {
    Quarantine::Entry e;
    while (shard.q.PopOldest(&e)) __libc_free(reinterpret_cast<void*>(e.key));
  }
  BlockTable::EraseAll();
}

FreeVerdict CHeap::Free(void* ptr, StackId stack, pid_t tid, HeapBlock* block, bool* block_known,
                        uint64_t* corrupt_offset) {
  uintptr_t addr = reinterpret_cast<uintptr_t>(ptr);
  *block_known = false;
  if (GuardedPool::Contains(addr)) {
    switch (GuardedPool::Free(ptr, stack, tid, block, corrupt_offset)) {
      case PoolFreeResult::kOk:
        return FreeVerdict::kOk;
      case PoolFreeResult::kDoubleFree:
        *block_known = true;
        return FreeVerdict::kDoubleFree;
      case PoolFreeResult::kCanaryCorrupted:
        *block_known = true;
        return FreeVerdict::kOverflowAtFree;
      case PoolFreeResult::kInvalidFree:
        *block_known = block->base != 0;
        return FreeVerdict::kInvalidFree;
    }
  }
  if (!BlockTable::MarkFreed(addr, stack, tid, block)) {
    *block_known = BlockTable::FindContaining(addr, block);
    return FreeVerdict::kInvalidFree;
  }
  *block_known = true;
  if (block->state == BlockState::kFreed) return FreeVerdict::kDoubleFree;
  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + 1];
  Quarantine& q = g_unguarded_quarantine[static_cast<unsigned>(tid) % kQuarantineShards].q;
  int n = g_configured ? q.Push({addr, block->size}, evicted) : 0;
  if (!g_configured) ReleaseUnguarded(addr);
  for (int i = 0; i < n; ++i) ReleaseUnguarded(evicted[i].key);
  return FreeVerdict::kOk;
}

bool CHeap::FindLive(uintptr_t ptr, HeapBlock* out) {
  if (GuardedPool::Contains(ptr)) return GuardedPool::FindLive(ptr, out);
  return BlockTable::Find(ptr, out) && out->state == BlockState::kLive;
}

void CHeap::ForEachLive(void (*fn)(const HeapBlock& block, void* ctx), void* ctx) {
  GuardedPool::ForEachLive(fn, ctx);
  BlockTable::ForEachLive(fn, ctx);
}

void CHeap::LockAllForFork() {
  GuardedPool::LockAll();
  for (QuarantineShard& shard : g_unguarded_quarantine) shard.q.Lock();
  BlockTable::LockAll();
}

void CHeap::UnlockAllAfterFork() {
  BlockTable::UnlockAll();
  for (QuarantineShard& shard : g_unguarded_quarantine) shard.q.Unlock();
  GuardedPool::UnlockAll();
}

}  // namespace cgosan
