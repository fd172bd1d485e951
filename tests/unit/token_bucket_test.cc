// TokenBucket: bursts, the long-run rate (slow rates included), no limit at rate 0, and
// concurrent takes never exceeding what was earned.
#include "shadow/base/token_bucket.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace cgosan {
namespace {

constexpr int64_t kMs = 1000000;
constexpr int64_t kStart = int64_t{5000} * kMs;  // a monotonic clock is far from 0

int TakeAll(TokenBucket& b, int64_t now, int64_t rate) {
  int n = 0;
  while (b.Take(now, rate)) ++n;
  return n;
}

TEST(TokenBucketTest, StartsFullAndRefillsAtTheRate) {
  TokenBucket b;
  EXPECT_EQ(TakeAll(b, kStart, 2000), 200);           // the burst: a tenth of a second's
  EXPECT_EQ(TakeAll(b, kStart + 10 * kMs, 2000), 20);  // 10 ms at 2000/s
  EXPECT_EQ(TakeAll(b, kStart + 10 * kMs, 2000), 0);
  EXPECT_EQ(TakeAll(b, kStart + 60000 * kMs, 2000), 200);  // capped at a burst
  int got = 0;  // a second of frequent takes gets the second's worth, and the burst
  for (int64_t t = kStart + 60001 * kMs; t <= kStart + 61000 * kMs; t += kMs) {
    got += TakeAll(b, t, 2000);
  }
  EXPECT_EQ(got, 2000);
}

TEST(TokenBucketTest, RatesBelowTenBurstByOne) {
  TokenBucket b;
  EXPECT_EQ(TakeAll(b, kStart, 5), 1);
  EXPECT_EQ(TakeAll(b, kStart + 60000 * kMs, 5), 1);
}

TEST(TokenBucketTest, SlowRatesEarnTheirTokensBetweenFrequentTakes) {
  TokenBucket b;
  const int64_t rate = 3;  // one token per 333 ms
  TakeAll(b, kStart, rate);
  int got = 0;
  for (int64_t t = kStart; t <= kStart + 10000 * kMs; t += kMs) got += b.Take(t, rate);
  EXPECT_GE(got, 29);
  EXPECT_LE(got, 31);
}

TEST(TokenBucketTest, RateZeroIsNoLimit) {
  TokenBucket b;
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(b.Take(kStart, 0));
}

TEST(TokenBucketTest, ConcurrentTakesStayWithinWhatWasEarned) {
  TokenBucket b;
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int64_t ms = 0; ms < 1000; ++ms) {
        for (int i = 0; i < 10; ++i) taken += b.Take(kStart + ms * kMs, 1000);
      }
    });
  }
  for (auto& t : threads) t.join();
  // A burst of 100 plus at most 1000 earned over the second the clocks cover.
  EXPECT_LE(taken.load(), 1100);
  EXPECT_GE(taken.load(), 900);
}

}  // namespace
}  // namespace cgosan
