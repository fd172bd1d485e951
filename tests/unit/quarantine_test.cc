// Quarantine: FIFO order, the byte budget and the entry count, entries too big to hold, the
// bound on evictions per push, and batches pushed at once behaving as single pushes do.
#include "shadow/quarantine.h"

#include <gtest/gtest.h>

#include <vector>

namespace cgosan {
namespace {

std::vector<uintptr_t> Keys(const Quarantine::Entry* entries, int n) {
  std::vector<uintptr_t> keys;
  for (int i = 0; i < n; ++i) keys.push_back(entries[i].key);
  return keys;
}

TEST(QuarantineTest, EvictsTheOldestWhenTheBytesDoNotFit) {
  Quarantine q;
  ASSERT_TRUE(q.Init(100, 16));
  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + 1];
  for (uintptr_t k = 1; k <= 4; ++k) EXPECT_EQ(q.Push({k, 25}, evicted), 0);
  EXPECT_EQ(q.bytes(), 100u);
  int n = q.Push({5, 30}, evicted);  // 130 bytes: 1 and 2 leave (80 left)
  EXPECT_EQ(Keys(evicted, n), (std::vector<uintptr_t>{1, 2}));
  EXPECT_EQ(q.bytes(), 80u);
  n = q.Push({6, 101}, evicted);  // bigger than the whole budget: released at once
  EXPECT_EQ(Keys(evicted, n), (std::vector<uintptr_t>{6}));
  Quarantine::Entry e;
  std::vector<uintptr_t> order;
  while (q.PopOldest(&e)) order.push_back(e.key);
  EXPECT_EQ(order, (std::vector<uintptr_t>{3, 4, 5}));
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(QuarantineTest, EvictsTheOldestWhenTheRingIsFull) {
  Quarantine q;
  ASSERT_TRUE(q.Init(1 << 20, 3));
  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + 1];
  for (uintptr_t k = 1; k <= 3; ++k) EXPECT_EQ(q.Push({k, 1}, evicted), 0);
  int n = q.Push({4, 1}, evicted);
  EXPECT_EQ(Keys(evicted, n), (std::vector<uintptr_t>{1}));
  EXPECT_EQ(q.bytes(), 3u);
}

// A batch leaves the quarantine exactly as the same entries pushed one by one would.
TEST(QuarantineTest, ABatchEvictsAsSinglePushesDo) {
  Quarantine single, batched;
  ASSERT_TRUE(single.Init(1000, 64));
  ASSERT_TRUE(batched.Init(1000, 64));
  std::vector<Quarantine::Entry> entries;
  for (uintptr_t k = 1; k <= 200; ++k) entries.push_back({k, 10 + (k * 37) % 90});
  std::vector<uintptr_t> out_single, out_batched;
  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + 32];
  for (const Quarantine::Entry& e : entries) {
    int n = single.Push(e, evicted);
    for (uintptr_t k : Keys(evicted, n)) out_single.push_back(k);
  }
  for (size_t i = 0; i < entries.size(); i += 32) {
    int count = static_cast<int>(entries.size() - i < 32 ? entries.size() - i : 32);
    int n = batched.Push(&entries[i], count, evicted);
    EXPECT_LE(batched.bytes(), 1000u);
    for (uintptr_t k : Keys(evicted, n)) out_batched.push_back(k);
  }
  EXPECT_EQ(out_batched, out_single);
  EXPECT_EQ(batched.bytes(), single.bytes());
}

// One large entry needs more than kMaxEvictPerPush small ones out: the quarantine holds it,
// above its budget, and the next pushes bring it back under.
TEST(QuarantineTest, EvictionsPerPushAreBounded) {
  constexpr int kSmall = 3 * Quarantine::kMaxEvictPerPush;
  Quarantine q;
  ASSERT_TRUE(q.Init(kSmall, 4 * kSmall));
  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + 1];
  for (int k = 0; k < kSmall; ++k) ASSERT_EQ(q.Push({static_cast<uintptr_t>(k), 1}, evicted), 0);
  int n = q.Push({1000, kSmall}, evicted);
  EXPECT_EQ(n, Quarantine::kMaxEvictPerPush);
  EXPECT_GT(q.bytes(), static_cast<uint64_t>(kSmall));
  for (int i = 0; i < 3 && q.bytes() > static_cast<uint64_t>(kSmall); ++i) {
    q.Push({static_cast<uintptr_t>(2000 + i), 0}, evicted);
  }
  EXPECT_LE(q.bytes(), static_cast<uint64_t>(kSmall));
}

TEST(QuarantineTest, NoBudgetHoldsNothing) {
  Quarantine q;
  ASSERT_TRUE(q.Init(0, 16));
  Quarantine::Entry batch[2] = {{1, 8}, {2, 8}};
  Quarantine::Entry evicted[Quarantine::kMaxEvictPerPush + 2];
  int n = q.Push(batch, 2, evicted);
  EXPECT_EQ(Keys(evicted, n), (std::vector<uintptr_t>{1, 2}));
  EXPECT_EQ(q.bytes(), 0u);
}

}  // namespace
}  // namespace cgosan
