// StackDepot: one id per distinct stack, stable contents, concurrent inserts.
#include "shadow/stack_depot.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace cgosan {
namespace {

TEST(StackDepotTest, SameStackSameIdDifferentStackDifferentId) {
  uintptr_t a[] = {0x1000, 0x2000, 0x3000};
  uintptr_t b[] = {0x1000, 0x2000, 0x3001};
  StackId ida = StackDepot::Put(a, 3);
  StackId idb = StackDepot::Put(b, 3);
  EXPECT_NE(ida, 0u);
  EXPECT_NE(ida, idb);
  EXPECT_EQ(StackDepot::Put(a, 3), ida);
  EXPECT_NE(StackDepot::Put(a, 2), ida);  // a prefix is another stack
  const uintptr_t* pcs;
  ASSERT_EQ(StackDepot::Get(idb, &pcs), 3);
  EXPECT_EQ(pcs[2], 0x3001u);
}

TEST(StackDepotTest, EmptyStackIsIdZeroAndIdZeroIsEmpty) {
  EXPECT_EQ(StackDepot::Put(nullptr, 0), 0u);
  const uintptr_t* pcs;
  EXPECT_EQ(StackDepot::Get(0, &pcs), 0);
}

TEST(StackDepotTest, ConcurrentInsertsAgreeOnIds) {
  constexpr int kThreads = 4, kStacks = 2000;
  std::vector<std::vector<StackId>> ids(kThreads, std::vector<StackId>(kStacks));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &ids] {
      for (int i = 0; i < kStacks; ++i) {
        uintptr_t pcs[] = {0xabc000u + static_cast<uintptr_t>(i), 0x77, static_cast<uintptr_t>(i) * 3};
        ids[t][i] = StackDepot::Put(pcs, 3);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < kStacks; ++i) {
    const uintptr_t* pcs;
    // Racing inserts may store a duplicate record, but every id must hold the right frames.
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_EQ(StackDepot::Get(ids[t][i], &pcs), 3);
      EXPECT_EQ(pcs[0], 0xabc000u + static_cast<uintptr_t>(i));
      EXPECT_EQ(pcs[2], static_cast<uintptr_t>(i) * 3);
    }
  }
}

}  // namespace
}  // namespace cgosan
