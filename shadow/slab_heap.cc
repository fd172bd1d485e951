// SlabHeap implementation: the reservation, the central batches and the slow paths of the
// per-thread caches (their fast paths are inline in slab_heap.h).
#include "shadow/slab_heap.h"

#include <sys/mman.h>

#include "shadow/base/internal_mmap.h"
#include "shadow/base/spin_lock.h"
#include "shadow/base/thread_exit_hook.h"

namespace cgosan {

std::atomic<size_t> slab_internal::g_carved[kClasses];
__thread slab_internal::ThreadCache slab_internal::t_cache;

namespace {

using namespace slab_internal;

constexpr unsigned kClasses = SlabHeap::kClasses;
constexpr size_t kRegionBytes = size_t{1} << SlabHeap::kRegionShift;
constexpr size_t kReservationBytes = size_t{kClasses} << SlabHeap::kRegionShift;
static_assert(kReservationBytes >> 4 <= UINT32_MAX, "slot units must fit a uint32_t");
constexpr size_t kCommitBytes = size_t{1} << 20;

static_assert(ClassOf(SlabHeap::kMaxSlotBytes) == kClasses - 1, "the last class");
static_assert(ClassBytes(kClasses - 1) == SlabHeap::kMaxSlotBytes, "the last class");
static_assert(ClassOf(257) == 17 && ClassBytes(17) == 320 && ClassOf(513) == 21, "classes");

constexpr uint32_t Moved(unsigned c) { return kLimits.limit[c] / 2; }

// A class's free slots beyond the threads' caches, in batches (the units of up to a cache's
// worth), a stack of them per arena. Batches live in cgosan's own memory, not in the free
// slots: those are cold, and a list through them cost a cache miss per slot.
//
// Arenas: a thread hands its surplus to its arena's stack and refills from it first, so
// that the slots threads use at once seldom end up side by side, sharing cache lines that
// two cores then write in turn (a free of another thread's block still mixes them, as in
// glibc).
// Fresh slots come in runs of whole cache lines (16 slots of a multiple of 16 bytes, or
// slots of a multiple of 64).
constexpr unsigned kArenas = 8;
struct Batch {
  Batch* next;
  uint32_t count;
  uint32_t units[kCacheSlots];
};
struct alignas(64) Central {
  SpinLock lock;
  Batch* batches[kArenas] = {};
  size_t committed = 0;  // bytes of the region made read-write (g_carved: handed out)
};
Central g_central[kClasses];
std::atomic<unsigned> g_next_arena{0};

unsigned ArenaOf(ThreadCache& t) {
  if (t.arena == 0) t.arena = 1 + g_next_arena.fetch_add(1, std::memory_order_relaxed) % kArenas;
  return t.arena - 1;
}
SpinLock g_reserve_lock;
bool g_reserve_tried = false;

// Empty batches, and the chunk new ones are cut from.
constexpr size_t kBatchChunkBytes = size_t{1} << 20;
SpinLock g_batch_lock;
Batch* g_spare_batches = nullptr;
char* g_batch_chunk = nullptr;
size_t g_batch_chunk_left = 0;

Batch* NewBatch() {
  SpinLockGuard guard(g_batch_lock);
  if (Batch* b = g_spare_batches) {
    g_spare_batches = b->next;
    return b;
  }
  if (g_batch_chunk_left < sizeof(Batch)) {
    g_batch_chunk = static_cast<char*>(InternalMmap(kBatchChunkBytes));
    if (!g_batch_chunk) return nullptr;
    g_batch_chunk_left = kBatchChunkBytes;
  }
  auto* b = reinterpret_cast<Batch*>(g_batch_chunk);
  g_batch_chunk += sizeof(Batch);
  g_batch_chunk_left -= sizeof(Batch);
  return b;
}

void DeleteBatch(Batch* b) {
  SpinLockGuard guard(g_batch_lock);
  b->next = g_spare_batches;
  g_spare_batches = b;
}

// Puts slots units[0..n) of class c on arena's stack. Without memory for a batch (the
// process is out of it) they are lost: never handed out twice.
void PushBatch(unsigned c, unsigned arena, const uint32_t* units, uint32_t n) {
  Batch* b = NewBatch();
  if (!b) return;
  b->count = n;
  for (uint32_t i = 0; i < n; ++i) b->units[i] = units[i];
  Central& k = g_central[c];
  SpinLockGuard guard(k.lock);
  b->next = k.batches[arena];
  k.batches[arena] = b;
}

void DrainThreadCache() {
  ThreadCache& t = t_cache;
  t.exit_armed = false;
  for (unsigned c = 0; c < kClasses; ++c) {
    ClassCache& cc = t.classes[c];
    if (cc.count > 0) PushBatch(c, ArenaOf(t), cc.slot, cc.count);
    cc.count = 0;
  }
}
ThreadExitHook g_drain_at_exit(&DrainThreadCache);

// New slots for c from its region (committing more of it), into cc; under k's lock.
bool CarveLocked(unsigned c, Central& k, ClassCache& cc) {
  size_t size = ClassBytes(c);
  size_t want = Moved(c);
  size_t fresh = g_carved[c].load(std::memory_order_relaxed);
  if (fresh + want * size > kRegionBytes) want = (kRegionBytes - fresh) / size;
  if (want == 0) return false;  // the class's region is full: glibc serves the rest
  uintptr_t region = SlabHeap::RegionOf(c);
  size_t end = fresh + want * size;
  if (end > k.committed) {
    size_t to = RoundUp(end, kCommitBytes);
    if (to > kRegionBytes) to = kRegionBytes;
    if (InternalMprotect(reinterpret_cast<void*>(region + k.committed), to - k.committed,
                         PROT_READ | PROT_WRITE) == 0) {
      k.committed = to;
    }
    if (end > k.committed) want = (k.committed - fresh) / size;
    if (want == 0) return false;
  }
  // Reversed, so that the cache hands them out in address order. Each new slot's first word
  // is written now (with the zero it holds): the first access to a page must be a write.
  // The record's seqlock reads before it writes, and a read of an untouched page maps the
  // zero page, which the write right after must replace, flushing the TLB of every CPU
  // the process runs on.
  for (size_t i = want; i-- > 0;) {
    uintptr_t slot = region + fresh + i * size;
    *reinterpret_cast<volatile uint64_t*>(slot) = 0;
    cc.slot[cc.count++] = UnitOf(reinterpret_cast<void*>(slot));
  }
  g_carved[c].store(fresh + want * size, std::memory_order_release);
  return true;
}

// cc (of class c) is empty: a batch from an arena, else fresh slots.
__attribute__((noinline)) bool Refill(unsigned c, ClassCache& cc) {
  ThreadCache& t = t_cache;
  if (!t.exit_armed) t.exit_armed = g_drain_at_exit.Arm();
  unsigned arena = ArenaOf(t);
  Central& k = g_central[c];
  Batch* b;
  {
    SpinLockGuard guard(k.lock);
    // The thread's own arena first, then the others' (a thread that only allocates must
    // get what others free), and new slots only when no arena has any.
    b = k.batches[arena];
    for (unsigned i = 1; b == nullptr && i < kArenas; ++i) {
      arena = (arena + 1) % kArenas;
      b = k.batches[arena];
    }
    if (b == nullptr) return CarveLocked(c, k, cc);
    k.batches[arena] = b->next;
  }
  for (uint32_t i = 0; i < b->count; ++i) cc.slot[cc.count++] = b->units[i];
  DeleteBatch(b);
  return true;
}

// cc (of class c) is full: its newer half goes to the thread's arena.
__attribute__((noinline)) void Drain(unsigned c, ClassCache& cc) {
  ThreadCache& t = t_cache;
  if (!t.exit_armed) t.exit_armed = g_drain_at_exit.Arm();
  uint32_t n = Moved(c);
  cc.count -= n;
  PushBatch(c, ArenaOf(t), cc.slot + cc.count, n);
}

__attribute__((noinline)) bool Reserve() {
  SpinLockGuard guard(g_reserve_lock);
  if (!g_reserve_tried) {
    g_reserve_tried = true;
    if (void* p = InternalReserve(kReservationBytes)) {
      g_base.store(reinterpret_cast<uintptr_t>(p), std::memory_order_relaxed);
      g_bytes.store(kReservationBytes, std::memory_order_release);
    }
  }
  return g_bytes.load(std::memory_order_relaxed) != 0;
}

}  // namespace

void* SlabHeap::AllocateSlow(size_t bytes) {
  if (g_bytes.load(std::memory_order_acquire) == 0 && !Reserve()) return nullptr;
  unsigned c = ClassOf(bytes);
  ClassCache& cc = t_cache.classes[c];
  if (cc.count == 0 && !Refill(c, cc)) return nullptr;
  return SlotAt(cc.slot[--cc.count]);
}

void SlabHeap::FreeSlow(unsigned c, uint32_t unit) {
  ClassCache& cc = t_cache.classes[c];
  Drain(c, cc);
  cc.slot[cc.count++] = unit;
}

void SlabHeap::LockAll() {
  g_reserve_lock.Lock();
  for (Central& k : g_central) k.lock.Lock();
  g_batch_lock.Lock();
}

void SlabHeap::UnlockAll() {
  g_batch_lock.Unlock();
  for (Central& k : g_central) k.lock.Unlock();
  g_reserve_lock.Unlock();
}

}  // namespace cgosan
