// BlockRecords implementation: the record array, its seqlocks and its id free lists.
// The array is made of chunks of kChunkIds records, mapped as ids are first handed out and
// never unmapped (so a record never moves and readers need no lock): its memory follows
// the number of blocks ever tracked at once, and it needs no large reservation that an
// address-space limit (RLIMIT_AS) would refuse.
// Free ids are cached per thread, so that malloc and free take no lock and make no atomic
// read-modify-write (each one cost as much as the rest of Acquire or Release).
#include "shadow/block_records.h"

#include <atomic>

#include "shadow/base/internal_mmap.h"
#include "shadow/base/spin_lock.h"
#include "shadow/base/thread_exit_hook.h"

namespace cgosan {
namespace {

constexpr size_t kChunkBits = 15;  // 1 MiB of records per chunk
constexpr size_t kChunkIds = size_t{1} << kChunkBits;
constexpr size_t kMaxChunks = 2048;  // 64 Mi records
constexpr size_t kMaxIds = kChunkIds * kMaxChunks;
// Free ids move between a thread's lists and the global one in whole batches of kBatch
// (magazines): a thread that frees what another allocates hands its full batches on
// instead of hoarding ids while the other maps more, and no move walks a list.
constexpr uint32_t kBatch = 64;
constexpr size_t kMaxGlobalBatches = size_t{1} << 16;

using namespace block_record;
static_assert(sizeof(Record) == BlockRecords::kInPlaceBytes, "the in-place layout");

struct Batch {  // a list of free ids linked through their records (kBatch long, but see Release)
  RecordId head;  // no initializers: a __thread variable needs a trivial type; Batch() is empty
  uint32_t count;
};

struct ThreadIds {
  Batch active;  // handed out from, released to
  Batch spare;   // empty or full
  bool exit_armed;
};

struct GlobalIds {
  Batch* full = nullptr;  // a stack of full batches, kMaxGlobalBatches long
  size_t count = 0;
};

std::atomic<Record*> g_chunks[kMaxChunks];
SpinLock g_grow_lock;  // the chunks and the global list
std::atomic<size_t> g_handed_out{1};  // ids below it were handed out once (0 is never)
size_t g_mapped_ids = 0;

// Only for ids below g_handed_out (their chunk was published before them).
Record& RecordOf(RecordId id) {
  return g_chunks[id >> kChunkBits].load(std::memory_order_relaxed)[id & (kChunkIds - 1)];
}
GlobalIds g_global;
// initial-exec: the preload is loaded at startup (its TLS is static), and an access must
// never call __tls_get_addr, which may allocate.
__thread ThreadIds t_ids __attribute__((tls_model("initial-exec")));

// The free-list link, kept in an empty record's alloc_stack.
RecordId NextOf(const Record& r) { return r.alloc_stack.load(std::memory_order_relaxed); }
void SetNext(Record& r, RecordId next) { r.alloc_stack.store(next, std::memory_order_relaxed); }

// Under g_grow_lock: a batch of kBatch never-used ids (mapping a chunk as needed).
bool TakeFreshLocked(Batch* batch) {
  size_t first = g_handed_out.load(std::memory_order_relaxed);
  if (first + kBatch > kMaxIds) return false;
  if (first + kBatch > g_mapped_ids) {  // kBatch divides kChunkIds: a batch is in one chunk
    auto* chunk = static_cast<Record*>(InternalMmap(kChunkIds * sizeof(Record)));
    if (!chunk) return false;
    g_chunks[g_mapped_ids >> kChunkBits].store(chunk, std::memory_order_release);
    g_mapped_ids += kChunkIds;
  }
  for (size_t id = first; id < first + kBatch; ++id) {
    SetNext(RecordOf(static_cast<RecordId>(id)),
            static_cast<RecordId>(id + 1 < first + kBatch ? id + 1 : 0));
  }
  *batch = Batch{static_cast<RecordId>(first), kBatch};
  g_handed_out.store(first + kBatch, std::memory_order_release);
  return true;
}

// Under g_grow_lock.
bool PushFullLocked(const Batch& batch) {
  if (!g_global.full) {
    g_global.full = static_cast<Batch*>(InternalMmap(kMaxGlobalBatches * sizeof(Batch)));
  }
  if (!g_global.full || g_global.count == kMaxGlobalBatches) return false;
  g_global.full[g_global.count++] = batch;
  return true;
}

HeapBlock Unpack(uintptr_t record, const Record& r, uint64_t bits) {
  HeapBlock b;
  b.base = r.base.load(std::memory_order_relaxed);
  b.size = bits & kSizeMask;
  b.alignment = AlignmentOf(bits);
  b.state = StateOf(bits) == RecordState::kFreed ? BlockState::kFreed : BlockState::kLive;
  b.origin = static_cast<BlockOrigin>((bits >> kOriginShift) & 7);
  b.alloc_stack = r.alloc_stack.load(std::memory_order_relaxed);
  b.free_stack = r.free_stack.load(std::memory_order_relaxed);
  b.alloc_tid = r.alloc_tid.load(std::memory_order_relaxed);
  b.free_tid = r.free_tid.load(std::memory_order_relaxed);
  b.record = record;
  return b;
}

size_t HandedOut() { return g_handed_out.load(std::memory_order_acquire); }

// At the exit of a thread: its ids go to the global stack (those that find no room there
// are lost: a thread's cache at most).
void ReturnThreadIds() {
  ThreadIds& t = t_ids;
  t.exit_armed = false;
  SpinLockGuard grow(g_grow_lock);
  if (t.active.count > 0) PushFullLocked(t.active);
  if (t.spare.count > 0) PushFullLocked(t.spare);
  t.active = Batch();
  t.spare = Batch();
}
ThreadExitHook g_return_thread_ids(&ReturnThreadIds);

// The thread's active list is empty: its spare, or a batch from the global stack, or fresh.
__attribute__((noinline, cold)) bool RefillThreadIds(ThreadIds& t) {
  if (!t.exit_armed) t.exit_armed = g_return_thread_ids.Arm();
  if (t.spare.count > 0) {
    t.active = t.spare;
    t.spare = Batch();
    return true;
  }
  SpinLockGuard grow(g_grow_lock);
  if (g_global.count > 0) {
    t.active = g_global.full[--g_global.count];
    return true;
  }
  return TakeFreshLocked(&t.active);
}

// The thread's active list is full: it becomes the spare, a full spare goes to the global
// stack (or, when that is full, stays and the active list grows: ids are never lost).
__attribute__((noinline, cold)) void SpillThreadIds(ThreadIds& t) {
  bool moved = t.spare.count == 0;
  if (!moved) {
    SpinLockGuard grow(g_grow_lock);
    moved = PushFullLocked(t.spare);
  }
  if (moved) {
    t.spare = t.active;
    t.active = Batch();
  }
}

}  // namespace

RecordId BlockRecords::Acquire() {
  ThreadIds& t = t_ids;
  if (t.active.count == 0 && !RefillThreadIds(t)) return 0;
  RecordId id = t.active.head;
  t.active.head = NextOf(RecordOf(id));
  --t.active.count;
  SetNext(RecordOf(id), 0);
  return id;
}

void BlockRecords::Prefetch(RecordId id) {
  if (id != 0 && id < HandedOut()) __builtin_prefetch(&RecordOf(id), 1);
}

uintptr_t BlockRecords::Release(RecordId id, uint32_t* alignment) {
  Record& r = RecordOf(id);
  uintptr_t base = r.base.load(std::memory_order_relaxed);
  if (base == 0) return 0;  // released already: the id is on a list once
  *alignment = AlignmentOf(r.bits.load(std::memory_order_relaxed));
  Write(r, 0, [](Record& rec) {
    rec.base.store(0, std::memory_order_relaxed);
    rec.free_stack.store(0, std::memory_order_relaxed);
  });
  ThreadIds& t = t_ids;
  if (__builtin_expect(!t.exit_armed, 0)) t.exit_armed = g_return_thread_ids.Arm();
  if (t.active.count >= kBatch) SpillThreadIds(t);
  SetNext(r, t.active.head);
  t.active.head = id;
  ++t.active.count;
  return base;
}

void BlockRecords::Set(RecordId id, const HeapBlock& b, RecordState state) {
  uint64_t align_code = b.alignment ? 64 - __builtin_clzll(b.alignment) : 0;  // log2 + 1
  uint64_t fields = (b.size & kSizeMask) | align_code << kAlignShift |
                    StateBits(state) | OriginBits(b.origin);
  Write(RecordOf(id), fields, [&b](Record& r) {
    r.base.store(b.base, std::memory_order_relaxed);
    r.alloc_stack.store(b.alloc_stack, std::memory_order_relaxed);
    r.free_stack.store(b.free_stack, std::memory_order_relaxed);
    r.alloc_tid.store(b.alloc_tid, std::memory_order_relaxed);
    r.free_tid.store(b.free_tid, std::memory_order_relaxed);
  });
}

namespace {

bool ReadRecord(const Record& r, uintptr_t record, HeapBlock* out, RecordState* state) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    uint64_t before = r.bits.load(std::memory_order_acquire);
    if (before & kBusy) continue;
    HeapBlock b = Unpack(record, r, before);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (r.bits.load(std::memory_order_relaxed) != before) continue;
    *state = StateOf(before);
    if (*state == RecordState::kEmpty || b.base == 0) return false;
    *out = b;
    return true;
  }
  return false;
}

}  // namespace

RecordState BlockRecords::MarkFreed(RecordId id, uintptr_t base, StackId free_stack,
                                    pid_t free_tid, uint64_t* size, uint32_t* alignment) {
  if (id == 0 || id >= HandedOut()) return RecordState::kEmpty;
  return block_record::MarkFreed(RecordOf(id), base, free_stack, free_tid, size, alignment);
}

bool BlockRecords::Read(RecordId id, HeapBlock* out, RecordState* state) {
  if (id == 0 || id >= HandedOut()) return false;
  return ReadRecord(RecordOf(id), id, out, state);
}

bool BlockRecords::ReadAt(uintptr_t at, HeapBlock* out, RecordState* state) {
  return ReadRecord(RecordAt(at), at, out, state);
}

void BlockRecords::SetStateAt(uintptr_t at, RecordState state) {
  Record& r = RecordAt(at);
  uint64_t bits = r.bits.load(std::memory_order_relaxed);
  Write(r, WithState(bits, state), [](Record&) {});
}

bool BlockRecords::ForEachLiveStep(size_t* cursor, size_t max_ids, Visitor fn, void* ctx) {
  size_t end = HandedOut();
  if (*cursor == 0) *cursor = 1;
  size_t stop = *cursor + max_ids < end ? *cursor + max_ids : end;
  for (size_t id = *cursor; id < stop; ++id) {
    HeapBlock b;
    RecordState state;
    if (Read(static_cast<RecordId>(id), &b, &state) && state == RecordState::kLive) fn(b, ctx);
  }
  *cursor = stop;
  return stop < end;
}

void BlockRecords::ForEachLive(Visitor fn, void* ctx) {
  size_t cursor = 0;
  while (ForEachLiveStep(&cursor, kChunkIds, fn, ctx)) {
  }
}

bool BlockRecords::FindContaining(uintptr_t addr, HeapBlock* out) {
  bool found = false;
  size_t end = HandedOut();
  for (size_t id = 1; id < end; ++id) {
    HeapBlock b;
    RecordState state;
    if (!Read(static_cast<RecordId>(id), &b, &state) || !b.Contains(addr)) continue;
    // Prefer a live block over a freed record of an overlapping, since-reused range.
    if (!found || (b.state == BlockState::kLive && out->state != BlockState::kLive)) {
      *out = b;
      found = true;
    }
  }
  return found;
}

size_t BlockRecords::IdsHandedOut() { return HandedOut() - 1; }

void BlockRecords::AdoptAllLive() {
  size_t end = HandedOut();
  for (size_t id = 1; id < end; ++id) {
    Record& r = RecordOf(id);
    uint64_t bits = r.bits.load(std::memory_order_relaxed);
    if (StateOf(bits) != RecordState::kLive) continue;
    Write(r, WithState(bits, RecordState::kAdopted), [](Record&) {});
  }
}

void BlockRecords::LockAll() { g_grow_lock.Lock(); }

void BlockRecords::UnlockAll() { g_grow_lock.Unlock(); }

}  // namespace cgosan
