// The C heap model without the preload: block headers and records, guarded pool (real
// guard pages and real faults), quarantine, and the free verdicts.
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

#include "shadow/block_header.h"
#include "shadow/guarded_pool.h"

namespace cgosan {
namespace {

// The heap every test here runs on (one per process: the pool is configured once).
void ConfigureTestHeap() {
  CHeapConfig config;
  config.guard_enabled = true;
  config.guard_pool_bytes = size_t{64} << 20;
  config.quarantine_bytes = size_t{1} << 20;
  config.max_live_guarded = 1000;
  CHeap::Configure(config);
}

void FreeOk(void* p) {
  HeapBlock b;
  bool known;
  uint64_t off;
  ASSERT_EQ(CHeap::Free(p, 1, 1, &b, &known, &off), FreeVerdict::kOk);
}

sigjmp_buf g_jump;
void* g_fault_addr;
void OnSegv(int, siginfo_t* info, void*) {
  g_fault_addr = info->si_addr;
  siglongjmp(g_jump, 1);
}

// Where an access (a read, or a write) to `at` faulted, nullptr when it did not.
void* FaultOf(volatile char* at, bool write) {
  struct sigaction sa = {}, old;
  sa.sa_sigaction = OnSegv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, &old);
  g_fault_addr = nullptr;
  if (sigsetjmp(g_jump, 1) == 0) {
    if (write) {
      *at = 1;
    } else {
      (void)*at;
    }
  }
  sigaction(SIGSEGV, &old, nullptr);
  return g_fault_addr;
}

class CHeapTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ConfigureTestHeap(); }
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

TEST_F(CHeapTest, FreedGuardedMemoryReallyFaults) {
  char* p = static_cast<char*>(CHeap::Allocate(32, 0, false, true, 1, 1));
  FreeOk(p);
  EXPECT_EQ(FaultOf(p + 3, false), p + 3);
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
  for (void* p : blocks) FreeOk(p);
}

size_t MappingCount() {
  FILE* f = fopen("/proc/self/maps", "r");
  size_t n = 0;
  for (int ch; (ch = fgetc(f)) != EOF;) n += ch == '\n';
  fclose(f);
  return n;
}

// Allocates and frees 32-byte guarded blocks until a slot comes back and returns that
// block, live.
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
  // The mprotect scheme merges a freed slot back with its guards: two mappings fewer.
  if (!GuardedPool::UsesGuardMarkers()) GTEST_SKIP() << "no MADV_GUARD_INSTALL here";
  char* p = AllocateReusedSlot(false);
  ASSERT_NE(p, nullptr);
  size_t live = MappingCount();
  FreeOk(p);
  EXPECT_EQ(MappingCount(), live);  // inaccessible now, under markers: no VMA changed
  char* again = AllocateReusedSlot(false);
  ASSERT_NE(again, nullptr);
  live = MappingCount();
  FreeOk(again);
  EXPECT_EQ(MappingCount(), live);
}

// A slot back from the quarantine (calloc'd) holds zeros, takes writes, and faults, reads
// and writes alike, once freed again: under either protection scheme.
void CheckReusedSlotIsZeroedWritableAndFaultsWhenFreedAgain() {
  char* reused = AllocateReusedSlot(true);
  ASSERT_NE(reused, nullptr);
  for (int i = 0; i < 32; ++i) ASSERT_EQ(reused[i], 0) << i;
  for (int i = 0; i < 32; ++i) reused[i] = static_cast<char>(i);
  for (int i = 0; i < 32; ++i) ASSERT_EQ(reused[i], static_cast<char>(i));
  FreeOk(reused);
  EXPECT_EQ(GuardedPool::ExplainFault(reinterpret_cast<uintptr_t>(reused)).kind,
            PoolFaultInfo::kUseAfterFree);
  EXPECT_EQ(FaultOf(reused + 5, true), reused + 5);
  EXPECT_EQ(FaultOf(reused + 7, false), reused + 7);
}

TEST_F(CHeapTest, ReusedSlotIsZeroedWritableAndFaultsWhenFreedAgain) {
  CheckReusedSlotIsZeroedWritableAndFaultsWhenFreedAgain();
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
    ConfigureTestHeap();
  }
  void SetUp() override {
    if (GuardedPool::UsesGuardMarkers()) GTEST_SKIP() << "the pool uses guard markers";
  }
};

TEST_F(CHeapMprotectTest, ReusedSlotIsZeroedWritableAndFaultsWhenFreedAgain) {
  CheckReusedSlotIsZeroedWritableAndFaultsWhenFreedAgain();
}

// Each live slot costs about two kernel mappings here: the live budget (1000) bounds them,
// blocks past it are unguarded, and freed slots merge back with their guards.
TEST_F(CHeapMprotectTest, LiveGuardedBudgetFallsBackToUnguarded) {
  size_t before = MappingCount();
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
  EXPECT_LE(MappingCount(), before + 16);
  void* again = CHeap::Allocate(24, 0, false, true, 1, 1);  // the budget is back
  EXPECT_TRUE(GuardedPool::Contains(reinterpret_cast<uintptr_t>(again)));
  FreeOk(again);
}

// Random mallocs and frees against a std::map: every live block is found by its pointer
// with its own size and stack, a freed one is a double free while it waits in quarantine,
// and the walk sees exactly the live ones.
TEST_F(CHeapTest, ChurnMatchesAReferenceMap) {
  std::mt19937_64 rng(42);
  std::map<uintptr_t, size_t> live;  // user pointer -> size
  auto free_one = [&](uintptr_t p) {
    HeapBlock b;
    bool known;
    uint64_t off;
    ASSERT_EQ(CHeap::Free(reinterpret_cast<void*>(p), 5, 1, &b, &known, &off), FreeVerdict::kOk);
    ASSERT_EQ(CHeap::Free(reinterpret_cast<void*>(p), 6, 1, &b, &known, &off),
              FreeVerdict::kDoubleFree);
    EXPECT_EQ(b.free_stack, 5u);
    live.erase(p);
  };
  for (int step = 0; step < 100000; ++step) {
    if (!live.empty() && rng() % 2 == 0) {
      auto it = live.lower_bound(rng());
      if (it == live.end()) it = live.begin();
      free_one(it->first);
    } else {
      size_t size = rng() % 300;
      size_t align = rng() % 8 == 0 ? size_t{64} << (rng() % 4) : 0;
      auto* p = static_cast<unsigned char*>(
          CHeap::Allocate(size, align, false, false, static_cast<StackId>(size + 1), 1));
      ASSERT_NE(p, nullptr);
      if (align) {
        ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
      }
      if (size) p[0] = p[size - 1] = 0xee;  // the block is the program's, all of it
      live[reinterpret_cast<uintptr_t>(p)] = size;
    }
    if (step % 5000 == 0) {
      for (auto& [p, size] : live) {
        HeapBlock b;
        ASSERT_TRUE(CHeap::FindLive(p, &b)) << step;
        EXPECT_EQ(b.size, size);
        EXPECT_EQ(b.alloc_stack, size + 1);
        EXPECT_TRUE(CHeap::StillLive(b));
      }
    }
  }
  std::map<uintptr_t, int> seen;
  CHeap::ForEachLive([](const HeapBlock& b, void* ctx) {
    ++(*static_cast<std::map<uintptr_t, int>*>(ctx))[b.base];
  }, &seen);
  for (auto& [p, size] : live) EXPECT_EQ(seen[p], 1) << "missing " << p;
  while (!live.empty()) free_one(live.begin()->first);
}

// glibc's own blocks (guard=sampled's unsampled ones) are told apart by their headers alone.
TEST_F(CHeapTest, GlibcBlocksAreNotTracked) {
  std::vector<void*> theirs, ours;
  for (size_t size : {0, 1, 16, 24, 100, 4000, 200000}) {
    theirs.push_back(CHeap::AllocateUntracked(size, 0, false));
    theirs.push_back(CHeap::AllocateUntracked(size, 4096, false));
    ours.push_back(CHeap::Allocate(size, 0, false, false, 1, 1));
    ours.push_back(CHeap::Allocate(size, 4096, false, false, 1, 1));
  }
  for (void* p : theirs) {
    EXPECT_FALSE(CHeap::Tracks(reinterpret_cast<uintptr_t>(p)));
    free(p);
  }
  for (void* p : ours) {
    EXPECT_TRUE(CHeap::Tracks(reinterpret_cast<uintptr_t>(p)));
    HeapBlock b;
    bool known;
    uint64_t off;
    EXPECT_EQ(CHeap::Free(p, 1, 1, &b, &known, &off), FreeVerdict::kOk);
  }
}

// An invalid free whose header would lie on an unmapped page is refused, not a crash.
TEST_F(CHeapTest, InvalidFreeAfterAnUnmappedPageIsRefused) {
  auto* pages = static_cast<char*>(
      mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(pages, MAP_FAILED);
  munmap(pages, 4096);
  HeapBlock b;
  bool known;
  uint64_t off;
  EXPECT_FALSE(CHeap::Tracks(reinterpret_cast<uintptr_t>(pages + 4096)));
  EXPECT_EQ(CHeap::Free(pages + 4096, 1, 1, &b, &known, &off), FreeVerdict::kInvalidFree);
  EXPECT_FALSE(known);
  // A forged tag without the check word is not a header either.
  auto* words = reinterpret_cast<uint64_t*>(pages + 4096);
  words[0] = 0;
  words[1] = uint64_t{1} << 32 | kHeaderTag;
  EXPECT_FALSE(CHeap::Tracks(reinterpret_cast<uintptr_t>(words + 2)));
  EXPECT_EQ(CHeap::Free(words + 2, 1, 1, &b, &known, &off), FreeVerdict::kInvalidFree);
  munmap(pages + 4096, 4096);
}

// Blocks made before the options were known: after the hand-over they are neither walked
// nor live-scanned, yet their free still removes the header and releases them.
TEST_F(CHeapTest, AdoptedBlocksAreFreedButNotWalked) {
  void* early = CHeap::Allocate(77, 0, false, false, 0, 0);
  CHeap::ReleaseUnguardedRecords();
  bool walked = false;
  struct Ctx {
    uintptr_t p;
    bool* walked;
  } ctx{reinterpret_cast<uintptr_t>(early), &walked};
  CHeap::ForEachLive([](const HeapBlock& b, void* c) {
    auto* x = static_cast<Ctx*>(c);
    if (b.base == x->p) *x->walked = true;
  }, &ctx);
  EXPECT_FALSE(walked);
  HeapBlock b;
  EXPECT_TRUE(CHeap::FindLive(reinterpret_cast<uintptr_t>(early), &b));  // realloc needs it
  EXPECT_EQ(b.size, 77u);
  EXPECT_FALSE(CHeap::StillLive(b));
  bool known;
  uint64_t off;
  EXPECT_EQ(CHeap::Free(early, 1, 1, &b, &known, &off), FreeVerdict::kOk);
}

// The fill of new malloc blocks (malloc_fill_byte): every byte of a block up to kFillLimit,
// whatever its size and alignment, and not one byte past it. Fill has inline stores for
// the small sizes and memset for the rest: each size around their seams is checked.
class CHeapFillTest : public ::testing::Test {
 protected:
  static constexpr unsigned char kFill = 0xbe;
  static void SetUpTestSuite() {
    CHeapConfig config;
    config.fill_byte = kFill;
    CHeap::Configure(config);
  }
  static void TearDownTestSuite() { ConfigureTestHeap(); }
};

TEST_F(CHeapFillTest, FillCoversTheBlockUpToTheLimitAndNoFurther) {
  std::vector<unsigned char> buf(kFillLimit + 64);
  for (size_t size = 0; size <= kFillLimit + 16; size += size < 300 ? 1 : 199) {
    for (size_t offset : {0, 1, 8, 15}) {
      std::fill(buf.begin(), buf.end(), 0);
      c_heap_internal::Fill(buf.data() + offset, size);
      size_t filled = size < kFillLimit ? size : kFillLimit;
      for (size_t i = 0; i < buf.size(); ++i) {
        bool inside = i >= offset && i < offset + filled;
        ASSERT_EQ(buf[i], inside ? kFill : 0) << "size " << size << ", offset " << offset
                                              << ", byte " << i;
      }
    }
  }
}

TEST_F(CHeapFillTest, NewBlocksAreFilledAndCallocBlocksZeroed) {
  for (size_t size : {1, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 4096, 5000, 40000}) {
    for (bool zero : {false, true}) {
      auto* p = static_cast<unsigned char*>(CHeap::Allocate(size, 0, zero, false, 1, 1));
      ASSERT_NE(p, nullptr);
      size_t checked = zero || size < kFillLimit ? size : kFillLimit;
      for (size_t i = 0; i < checked; ++i) {
        ASSERT_EQ(p[i], zero ? 0 : kFill) << "size " << size << ", byte " << i;
      }
      memset(p, 0x11, size);  // what the next block of this slot must not show
      FreeOk(p);
    }
  }
}

}  // namespace
}  // namespace cgosan
