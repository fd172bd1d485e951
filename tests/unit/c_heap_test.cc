// The C heap model without the preload: block table, guarded pool (real guard pages and
// real faults), quarantine, and the free verdicts.
#include "shadow/c_heap.h"

#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "shadow/block_table.h"
#include "shadow/guarded_pool.h"

namespace cgosan {
namespace {

class CHeapTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CHeapConfig config;
    config.guard_enabled = true;
    config.guard_pool_bytes = size_t{64} << 20;
    config.quarantine_bytes = size_t{1} << 20;
    config.max_live_guarded = 1000;
    CHeap::Configure(config);
  }
};

TEST_F(CHeapTest, UnguardedBlocksAreTrackedAndFreedOnce) {
  void* p = CHeap::Allocate(40, 0, false, false, 7, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(GuardedPool::Contains(reinterpret_cast<uintptr_t>(p)));
  HeapBlock b;
  ASSERT_TRUE(CHeap::FindLive(reinterpret_cast<uintptr_t>(p), &b));
  EXPECT_EQ(b.size, 40u);
  EXPECT_EQ(b.alloc_stack, 7u);
  bool known;
  uint64_t off;
  EXPECT_EQ(CHeap::Free(p, 9, 1, &b, &known, &off), FreeVerdict::kOk);
  EXPECT_EQ(CHeap::Free(p, 10, 1, &b, &known, &off), FreeVerdict::kDoubleFree);
  EXPECT_TRUE(known);
  EXPECT_EQ(b.free_stack, 9u);  // the first free's stack
}

TEST_F(CHeapTest, InvalidFreeOfMiddleOfBlockNamesTheBlock) {
  char* p = static_cast<char*>(CHeap::Allocate(64, 0, false, false, 1, 1));
  HeapBlock b;
  bool known;
  uint64_t off;
  EXPECT_EQ(CHeap::Free(p + 8, 2, 1, &b, &known, &off), FreeVerdict::kInvalidFree);
  ASSERT_TRUE(known);
  EXPECT_EQ(b.base, reinterpret_cast<uintptr_t>(p));
  int on_stack;
  EXPECT_EQ(CHeap::Free(&on_stack, 2, 1, &b, &known, &off), FreeVerdict::kInvalidFree);
  EXPECT_FALSE(known);
  EXPECT_EQ(CHeap::Free(p, 2, 1, &b, &known, &off), FreeVerdict::kOk);
}

TEST_F(CHeapTest, GuardedBlockIsRightAlignedAgainstAGuardPage) {
  for (size_t size : {1, 13, 16, 100, 4096, 5000, 70000}) {
    char* p = static_cast<char*>(CHeap::Allocate(size, 0, true, true, 1, 1));
    ASSERT_NE(p, nullptr);
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    EXPECT_TRUE(GuardedPool::Contains(a)) << size;
    EXPECT_EQ(a % 16, 0u);
    for (size_t i = 0; i < size; ++i) ASSERT_EQ(p[i], 0) << size;  // zeroed
    // The guard page starts at the first page boundary at or after the 16-rounded end.
    uintptr_t guard = (a + size + 4095) & ~uintptr_t{4095};
    EXPECT_LE(guard - (a + size), 15u) << size;
    PoolFaultInfo info = GuardedPool::ExplainFault(guard);
    EXPECT_EQ(info.kind, PoolFaultInfo::kOverflow) << size;
    EXPECT_EQ(info.block.base, a);
    HeapBlock b;
    bool known;
    uint64_t off;
    EXPECT_EQ(CHeap::Free(p, 3, 1, &b, &known, &off), FreeVerdict::kOk) << size;
    info = GuardedPool::ExplainFault(a);
    EXPECT_EQ(info.kind, PoolFaultInfo::kUseAfterFree);
    EXPECT_EQ(info.block.free_stack, 3u);
    EXPECT_EQ(CHeap::Free(p, 4, 1, &b, &known, &off), FreeVerdict::kDoubleFree);
  }
}

TEST_F(CHeapTest, SlackOverflowIsFoundAtFree) {
  char* p = static_cast<char*>(CHeap::Allocate(13, 0, false, true, 1, 1));
  ASSERT_TRUE(GuardedPool::Contains(reinterpret_cast<uintptr_t>(p)));
  p[14] = 'x';  // inside the slack before the guard: no fault
  HeapBlock b;
  bool known;
  uint64_t off = 0;
  EXPECT_EQ(CHeap::Free(p, 3, 1, &b, &known, &off), FreeVerdict::kOverflowAtFree);
  EXPECT_EQ(off, 14u);
  EXPECT_EQ(b.size, 13u);
}

TEST_F(CHeapTest, AlignmentIsHonoured) {
  for (size_t align : {32, 64, 256, 4096}) {
    void* p = CHeap::Allocate(100, align, false, true, 1, 1);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
    HeapBlock b;
    bool known;
    uint64_t off;
    EXPECT_EQ(CHeap::Free(p, 1, 1, &b, &known, &off), FreeVerdict::kOk);
  }
  void* big = CHeap::Allocate(100, 8192, false, true, 1, 1);  // beyond a page: unguarded
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % 8192, 0u);
  EXPECT_FALSE(GuardedPool::Contains(reinterpret_cast<uintptr_t>(big)));
}

sigjmp_buf g_jump;
void* g_fault_addr;
void OnSegv(int, siginfo_t* info, void*) {
  g_fault_addr = info->si_addr;
  siglongjmp(g_jump, 1);
}

TEST_F(CHeapTest, FreedGuardedMemoryReallyFaults) {
  struct sigaction sa = {}, old;
  sa.sa_sigaction = OnSegv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, &old);
  volatile char* p = static_cast<char*>(CHeap::Allocate(32, 0, false, true, 1, 1));
  HeapBlock b;
  bool known;
  uint64_t off;
  ASSERT_EQ(CHeap::Free(const_cast<char*>(p), 1, 1, &b, &known, &off), FreeVerdict::kOk);
  g_fault_addr = nullptr;
  if (sigsetjmp(g_jump, 1) == 0) {
    (void)p[3];
    ADD_FAILURE() << "no fault";
  }
  EXPECT_EQ(g_fault_addr, p + 3);
  sigaction(SIGSEGV, &old, nullptr);
}

TEST_F(CHeapTest, LiveGuardedBudgetFallsBackToUnguarded) {
  std::vector<void*> blocks;
  size_t guarded = 0;
  for (int i = 0; i < 3000; ++i) {
    void* p = CHeap::Allocate(24, 0, false, true, 1, 1);
    ASSERT_NE(p, nullptr);
    guarded += GuardedPool::Contains(reinterpret_cast<uintptr_t>(p));
    blocks.push_back(p);
  }
  EXPECT_LE(guarded, 1000u);
  EXPECT_GT(guarded, 900u);
  for (void* p : blocks) {
    HeapBlock b;
    bool known;
    uint64_t off;
    ASSERT_EQ(CHeap::Free(p, 1, 1, &b, &known, &off), FreeVerdict::kOk);
  }
}

// Whether the page holding p is populated (mincore works on PROT_NONE pages too).
bool PageResident(const void* p) {
  unsigned char vec = 0;
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{4095});
  return mincore(page, 4096, &vec) == 0 && (vec & 1) != 0;
}

size_t MappingCount() {
  FILE* f = fopen("/proc/self/maps", "r");
  size_t n = 0;
  for (int ch; (ch = fgetc(f)) != EOF;) n += ch == '\n';
  fclose(f);
  return n;
}

void FreeOk(void* p) {
  HeapBlock b;
  bool known;
  uint64_t off;
  ASSERT_EQ(CHeap::Free(p, 1, 1, &b, &known, &off), FreeVerdict::kOk);
}

// Allocates and frees 32-byte guarded blocks until a slot comes back (pinned at its reuse)
// and returns that block, live.
char* AllocateReusedSlot(bool zero) {
  std::vector<uintptr_t> seen;
  for (int i = 0; i < 1000; ++i) {
    char* p = static_cast<char*>(CHeap::Allocate(32, 0, zero, true, 1, 1));
    if (!GuardedPool::Contains(reinterpret_cast<uintptr_t>(p))) return nullptr;
    for (uintptr_t a : seen) {
      if (a == reinterpret_cast<uintptr_t>(p)) return p;
    }
    memset(p, 0x77, 32);  // stale bytes a reuse must not show (calloc)
    seen.push_back(reinterpret_cast<uintptr_t>(p));
    FreeOk(p);
  }
  return nullptr;
}

TEST_F(CHeapTest, FreeOfAReusedSlotSplitsAndMergesNoMapping) {
  char* p = AllocateReusedSlot(false);
  ASSERT_NE(p, nullptr);
  size_t live = MappingCount();
  FreeOk(p);
  EXPECT_EQ(MappingCount(), live);  // PROT_NONE now, but not merged with its guards
  char* again = AllocateReusedSlot(false);
  ASSERT_NE(again, nullptr);
  live = MappingCount();
  FreeOk(again);
  EXPECT_EQ(MappingCount(), live);
}

TEST_F(CHeapTest, ReusedSlotIsZeroedWritableAndFaultsWhenFreedAgain) {
  struct sigaction sa = {}, old;
  sa.sa_sigaction = OnSegv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, &old);
  volatile char* reused = AllocateReusedSlot(true);
  ASSERT_NE(reused, nullptr);
  for (int i = 0; i < 32; ++i) ASSERT_EQ(reused[i], 0) << i;
  for (int i = 0; i < 32; ++i) reused[i] = static_cast<char>(i);
  for (int i = 0; i < 32; ++i) ASSERT_EQ(reused[i], static_cast<char>(i));
  FreeOk(const_cast<char*>(reused));
  EXPECT_EQ(GuardedPool::ExplainFault(reinterpret_cast<uintptr_t>(reused)).kind,
            PoolFaultInfo::kUseAfterFree);
  g_fault_addr = nullptr;
  if (sigsetjmp(g_jump, 1) == 0) {
    reused[5] = 1;
    ADD_FAILURE() << "no fault";
  }
  EXPECT_EQ(g_fault_addr, reused + 5);
  sigaction(SIGSEGV, &old, nullptr);
}

TEST_F(CHeapTest, LiveGuardedBlocksTakeNoMappingWithGuardMarkers) {
  if (!GuardedPool::UsesGuardMarkers()) GTEST_SKIP() << "no MADV_GUARD_INSTALL here";
  CHeap::Allocate(24, 0, false, true, 1, 1);  // the pool's first chunk is open
  size_t before = MappingCount();
  std::vector<void*> blocks;
  for (int i = 0; i < 200; ++i) {
    blocks.push_back(CHeap::Allocate(24 + (i % 2) * 4096, 0, false, true, 1, 1));
    ASSERT_TRUE(GuardedPool::Contains(reinterpret_cast<uintptr_t>(blocks.back())));
  }
  EXPECT_LE(MappingCount(), before + 2);  // a new 2 MiB chunk at most
  for (size_t i = 0; i < blocks.size(); i += 2) FreeOk(blocks[i]);
  EXPECT_LE(MappingCount(), before + 2);
  for (size_t i = 1; i < blocks.size(); i += 2) FreeOk(blocks[i]);
}

TEST_F(CHeapTest, FreedSlotStillFaultsInAForkedChild) {
  char* p = static_cast<char*>(CHeap::Allocate(64, 0, false, true, 1, 1));
  ASSERT_TRUE(GuardedPool::Contains(reinterpret_cast<uintptr_t>(p)));
  char* live = static_cast<char*>(CHeap::Allocate(64, 0, false, true, 1, 1));
  live[0] = 42;
  FreeOk(p);
  pid_t child = fork();
  if (child == 0) {
    signal(SIGSEGV, SIG_DFL);
    if (live[0] != 42) _exit(1);  // a live block is the child's too
    *static_cast<volatile char*>(p) = 1;
    _exit(0);  // the freed slot was writable: wrong
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << status;
  FreeOk(live);
}

// The mprotect scheme, for kernels without guard markers: run in a process of its own (as
// ctest does) so that it gets its own pool; skipped when another suite made the pool first.
class CHeapMprotectTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (GuardedPool::Enabled()) return;
    GuardedPool::DisableGuardMarkersForTesting();
    CHeapConfig config;
    config.guard_enabled = true;
    config.guard_pool_bytes = size_t{64} << 20;
    config.quarantine_bytes = size_t{1} << 20;
    config.max_live_guarded = 1000;
    CHeap::Configure(config);
  }
  void SetUp() override {
    if (GuardedPool::UsesGuardMarkers()) GTEST_SKIP() << "the pool uses guard markers";
  }
};

TEST_F(CHeapMprotectTest, FreeOfAReusedSlotSplitsAndMergesNoMapping) {
  char* p = AllocateReusedSlot(false);
  ASSERT_NE(p, nullptr);
  size_t live = MappingCount();
  FreeOk(p);
  EXPECT_EQ(MappingCount(), live);  // PROT_NONE now, but not merged with its guards
}

TEST_F(CHeapMprotectTest, ReusedSlotIsZeroedWritableAndFaultsWhenFreedAgain) {
  struct sigaction sa = {}, old;
  sa.sa_sigaction = OnSegv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, &old);
  volatile char* reused = AllocateReusedSlot(true);
  ASSERT_NE(reused, nullptr);
  for (int i = 0; i < 32; ++i) ASSERT_EQ(reused[i], 0) << i;
  reused[31] = 1;
  FreeOk(const_cast<char*>(reused));
  g_fault_addr = nullptr;
  if (sigsetjmp(g_jump, 1) == 0) {
    (void)reused[7];
    ADD_FAILURE() << "no fault";
  }
  EXPECT_EQ(g_fault_addr, reused + 7);
  sigaction(SIGSEGV, &old, nullptr);
}

TEST_F(CHeapMprotectTest, FreedSlotsKeepAtMostTheResidentBudgetPopulated) {
  // More one-page blocks than the 1 MiB quarantine holds: slots are reused too.
  std::vector<char*> freed;
  for (int i = 0; i < 300; ++i) {
    char* p = static_cast<char*>(CHeap::Allocate(48, 0, false, true, 1, 1));
    ASSERT_TRUE(GuardedPool::Contains(reinterpret_cast<uintptr_t>(p)));
    memset(p, 0x5a, 48);
    FreeOk(p);
    freed.push_back(p);
  }
  size_t resident = 0;
  for (size_t i = freed.size() - 100; i < freed.size(); ++i) resident += PageResident(freed[i]);
  EXPECT_GT(resident, 0u);  // kept: a reuse takes no zero-fill fault
  GuardedPoolConfig defaults;
  EXPECT_LE(resident * 4096, defaults.resident_bytes);
}

TEST_F(CHeapMprotectTest, PinnedSlotsGiveTheirMappingsUpToLiveBlocks) {
  // Pin a few hundred slots (freed, in quarantine or available), then fill the live budget
  // (1000): the pinned ones must not keep live blocks from being guarded, nor the mappings
  // exceed about two per unit.
  size_t before = MappingCount();
  for (int i = 0; i < 3; ++i) {
    std::vector<void*> batch;
    for (int j = 0; j < 200; ++j) batch.push_back(CHeap::Allocate(24, 0, false, true, 1, 1));
    for (void* p : batch) FreeOk(p);
  }
  std::vector<void*> blocks;
  size_t guarded = 0;
  for (int i = 0; i < 1200; ++i) {
    void* p = CHeap::Allocate(24 + (i % 3) * 4096, 0, false, true, 1, 1);
    ASSERT_NE(p, nullptr);
    guarded += GuardedPool::Contains(reinterpret_cast<uintptr_t>(p));
    blocks.push_back(p);
  }
  EXPECT_LE(guarded, 1000u);
  EXPECT_GE(guarded, 990u);
  EXPECT_LE(MappingCount(), before + 2 * 1000 + 16);
  for (void* p : blocks) FreeOk(p);
}

TEST(BlockTableTest, ManyBlocksGrowAndShrink) {
  std::vector<HeapBlock> blocks(50000);
  for (size_t i = 0; i < blocks.size(); ++i) {
    blocks[i].base = 0x100000 + i * 32;
    blocks[i].size = 16;
    BlockTable::Insert(blocks[i]);
  }
  HeapBlock out;
  for (size_t i = 0; i < blocks.size(); i += 7) {
    ASSERT_TRUE(BlockTable::Find(blocks[i].base, &out));
    EXPECT_EQ(out.base, blocks[i].base);
  }
  ASSERT_TRUE(BlockTable::FindContaining(0x100000 + 5 * 32 + 3, &out));
  EXPECT_EQ(out.base, 0x100000u + 5 * 32);
  for (auto& b : blocks) ASSERT_TRUE(BlockTable::Erase(b.base));
  EXPECT_FALSE(BlockTable::Find(blocks[0].base, &out));
}

// Random inserts, replacements and erases against a std::map: deletion shifts entries back
// (no tombstones), and a wrong shift would lose an entry or leave a stale one findable.
size_t CountLive() {
  size_t live = 0;
  BlockTable::ForEachLive([](const HeapBlock&, void* n) { ++*static_cast<size_t*>(n); }, &live);
  return live;
}

TEST(BlockTableTest, ChurnMatchesAReferenceMap) {
  const size_t live_before = CountLive();  // blocks other tests left
  std::mt19937_64 rng(42);
  std::map<uintptr_t, uint64_t> reference;
  for (int step = 0; step < 400000; ++step) {
    // Few distinct addresses, so that chains collide, entries are reused and erased often.
    uintptr_t base = 0x7f0000000000 + (rng() % 20000) * 48;
    if (rng() % 3 == 0) {
      EXPECT_EQ(BlockTable::Erase(base), reference.erase(base) == 1) << step;
    } else {
      HeapBlock b;
      b.base = base;
      b.size = step;
      BlockTable::Insert(b);
      reference[base] = step;
    }
    if (step % 1000 == 0) {
      for (uintptr_t probe = 0x7f0000000000; probe < 0x7f0000000000 + 20000 * 48; probe += 48 * 37) {
        HeapBlock out;
        auto it = reference.find(probe);
        ASSERT_EQ(BlockTable::Find(probe, &out), it != reference.end()) << step;
        if (it != reference.end()) EXPECT_EQ(out.size, it->second);
      }
    }
  }
  EXPECT_EQ(CountLive() - live_before, reference.size());
  for (auto& [base, size] : reference) {
    HeapBlock out;
    ASSERT_TRUE(BlockTable::Find(base, &out));
    EXPECT_EQ(out.size, size);
    ASSERT_TRUE(BlockTable::Erase(base));
  }
}

// The audits' walk in bounded steps sees exactly the live blocks ForEachLive sees (freed
// ones left out), each once, with at most max_slots visits per step.
TEST(BlockTableTest, StepwiseWalkSeesTheLiveBlocksOnce) {
  constexpr uintptr_t kBase = 0x40000000;
  std::vector<HeapBlock> blocks(20000);
  for (size_t i = 0; i < blocks.size(); ++i) {
    blocks[i].base = kBase + i * 64;
    blocks[i].size = 48;
    BlockTable::Insert(blocks[i]);
  }
  HeapBlock prior;
  for (size_t i = 0; i < blocks.size(); i += 3) {
    ASSERT_TRUE(BlockTable::MarkFreed(blocks[i].base, 0, 0, &prior));
  }
  struct Seen {
    std::vector<int> count;
    size_t visits = 0;
  } seen;
  seen.count.assign(blocks.size(), 0);
  auto visit = [](const HeapBlock& b, void* ctx) {
    auto* s = static_cast<Seen*>(ctx);
    ++s->visits;
    if (b.base >= kBase && b.base < kBase + s->count.size() * 64) ++s->count[(b.base - kBase) / 64];
  };
  constexpr size_t kStep = 100;
  for (int shard = 0; shard < BlockTable::NumShards(); ++shard) {
    size_t cursor = 0;
    for (bool more = true; more;) {
      size_t before = seen.visits;
      more = BlockTable::ForEachLiveStep(shard, &cursor, kStep, visit, &seen);
      EXPECT_LE(seen.visits - before, kStep);
    }
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(seen.count[i], i % 3 == 0 ? 0 : 1) << "block " << i;
  }
  size_t cursor = 0;
  EXPECT_FALSE(BlockTable::ForEachLiveStep(-1, &cursor, kStep, visit, &seen));
  EXPECT_FALSE(BlockTable::ForEachLiveStep(BlockTable::NumShards(), &cursor, kStep, visit, &seen));
  for (auto& b : blocks) ASSERT_TRUE(BlockTable::Erase(b.base));
}

}  // namespace
}  // namespace cgosan
