// BlockRecords without the heap: ids, the seqlock read under a concurrent writer, the
// stepwise walk, and that ids freed by one thread serve another's allocations.
#include "shadow/block_records.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace cgosan {
namespace {

HeapBlock MakeBlock(uintptr_t base, uint64_t size) {
  HeapBlock b;
  b.base = base;
  b.size = size;
  b.alloc_stack = static_cast<StackId>(size * 3);
  b.alloc_tid = static_cast<pid_t>(size * 5);
  b.alignment = 64;
  b.origin = BlockOrigin::kUnderGo;
  return b;
}

TEST(BlockRecordsTest, SetReadMarkFreedRelease) {
  RecordId id = BlockRecords::Acquire();
  ASSERT_NE(id, 0u);
  HeapBlock out;
  RecordState state;
  EXPECT_FALSE(BlockRecords::Read(id, &out, &state));  // empty
  BlockRecords::Set(id, MakeBlock(0x123450, 77), RecordState::kLive);
  ASSERT_TRUE(BlockRecords::Read(id, &out, &state));
  EXPECT_EQ(state, RecordState::kLive);
  EXPECT_EQ(out.base, 0x123450u);
  EXPECT_EQ(out.size, 77u);
  EXPECT_EQ(out.alloc_stack, 231u);
  EXPECT_EQ(out.alloc_tid, 385);
  EXPECT_EQ(out.alignment, 64u);
  EXPECT_EQ(out.origin, BlockOrigin::kUnderGo);
  EXPECT_EQ(out.record, id);
  uint64_t size = 0;
  uint32_t alignment = 0;
  EXPECT_EQ(BlockRecords::MarkFreed(id, 0x123460, 9, 4, &size, &alignment),
            RecordState::kEmpty);  // not its block
  EXPECT_EQ(BlockRecords::MarkFreed(id, 0x123450, 9, 4, &size, &alignment), RecordState::kLive);
  EXPECT_EQ(size, 77u);
  EXPECT_EQ(alignment, 64u);
  EXPECT_EQ(BlockRecords::MarkFreed(id, 0x123450, 10, 4, &size, &alignment),
            RecordState::kFreed);
  ASSERT_TRUE(BlockRecords::Read(id, &out, &state));
  EXPECT_EQ(state, RecordState::kFreed);
  EXPECT_EQ(out.state, BlockState::kFreed);
  EXPECT_EQ(out.free_stack, 9u);
  EXPECT_EQ(out.free_tid, 4);
  EXPECT_EQ(out.size, 77u);
  HeapBlock found;
  ASSERT_TRUE(BlockRecords::FindContaining(0x123450 + 76, &found));
  EXPECT_EQ(found.record, id);
  alignment = 0;
  EXPECT_EQ(BlockRecords::Release(id, &alignment), 0x123450u);
  EXPECT_EQ(alignment, 64u);
  EXPECT_FALSE(BlockRecords::Read(id, &out, &state));
  EXPECT_FALSE(BlockRecords::FindContaining(0x123450 + 76, &found));
  EXPECT_FALSE(BlockRecords::Read(0, &out, &state));
}

// A reader never sees half of one write and half of another: every record written pairs
// base and size, and every copy read must pair them too.
TEST(BlockRecordsTest, ReadsAreConsistentUnderAConcurrentWriter) {
  RecordId id = BlockRecords::Acquire();
  ASSERT_NE(id, 0u);
  BlockRecords::Set(id, MakeBlock(0x10000 + 16, 1), RecordState::kLive);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t i = 1; !stop.load(std::memory_order_relaxed); ++i) {
      uint64_t size = i % 100000 + 1;
      BlockRecords::Set(id, MakeBlock(0x10000 + size * 16, size), RecordState::kLive);
      uint64_t got;
      uint32_t alignment;
      if (i % 3 == 0) {
        BlockRecords::MarkFreed(id, 0x10000 + size * 16, static_cast<StackId>(size), 7, &got,
                                &alignment);
      }
    }
  });
  int reads = 0, torn = 0;
  for (int i = 0; i < 2000000; ++i) {
    HeapBlock b;
    RecordState state;
    if (!BlockRecords::Read(id, &b, &state)) continue;
    ++reads;
    bool ok = b.base == 0x10000 + b.size * 16 && b.alloc_stack == b.size * 3 &&
              b.alloc_tid == static_cast<pid_t>(b.size * 5) &&
              (state != RecordState::kFreed || b.free_stack == b.size);
    torn += !ok;
  }
  stop = true;
  writer.join();
  EXPECT_GT(reads, 0);
  EXPECT_EQ(torn, 0);
  uint32_t alignment;
  BlockRecords::Release(id, &alignment);
}

// The audits' walk in bounded steps sees exactly the live records, each once, with at most
// max_ids records looked at per step.
TEST(BlockRecordsTest, StepwiseWalkSeesTheLiveRecordsOnce) {
  constexpr uintptr_t kBase = 0x40000000;
  std::vector<RecordId> ids(20000);
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = BlockRecords::Acquire();
    ASSERT_NE(ids[i], 0u);
    BlockRecords::Set(ids[i], MakeBlock(kBase + i * 64, 48), RecordState::kLive);
  }
  uint64_t size;
  uint32_t alignment;
  for (size_t i = 0; i < ids.size(); i += 3) {
    BlockRecords::MarkFreed(ids[i], kBase + i * 64, 0, 0, &size, &alignment);
  }
  for (size_t i = 1; i < ids.size(); i += 3) {
    BlockRecords::Set(ids[i], MakeBlock(kBase + i * 64, 48), RecordState::kAdopted);
  }
  struct Seen {
    std::vector<int> count;
  } seen;
  seen.count.assign(ids.size(), 0);
  auto visit = [](const HeapBlock& b, void* ctx) {
    auto* s = static_cast<Seen*>(ctx);
    if (b.base >= kBase && b.base < kBase + s->count.size() * 64) ++s->count[(b.base - kBase) / 64];
  };
  constexpr size_t kStep = 100;
  size_t cursor = 0, steps = 0;
  while (BlockRecords::ForEachLiveStep(&cursor, kStep, visit, &seen)) ++steps;
  EXPECT_GE(steps + 1, BlockRecords::IdsHandedOut() / kStep);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(seen.count[i], i % 3 == 2 ? 1 : 0) << "record " << i;
  }
  for (RecordId id : ids) BlockRecords::Release(id, &alignment);
}

// One thread allocates, another frees: the freed ids come back to the allocating thread
// (through the shared list) instead of piling up while new ones are committed.
TEST(BlockRecordsTest, IdsFreedElsewhereAreReused) {
  const size_t before = BlockRecords::IdsHandedOut();
  for (int round = 0; round < 2000; ++round) {
    std::vector<RecordId> ids;
    for (int i = 0; i < 100; ++i) {
      ids.push_back(BlockRecords::Acquire());
      BlockRecords::Set(ids.back(), MakeBlock(0x50000 + i * 16, 16), RecordState::kLive);
    }
    std::thread freer([&] {
      uint32_t alignment;
      for (RecordId id : ids) BlockRecords::Release(id, &alignment);
    });
    freer.join();
  }
  // 200,000 acquisitions; without the shared list each would have been a fresh id.
  EXPECT_LT(BlockRecords::IdsHandedOut() - before, size_t{2000});
}

}  // namespace
}  // namespace cgosan
