// BlockTable: the unguarded C heap blocks (served by glibc), keyed by base address.
// Sharded open-addressing hash tables, each behind a SpinLock, storage from InternalMmap:
// it is used from inside malloc, before libc is initialised, and must not allocate.
// (Abseil's containers are not an option here: Debian's archives are not PIC, and its
// shared objects would enter the target's global symbol scope.)
#pragma once

#include <cstddef>
#include <cstdint>

#include <atomic>

#include "shadow/base/address_region.h"
#include "shadow/base/spin_lock.h"
#include "shadow/heap_block.h"

namespace cgosan {

class BlockTable {
 public:
  // Inserts or replaces the record for block.base. False when the table could not grow (its
  // memory could not be mapped): the block is then not tracked.
  static bool Insert(const HeapBlock& block);
  // Copies the record whose base is exactly `base` into *out.
  static bool Find(uintptr_t base, HeapBlock* out);
  // Whether a record (live or freed) has this base. Without a lock, from a count of records
  // per address region, when no record lies near it (the common case when few blocks are
  // tracked, as in guard=sampled).
  static bool Contains(uintptr_t base) {
    if (base == 0) return false;
    if (counting_regions_.load(std::memory_order_relaxed) &&
        RegionRecords(base).load(std::memory_order_relaxed) == 0) {
      return false;
    }
    return ContainsSearched(base);
  }
  // Stops keeping the per-region counts (for good): where nearly every block is tracked they
  // answer nothing, and every insert and erase would write a counter that the other threads'
  // inserts and erases in the same region write too. Contains then always searches.
  static void StopCountingRegions() { counting_regions_.store(false, std::memory_order_relaxed); }
  static bool CountingRegions() { return counting_regions_.load(std::memory_order_relaxed); }
  // Marks a live block freed (records the free stack). Returns the previous state through
  // *prior (copied, with its old state), false when base is unknown.
  static bool MarkFreed(uintptr_t base, StackId free_stack, pid_t free_tid, HeapBlock* prior);
  static bool Erase(uintptr_t base);
  // Drops every record (their blocks are no longer tracked).
  static void EraseAll();
  // Slow path for reports: the block (live or freed) that contains addr. Scans every shard.
  static bool FindContaining(uintptr_t addr, HeapBlock* out);

  // Calls fn for every live block, under each shard's lock in turn: fn must not allocate,
  // lock or call back into the heap.
  using Visitor = void (*)(const HeapBlock& block, void* ctx);
  static void ForEachLive(Visitor fn, void* ctx);

  // The same walk in bounded steps, for the audits (no lock is held for longer than one
  // step): visits the live blocks of slots [*cursor, *cursor + max_slots) of one shard under
  // its lock (at most max_slots calls of fn) and advances *cursor; false once the shard's
  // end is reached. Between two steps the shard may change under the walk (an erase shifts
  // entries back, a rehash moves them all): a block may then be visited twice or not at all
  // in this walk.
  static int NumShards();
  static bool ForEachLiveStep(int shard, size_t* cursor, size_t max_slots, Visitor fn,
                              void* ctx);

  // fork(): hold every shard lock across fork so the child never inherits a held lock.
  static void LockAll();
  static void UnlockAll();

  // The count of records in base's region (kept by the table's own insert and erase, until
  // StopCountingRegions).
  static std::atomic<uint32_t>& RegionRecords(uintptr_t base) {
    return region_records_[AddressRegionHash(base, kRegionHashBits)];
  }

 private:
  // Records per 1 MiB region of address space (hashed): Contains answers "no" for most
  // addresses without touching a shard, whose lock line other threads keep writing. That is
  // the whole cost of a free in guard=sampled, where nearly every block is untracked.
  static constexpr int kRegionHashBits = 16;
  static std::atomic<uint32_t> region_records_[size_t{1} << kRegionHashBits];
  static bool ContainsSearched(uintptr_t base);
  static inline std::atomic<bool> counting_regions_{true};
};

}  // namespace cgosan
