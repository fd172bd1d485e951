// HookEngine tests: the real engine in the test process, on the Go-shaped functions of
// hook_engine_test_functions.S (one per instruction pattern). Callbacks must see the
// argument registers, functions must return what they return unhooked, every register must
// survive, hits must be counted under 8 threads at once, refused sites must stay untouched,
// SIGTRAPs that are not hooks must reach the program's (virtualised) action, and the exit
// hook must run its callback from a thread with every signal blocked on a small stack.
// Filtered hooks must trap exactly when their field passes the threshold (each width,
// unsigned, nil bases unread), keep every register and the function's result, come back
// through the filter after a morestack tail, and refuse every other entry untouched.
#include "preload/hooks/hook_engine.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "preload/hooks/tracer.h"
#include "preload/signal_table.h"
#include "preload/trap_handler.h"
#include "tests/unit/command_test_util.h"

extern "C" {
uint64_t hook_test_call_go(const void* fn, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
uint64_t hook_test_call_abi0(const void* fn, uint64_t arg);
void hook_test_call_abi0_on_stack(const void* fn, uint64_t arg, void* stack_top);
void hook_test_call_regs(const void* fn, const uint64_t* in);
extern uint64_t hook_test_fake_g[8];
extern uint64_t hook_test_regs_out[18];
extern uint64_t hook_test_morestack_calls;
void hook_test_regs_cmp();
void hook_test_regs_push();
void hook_test_cmp_rel32();
void hook_test_cmp_rel32_twin();
void hook_test_cmp_rel8();
void hook_test_threads();
void hook_test_lea8();
void hook_test_lea32();
void hook_test_push();
void hook_test_sub8();
void hook_test_sub32();
void hook_test_ret();
void hook_test_ret_site();
void hook_test_call();
void hook_test_call_site();
void hook_test_jmp();
void hook_test_jmp_site();
void hook_test_jcc32();
void hook_test_jcc32_site();
void hook_test_jcc8();
void hook_test_jcc8_site();
void hook_test_mov_edi();
void hook_test_exit_like();
void hook_test_unsupported();
void hook_test_filter_rel32();
void hook_test_filter_rel8();
void hook_test_filter_w4();
void hook_test_filter_w8();
void hook_test_filter_w8_big();
void hook_test_filter_threads();
void hook_test_filter_sigmask();
void hook_test_filter_cost();
void hook_test_filter_morestack32();
void hook_test_filter_morestack8();
void hook_test_filter_regs();
void hook_test_filter_refused_lea();
void hook_test_filter_refused_jb();
void hook_test_foreign_int3();
}

namespace cgosan {
namespace {

uintptr_t Addr(void (*fn)()) { return reinterpret_cast<uintptr_t>(fn); }
const void* Fn(void (*fn)()) { return reinterpret_cast<const void*>(fn); }

uint64_t Compute(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t k) {
  return a + 2 * b + 3 * c + 5 * d + k;
}

// What a hook's callback saw, per hook site.
struct Seen {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> inconsistent{0};  // multi-thread runs: rbx != 2*rax etc.
  uint64_t rax = 0, rbx = 0, rcx = 0, rdi = 0, r14 = 0, pc = 0, sp = 0;
};

void Record(const HookContext& ctx) {
  Seen* s = static_cast<Seen*>(ctx.user());
  s->calls.fetch_add(1, std::memory_order_relaxed);
  s->rax = ctx.rax();
  s->rbx = ctx.rbx();
  s->rcx = ctx.rcx();
  s->rdi = ctx.rdi();
  s->r14 = ctx.r14();
  s->pc = ctx.pc();
  s->sp = ctx.sp();
}

void CheckConsistent(const HookContext& ctx) {
  Seen* s = static_cast<Seen*>(ctx.user());
  s->calls.fetch_add(1, std::memory_order_relaxed);
  if (ctx.rbx() != 2 * ctx.rax() || ctx.rcx() != 3 * ctx.rax() || ctx.rdi() != 4 * ctx.rax() ||
      ctx.r14() != reinterpret_cast<uint64_t>(hook_test_fake_g))
    s->inconsistent.fetch_add(1, std::memory_order_relaxed);
}

void Nothing(const HookContext&) {}

// Hooks live for the whole process (gtest may run every test in one process): each site is
// installed once, with a Seen of static storage.
struct Site {
  void (*fn)();
  const char* name;
  HookCallback callback;
};

Seen* SeenFor(uintptr_t pc) {
  static Seen seen[64];
  static uintptr_t pcs[64];
  for (int i = 0; i < 64; ++i) {
    if (pcs[i] == pc) return &seen[i];
    if (pcs[i] == 0) {
      pcs[i] = pc;
      return &seen[i];
    }
  }
  return nullptr;
}

std::set<uintptr_t>& InstalledByTests() {
  static std::set<uintptr_t> installed;
  return installed;
}

bool EnsureHook(uintptr_t pc, const char* name, HookCallback callback, const char** why) {
  if (InstalledByTests().count(pc)) return true;
  if (!HookEngine::Install(pc, name, callback, SeenFor(pc), why)) return false;
  InstalledByTests().insert(pc);
  return true;
}

bool EnsureFiltered(uintptr_t pc, const char* name, const HookFilter& filter, HookCallback callback,
                    const char** why) {
  if (InstalledByTests().count(pc)) return true;
  if (!HookEngine::InstallFiltered(pc, name, filter, callback, SeenFor(pc), why)) return false;
  InstalledByTests().insert(pc);
  return true;
}

class HookEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* why = nullptr;
    ASSERT_TRUE(HookEngine::Init(&why)) << why;
    hook_test_fake_g[2] = 0;
  }

  void Hook(void (*fn)(), const char* name, HookCallback callback = Record) {
    const char* why = nullptr;
    ASSERT_TRUE(EnsureHook(Addr(fn), name, callback, &why)) << name << ": " << why;
    EXPECT_EQ(*reinterpret_cast<const uint8_t*>(fn), 0xcc) << name;
  }

  void HookFiltered(void (*fn)(), const char* name, const HookFilter& filter,
                    HookCallback callback = Record) {
    const char* why = nullptr;
    ASSERT_TRUE(EnsureFiltered(Addr(fn), name, filter, callback, &why)) << name << ": " << why;
    EXPECT_EQ(*reinterpret_cast<const uint8_t*>(fn), 0xe9) << name;  // jmp rel32
  }
};

TEST_F(HookEngineTest, EntryPatternsSeeArgumentsAndKeepResults) {
  struct Case {
    void (*fn)();
    const char* name;
    uint64_t k;
  } cases[] = {
      {hook_test_cmp_rel32, "cmp/jbe rel32", 1}, {hook_test_cmp_rel8, "cmp/jbe rel8", 2},
      {hook_test_lea8, "lea disp8", 3},          {hook_test_lea32, "lea disp32", 4},
      {hook_test_push, "push %rbp", 5},          {hook_test_sub8, "sub imm8", 6 + 7},
      {hook_test_sub32, "sub imm32", 7 + 9},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const uint64_t a = 11, b = 22, d = 44;
    const uint64_t cc = 33;
    EXPECT_EQ(hook_test_call_go(Fn(c.fn), a, b, cc, d), Compute(a, b, cc, d, c.k));
    Hook(c.fn, c.name);
    Seen* seen = SeenFor(Addr(c.fn));
    uint64_t calls = seen->calls.load(), hits = HookEngine::Hits(Addr(c.fn));
    for (uint64_t i = 1; i <= 3; ++i) {
      EXPECT_EQ(hook_test_call_go(Fn(c.fn), a * i, b, cc, d), Compute(a * i, b, cc, d, c.k));
      EXPECT_EQ(seen->rax, a * i);
      EXPECT_EQ(seen->rbx, b);
      EXPECT_EQ(seen->rcx, cc);
      EXPECT_EQ(seen->rdi, d);
      EXPECT_EQ(seen->r14, reinterpret_cast<uint64_t>(hook_test_fake_g));
      EXPECT_EQ(seen->pc, Addr(c.fn));
      EXPECT_EQ(seen->sp % 16, 8u);  // at entry: just after the call pushed its return address
    }
    EXPECT_EQ(seen->calls.load() - calls, 3u);
    EXPECT_EQ(HookEngine::Hits(Addr(c.fn)) - hits, 3u);
  }
}

TEST_F(HookEngineTest, StackCheckCopiedOutOfLineStillDecides) {
  Hook(hook_test_cmp_rel32, "cmp/jbe rel32");
  Hook(hook_test_lea32, "lea disp32");
  hook_test_fake_g[2] = ~uint64_t{0};  // a stack guard above any SP: "needs more stack"
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_cmp_rel32), 1, 2, 3, 4), ~uint64_t{0});
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_lea32), 1, 2, 3, 4), ~uint64_t{0});
  hook_test_fake_g[2] = 0;
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_cmp_rel32), 1, 2, 3, 4), Compute(1, 2, 3, 4, 1));
}

TEST_F(HookEngineTest, EveryRegisterSurvives) {
  for (void (*fn)() : {hook_test_regs_cmp, hook_test_regs_push}) {
    Hook(fn, "regs", Nothing);
    uint64_t in[17];
    for (int i = 0; i < 17; ++i) in[i] = 0x1111111111111111ull * static_cast<uint64_t>(i + 1);
    in[13] = reinterpret_cast<uint64_t>(hook_test_fake_g);  // r14: the g of the stack check
    memset(hook_test_regs_out, 0, sizeof(hook_test_regs_out));
    uint64_t hits = HookEngine::Hits(Addr(fn));
    hook_test_call_regs(Fn(fn), in);
    EXPECT_EQ(HookEngine::Hits(Addr(fn)) - hits, 1u);
    const char* names[17] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",   "r8",     "r9",
                             "r10", "r11", "r12", "r13", "r14", "r15", "xmm15", "xmm15hi"};
    for (int i = 0; i < 17; ++i) EXPECT_EQ(hook_test_regs_out[i], in[i]) << names[i];
  }
}

TEST_F(HookEngineTest, ReturnSiteIsEmulated) {
  Hook(hook_test_ret_site, "ret");
  Seen* seen = SeenFor(Addr(hook_test_ret_site));
  uint64_t calls = seen->calls.load();
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_ret), 5, 6, 7, 8), Compute(5, 6, 7, 8, 8));
  EXPECT_EQ(seen->calls.load() - calls, 1u);
  EXPECT_EQ(seen->rax, Compute(5, 6, 7, 8, 8));  // the return value, at the ret
  EXPECT_EQ(seen->pc, Addr(hook_test_ret_site));
}

TEST_F(HookEngineTest, CallReachesItsTargetWithTheRealReturnAddress) {
  Hook(hook_test_call_site, "call rel32");
  Seen* seen = SeenFor(Addr(hook_test_call_site));
  uint64_t calls = seen->calls.load();
  // hook_test_callee returns -2 if the return address is not the call's own pc+5.
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_call), 1, 1, 1, 1), Compute(1, 1, 1, 1, 9) + 1000);
  EXPECT_EQ(seen->calls.load() - calls, 1u);
  EXPECT_EQ(seen->pc, Addr(hook_test_call_site));
}

TEST_F(HookEngineTest, JumpsAndConditionalJumps) {
  Hook(hook_test_jmp_site, "jmp rel32");
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_jmp), 1, 2, 3, 4), Compute(1, 2, 3, 4, 10) + 100);
  Hook(hook_test_jcc32_site, "jae rel32");
  Hook(hook_test_jcc8_site, "jae rel8");
  uint64_t hits32 = HookEngine::Hits(Addr(hook_test_jcc32_site));
  uint64_t hits8 = HookEngine::Hits(Addr(hook_test_jcc8_site));
  for (uint64_t a : {0, 15, 16, 17, 1000}) {
    SCOPED_TRACE(a);
    uint64_t extra = a < 16 ? 1 : 2;
    EXPECT_EQ(hook_test_call_go(Fn(hook_test_jcc32), a, 1, 1, 1), Compute(a, 1, 1, 1, 11) + extra);
    EXPECT_EQ(hook_test_call_go(Fn(hook_test_jcc8), a, 1, 1, 1), Compute(a, 1, 1, 1, 12) + extra);
  }
  EXPECT_EQ(HookEngine::Hits(Addr(hook_test_jcc32_site)) - hits32, 5u);
  EXPECT_EQ(HookEngine::Hits(Addr(hook_test_jcc8_site)) - hits8, 5u);
}

TEST_F(HookEngineTest, StackArgumentLoadAbi0) {
  Hook(hook_test_mov_edi, "mov 0x8(%rsp),%edi");
  EXPECT_EQ(hook_test_call_abi0(Fn(hook_test_mov_edi), 0x1234), 0x1234u);
  EXPECT_EQ(hook_test_call_abi0(Fn(hook_test_mov_edi), 0xffffffff00000007ull), 7u);
}

TEST_F(HookEngineTest, UnknownInstructionIsRefusedAndLeftAlone) {
  uint8_t before[16];
  memcpy(before, Fn(hook_test_unsupported), sizeof(before));
  int installed = HookEngine::Installed();
  const char* why = nullptr;
  EXPECT_FALSE(
      HookEngine::Install(Addr(hook_test_unsupported), "unsupported", Record, nullptr, &why));
  ASSERT_NE(why, nullptr);
  EXPECT_NE(std::string(why).find("unsupported"), std::string::npos) << why;
  EXPECT_EQ(memcmp(before, Fn(hook_test_unsupported), sizeof(before)), 0);
  EXPECT_EQ(HookEngine::Installed(), installed);
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_unsupported), 0, 0, 0, 0), 77u);
  // Nor twice at the same place.
  Hook(hook_test_cmp_rel8, "cmp/jbe rel8");
  why = nullptr;
  EXPECT_FALSE(HookEngine::Install(Addr(hook_test_cmp_rel8), "again", Record, nullptr, &why));
  ASSERT_NE(why, nullptr);
  EXPECT_STREQ(why, "already hooked");
}

TEST_F(HookEngineTest, HookAtListsPlantedHooks) {
  Hook(hook_test_cmp_rel32, "cmp/jbe rel32");
  bool listed = false;
  for (int i = 0; i < HookEngine::Installed(); ++i) {
    const char* name;
    uintptr_t pc;
    uint64_t hits;
    ASSERT_TRUE(HookEngine::HookAt(i, &name, &pc, &hits));
    if (pc == Addr(hook_test_cmp_rel32)) listed = strcmp(name, "cmp/jbe rel32") == 0;
  }
  EXPECT_TRUE(listed);
  const char* name;
  uintptr_t pc;
  uint64_t hits;
  EXPECT_FALSE(HookEngine::HookAt(HookEngine::Installed(), &name, &pc, &hits));
}

TEST_F(HookEngineTest, EightThreadsHitTheSameHookAtOnce) {
  Hook(hook_test_threads, "threads", CheckConsistent);
  Seen* seen = SeenFor(Addr(hook_test_threads));
  constexpr int kThreads = 8, kCalls = 100000;
  uint64_t hits = HookEngine::Hits(Addr(hook_test_threads));
  uint64_t calls = seen->calls.load();
  uint64_t total = HookEngine::TotalHits();
  uint64_t inconsistent = seen->inconsistent.load();
  std::atomic<int> ready{0};
  std::atomic<uint64_t> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (uint64_t i = 0; i < kCalls; ++i) {
        uint64_t a = static_cast<uint64_t>(t) * kCalls + i + 1;
        if (hook_test_call_go(Fn(hook_test_threads), a, 2 * a, 3 * a, 4 * a) !=
            Compute(a, 2 * a, 3 * a, 4 * a, 13))
          wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(seen->inconsistent.load() - inconsistent, 0u);
  EXPECT_EQ(HookEngine::Hits(Addr(hook_test_threads)) - hits, uint64_t{kThreads} * kCalls);
  EXPECT_EQ(seen->calls.load() - calls, uint64_t{kThreads} * kCalls);
  EXPECT_EQ(HookEngine::TotalHits() - total, uint64_t{kThreads} * kCalls);
}

double NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

TEST_F(HookEngineTest, CostPerHit) {
  Hook(hook_test_cmp_rel32, "cmp/jbe rel32", Record);
  Hook(hook_test_push, "push %rbp", Record);
  constexpr int kCalls = 200000;
  for (void (*fn)() : {hook_test_cmp_rel32, hook_test_push}) {
    uint64_t hits = HookEngine::Hits(Addr(fn));
    double t0 = NowNs();
    uint64_t sum = 0;
    for (int i = 0; i < kCalls; ++i) sum += hook_test_call_go(Fn(fn), i, 1, 1, 1);
    double t1 = NowNs();
    for (int i = 0; i < kCalls; ++i)
      sum += hook_test_call_go(Fn(hook_test_cmp_rel32_twin), i, 1, 1, 1);
    double t2 = NowNs();
    EXPECT_NE(sum, 0u);
    EXPECT_EQ(HookEngine::Hits(Addr(fn)) - hits, uint64_t{kCalls});
    printf("[   INFO   ] %s: %.0f ns per hooked call, %.1f ns unhooked\n",
           fn == hook_test_push ? "push %rbp (emulated)" : "cmp (out of line)", (t1 - t0) / kCalls,
           (t2 - t1) / kCalls);
  }
}

// A block of fields for the filters to read, reached through an argument register.
struct alignas(16) FilterBlock {
  uint8_t bytes[64];
};

template <typename T>
void Put(FilterBlock* block, int offset, T value) {
  memcpy(block->bytes + offset, &value, sizeof(value));
}

uint64_t Ptr(const void* p) { return reinterpret_cast<uint64_t>(p); }

TEST_F(HookEngineTest, FilteredHookTrapsOnlyWhenTheFilterHolds) {
  // Each case: where the field is, which argument points at it, the values that must not
  // trap and those that must. The bytes around each field are 0xff, so a wider read would
  // pass the filter where it must not.
  struct Value {
    uint64_t v;
    bool traps;
  };
  struct Case {
    void (*fn)();
    const char* name;
    HookFilter filter;
    int field;     // offset of the field in the block
    int argument;  // 0-3: which of a, b, c, d (RAX, RBX, RCX, RDI/R8) is the base
    int base;      // offset of the base in the block
    uint64_t k;
    std::vector<Value> values;
  } cases[] = {
      {hook_test_filter_rel32,
       "width 1, jbe rel32",
       {REG_RBX, 9, 1, 7},
       9,
       1,
       0,
       20,
       {{0, false}, {6, false}, {7, true}, {8, true}, {255, true}}},
      {hook_test_filter_rel8,
       "width 2, jbe rel8",
       {REG_RAX, 2, 2, 128},
       2,
       0,
       0,
       21,
       {{0, false}, {127, false}, {128, true}, {1024, true}, {0xffff, true}}},
      {hook_test_filter_w4,
       "width 4, negative offset",
       {REG_RCX, -8, 4, 0x80000000u},
       8,
       2,
       16,
       22,
       {{0, false}, {0x7fffffff, false}, {0x80000000u, true}, {0xffffffffu, true}}},
      {hook_test_filter_w8,
       "width 8",
       {REG_RDI, 16, 8, 1000},
       16,
       3,
       0,
       23,
       {{999, false},
        {0, false},
        {1000, true},
        {uint64_t{1} << 32, true},
        {uint64_t{1} << 63, true}}},
      {hook_test_filter_w8_big,
       "width 8, min above 2^31, R8",
       {REG_R8, 24, 8, 0x300000005ull},
       24,
       3,
       0,
       24,
       {{5, false},
        {0x2ffffffffull, false},
        {0x300000004ull, false},
        {0x200000009ull, false},
        {0x300000005ull, true},
        {0x300000006ull, true},
        {0x400000000ull, true},
        {~uint64_t{0}, true}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FilterBlock block;
    memset(&block, 0xff, sizeof(block));
    uint64_t args[4] = {11, 22, 33, 44};
    args[c.argument] = Ptr(block.bytes + c.base);
    EXPECT_EQ(hook_test_call_go(Fn(c.fn), args[0], args[1], args[2], args[3]),
              Compute(args[0], args[1], args[2], args[3], c.k));
    HookFiltered(c.fn, c.name, c.filter);
    Seen* seen = SeenFor(Addr(c.fn));
    for (const Value& value : c.values) {
      SCOPED_TRACE(value.v);
      switch (c.filter.width) {
        case 1:
          Put(&block, c.field, static_cast<uint8_t>(value.v));
          break;
        case 2:
          Put(&block, c.field, static_cast<uint16_t>(value.v));
          break;
        case 4:
          Put(&block, c.field, static_cast<uint32_t>(value.v));
          break;
        default:
          Put(&block, c.field, value.v);
      }
      uint64_t calls = seen->calls.load(), hits = HookEngine::Hits(Addr(c.fn));
      seen->rax = seen->rbx = seen->rcx = seen->rdi = seen->pc = seen->sp = 0;
      EXPECT_EQ(hook_test_call_go(Fn(c.fn), args[0], args[1], args[2], args[3]),
                Compute(args[0], args[1], args[2], args[3], c.k));
      EXPECT_EQ(seen->calls.load() - calls, value.traps ? 1u : 0u);
      EXPECT_EQ(HookEngine::Hits(Addr(c.fn)) - hits, value.traps ? 1u : 0u);
      if (!value.traps) continue;
      EXPECT_EQ(seen->rax, args[0]);
      EXPECT_EQ(seen->rbx, args[1]);
      EXPECT_EQ(seen->rcx, args[2]);
      EXPECT_EQ(seen->rdi, args[3]);
      EXPECT_EQ(seen->r14, reinterpret_cast<uint64_t>(hook_test_fake_g));
      EXPECT_EQ(seen->pc, Addr(c.fn));  // the function's entry, not the trampoline's int3
      EXPECT_EQ(seen->sp % 16, 8u);     // at entry: nothing pushed by the trampoline
    }
  }
}

// The sysFaultOS case: the runtime calls it with every signal blocked when a locked thread
// exits; an int3 then would kill the process. Behind the mask check it traps only when
// SIGTRAP can be delivered, keeps every result, and SP is as at entry when it traps.
TEST_F(HookEngineTest, SigtrapMaskFilterTrapsOnlyWhenSigtrapIsDeliverable) {
  HookFiltered(hook_test_filter_sigmask, "sigmask", {kFilterSigtrapUnblocked, 0, 1, 0});
  Seen* seen = SeenFor(Addr(hook_test_filter_sigmask));
  uint64_t calls = seen->calls.load();
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_filter_sigmask), 2, 3, 4, 5), Compute(2, 3, 4, 5, 27));
  EXPECT_EQ(seen->calls.load() - calls, 1u);
  sigset_t all, old;
  sigfillset(&all);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &all, &old), 0);
  uint64_t blocked_result = hook_test_call_go(Fn(hook_test_filter_sigmask), 2, 3, 4, 5);
  uint64_t blocked_calls = seen->calls.load() - calls;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
  EXPECT_EQ(blocked_result, Compute(2, 3, 4, 5, 27));
  EXPECT_EQ(blocked_calls, 1u) << "trapped with SIGTRAP blocked";
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_filter_sigmask), 2, 3, 4, 5), Compute(2, 3, 4, 5, 27));
  EXPECT_EQ(seen->calls.load() - calls, 2u);
}

TEST_F(HookEngineTest, FilteredHookDoesNotReadANilBase) {
  HookFiltered(hook_test_filter_rel32, "width 1, jbe rel32", {REG_RBX, 9, 1, 7});
  HookFiltered(hook_test_filter_w8_big, "width 8, min above 2^31, R8",
               {REG_R8, 24, 8, 0x300000005ull});
  uint64_t hits32 = HookEngine::Hits(Addr(hook_test_filter_rel32));
  uint64_t hits_big = HookEngine::Hits(Addr(hook_test_filter_w8_big));
  // RBX = 0 and R8 (= d) = 4000: a read would fault in the first page.
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_filter_rel32), 1, 0, 3, 4), Compute(1, 0, 3, 4, 20));
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_filter_w8_big), 1, 2, 3, 4000),
            Compute(1, 2, 3, 4000, 24));
  EXPECT_EQ(HookEngine::Hits(Addr(hook_test_filter_rel32)), hits32);
  EXPECT_EQ(HookEngine::Hits(Addr(hook_test_filter_w8_big)), hits_big);
}

// The morestack tail (taken when the stack guard is above SP) runs from the original text and
// jumps back to the entry, through the trampoline again: the filter is evaluated twice.
TEST_F(HookEngineTest, FilteredHookMorestackTailComesBackThroughTheFilter) {
  struct Case {
    void (*fn)();
    const char* name;
    uint64_t k;
  } cases[] = {{hook_test_filter_morestack32, "morestack, jbe rel32", 26},
               {hook_test_filter_morestack8, "morestack, jbe rel8", 27}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HookFiltered(c.fn, c.name, {REG_RBX, 9, 1, 7});
    Seen* seen = SeenFor(Addr(c.fn));
    FilterBlock block;
    memset(&block, 0, sizeof(block));
    for (uint8_t b : {1, 9}) {
      SCOPED_TRACE(b);
      Put(&block, 9, b);
      const uint64_t traps_per_pass = b >= 7 ? 1 : 0;
      for (bool morestack : {false, true}) {
        SCOPED_TRACE(morestack ? "guard above SP" : "guard 0");
        hook_test_fake_g[2] = morestack ? ~uint64_t{0} : 0;
        uint64_t tails = hook_test_morestack_calls, calls = seen->calls.load();
        uint64_t hits = HookEngine::Hits(Addr(c.fn));
        EXPECT_EQ(hook_test_call_go(Fn(c.fn), 5, Ptr(&block), 7, 8),
                  Compute(5, Ptr(&block), 7, 8, c.k));
        EXPECT_EQ(hook_test_morestack_calls - tails, morestack ? 1u : 0u);
        EXPECT_EQ(hook_test_fake_g[2], 0u);
        const uint64_t traps = traps_per_pass * (morestack ? 2 : 1);
        EXPECT_EQ(seen->calls.load() - calls, traps);
        EXPECT_EQ(HookEngine::Hits(Addr(c.fn)) - hits, traps);
        if (traps) EXPECT_EQ(seen->pc, Addr(c.fn));
      }
    }
  }
}

// Every general register the callback sees is the one the function was entered with, SP
// included, and the function sees them unchanged after the trampoline, trap or not.
uint64_t g_filter_regs_seen[16];
void RecordRegisters(const HookContext& ctx) {
  static const int kGregs[15] = {REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI,
                                 REG_RDI, REG_RBP, REG_R8,  REG_R9,  REG_R10,
                                 REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 15; ++i) g_filter_regs_seen[i] = ctx.reg(kGregs[i]);
  g_filter_regs_seen[15] = ctx.sp();
  static_cast<Seen*>(ctx.user())->calls.fetch_add(1);
}

TEST_F(HookEngineTest, FilteredHookKeepsEveryRegister) {
  HookFiltered(hook_test_filter_regs, "regs", {REG_RBX, 0, 8, 1}, RecordRegisters);
  Seen* seen = SeenFor(Addr(hook_test_filter_regs));
  const char* names[17] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",   "r8",     "r9",
                           "r10", "r11", "r12", "r13", "r14", "r15", "xmm15", "xmm15hi"};
  for (uint64_t field : {0, 1}) {
    SCOPED_TRACE(field);
    uint64_t block[2] = {field, 0};
    uint64_t in[17];
    for (int i = 0; i < 17; ++i) in[i] = 0x1111111111111111ull * static_cast<uint64_t>(i + 1);
    in[1] = Ptr(block);                                     // rbx: the filter's base
    in[13] = reinterpret_cast<uint64_t>(hook_test_fake_g);  // r14: the g of the stack check
    memset(hook_test_regs_out, 0, sizeof(hook_test_regs_out));
    memset(g_filter_regs_seen, 0, sizeof(g_filter_regs_seen));
    uint64_t calls = seen->calls.load();
    hook_test_call_regs(Fn(hook_test_filter_regs), in);
    EXPECT_EQ(seen->calls.load() - calls, field);
    for (int i = 0; i < 17; ++i) EXPECT_EQ(hook_test_regs_out[i], in[i]) << names[i];
    if (!field) continue;
    for (int i = 0; i < 15; ++i) EXPECT_EQ(g_filter_regs_seen[i], in[i]) << names[i];
    EXPECT_EQ(g_filter_regs_seen[15], hook_test_regs_out[17]) << "rsp";
  }
}

void CheckFiltered(const HookContext& ctx) {
  Seen* s = static_cast<Seen*>(ctx.user());
  s->calls.fetch_add(1, std::memory_order_relaxed);
  if (ctx.rcx() != 3 * ctx.rax() || ctx.rdi() != 4 * ctx.rax() ||
      *reinterpret_cast<const uint64_t*>(ctx.rbx()) < 1000 ||
      ctx.r14() != reinterpret_cast<uint64_t>(hook_test_fake_g))
    s->inconsistent.fetch_add(1, std::memory_order_relaxed);
}

TEST_F(HookEngineTest, EightThreadsThroughAFilteredHookAtOnce) {
  HookFiltered(hook_test_filter_threads, "filtered threads", {REG_RBX, 0, 8, 1000}, CheckFiltered);
  Seen* seen = SeenFor(Addr(hook_test_filter_threads));
  constexpr int kThreads = 8, kCalls = 30000;
  uint64_t hits = HookEngine::Hits(Addr(hook_test_filter_threads));
  uint64_t calls = seen->calls.load();
  uint64_t inconsistent = seen->inconsistent.load();
  std::atomic<int> ready{0};
  std::atomic<uint64_t> wrong{0}, expected_traps{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint64_t field = 0, traps = 0;
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (uint64_t i = 0; i < kCalls; ++i) {
        uint64_t a = static_cast<uint64_t>(t) * kCalls + i + 1;
        field = i % 3 == 0 ? 1000 + i : i % 1000;
        traps += field >= 1000;
        if (hook_test_call_go(Fn(hook_test_filter_threads), a, Ptr(&field), 3 * a, 4 * a) !=
            Compute(a, Ptr(&field), 3 * a, 4 * a, 25))
          wrong.fetch_add(1);
      }
      expected_traps.fetch_add(traps);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(expected_traps.load(), uint64_t{kThreads} * (kCalls / 3));
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(seen->inconsistent.load() - inconsistent, 0u);
  EXPECT_EQ(HookEngine::Hits(Addr(hook_test_filter_threads)) - hits, expected_traps.load());
  EXPECT_EQ(seen->calls.load() - calls, expected_traps.load());
}

TEST_F(HookEngineTest, FilteredInstallRefusesOtherEntriesAndBadFilters) {
  struct Case {
    void (*fn)();
    HookFilter filter;
    const char* why;
  } cases[] = {
      {hook_test_filter_refused_lea, {REG_RBX, 9, 1, 7}, "not Go's stack check"},
      {hook_test_filter_refused_jb, {REG_RBX, 9, 1, 7}, "not followed by jbe"},
      {hook_test_cmp_rel32_twin, {REG_RBX, 9, 3, 7}, "width"},
      {hook_test_cmp_rel32_twin, {REG_RBX, 9, 1, 256}, "does not fit"},
      {hook_test_cmp_rel32_twin, {REG_RBX, 9, 2, 0x10000}, "does not fit"},
      {hook_test_cmp_rel32_twin, {REG_RSP, 9, 1, 7}, "register"},
      {hook_test_cmp_rel32_twin, {REG_R14, 9, 1, 7}, "register"},
      {hook_test_cmp_rel32_twin, {REG_RIP, 9, 1, 7}, "register"},
      {hook_test_cmp_rel32_twin, {REG_RBX, INT32_MAX - 2, 8, uint64_t{1} << 40}, "offset"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    uint8_t before[16];
    memcpy(before, Fn(c.fn), sizeof(before));
    int installed = HookEngine::Installed();
    const char* why = nullptr;
    EXPECT_FALSE(
        HookEngine::InstallFiltered(Addr(c.fn), "refused", c.filter, Record, nullptr, &why));
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find(c.why), std::string::npos) << why;
    EXPECT_EQ(memcmp(before, Fn(c.fn), sizeof(before)), 0);
    EXPECT_EQ(HookEngine::Installed(), installed);
    EXPECT_EQ(HookEngine::Hits(Addr(c.fn)), 0u);
  }
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_filter_refused_lea), 1, 2, 3, 4),
            Compute(1, 2, 3, 4, 28));
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_filter_refused_jb), 1, 2, 3, 4),
            Compute(1, 2, 3, 4, 29));
  // One hook per pc, whichever kind.
  HookFiltered(hook_test_filter_rel32, "width 1, jbe rel32", {REG_RBX, 9, 1, 7});
  Hook(hook_test_cmp_rel8, "cmp/jbe rel8");
  const char* why = nullptr;
  EXPECT_FALSE(HookEngine::Install(Addr(hook_test_filter_rel32), "again", Record, nullptr, &why));
  EXPECT_STREQ(why, "already hooked");
  why = nullptr;
  EXPECT_FALSE(HookEngine::InstallFiltered(Addr(hook_test_filter_rel32), "again",
                                           {REG_RBX, 9, 1, 7}, Record, nullptr, &why));
  EXPECT_STREQ(why, "already hooked");
  why = nullptr;
  EXPECT_FALSE(HookEngine::InstallFiltered(Addr(hook_test_cmp_rel8), "again", {REG_RBX, 9, 1, 7},
                                           Record, nullptr, &why));
  EXPECT_STREQ(why, "already hooked");
}

TEST_F(HookEngineTest, FilteredHookIsListedAndPatchedWithAJump) {
  HookFiltered(hook_test_filter_rel8, "width 2, jbe rel8", {REG_RAX, 2, 2, 128});
  const uint8_t* code = reinterpret_cast<const uint8_t*>(hook_test_filter_rel8);
  EXPECT_EQ(code[0], 0xe9);
  EXPECT_EQ(code[5], 0xcc);  // the rest of the displaced stack check: never executed
  EXPECT_EQ(code[6], 0x55);  // push %rbp: the function goes on untouched
  bool listed = false;
  for (int i = 0; i < HookEngine::Installed(); ++i) {
    const char* name;
    uintptr_t pc;
    uint64_t hits;
    ASSERT_TRUE(HookEngine::HookAt(i, &name, &pc, &hits));
    if (pc == Addr(hook_test_filter_rel8)) listed = strcmp(name, "width 2, jbe rel8") == 0;
  }
  EXPECT_TRUE(listed);
}

TEST_F(HookEngineTest, FilteredOutCallCost) {
  HookFiltered(hook_test_filter_cost, "cost", {REG_RBX, 9, 1, 7}, Nothing);
  FilterBlock block;
  memset(&block, 0, sizeof(block));
  const uint64_t b = Ptr(&block);
  constexpr int kCalls = 2000000, kTrapCalls = 20000;
  uint64_t hits = HookEngine::Hits(Addr(hook_test_filter_cost));
  uint64_t sum = 0;
  double best_filtered = 1e18, best_plain = 1e18;
  for (int round = 0; round < 3; ++round) {
    double t0 = NowNs();
    for (int i = 0; i < kCalls; ++i)
      sum += hook_test_call_go(Fn(hook_test_filter_cost), i, b, 1, 1);
    double t1 = NowNs();
    for (int i = 0; i < kCalls; ++i)
      sum += hook_test_call_go(Fn(hook_test_cmp_rel32_twin), i, b, 1, 1);
    double t2 = NowNs();
    best_filtered = std::min(best_filtered, (t1 - t0) / kCalls);
    best_plain = std::min(best_plain, (t2 - t1) / kCalls);
  }
  EXPECT_EQ(HookEngine::Hits(Addr(hook_test_filter_cost)), hits);
  Put(&block, 9, uint8_t{7});
  double t3 = NowNs();
  for (int i = 0; i < kTrapCalls; ++i)
    sum += hook_test_call_go(Fn(hook_test_filter_cost), i, b, 1, 1);
  double t4 = NowNs();
  EXPECT_EQ(HookEngine::Hits(Addr(hook_test_filter_cost)) - hits, uint64_t{kTrapCalls});
  EXPECT_NE(sum, 0u);
  printf(
      "[   INFO   ] filtered hook: %.1f ns per filtered-out call, %.1f ns unhooked (+%.1f ns); "
      "%.0f ns per call that traps\n",
      best_filtered, best_plain, best_filtered - best_plain, (t4 - t3) / kTrapCalls);
}

// The program's SIGTRAP handler, installed through the SignalTable as the interposed
// sigaction() does.
std::atomic<int> g_program_traps{0};
std::atomic<int> g_program_code{0};
std::atomic<uintptr_t> g_program_pc{0};

void ProgramTrapHandler(int sig, siginfo_t* info, void* ucontext) {
  g_program_traps.fetch_add(1);
  g_program_code.store(info->si_code);
  g_program_pc.store(
      static_cast<uintptr_t>(static_cast<ucontext_t*>(ucontext)->uc_mcontext.gregs[REG_RIP]));
}

class ProgramHandler {
 public:
  ProgramHandler() {
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_sigaction = ProgramTrapHandler;
    act.sa_flags = SA_SIGINFO;
    SignalTable::Exchange(SIGTRAP, &act, &old_);
  }
  ~ProgramHandler() { SignalTable::Exchange(SIGTRAP, &old_, nullptr); }

 private:
  struct sigaction old_;
};

TEST_F(HookEngineTest, SigtrapIsVirtualised) {
  EXPECT_TRUE(SignalTable::Installed(SIGTRAP));
  struct sigaction kernel;
  ASSERT_EQ(SignalTable::RealSigaction(SIGTRAP, nullptr, &kernel), 0);
  EXPECT_EQ(kernel.sa_sigaction, OnTrapSignal);
  EXPECT_TRUE(kernel.sa_flags & SA_ONSTACK);
  EXPECT_FALSE(sigismember(&kernel.sa_mask, SIGSEGV));
  EXPECT_FALSE(sigismember(&kernel.sa_mask, SIGTRAP));
  EXPECT_TRUE(sigismember(&kernel.sa_mask, SIGPROF));
  ProgramHandler program;
  struct sigaction seen;
  SignalTable::Exchange(SIGTRAP, nullptr, &seen);
  EXPECT_EQ(seen.sa_sigaction, ProgramTrapHandler);  // what the program reads back
}

TEST_F(HookEngineTest, RaisedSigtrapReachesTheProgramsHandler) {
  ProgramHandler program;
  int before = g_program_traps.load();
  uint64_t hits = HookEngine::TotalHits();
  raise(SIGTRAP);
  EXPECT_EQ(g_program_traps.load() - before, 1);
  EXPECT_EQ(g_program_code.load(), SI_TKILL);
  EXPECT_EQ(HookEngine::TotalHits(), hits);
}

TEST_F(HookEngineTest, ForeignInt3ReachesTheProgramsHandler) {
  Hook(hook_test_cmp_rel32, "cmp/jbe rel32");  // hooks exist, but not at this int3
  ProgramHandler program;
  int before = g_program_traps.load();
  EXPECT_EQ(hook_test_call_go(Fn(hook_test_foreign_int3), 0, 0, 0, 0), 42u);
  EXPECT_EQ(g_program_traps.load() - before, 1);
  EXPECT_EQ(g_program_code.load(), SI_KERNEL);
  EXPECT_EQ(g_program_pc.load(), Addr(hook_test_foreign_int3) + 1);  // as the kernel left it
}

// Runs body in a child process; returns its wait status.
template <typename Body>
int InChild(Body body) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(100);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST_F(HookEngineTest, ForeignInt3WithDefaultActionKillsBySigtrap) {
  int status = InChild([] {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    SignalTable::Exchange(SIGTRAP, &dfl, nullptr);
    hook_test_call_go(Fn(hook_test_foreign_int3), 0, 0, 0, 0);
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGTRAP);
}

int g_exit_pipe = -1;
int WriteExitCode(int code) {
  ssize_t n = write(g_exit_pipe, &code, sizeof(code));
  (void)n;
  return code;
}

// A callback that changes the status, as the leak check does when it finds a leak.
int ReplaceZeroExitCode(int code) {
  WriteExitCode(code);
  return code == 0 ? 66 : code;
}

void BlockAllSignals() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
}

// Reads every int the child wrote until it closed the pipe.
std::vector<int> ReadCodes(int fd) {
  std::vector<int> codes;
  int code;
  while (read(fd, &code, sizeof(code)) == sizeof(code)) codes.push_back(code);
  return codes;
}

TEST_F(HookEngineTest, ExitHookRunsTheCallbackWithEverySignalBlockedOnASmallStack) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int status = InChild([&] {
    close(fds[0]);
    g_exit_pipe = fds[1];
    const char* why = nullptr;
    if (!HookEngine::InstallExitHook(Addr(hook_test_exit_like), WriteExitCode, &why)) _exit(101);
    if (!HookEngine::ExitHookInstalled()) _exit(102);
    // 800 bytes of stack above a PROT_NONE page: the trampoline must fit (Go's nosplit budget).
    const size_t page = 4096;
    char* region = static_cast<char*>(
        mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    mprotect(region, page, PROT_NONE);
    BlockAllSignals();
    hook_test_call_abi0_on_stack(Fn(hook_test_exit_like), 37, region + page + 800);
  });
  close(fds[1]);
  std::vector<int> codes = ReadCodes(fds[0]);
  close(fds[0]);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 37);
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0], 37);
}

TEST_F(HookEngineTest, ExitHookRunsTheCallbackOnceWhenThreadsExitTogether) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int status = InChild([&] {
    close(fds[0]);
    g_exit_pipe = fds[1];
    const char* why = nullptr;
    if (!HookEngine::InstallExitHook(Addr(hook_test_exit_like), WriteExitCode, &why)) _exit(101);
    static std::atomic<int> ready{0};
    for (int t = 0; t < 4; ++t) {
      std::thread([t] {
        BlockAllSignals();
        ready.fetch_add(1);
        while (ready.load() < 5) {
        }
        hook_test_call_abi0(Fn(hook_test_exit_like), 50 + t);
      }).detach();
    }
    ready.fetch_add(1);
    for (;;) pause();
  });
  close(fds[1]);
  std::vector<int> codes = ReadCodes(fds[0]);
  close(fds[0]);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_GE(WEXITSTATUS(status), 50);
  EXPECT_LE(WEXITSTATUS(status), 53);
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_GE(codes[0], 50);
  EXPECT_LE(codes[0], 53);
  // Every exiting thread exits with the callback's result for the first one.
  EXPECT_EQ(WEXITSTATUS(status), codes[0]);
}

TEST_F(HookEngineTest, ExitHookCallbackDecidesTheExitStatus) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int status = InChild([&] {
    close(fds[0]);
    g_exit_pipe = fds[1];
    const char* why = nullptr;
    if (!HookEngine::InstallExitHook(Addr(hook_test_exit_like), ReplaceZeroExitCode, &why)) {
      _exit(101);
    }
    hook_test_call_abi0(Fn(hook_test_exit_like), 0);
  });
  close(fds[1]);
  std::vector<int> codes = ReadCodes(fds[0]);
  close(fds[0]);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(WEXITSTATUS(status), 66);
}

TEST_F(HookEngineTest, ExitHookRefusesOtherCode) {
  const char* why = nullptr;
  uint8_t before[12];
  memcpy(before, Fn(hook_test_foreign_int3), sizeof(before));
  EXPECT_FALSE(HookEngine::InstallExitHook(Addr(hook_test_foreign_int3), WriteExitCode, &why));
  ASSERT_NE(why, nullptr);
  EXPECT_EQ(memcmp(before, Fn(hook_test_foreign_int3), sizeof(before)), 0);
  EXPECT_FALSE(HookEngine::ExitHookInstalled());
}

// The leaf the exit trampoline calls runs on whatever stack runtime.exit had: no vector
// registers (only caller-saved GPRs are saved around it), a frame of a few dozen bytes.
TEST_F(HookEngineTest, ExitLeafIsSmallAndUsesNoVectorRegisters) {
  std::string dis = testing_util::RunCommand(
      "objdump -d --no-show-raw-insn --disassemble=cgosan_exit_hook_enter /proc/" +
      std::to_string(getpid()) + "/exe 2>/dev/null");
  if (dis.find("<cgosan_exit_hook_enter>:") == std::string::npos) GTEST_SKIP() << "no objdump";
  EXPECT_EQ(dis.find("xmm"), std::string::npos) << dis;
  EXPECT_EQ(dis.find("ymm"), std::string::npos) << dis;
  size_t sub = dis.find("sub    $0x");
  if (sub != std::string::npos) {
    unsigned long frame = strtoul(dis.c_str() + sub + 10, nullptr, 16);
    EXPECT_LE(frame, 128u) << dis;
  }
}

TEST_F(HookEngineTest, TracerAttached) {
  EXPECT_FALSE(TracerAttached()) << "run without a debugger";
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0) _exit(2);
    raise(SIGSTOP);
    _exit(TracerAttached() ? 1 : 0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) GTEST_SKIP() << "ptrace not permitted";
  ASSERT_TRUE(WIFSTOPPED(status));
  ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

}  // namespace
}  // namespace cgosan
