// CHeap implementation: routes blocks between the guarded pool, the slab heap and glibc's
// allocator (glibc's __libc_* entry points: the real allocator, which never calls back into
// ours). An unguarded tracked block is a slab block (slab_blocks.h) when it fits one, else
// glibc's block of header + size bytes; the user pointer follows the header (or, for an
// alignment above 16, starts `alignment` bytes in). The quarantine's keys are the blocks'
// records: a slab block's record address, or a record id.
#include "shadow/c_heap.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include "shadow/base/thread_exit_hook.h"
#include "shadow/block_header.h"
#include "shadow/block_records.h"
#include "shadow/guarded_pool.h"
#include "shadow/options.h"
#include "shadow/quarantine.h"
#include "shadow/slab_blocks.h"

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* p);
}

namespace cgosan {
namespace {

// Freed unguarded blocks (their records), one FIFO per group of threads (by tid) so that
// threads freeing at once do not contend on one lock; each holds its share of the budget.
constexpr int kQuarantineShards = 8;
constexpr size_t kUnguardedQuarantineEntries = size_t{1} << 16;
struct alignas(64) QuarantineShard {
  Quarantine q;
};
QuarantineShard g_unguarded_quarantine[kQuarantineShards];

}  // namespace

bool c_heap_internal::g_unguarded_quarantine_on = false;
int c_heap_internal::g_fill_byte = -1;
size_t c_heap_internal::g_fill_limit = 0;
alignas(16) unsigned char c_heap_internal::g_fill_pattern[16];
__thread c_heap_internal::PendingFrees c_heap_internal::t_pending;

namespace {

using namespace c_heap_internal;

// test_fail_malloc_after (testing only): the real allocator runs out after N blocks. Asked
// once per block that needs memory from the slab or glibc, before either is tried.
bool InjectedFailure() {
  static std::atomic<int64_t> allocations{0};
  int64_t after = GetOptions().test_fail_malloc_after;
  if (after <= 0 || allocations.fetch_add(1, std::memory_order_relaxed) < after) return false;
  errno = ENOMEM;
  return true;
}

void* GlibcAllocate(size_t size, size_t alignment, bool zero) {
  if (alignment <= 16)
    return zero ? __libc_calloc(1, size ? size : 1) : __libc_malloc(size ? size : 1);
  void* p = __libc_memalign(alignment, size ? size : 1);
  if (p && zero) memset(p, 0, size);
  return p;
}

// Where the user pointer lies in glibc's block: room for the header, alignment kept.
size_t HeaderOffset(size_t alignment) { return alignment <= 16 ? kHeaderBytes : alignment; }

// The unguarded block whose user pointer is exactly ptr, with its record's state.
bool Lookup(uintptr_t ptr, HeapBlock* out, RecordState* state) {
  if (SlabBlocks::Contains(ptr)) return SlabBlocks::Lookup(ptr, out, state);
  RecordId id;
  return ReadHeader(ptr, &id) && BlockRecords::Read(id, out, state) &&
         out->base == ptr;
}

// A consistent copy of an unguarded block's record (a HeapBlock's `record`: a slab block's
// record address, or an id).
bool ReadUnguarded(uintptr_t record, HeapBlock* out, RecordState* state) {
  if (SlabBlocks::Contains(record)) return SlabBlocks::Read(record, out, state);
  return BlockRecords::Read(static_cast<RecordId>(record), out, state);
}

// Returns a block that left the quarantine (or was never held) to the slab or to glibc.
// key: the block's record (an id, or a slab block's record address).
void ReleaseUnguarded(uintptr_t key) {
  if (SlabBlocks::Contains(key)) return SlabBlocks::Release(key);
  uint32_t alignment;
  uintptr_t base = BlockRecords::Release(static_cast<RecordId>(key), &alignment);
  if (base != 0) __libc_free(reinterpret_cast<void*>(base - HeaderOffset(alignment)));
}

// The same for many blocks. A slab block's release touches no memory of the block; for
// the others three passes, so that their cache misses overlap: the records, then glibc's
// chunk headers (which its free reads and writes), then the frees.
void ReleaseUnguarded(const Quarantine::Entry* entries, int n) {
  RecordId ids[Quarantine::kMaxEvictPerPush + kPendingFrees];
  int k = 0;
  for (int i = 0; i < n; ++i) {
    if (SlabBlocks::Contains(entries[i].key)) {
      SlabBlocks::Release(entries[i].key);
    } else {
      ids[k] = static_cast<RecordId>(entries[i].key);
      BlockRecords::Prefetch(ids[k++]);
    }
  }
  void* blocks[Quarantine::kMaxEvictPerPush + kPendingFrees];
  int m = 0;
  for (int i = 0; i < k; ++i) {
    uint32_t alignment;
    uintptr_t base = BlockRecords::Release(ids[i], &alignment);
    if (base == 0) continue;
    blocks[m] = reinterpret_cast<void*>(base - HeaderOffset(alignment));
    __builtin_prefetch(static_cast<char*>(blocks[m]) - 16, 1);
    ++m;
  }
  for (int i = 0; i < m; ++i) __libc_free(blocks[i]);
}

void PushPendingFreesAtExit() {
  PendingFrees& p = t_pending;
  p.exit_armed = false;
  if (p.count > 0) PushPendingFrees(p);
}
ThreadExitHook g_push_pending_frees(&PushPendingFreesAtExit);

}  // namespace

void c_heap_internal::PushPendingFrees(PendingFrees& p) {
  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + kPendingFrees];
  int n = g_unguarded_quarantine[p.shard % kQuarantineShards].q.Push(p.entries, p.count, evicted);
  p.count = 0;
  ReleaseUnguarded(evicted, n);
}

void c_heap_internal::QuarantineFirstFreed(uintptr_t key, uint64_t bytes, pid_t tid) {
  if (!g_unguarded_quarantine_on) return ReleaseUnguarded(key);
  PendingFrees& p = t_pending;
  p.shard = static_cast<unsigned>(tid);
  if (!p.exit_armed) p.exit_armed = g_push_pending_frees.Arm();
  p.entries[p.count++] = {key, bytes};
}

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
  g_unguarded_quarantine_on = config.unguarded_quarantine_bytes >= kQuarantineShards;
  g_fill_byte = config.fill_byte;
  memset(g_fill_pattern, config.fill_byte, sizeof g_fill_pattern);
  g_fill_limit = kFillLimit;
}

void* CHeap::Allocate(size_t size, size_t alignment, bool zero, bool guard, StackId stack,
                      pid_t tid, BlockOrigin origin) {
  if (guard && GuardedPool::Enabled()) {
    void* p = GuardedPool::Allocate(size, alignment, stack, tid, origin);
    if (p) {
      ZeroOrFill(p, size, zero);
      return p;
    }
  }
  size_t offset = HeaderOffset(alignment);
  if (SlabBlocks::Fits(size, alignment)) {
    if (__builtin_expect(InjectedFailure(), 0)) return nullptr;
    if (void* p = AllocateSlab(size, zero, stack, tid, origin)) return p;
    // The slab could not: glibc's block instead, for the same (already counted) request.
  } else {
    if (size > SIZE_MAX - offset) {
      errno = ENOMEM;
      return nullptr;
    }
    if (__builtin_expect(InjectedFailure(), 0)) return nullptr;
  }
  void* glibc_block = GlibcAllocate(size + offset, alignment, zero);
  if (!glibc_block) return nullptr;
  RecordId id = BlockRecords::Acquire();
  if (id == 0) {
    // Out of records: an untracked block's free would look invalid, so the allocation
    // fails instead, as it soon would without cgosan.
    __libc_free(glibc_block);
    errno = ENOMEM;
    return nullptr;
  }
  uintptr_t user = reinterpret_cast<uintptr_t>(glibc_block) + offset;
  WriteHeader(user, id);
  HeapBlock b;
  b.base = user;
  b.size = size;
  b.alloc_stack = stack;
  b.alloc_tid = tid;
  b.alignment = static_cast<uint32_t>(alignment);
  b.origin = origin;
  BlockRecords::Set(id, b, RecordState::kLive);
  void* p = reinterpret_cast<void*>(user);
  if (!zero) Fill(p, size);
  return p;
}

void* CHeap::AllocateUntracked(size_t size, size_t alignment, bool zero) {
  if (__builtin_expect(InjectedFailure(), 0)) return nullptr;
  return GlibcAllocate(size, alignment, zero);
}


void CHeap::ReleaseUnguardedRecords() {
  PendingFrees& p = t_pending;
  ReleaseUnguarded(p.entries, p.count);
  p.count = 0;
  for (QuarantineShard& shard : g_unguarded_quarantine) {
    Quarantine::Entry e;
    while (shard.q.PopOldest(&e)) ReleaseUnguarded(e.key);
  }
  BlockRecords::AdoptAllLive();
  SlabBlocks::AdoptAllLive();
}

bool CHeap::HasRecord(uintptr_t ptr) {
  HeapBlock b;
  RecordState state;
  return Lookup(ptr, &b, &state);
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
  if (FreeUnguarded(addr, stack, tid)) return FreeVerdict::kOk;
  RecordState state;
  if (!Lookup(addr, block, &state)) {
    *block_known = SlabBlocks::Contains(addr) ? SlabBlocks::FindContaining(addr, block)
                                              : BlockRecords::FindContaining(addr, block);
    return FreeVerdict::kInvalidFree;
  }
  *block_known = true;
  return state == RecordState::kFreed ? FreeVerdict::kDoubleFree : FreeVerdict::kInvalidFree;
}

bool CHeap::FreeWithHeader(uintptr_t ptr, StackId stack, pid_t tid) {
  // Without a copy of the record: the header names it, the record agrees.
  RecordId id;
  if (!ReadHeader(ptr, &id)) return false;
  uint64_t size;
  uint32_t alignment;
  switch (BlockRecords::MarkFreed(id, ptr, stack, tid, &size, &alignment)) {
    case RecordState::kLive:
      QuarantineFreed(id, size + HeaderOffset(alignment), tid);
      return true;
    case RecordState::kAdopted:  // made before attach, no longer tracked: no quarantine
      ReleaseUnguarded(id);
      return true;
    default:
      return false;
  }
}

bool CHeap::FindLive(uintptr_t ptr, HeapBlock* out) {
  if (GuardedPool::Contains(ptr)) return GuardedPool::FindLive(ptr, out);
  RecordState state;
  return Lookup(ptr, out, &state) && state != RecordState::kFreed;
}

bool CHeap::StillLive(const HeapBlock& seen) {
  HeapBlock now;
  RecordState state = RecordState::kLive;
  bool live = seen.guarded ? GuardedPool::FindLive(seen.base, &now)
                           : ReadUnguarded(seen.record, &now, &state);
  return live && state == RecordState::kLive && now.base == seen.base &&
         now.size == seen.size && now.alloc_stack == seen.alloc_stack &&
         now.alloc_tid == seen.alloc_tid && now.origin == seen.origin;
}

void CHeap::ForEachLive(void (*fn)(const HeapBlock& block, void* ctx), void* ctx) {
  GuardedPool::ForEachLive(fn, ctx);
  BlockRecords::ForEachLive(fn, ctx);
  SlabBlocks::ForEachLive(fn, ctx);
}

bool CHeap::ForEachLiveUnguardedStep(size_t* cursor, size_t max_blocks,
                                     void (*fn)(const HeapBlock& block, void* ctx), void* ctx) {
  constexpr size_t kSlabPhase = size_t{1} << 63;  // the records' ids first, then the slots
  if (!(*cursor & kSlabPhase)) {
    if (!BlockRecords::ForEachLiveStep(cursor, max_blocks, fn, ctx)) *cursor = kSlabPhase;
    return true;
  }
  size_t slab_cursor = *cursor & ~kSlabPhase;
  bool more = SlabBlocks::ForEachLiveStep(&slab_cursor, max_blocks, fn, ctx);
  *cursor = slab_cursor | kSlabPhase;
  return more;
}

void CHeap::LockAllForFork() {
  GuardedPool::LockAll();
  SlabHeap::LockAll();
  for (QuarantineShard& shard : g_unguarded_quarantine) shard.q.Lock();
  BlockRecords::LockAll();
}

void CHeap::UnlockAllAfterFork() {
  BlockRecords::UnlockAll();
  for (QuarantineShard& shard : g_unguarded_quarantine) shard.q.Unlock();
  SlabHeap::UnlockAll();
  GuardedPool::UnlockAll();
}

}  // namespace cgosan
