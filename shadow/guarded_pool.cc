// GuardedPool implementation: slots, budgets, quarantine and lookups (the system calls that
// open and close a slot are in guarded_pool_protection.cc). State changes of a slot happen
// under one SpinLock (each is followed by a system call that dwarfs the lock); fault
// explanation reads the slot array without the lock, which is safe because a slot's metadata
// is only rewritten when the slot is handed out again, long after its fault could happen.
//
// Why two schemes. The mprotect scheme (any kernel): malloc mprotects the slot's data pages
// read-write, splitting them off the PROT_NONE reservation; free maps fresh PROT_NONE pages
// over them (one call that drops the contents), which merge back. Each split and merge
// changes VMAs under the mmap lock taken for writing (threads queue behind each other), and
// a live slot costs about two kernel mappings. Guard markers (MADV_GUARD_INSTALL, Linux
// 6.13+): the pool is opened in 2 MiB chunks that are read-write but covered with markers
// (page table entries that fault, no VMA); malloc removes the markers of a slot's data
// pages, free installs them again (which drops the contents). No VMA is split or merged,
// both calls take the mmap lock for reading only, and a block costs about 5.5 us against
// 10 us with mprotect (a 6.18 VM, one page, zero-fill fault included). Markers survive
// fork; faults on them are SIGSEGV (SEGV_MAPERR), as synchronous as the others, and
// ExplainFault works by address. Init probes for markers with the first chunk.
#include "shadow/guarded_pool.h"

#include <atomic>
#include <cstring>

#include "shadow/base/internal_mmap.h"
#include "shadow/base/spin_lock.h"
#include "shadow/guarded_pool_protection.h"
#include "shadow/quarantine.h"

namespace cgosan {
namespace {

constexpr int kClasses = 7;  // 1, 2, 4 ... 64 data pages (256 KiB with 4 KiB pages)
constexpr uint32_t kNoSlot = UINT32_MAX;

enum SlotState : uint8_t { kUnused = 0, kLive = 1, kQuarantined = 2, kAvailable = 3 };

struct Slot {
  uintptr_t data;
  uint32_t data_pages;
  uint32_t next_free;
  std::atomic<uint8_t> state;
  uint8_t size_class;
  bool mprotected;  // marker mode: closed by mprotect because the markers were refused
  HeapBlock block;  // the current or last block of this slot
};

struct Pool {
  SpinLock lock;
  bool enabled = false;
  GuardedPoolConfig config;
  uintptr_t base = 0, end = 0, bump = 0;
  size_t page = 4096;
  Slot* slots = nullptr;
  uint32_t num_slots = 0, max_slots = 0;
  // page index -> slot index + 1 for the slot's data pages and its trailing guard; 0: none.
  uint32_t* page_owner = nullptr;
  uint32_t free_head[kClasses] = {};  // available slots per class, LIFO
  size_t live = 0;
  bool markers = false;    // guard-marker mode (see the top of this file)
  uintptr_t open_end = 0;  // marker mode: [base, open_end) is read-write and carved from
  Quarantine quarantine;
};

Pool g_pool;
bool g_no_markers = false;  // tests of the mprotect scheme on a kernel with markers
// Why a guarded request was first refused (for one verbosity-1 line), taken once.
std::atomic<const char*> g_fallback_reason{nullptr};
std::atomic<bool> g_fallback_said{false};

void NoteFallback(const char* reason) {
  const char* expected = nullptr;
  g_fallback_reason.compare_exchange_strong(expected, reason, std::memory_order_relaxed);
}

uint8_t CanaryByte(uintptr_t addr) { return static_cast<uint8_t>(0xa5 ^ (addr * 7)); }

size_t DataBytes(const Slot& s) { return size_t{s.data_pages} * g_pool.page; }

uint32_t OwnerOfPage(uintptr_t addr) {
  return g_pool.page_owner[(addr - g_pool.base) / g_pool.page];
}

Slot* SlotAt(uintptr_t addr) {
  if (addr < g_pool.base || addr >= g_pool.end) return nullptr;
  uint32_t owner = OwnerOfPage(addr);
  return owner ? &g_pool.slots[owner - 1] : nullptr;
}

uintptr_t DataEnd(const Slot& s) { return s.data + DataBytes(s); }

int ClassFor(size_t pages) {
  for (int k = 0; k < kClasses; ++k) {
    if ((size_t{1} << k) >= pages) return k;
  }
  return -1;
}

// Marker mode: extends the read-write part of the pool to cover [.., end), markers first so
// that no page of it is ever accessible unguarded. Under the lock: once per 2 MiB.
bool OpenChunkLocked(uintptr_t end) {
  Pool& p = g_pool;
  constexpr uintptr_t kChunk = uintptr_t{2} << 20;
  uintptr_t to = RoundUp(end, kChunk);
  if (to > p.end || to < end) to = p.end;
  if (!OpenChunk(p.open_end, to - p.open_end)) return false;
  p.open_end = to;
  return true;
}

// Takes a slot of class k for a new block, under the lock. kNoSlot when out of budget.
uint32_t TakeSlotLocked(int k) {
  Pool& p = g_pool;
  if (p.live >= p.config.max_live_slots) {
    NoteFallback("the live guarded block budget (kernel mapping limit) is spent");
    return kNoSlot;
  }
  uint32_t idx = p.free_head[k];
  if (idx != kNoSlot) {
    p.free_head[k] = p.slots[idx].next_free;
  } else {
    size_t data_pages = size_t{1} << k;
    size_t bytes = (data_pages + 1) * p.page;
    if (p.num_slots >= p.max_slots || p.bump + bytes > p.end) {
      NoteFallback("the guarded pool (guard_pool_mb) is full");
      return kNoSlot;
    }
    if (p.markers && p.bump + bytes > p.open_end && !OpenChunkLocked(p.bump + bytes)) {
      NoteFallback("guard markers could not be installed");
      return kNoSlot;
    }
    idx = p.num_slots++;
    Slot& s = p.slots[idx];
    s.data = p.bump;
    s.data_pages = static_cast<uint32_t>(data_pages);
    s.size_class = static_cast<uint8_t>(k);
    size_t first_page = (s.data - p.base) / p.page;
    for (size_t pg = 0; pg <= data_pages; ++pg) p.page_owner[first_page + pg] = idx + 1;
    p.bump += bytes;
  }
  p.slots[idx].state.store(kLive, std::memory_order_relaxed);
  ++p.live;
  return idx;
}

void ReleaseSlotLocked(uint32_t idx) {
  Slot& s = g_pool.slots[idx];
  s.state.store(kAvailable, std::memory_order_relaxed);
  s.next_free = g_pool.free_head[s.size_class];
  g_pool.free_head[s.size_class] = idx;
}

SlotProtection Scheme() {
  return g_pool.markers ? SlotProtection::kGuardMarkers : SlotProtection::kMprotect;
}

// First slack byte (between the block end and the data end) that lost its canary.
bool FindCorruptCanary(const Slot& s, uint64_t* offset) {
  uintptr_t from = s.block.base + s.block.size;
  uintptr_t to = DataEnd(s);
  for (uintptr_t a = from; a < to; ++a) {
    if (*reinterpret_cast<const uint8_t*>(a) != CanaryByte(a)) {
      *offset = a - s.block.base;
      return true;
    }
  }
  return false;
}

}  // namespace

bool GuardedPool::Init(const GuardedPoolConfig& config) {
  Pool& p = g_pool;
  p.config = config;
  p.page = PageSize();
  size_t pool_bytes = RoundDown(config.pool_bytes, p.page);
  size_t pages = pool_bytes / p.page;
  if (pages < 4) return false;
  void* base = InternalReserve(pool_bytes);
  if (!base) return false;
  p.max_slots = static_cast<uint32_t>(pages / 2);
  p.slots = static_cast<Slot*>(InternalMmap(sizeof(Slot) * p.max_slots));
  p.page_owner = static_cast<uint32_t*>(InternalMmap(sizeof(uint32_t) * pages));
  // The quarantine never needs more entries than there are slots.
  if (!p.slots || !p.page_owner || !p.quarantine.Init(config.quarantine_bytes, p.max_slots)) {
    InternalMunmap(base, pool_bytes);
    return false;
  }
  p.base = reinterpret_cast<uintptr_t>(base);
  p.end = p.base + pool_bytes;
  p.bump = p.base + p.page;  // leading guard page
  for (uint32_t& head : p.free_head) head = kNoSlot;
  p.open_end = p.base;
  p.markers = !g_no_markers && OpenChunkLocked(p.base + p.page);  // also the leading guard
  if (!p.markers) p.open_end = p.base;
  range_begin_ = p.base;
  range_bytes_ = pool_bytes;
  p.enabled = true;
  return true;
}

bool GuardedPool::Enabled() { return g_pool.enabled; }

void GuardedPool::DisableGuardMarkersForTesting() { g_no_markers = true; }

bool GuardedPool::UsesGuardMarkers() { return g_pool.markers; }

void* GuardedPool::Allocate(size_t size, size_t alignment, StackId alloc_stack, pid_t tid,
                            BlockOrigin origin) {
  Pool& p = g_pool;
  // No slot is larger than the pool; a size near SIZE_MAX must not wrap to a small footprint.
  if (!p.enabled || alignment > p.page || size > p.end - p.base) return nullptr;
  if (alignment < 16) alignment = 16;
  size_t footprint = RoundUp(size ? size : 1, alignment);
  int k = ClassFor((footprint + p.page - 1) / p.page);
  if (k < 0) return nullptr;

  uint32_t idx;
  {
    SpinLockGuard guard(p.lock);
    idx = TakeSlotLocked(k);
  }
  if (idx == kNoSlot) return nullptr;
  Slot& s = p.slots[idx];
  if (!OpenSlotPages(Scheme(), s.data, DataBytes(s), &s.mprotected)) {
    // Most likely the kernel's mapping limit: stop guarding new blocks beyond this point.
    SpinLockGuard guard(p.lock);
    --p.live;
    if (p.config.max_live_slots > p.live) p.config.max_live_slots = p.live;
    NoteFallback("mprotect failed (kernel mapping limit reached)");
    ReleaseSlotLocked(idx);
    return nullptr;
  }
  // A 0-byte block still gets a distinct address inside the slot (malloc(0) is freeable).
  uintptr_t user =
      p.config.left_aligned ? s.data : RoundDown(DataEnd(s) - (size ? size : 1), alignment);
  s.block = HeapBlock();
  s.block.base = user;
  s.block.size = size;
  s.block.alloc_stack = alloc_stack;
  s.block.alloc_tid = tid;
  s.block.alignment = static_cast<uint32_t>(alignment);
  s.block.state = BlockState::kLive;
  s.block.guarded = true;
  s.block.origin = origin;
  for (uintptr_t a = user + size; a < DataEnd(s); ++a)
    *reinterpret_cast<uint8_t*>(a) = CanaryByte(a);
  return reinterpret_cast<void*>(user);
}

PoolFreeResult GuardedPool::Free(void* ptr, StackId free_stack, pid_t tid, HeapBlock* block,
                                 uint64_t* corrupt_offset) {
  Pool& p = g_pool;
  uintptr_t addr = reinterpret_cast<uintptr_t>(ptr);
  Slot* s = SlotAt(addr);
  uint32_t idx;
  {
    SpinLockGuard guard(p.lock);
    if (!s || addr >= DataEnd(*s)) {
      if (s) *block = s->block;
      return PoolFreeResult::kInvalidFree;
    }
    *block = s->block;
    uint8_t state = s->state.load(std::memory_order_relaxed);
    if (s->block.base != addr || state == kUnused) return PoolFreeResult::kInvalidFree;
    if (state != kLive) return PoolFreeResult::kDoubleFree;
    s->state.store(kQuarantined, std::memory_order_relaxed);
    s->block.state = BlockState::kFreed;
    s->block.free_stack = free_stack;
    s->block.free_tid = tid;
    --p.live;
    idx = static_cast<uint32_t>(s - p.slots);
  }
  bool corrupt = FindCorruptCanary(*s, corrupt_offset);
  *block = s->block;
  CloseSlotPages(Scheme(), s->data, DataBytes(*s), &s->mprotected);

  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + 1];
  int n = p.quarantine.Push({idx, (size_t{s->data_pages} + 1) * p.page}, evicted);
  if (n > 0) {
    SpinLockGuard guard(p.lock);
    for (int i = 0; i < n; ++i) ReleaseSlotLocked(static_cast<uint32_t>(evicted[i].key));
  }
  return corrupt ? PoolFreeResult::kCanaryCorrupted : PoolFreeResult::kOk;
}

void GuardedPool::ForEachLive(void (*fn)(const HeapBlock& block, void* ctx), void* ctx) {
  if (!g_pool.enabled) return;
  SpinLockGuard guard(g_pool.lock);
  for (uint32_t i = 0; i < g_pool.num_slots; ++i) {
    const Slot& s = g_pool.slots[i];
    if (s.state.load(std::memory_order_relaxed) == kLive) fn(s.block, ctx);
  }
}

bool GuardedPool::FindLive(uintptr_t ptr, HeapBlock* out) {
  Slot* s = SlotAt(ptr);
  if (!s || s->state.load(std::memory_order_relaxed) != kLive || s->block.base != ptr) return false;
  *out = s->block;
  return true;
}

bool GuardedPool::FindContaining(uintptr_t addr, HeapBlock* out) {
  Slot* s = SlotAt(addr);
  if (!s || s->state.load(std::memory_order_relaxed) == kUnused || s->block.base == 0) return false;
  *out = s->block;
  return true;
}

PoolFaultInfo GuardedPool::ExplainFault(uintptr_t addr) {
  PoolFaultInfo info;
  Pool& p = g_pool;
  if (!p.enabled || !Contains(addr)) return info;
  info.kind = PoolFaultInfo::kWild;
  uintptr_t page_start = RoundDown(addr, p.page);
  Slot* owner = SlotAt(addr);
  if (owner && addr < DataEnd(*owner)) {
    // A data page faults only when the slot is not live: the block was freed.
    if (owner->state.load(std::memory_order_relaxed) != kLive && owner->block.base != 0) {
      info.kind = PoolFaultInfo::kUseAfterFree;
      info.block = owner->block;
    }
    return info;
  }
  // A guard page: it trails `owner` (if any) and precedes the slot that starts after it.
  Slot* before = owner;
  Slot* after = page_start + p.page < p.end ? SlotAt(page_start + p.page) : nullptr;
  auto usable = [](Slot* s) {
    return s && s->state.load(std::memory_order_relaxed) != kUnused && s->block.base != 0;
  };
  auto live = [&](Slot* s) {
    return usable(s) && s->state.load(std::memory_order_relaxed) == kLive;
  };
  Slot* first = p.config.left_aligned ? after : before;
  Slot* second = p.config.left_aligned ? before : after;
  Slot* pick = live(first)      ? first
               : live(second)   ? second
               : usable(first)  ? first
               : usable(second) ? second
                                : nullptr;
  if (pick) {
    info.kind = PoolFaultInfo::kOverflow;
    info.block = pick->block;
  }
  return info;
}

const char* GuardedPool::TakeFallbackReason() {
  const char* reason = g_fallback_reason.load(std::memory_order_relaxed);
  if (!reason || g_fallback_said.exchange(true, std::memory_order_relaxed)) return nullptr;
  return reason;
}

void GuardedPool::LockAll() {
  g_pool.lock.Lock();
  g_pool.quarantine.Lock();
}

void GuardedPool::UnlockAll() {
  g_pool.quarantine.Unlock();
  g_pool.lock.Unlock();
}

}  // namespace cgosan
