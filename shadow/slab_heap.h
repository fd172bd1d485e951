// SlabHeap: cgosan's own memory for the tracked unguarded C heap blocks of up to
// kMaxSlotBytes (header included); glibc serves the larger and the over-aligned ones.
//
// Why not glibc for these: a tracked block goes back to the allocator when it leaves the
// quarantine, in FIFO order, long after it was freed. glibc's free then works on a cold
// chunk (its header, its neighbours, its bins) and its malloc no longer finds its tcache
// full of the sizes the program asks for: about 230 instructions and three cache misses per
// malloc/free pair, where the program alone costs as much in all. Here a block is a slot
// of a size class; malloc and free move a slot between the thread's cache and the program,
// and nothing but the program (and the block's header and fill) touches slot memory.
//
// Layout: one reservation, a region of kRegionBytes per size class (so a slot's class is
// its distance from the base, shifted), committed 1 MiB at a time as slots are first handed
// out, never returned to the kernel. Free slots wait in per-thread caches; full halves of a
// cache move to and from the class's central list as chains linked through the last 12
// bytes of each slot (so a free slot's first bytes keep what its last block left there:
// SlabBlocks keeps its record in them).
// Without the reservation (an address-space limit), or when a class's region is full,
// Allocate returns nullptr and the caller uses glibc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cgosan {

namespace slab_internal {  // SlabHeap's reservation, here only for the inline Contains
inline std::atomic<uintptr_t> g_base{0};
inline std::atomic<uintptr_t> g_bytes{0};  // 0 until reserved
}  // namespace slab_internal

class SlabHeap {
 public:
  static constexpr size_t kMaxSlotBytes = 32768;
  static constexpr int kRegionShift = 28;  // 256 MiB of slots per class
  static constexpr unsigned kClasses = 45;

  // A 16-byte aligned slot of at least bytes (not zeroed), or nullptr (see above).
  static void* Allocate(size_t bytes);
  // A slot Allocate returned (Contains is true for it).
  static void Free(void* slot);
  // Whether p lies in the reservation. Inline: the free of every tracked block asks.
  static bool Contains(const void* p) {
    return reinterpret_cast<uintptr_t>(p) -
               slab_internal::g_base.load(std::memory_order_relaxed) <
           slab_internal::g_bytes.load(std::memory_order_relaxed);
  }
  // The layout, for walking every slot handed out so far (SlabBlocks' audits): class c's
  // slots are SlotBytes(c) apart from RegionOf(c); the first CarvedSlots(c) were handed out.
  static size_t SlotBytes(unsigned c);
  static uintptr_t RegionOf(unsigned c) {
    return slab_internal::g_base.load(std::memory_order_relaxed) + (uintptr_t{c} << kRegionShift);
  }
  static size_t CarvedSlots(unsigned c);
  // The slot handed out once that contains addr (its start in *slot, its class in *c).
  static bool SlotOf(uintptr_t addr, uintptr_t* slot, unsigned* c);

  // fork(): every class's lock is held across it.
  static void LockAll();
  static void UnlockAll();
};

}  // namespace cgosan
