// The 32-byte record of an unguarded block and its seqlock, shared by BlockRecords' array
// and the slab's records in place (block_records.h). Here rather than in block_records.cc
// so that a slab block's malloc and free, which write nothing else of cgosan's, inline the
// record's writes into the interposers.
//
// Writers are the threads that allocate and free the block (the program's own order makes
// them one at a time); readers may run at any moment on any thread and retry until they
// copy a record no writer touched meanwhile.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "shadow/heap_block.h"

namespace cgosan {

// kAdopted: a block made before cgosan knew its options, which it no longer tracks (see
// CHeap::ReleaseUnguardedRecords) but whose header its free must still remove.
enum class RecordState : uint8_t { kEmpty = 0, kLive = 1, kFreed = 2, kAdopted = 3 };

namespace block_record {

// bits: size (44) | log2(alignment)+1 (6) | state (2) | origin (3) | busy (1) | generation (8).
constexpr int kSizeBits = 44;
constexpr uint64_t kSizeMask = (uint64_t{1} << kSizeBits) - 1;
constexpr int kAlignShift = 44, kStateShift = 50, kOriginShift = 52, kGenShift = 56;
constexpr uint64_t kBusy = uint64_t{1} << 55;
constexpr uint64_t kStateMask = uint64_t{3} << kStateShift;

struct Record {
  std::atomic<uint64_t> bits;
  std::atomic<uintptr_t> base;
  std::atomic<StackId> alloc_stack, free_stack;  // alloc_stack: the next free id when empty
  std::atomic<pid_t> alloc_tid, free_tid;
};
static_assert(sizeof(Record) == 32, "two records per cache line");

inline RecordState StateOf(uint64_t bits) {
  return static_cast<RecordState>((bits & kStateMask) >> kStateShift);
}

inline uint64_t StateBits(RecordState state) {
  return uint64_t{static_cast<uint8_t>(state)} << kStateShift;
}

inline uint64_t WithState(uint64_t bits, RecordState state) {
  return (bits & ~kStateMask) | StateBits(state);
}

inline uint32_t AlignmentOf(uint64_t bits) {  // stored as log2(alignment) + 1, 0 for none
  uint64_t code = (bits >> kAlignShift) & 63;
  return code ? uint32_t{1} << (code - 1) : 0;
}

inline uint64_t OriginBits(BlockOrigin origin) {
  return uint64_t{static_cast<uint8_t>(origin) & 7u} << kOriginShift;
}

// The next word for bits: the generation advances with every write, so that a reader sees
// any write that happened between its two loads.
inline uint64_t NextBits(uint64_t old, uint64_t fields) {
  uint64_t gen = ((old >> kGenShift) + 1) & 0xff;
  return (fields & ~(kBusy | uint64_t{0xff} << kGenShift)) | gen << kGenShift;
}

// Seqlock write: busy first, then the fields, then the new bits.
template <typename WriteFields>
__attribute__((always_inline)) inline void Write(Record& r, uint64_t fields,
                                                 WriteFields write_fields) {
  uint64_t old = r.bits.load(std::memory_order_relaxed);
  r.bits.store(old | kBusy, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  write_fields(r);
  r.bits.store(NextBits(old, fields), std::memory_order_release);
}

// A new live block (no free stack, alignment 16 or less).
__attribute__((always_inline)) inline void SetLive(Record& r, uintptr_t base, uint64_t size,
                                                   StackId stack, pid_t tid,
                                                   BlockOrigin origin) {
  uint64_t fields = (size & kSizeMask) | StateBits(RecordState::kLive) | OriginBits(origin);
  Write(r, fields, [=](Record& rec) {
    rec.base.store(base, std::memory_order_relaxed);
    rec.alloc_stack.store(stack, std::memory_order_relaxed);
    rec.free_stack.store(0, std::memory_order_relaxed);
    rec.alloc_tid.store(tid, std::memory_order_relaxed);
    rec.free_tid.store(0, std::memory_order_relaxed);
  });
}

// The free of the block at base: when r holds it live, marks it freed and returns kLive with
// its *size and *alignment; otherwise changes nothing and returns the state found (kEmpty
// also when r holds another block).
__attribute__((always_inline)) inline RecordState MarkFreed(Record& r, uintptr_t base,
                                                            StackId free_stack, pid_t free_tid,
                                                            uint64_t* size,
                                                            uint32_t* alignment) {
  // The owner's own record: no other writer, so plain loads are a consistent view.
  uint64_t bits = r.bits.load(std::memory_order_relaxed);
  if (r.base.load(std::memory_order_relaxed) != base) return RecordState::kEmpty;
  RecordState state = StateOf(bits);
  if (state != RecordState::kLive) return state;
  *size = bits & kSizeMask;
  *alignment = AlignmentOf(bits);
  Write(r, WithState(bits, RecordState::kFreed), [=](Record& rec) {
    rec.free_stack.store(free_stack, std::memory_order_relaxed);
    rec.free_tid.store(free_tid, std::memory_order_relaxed);
  });
  return RecordState::kLive;
}

}  // namespace block_record
}  // namespace cgosan
