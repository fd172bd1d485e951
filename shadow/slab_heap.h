// SlabHeap: cgosan's own memory for the tracked unguarded C heap blocks of up to
// kMaxSlotBytes (their record included); glibc serves the larger and the over-aligned ones.
//
// Why not glibc for these: a tracked block goes back to the allocator when it leaves the
// quarantine, in FIFO order, long after it was freed. glibc's free then works on a cold
// chunk (its header, its neighbours, its bins) and its malloc no longer finds its tcache
// full of the sizes the program asks for: about 230 instructions and three cache misses per
// malloc/free pair, where the program alone costs as much in all. Here a block is a slot
// of a size class; malloc and free move a slot between the thread's cache and the program,
// and nothing but the program (and the block's record and fill) touches slot memory.
//
// Layout: one reservation, a region of kRegionBytes per size class (so a slot's class is
// its distance from the base, shifted), committed 1 MiB at a time as slots are first handed
// out, never returned to the kernel. Free slots wait in per-thread caches; full halves of a
// cache move to and from the class's central stacks in batches kept in cgosan's own memory,
// so that the slab never writes a slot (a free slot keeps what its last block left there:
// SlabBlocks keeps its record in its first bytes).
// Without the reservation (an address-space limit), or when a class's region is full,
// Allocate returns nullptr and the caller uses glibc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cgosan {

namespace slab_internal {  // SlabHeap's layout, here only for its inline functions
inline std::atomic<uintptr_t> g_base{0};
inline std::atomic<uintptr_t> g_bytes{0};  // 0 until reserved
constexpr unsigned kClasses = 45;
// Bytes of each class's region handed out so far (the rest is not committed). Defined in
// slab_heap.cc: as an inline variable it would get a dynamic initializer in every file.
extern std::atomic<size_t> g_carved[kClasses];

// Classes: 16-byte steps up to 256 B (1-16), then four per power of two up to 32 KiB
// (17-44), so a block wastes at most a quarter of its slot past 256 B.
constexpr size_t ClassBytes(unsigned c) {
  if (c <= 16) return size_t{c} * 16;
  unsigned k = c - 17, l = 8 + k / 4;
  return (size_t{1} << l) + (k % 4 + 1) * (size_t{1} << (l - 2));
}
// Per class: the slot size, and ceil(2^48 / it): an offset below 2^28 times that, shifted
// by 48, is the exact quotient (the error, below 2^-20, never reaches the next integer for
// slots below 2^20). Tables, because every free asks.
struct SlotGeometry {
  uint64_t bytes[kClasses];
  uint64_t reciprocal[kClasses];
  constexpr SlotGeometry() : bytes(), reciprocal() {
    for (unsigned c = 1; c < kClasses; ++c) {
      bytes[c] = ClassBytes(c);
      reciprocal[c] = ((uint64_t{1} << 48) + bytes[c] - 1) / bytes[c];
    }
  }
};
inline constexpr SlotGeometry kGeometry;

constexpr unsigned ClassOf(size_t n) {
  if (n <= 256) return static_cast<unsigned>((n + 15) >> 4);
  unsigned l = 63 - static_cast<unsigned>(__builtin_clzll(n - 1));  // 2^l < n <= 2^(l+1)
  return 17 + (l - 8) * 4 + static_cast<unsigned>((n - 1 - (size_t{1} << l)) >> (l - 2));
}

// A thread keeps at most 64 KiB of each class (and 2 to 32 slots); half a full cache moves
// to its arena at once. A slot is named by its distance from the base in 16-byte units (a
// uint32_t: the reservation is below 64 GiB), so a thread's caches fit in a few KiB.
constexpr uint32_t kCacheSlots = 32;
constexpr uint32_t CacheLimit(unsigned c) {
  size_t n = 65536 / ClassBytes(c > 0 ? c : 1);
  return n > kCacheSlots ? kCacheSlots : n < 2 ? 2 : static_cast<uint32_t>(n);
}
struct CacheLimits {
  uint32_t limit[kClasses];
  constexpr CacheLimits() : limit() {
    for (unsigned c = 0; c < kClasses; ++c) limit[c] = CacheLimit(c);
  }
};
inline constexpr CacheLimits kLimits;  // a load on every free instead of a division

struct ClassCache {
  uint32_t count;
  uint32_t slot[kCacheSlots];
};
struct ThreadCache {
  ClassCache classes[kClasses];
  unsigned arena;  // 1 + the thread's arena; 0: not chosen yet
  bool exit_armed;
};
// initial-exec: the preload's TLS is static, and an access must never call __tls_get_addr.
extern __thread ThreadCache t_cache __attribute__((tls_model("initial-exec")));

inline void* SlotAt(uint32_t unit) {
  return reinterpret_cast<void*>(g_base.load(std::memory_order_relaxed) + (uintptr_t{unit} << 4));
}
inline uint32_t UnitOf(const void* slot) {
  return static_cast<uint32_t>(
      (reinterpret_cast<uintptr_t>(slot) - g_base.load(std::memory_order_relaxed)) >> 4);
}
}  // namespace slab_internal

class SlabHeap {
 public:
  static constexpr size_t kMaxSlotBytes = 32768;
  static constexpr int kRegionShift = 28;  // 256 MiB of slots per class
  static constexpr unsigned kClasses = slab_internal::kClasses;

  // A 16-byte aligned slot of at least bytes (not zeroed), or nullptr (see above). Inline,
  // as Free: a slot from the thread's cache is all of malloc's work on most blocks.
  __attribute__((always_inline)) static void* Allocate(size_t bytes) {
    using namespace slab_internal;
    if (bytes > kMaxSlotBytes) return nullptr;
    ClassCache& cc = t_cache.classes[ClassOf(bytes)];
    if (__builtin_expect(cc.count == 0 || g_bytes.load(std::memory_order_relaxed) == 0, 0)) {
      return AllocateSlow(bytes);
    }
    uint32_t unit = cc.slot[--cc.count];
    // The class's next slot, cold since the quarantine let it go: the record and the fill
    // write its first line at the next malloc of the class.
    if (cc.count > 0) __builtin_prefetch(SlotAt(cc.slot[cc.count - 1]), 1);
    return SlotAt(unit);
  }
  // A slot Allocate returned (Contains is true for it).
  __attribute__((always_inline)) static void Free(void* slot) {
    using namespace slab_internal;
    uint32_t unit = UnitOf(slot);
    unsigned c = unit >> (kRegionShift - 4);
    ClassCache& cc = t_cache.classes[c];
    if (__builtin_expect(cc.count == kLimits.limit[c], 0)) return FreeSlow(c, unit);
    cc.slot[cc.count++] = unit;
  }
  // Whether p lies in the reservation. Inline: the free of every tracked block asks.
  __attribute__((always_inline)) static bool Contains(const void* p) {
    return reinterpret_cast<uintptr_t>(p) - slab_internal::g_base.load(std::memory_order_relaxed) <
           slab_internal::g_bytes.load(std::memory_order_relaxed);
  }
  // The layout, for walking every slot handed out so far (SlabBlocks' audits): class c's
  // slots are SlotBytes(c) apart from RegionOf(c); the first CarvedSlots(c) were handed out.
  static size_t SlotBytes(unsigned c) { return slab_internal::kGeometry.bytes[c]; }
  static uintptr_t RegionOf(unsigned c) {
    return slab_internal::g_base.load(std::memory_order_relaxed) + (uintptr_t{c} << kRegionShift);
  }
  static size_t CarvedSlots(unsigned c) {
    return c == 0 ? 0 : slab_internal::g_carved[c].load(std::memory_order_acquire) / SlotBytes(c);
  }
  // The slot handed out once that contains addr (its start in *slot). Inline: every free
  // of a slab block asks.
  __attribute__((always_inline)) static bool SlotOf(uintptr_t addr, uintptr_t* slot) {
    using namespace slab_internal;
    uintptr_t off = addr - g_base.load(std::memory_order_relaxed);
    if (off >= g_bytes.load(std::memory_order_relaxed)) return false;
    unsigned c = static_cast<unsigned>(off >> kRegionShift);
    uint64_t in_region = off & ((uint64_t{1} << kRegionShift) - 1);
    uint64_t index = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(in_region) * kGeometry.reciprocal[c]) >> 48);
    uint64_t slot_off = index * kGeometry.bytes[c];
    if (c == 0 || slot_off >= g_carved[c].load(std::memory_order_acquire)) return false;
    *slot = RegionOf(c) + slot_off;
    return true;
  }

  // fork(): every class's lock is held across it.
  static void LockAll();
  static void UnlockAll();

 private:
  // Out of line: the thread's cache of the class is empty (Allocate) or full (Free).
  __attribute__((noinline)) static void* AllocateSlow(size_t bytes);
  __attribute__((noinline)) static void FreeSlow(unsigned c, uint32_t unit);
};

}  // namespace cgosan
