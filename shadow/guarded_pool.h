// GuardedPool: C heap blocks that live in their own slot beside an inaccessible guard page.
//
// Layout (GWP-ASan style, but for every block while budgets last): one reservation,
// carved on demand into slots of 2^k data pages each followed by a guard page, with one
// guard page at the very start, so every slot has a guard on both sides:
//   [G][data 0][G][data 1 .......][G] ...
// A block is right-aligned against the guard after it (16-byte malloc alignment kept; the
// slack bytes up to the guard hold a canary checked at free) or, with guard_left, starts
// right after the guard before it. Freed slots become inaccessible before free returns and
// wait in a FIFO quarantine; slot metadata (sizes, stacks, threads) outlives the free so that a
// later fault can be explained. Lookups by address are arithmetic plus one array read, and
// work from signal handlers without locks.
//
// Protection, two schemes (why, and measurements: the top of guarded_pool.cc; the system
// calls: guarded_pool_protection.h):
// - guard markers (Linux 6.13+, MADV_GUARD_INSTALL): the pool is read-write, guards and
//   freed or unused data pages carry guard markers; malloc removes a slot's markers and
//   free installs them, dropping its contents. No VMA is split or merged, a live slot costs
//   no kernel mapping (max_live_slots still bounds live blocks), and a freed slot holds no
//   memory: the pool's resident memory is the live slots' data pages.
// - otherwise mprotect: malloc makes a slot's data pages read-write, free maps fresh
//   PROT_NONE pages over them (contents dropped, merged back with the guards). A live slot
//   costs about two kernel mappings, so max_live_slots keeps them within the kernel's limit.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "shadow/heap_block.h"

namespace cgosan {

struct GuardedPoolConfig {
  size_t pool_bytes = size_t{1} << 30;
  uint64_t quarantine_bytes = uint64_t{64} << 20;
  size_t max_live_slots = 8192;  // with mprotect, each costs about two kernel mappings
  bool left_aligned = false;
};

enum class PoolFreeResult {
  kOk,
  kDoubleFree,       // the slot's block was already freed
  kInvalidFree,      // a pointer into the pool that is not a block start
  kCanaryCorrupted,  // freed, but bytes between the block end and the guard were written
};

// What a faulting address in the pool refers to.
struct PoolFaultInfo {
  enum Kind { kNotInPool, kUseAfterFree, kOverflow, kWild } kind = kNotInPool;
  HeapBlock block;  // the block concerned (state says live or freed)
};

class GuardedPool {
 public:
  static bool Init(const GuardedPoolConfig& config);
  static bool Enabled();
  // Whether slots are protected by guard markers (Linux 6.13+) rather than by mprotect;
  // tests of the mprotect scheme turn markers off before Init.
  static bool UsesGuardMarkers();
  static void DisableGuardMarkersForTesting();
  // Inline: every free asks (one unsigned compare; false before Init).
  static bool Contains(uintptr_t addr) { return addr - range_begin_ < range_bytes_; }

  // A guarded block, or nullptr when the request does not fit a slot or a budget is spent
  // (the caller falls back to an unguarded block).
  static void* Allocate(size_t size, size_t alignment, StackId alloc_stack, pid_t tid,
                        BlockOrigin origin);

  // Frees ptr (which Contains()). On kDoubleFree / kInvalidFree / kCanaryCorrupted, *block
  // describes the block concerned and nothing was freed (except for kCanaryCorrupted, whose
  // block is freed normally); *corrupt_offset is the first overwritten slack byte's offset.
  static PoolFreeResult Free(void* ptr, StackId free_stack, pid_t tid, HeapBlock* block,
                             uint64_t* corrupt_offset);

  // The live block starting exactly at ptr, if any.
  static bool FindLive(uintptr_t ptr, HeapBlock* out);
  // The block (live or freed) whose slot contains addr.
  static bool FindContaining(uintptr_t addr, HeapBlock* out);

  // Calls fn for every live guarded block, under the pool lock (fn must not allocate or lock).
  static void ForEachLive(void (*fn)(const HeapBlock& block, void* ctx), void* ctx);

  // Async-signal-safe: explains a fault at addr.
  static PoolFaultInfo ExplainFault(uintptr_t addr);

  // The first reason a block could not be guarded, returned once (nullptr otherwise), so
  // that the fallback to unguarded blocks is said once.
  static const char* TakeFallbackReason();
  static void LockAll();
  static void UnlockAll();

 private:
  static inline uintptr_t range_begin_ = 0;
  static inline uintptr_t range_bytes_ = 0;
};

}  // namespace cgosan
