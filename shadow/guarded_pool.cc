// GuardedPool implementation. State changes of a slot happen under one SpinLock (they are
// each followed by a system call that dwarfs the lock); fault explanation
// reads the slot array without the lock, which is safe because a slot's metadata is only
// rewritten when the slot is handed out again, long after its fault could happen.
//
// Guard markers: on kernels with MADV_GUARD_INSTALL (Linux 6.13), the pool is opened in
// 2 MiB chunks that are read-write but covered with guard markers (page table entries that
// fault, no VMA); malloc removes the markers of a slot's data pages and free installs them
// again (which drops the contents). No VMA is ever split or merged, both calls take the
// mmap lock for reading only (threads do not queue behind each other), and a block costs
// about 5.5 us against 10 us for the mprotect scheme below (measured on a 6.18 VM, one
// page, zero-fill fault included). Guard markers survive fork. Faults on them are SIGSEGV
// (SEGV_MAPERR), as synchronous as the others, and ExplainFault works by address.
//
// Otherwise, why slots are pinned: measured on a 6.18 VM, an mprotect that splits the big
// PROT_NONE reservation (malloc) and the one that merges it back (free) cost about 4 us,
// more than the protection changes themselves. When a slot is reused, its data pages are
// marked MADV_NOHUGEPAGE (no effect on slots of at most 256 KiB, which never hold a huge
// page), so they never merge with the guards around them: its later mprotects change one
// VMA in place. A slot is pinned at its first reuse, not when carved: the madvise costs
// about 1.5 us, which only a slot that comes back pays off (a short program may never reuse
// a slot). Unpinned slots behave as before: split at malloc, merged back at free.
#include "shadow/guarded_pool.h"

#include <errno.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>

#include "shadow/base/internal_mmap.h"
#include "shadow/base/spin_lock.h"
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
  bool pinned;    // its data pages are a VMA of their own (see the top of this file)
  bool resident;  // not live and its pages were kept (counted in Pool::resident_bytes)
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
  // Available slots per class, LIFO; [1]: slots whose pages are still populated, taken first
  // (no zero-fill fault), [0]: discarded ones.
  uint32_t free_head[kClasses][2] = {};
  size_t live = 0;
  // Kernel mappings are counted in units of about two VMAs: a pinned slot holds its unit for
  // good, an unpinned one while it is live. units() <= config.max_live_slots.
  size_t pinned = 0, live_unpinned = 0;
  bool can_pin = false;
  bool markers = false;  // guard-marker mode (see the top of this file)
  uintptr_t open_end = 0;  // marker mode: [base, open_end) is read-write and carved from
  // Pinned slots freed, newest on top (stale entries skipped): when units run out, the
  // newest freed pinned slot, the one furthest from reuse, gives its unit up.
  uint32_t* freed_pinned = nullptr;
  size_t freed_pinned_top = 0, freed_pinned_count = 0;
  uint64_t resident_bytes = 0;  // data bytes of non-live slots whose pages were kept
  Quarantine quarantine;
};

Pool g_pool;
bool g_no_markers = false;  // tests of the mprotect scheme on a kernel with markers
// Linux 6.13 <linux/mman.h>; older headers lack them, older kernels refuse them (EINVAL).
constexpr int kMadvGuardInstall = 102;
constexpr int kMadvGuardRemove = 103;
// Why a guarded request was first refused (for one verbosity-1 line), taken once.
std::atomic<const char*> g_fallback_reason{nullptr};
std::atomic<bool> g_fallback_said{false};

void NoteFallback(const char* reason) {
  const char* expected = nullptr;
  g_fallback_reason.compare_exchange_strong(expected, reason, std::memory_order_relaxed);
}

uint8_t CanaryByte(uintptr_t addr) { return static_cast<uint8_t>(0xa5 ^ (addr * 7)); }

size_t Units() { return g_pool.pinned + g_pool.live_unpinned; }

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

void PushFreedPinnedLocked(uint32_t idx) {
  Pool& p = g_pool;
  p.freed_pinned[p.freed_pinned_top] = idx;
  p.freed_pinned_top = (p.freed_pinned_top + 1) % p.max_slots;
  if (p.freed_pinned_count < p.max_slots) ++p.freed_pinned_count;  // else the oldest is lost
}

// Unpins a non-live pinned slot so that its unit can be taken; false when none is left.
// Rare (pinned slots hold at most half the units), so its system call runs under the lock,
// where nobody can take the slot meanwhile: a fresh mapping has the reservation's flags and
// no anon_vma (which could keep it from merging), and merges with its guards.
bool UnpinVictimLocked() {
  Pool& p = g_pool;
  while (p.freed_pinned_count > 0) {
    p.freed_pinned_top = (p.freed_pinned_top + p.max_slots - 1) % p.max_slots;
    --p.freed_pinned_count;
    Slot& s = p.slots[p.freed_pinned[p.freed_pinned_top]];
    if (!s.pinned || s.state.load(std::memory_order_relaxed) == kLive) continue;
    if (!InternalMapFixed(reinterpret_cast<void*>(s.data), DataBytes(s), PROT_NONE)) continue;
    s.pinned = false;
    --p.pinned;
    if (s.resident) {
      s.resident = false;
      p.resident_bytes -= DataBytes(s);
    }
    return true;
  }
  return false;
}

// Marker mode: extends the read-write part of the pool to cover [.., end), markers first so
// that no page of it is ever accessible unguarded. Under the lock: once per 2 MiB.
bool OpenChunkLocked(uintptr_t end) {
  Pool& p = g_pool;
  constexpr uintptr_t kChunk = uintptr_t{2} << 20;
  uintptr_t to = RoundUp(end, kChunk);
  if (to > p.end || to < end) to = p.end;
  void* from = reinterpret_cast<void*>(p.open_end);
  size_t len = to - p.open_end;
  if (InternalMadvise(from, len, kMadvGuardInstall) != 0) return false;
  if (InternalMprotect(from, len, PROT_READ | PROT_WRITE) != 0) {
    // Markers left on PROT_NONE pages would fault on every block the mprotect scheme puts
    // there, if this was the probe at Init.
    InternalMadvise(from, len, kMadvGuardRemove);
    return false;
  }
  p.open_end = to;
  return true;
}

// Takes a slot of class k for a new block, under the lock. kNoSlot when out of budget.
// *pin_now: the slot was pinned for this block (its pages must be mapped anew).
uint32_t TakeSlotLocked(int k, bool* pin_now) {
  Pool& p = g_pool;
  *pin_now = false;
  size_t max = p.config.max_live_slots;
  if (p.live >= max) {
    NoteFallback("the live guarded block budget (kernel mapping limit) is spent");
    return kNoSlot;
  }
  // A pinned slot already holds its unit; an unpinned or a new one needs one.
  auto unit_for = [&](bool pinned) {
    return pinned || Units() < max || UnpinVictimLocked();
  };
  uint32_t idx = kNoSlot;
  for (int populated = 1; populated >= 0 && idx == kNoSlot; --populated) {
    uint32_t head = p.free_head[k][populated];
    if (head == kNoSlot || !unit_for(p.slots[head].pinned)) continue;
    idx = head;
    p.free_head[k][populated] = p.slots[idx].next_free;
    // Reused, so worth pinning: its unit, taken while live, becomes a permanent one. Pinned
    // slots hold at most half the units, so that live blocks seldom need a victim.
    Slot& s = p.slots[idx];
    if (!s.pinned && p.can_pin && p.pinned < max / 2) {
      s.pinned = true;
      ++p.pinned;
      *pin_now = true;
    }
  }
  if (idx == kNoSlot) {
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
    if (!unit_for(false)) {
      NoteFallback("the live guarded block budget (kernel mapping limit) is spent");
      return kNoSlot;
    }
    idx = p.num_slots++;
    Slot& s = p.slots[idx];
    s.data = p.bump;
    s.data_pages = static_cast<uint32_t>(data_pages);
    s.size_class = static_cast<uint8_t>(k);
    s.pinned = false;
    size_t first_page = (s.data - p.base) / p.page;
    for (size_t pg = 0; pg <= data_pages; ++pg) p.page_owner[first_page + pg] = idx + 1;
    p.bump += bytes;
  }
  Slot& s = p.slots[idx];
  if (s.resident) {
    s.resident = false;
    p.resident_bytes -= DataBytes(s);
  }
  if (!s.pinned) ++p.live_unpinned;
  s.state.store(kLive, std::memory_order_relaxed);
  ++p.live;
  return idx;
}

void ReleaseSlotLocked(uint32_t idx) {
  Slot& s = g_pool.slots[idx];
  s.state.store(kAvailable, std::memory_order_relaxed);
  uint32_t& head = g_pool.free_head[s.size_class][s.resident ? 1 : 0];
  s.next_free = head;
  head = idx;
}

// Makes a taken slot's data pages read-write; false when the kernel refused. *pinned_ok:
// false if the slot was to be pinned and could not be (it is then live and unpinned).
bool OpenSlot(Slot& s, bool pin_now, bool* pinned_ok) {
  void* data = reinterpret_cast<void*>(s.data);
  *pinned_ok = true;
  if (g_pool.markers && s.mprotected) {
    s.mprotected = false;
    return InternalMprotect(data, DataBytes(s), PROT_READ | PROT_WRITE) == 0;
  }
  if (g_pool.markers) return InternalMadvise(data, DataBytes(s), kMadvGuardRemove) == 0;
  if (InternalMprotect(data, DataBytes(s), PROT_READ | PROT_WRITE) != 0) return false;
  // The split VMA gets a flag the guards do not have: it never merges with them again.
  if (pin_now) *pinned_ok = InternalMadvise(data, DataBytes(s), MADV_NOHUGEPAGE) == 0;
  return true;
}

// Makes a freed slot's data pages PROT_NONE; keep: their contents stay populated.
void CloseSlot(Slot& s, bool keep) {
  void* data = reinterpret_cast<void*>(s.data);
  if (g_pool.markers) {
    int r;
    do {  // the kernel may give up (EINTR, EAGAIN) rather than wait: try again
      r = InternalMadvise(data, DataBytes(s), kMadvGuardInstall);
    } while (r == -EINTR || r == -EAGAIN);
    if (r != 0) {  // never leave a freed slot accessible
      InternalMprotect(data, DataBytes(s), PROT_NONE);
      InternalMadvise(data, DataBytes(s), MADV_DONTNEED);
      s.mprotected = true;
    }
    return;
  }
  if (!s.pinned) {
    // One call: fresh pages, with the reservation's flags and no anon_vma, so the range
    // merges back with the guards around it (an mprotect could leave it apart).
    InternalMapFixed(data, DataBytes(s), PROT_NONE);
    return;
  }
  // PROT_NONE first, so that no access between the two calls goes unnoticed. A fresh
  // mapping would lose the pinned flag (and measured slower than these two).
  InternalMprotect(data, DataBytes(s), PROT_NONE);
  if (!keep) InternalMadvise(data, DataBytes(s), MADV_DONTNEED);
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
  p.freed_pinned = static_cast<uint32_t*>(InternalMmap(sizeof(uint32_t) * p.max_slots));
  // The quarantine never needs more entries than there are slots.
  if (!p.slots || !p.page_owner || !p.freed_pinned ||
      !p.quarantine.Init(config.quarantine_bytes, p.max_slots)) {
    InternalMunmap(base, pool_bytes);
    return false;
  }
  p.base = reinterpret_cast<uintptr_t>(base);
  p.end = p.base + pool_bytes;
  p.bump = p.base + p.page;  // leading guard page
  for (auto& heads : p.free_head) heads[0] = heads[1] = kNoSlot;
  p.open_end = p.base;
  p.markers = !g_no_markers && OpenChunkLocked(p.base + p.page);  // also the leading guard
  if (!p.markers) p.open_end = p.base;
  // Pinned data pages are MADV_NOHUGEPAGE, guards and unpinned slots are not, so they never
  // merge. Without transparent huge pages in the kernel the advice fails: nothing is pinned.
  // Probed on the page table of the pool, where it is harmless (a whole mapping: no split).
  p.can_pin =
      !p.markers && InternalMadvise(p.page_owner, sizeof(uint32_t) * pages, MADV_NOHUGEPAGE) == 0;
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
  bool pin_now;
  {
    SpinLockGuard guard(p.lock);
    idx = TakeSlotLocked(k, &pin_now);
  }
  if (idx == kNoSlot) return nullptr;
  Slot& s = p.slots[idx];
  bool pinned_ok;
  if (!OpenSlot(s, pin_now, &pinned_ok)) {
    // Most likely the kernel's mapping limit: stop guarding new blocks beyond this point.
    SpinLockGuard guard(p.lock);
    --p.live;
    if (s.pinned) {
      if (pin_now) {  // it never got its own mapping: an unpinned slot from now on
        s.pinned = false;
        --p.pinned;
      }
    } else {
      --p.live_unpinned;
    }
    if (p.config.max_live_slots > Units()) p.config.max_live_slots = Units();
    NoteFallback("mprotect failed (kernel mapping limit reached)");
    ReleaseSlotLocked(idx);
    return nullptr;
  }
  if (!pinned_ok) {
    SpinLockGuard guard(p.lock);
    s.pinned = false;
    --p.pinned;
    ++p.live_unpinned;
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
  bool keep;
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
    if (!s->pinned) --p.live_unpinned;
    // Only pinned one-page slots keep their pages: a block of up to a page is overwritten
    // whole by the fill of CHeap::Allocate when the slot is reused, so no stale bytes reach
    // an audit; an unpinned slot's free is a fresh mapping (see CloseSlot).
    keep = s->pinned && s->data_pages == 1 &&
           p.resident_bytes + DataBytes(*s) <= p.config.resident_bytes;
    if (keep) {
      s->resident = true;
      p.resident_bytes += DataBytes(*s);
    }
    idx = static_cast<uint32_t>(s - p.slots);
  }
  bool corrupt = FindCorruptCanary(*s, corrupt_offset);
  *block = s->block;
  CloseSlot(*s, keep);

  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + 1];
  int n = p.quarantine.Push({idx, (size_t{s->data_pages} + 1) * p.page}, evicted);
  if (n > 0 || s->pinned) {
    SpinLockGuard guard(p.lock);
    // A victim candidate only now that its canary check and mprotect are done.
    if (s->pinned) PushFreedPinnedLocked(idx);
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
