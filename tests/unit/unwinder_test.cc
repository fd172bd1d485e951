// Unwinder tests: real captures through named functions and from a real SIGSEGV handler,
// checked by symbolizing the result (so the symbolizer is exercised on live stacks too).
#include "report/unwinder.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstring>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "report/loaded_module.h"
#include "report/symbolizer.h"

namespace {

volatile int g_sink;  // stores after each call keep the calls from becoming tail calls

}  // namespace

extern "C" __attribute__((noinline)) int cgosan_unwind_inner(uintptr_t* pcs, int max) {
  int n = cgosan::Unwinder::CaptureCurrent(pcs, max);
  g_sink = n;
  return n;
}

extern "C" __attribute__((noinline)) int cgosan_unwind_middle(uintptr_t* pcs, int max) {
  int n = cgosan_unwind_inner(pcs, max);
  g_sink = n;
  return n;
}

extern "C" __attribute__((noinline)) int cgosan_unwind_outer(uintptr_t* pcs, int max) {
  int n = cgosan_unwind_middle(pcs, max);
  g_sink = n;
  return n;
}

namespace cgosan {
namespace {

class UnwinderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Unwinder::Init());
    ASSERT_TRUE(Unwinder::Ready());
    // In this binary cgosan is linked statically: its "own module" is the test itself.
    Unwinder::SetOwnModuleRange(0, 0);
  }
  void TearDown() override { Unwinder::SetOwnModuleRange(0, 0); }
};

int IndexOf(const Stack& s, const char* function) {
  for (int i = 0; i < s.num_frames; ++i) {
    if (s.frames[i].function != nullptr && strcmp(s.frames[i].function, function) == 0) return i;
  }
  return -1;
}

std::string Describe(const Stack& s) {
  std::string out;
  for (int i = 0; i < s.num_frames; ++i) {
    const Frame& f = s.frames[i];
    out += "  #" + std::to_string(i) + " " + (f.function ? f.function : "?") + " in " +
           (f.module ? f.module : "?") + "\n";
  }
  return out;
}

TEST_F(UnwinderTest, CaptureCurrentThroughNamedFunctions) {
  uintptr_t pcs[64];
  int n = cgosan_unwind_outer(pcs, 64);
  ASSERT_GT(n, 4);
  auto stack = std::make_unique<Stack>();
  Symbolizer::Refresh();
  Symbolizer::SymbolizeStack(pcs, n, false, stack.get());
  ASSERT_EQ(stack->num_frames, n);
  // libunwind's own frame (unw_backtrace) is dropped: the capture starts in CaptureCurrent.
  ASSERT_NE(stack->frames[0].function, nullptr) << Describe(*stack);
  EXPECT_STREQ(stack->frames[0].function, "cgosan::Unwinder::CaptureCurrent(unsigned long*, int)")
      << Describe(*stack);
  EXPECT_EQ(IndexOf(*stack, "cgosan_unwind_inner"), 1) << Describe(*stack);
  EXPECT_EQ(IndexOf(*stack, "cgosan_unwind_middle"), 2) << Describe(*stack);
  EXPECT_EQ(IndexOf(*stack, "cgosan_unwind_outer"), 3) << Describe(*stack);
  // The stack goes on through gtest down to the program's entry.
  EXPECT_NE(IndexOf(*stack, "main"), -1) << Describe(*stack);
  EXPECT_NE(IndexOf(*stack, "_start"), -1) << Describe(*stack);
}

TEST_F(UnwinderTest, CaptureRespectsMaxFrames) {
  uintptr_t pcs[3] = {0, 0, 0};
  EXPECT_EQ(cgosan_unwind_outer(pcs, 2), 2);
  EXPECT_EQ(pcs[2], 0u);
  EXPECT_EQ(cgosan_unwind_outer(pcs, 0), 0);
}

TEST_F(UnwinderTest, OwnModuleFramesAreDropped) {
  uintptr_t begin = 0, end = 0;
  ASSERT_TRUE(LoadedModuleRange(reinterpret_cast<const void*>(&cgosan_unwind_inner), &begin,
                                &end));
  Unwinder::SetOwnModuleRange(begin, end);
  EXPECT_TRUE(Unwinder::IsOwnPc(reinterpret_cast<uintptr_t>(&cgosan_unwind_inner)));
  uintptr_t pcs[64];
  int n = cgosan_unwind_outer(pcs, 64);
  // Only libc's start code is outside the test binary.
  ASSERT_GT(n, 0);
  for (int i = 0; i < n; ++i) {
    EXPECT_FALSE(begin <= pcs[i] && pcs[i] < end) << "frame " << i << " is in the own module";
  }
  Unwinder::SetOwnModuleRange(0, 0);
  EXPECT_FALSE(Unwinder::IsOwnPc(reinterpret_cast<uintptr_t>(&cgosan_unwind_inner)));
}

// Per-thread caches: many threads capturing at once all get the same, complete stack.
TEST_F(UnwinderTest, ConcurrentCapturesAgree) {
  uintptr_t reference[64];
  const int ref_n = cgosan_unwind_outer(reference, 64);
  ASSERT_GT(ref_n, 4);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      uintptr_t first[64];
      int first_n = 0;
      for (int i = 0; i < 2000; ++i) {
        uintptr_t pcs[64];
        int n = cgosan_unwind_outer(pcs, 64);  // one call site: identical stacks
        if (i == 0) {
          first_n = n;
          memcpy(first, pcs, sizeof(pcs));
        } else if (n != first_n || memcmp(pcs, first, sizeof(uintptr_t) * n) != 0) {
          ++mismatches;
        }
      }
      // The frames inside the test functions are the same as on the main thread.
      for (int i = 0; i < 4; ++i) {
        if (first_n < 4 || first[i] != reference[i]) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(LoadedModuleRangeTest, CoversTheObjectOfTheAddress) {
  uintptr_t begin = 0, end = 0;
  ASSERT_TRUE(LoadedModuleRange(reinterpret_cast<const void*>(&Unwinder::Init), &begin, &end));
  auto in = [&](const void* p) {
    auto a = reinterpret_cast<uintptr_t>(p);
    return begin <= a && a < end;
  };
  EXPECT_TRUE(in(reinterpret_cast<const void*>(&cgosan_unwind_outer)));
  EXPECT_TRUE(in(const_cast<const int*>(&g_sink)));  // data segments belong to it too
  EXPECT_FALSE(in(dlsym(RTLD_DEFAULT, "getpid")));
}

// --- CaptureFromContext from a real SIGSEGV handler ---

sigjmp_buf g_fault_jmp;
uintptr_t g_fault_pcs[64];
int g_fault_frames;
uintptr_t g_fault_rip;

void SegvHandler(int, siginfo_t*, void* uc) {
  g_fault_rip = static_cast<uintptr_t>(static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RIP]);
  g_fault_frames = Unwinder::CaptureFromContext(uc, g_fault_pcs, 64);
  siglongjmp(g_fault_jmp, 1);
}

}  // namespace
}  // namespace cgosan

extern "C" __attribute__((noinline)) int cgosan_unwind_faulting_read(volatile int* p) {
  return *p + 1;
}

extern "C" __attribute__((noinline)) int cgosan_unwind_fault_caller(volatile int* p) {
  int v = cgosan_unwind_faulting_read(p);
  g_sink = v;
  return v;
}

namespace cgosan {
namespace {

TEST_F(UnwinderTest, CaptureFromContextInSegvHandler) {
  const long page = sysconf(_SC_PAGESIZE);
  void* guard = mmap(nullptr, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(guard, MAP_FAILED);
  struct sigaction sa = {}, old = {};
  sa.sa_sigaction = SegvHandler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGSEGV, &sa, &old), 0);
  g_fault_frames = -1;
  if (sigsetjmp(g_fault_jmp, 1) == 0) {
    cgosan_unwind_fault_caller(static_cast<volatile int*>(guard));
    ADD_FAILURE() << "the read of a PROT_NONE page did not fault";
  }
  sigaction(SIGSEGV, &old, nullptr);
  munmap(guard, page);

  ASSERT_GT(g_fault_frames, 2);
  EXPECT_EQ(g_fault_pcs[0], g_fault_rip);  // starts at the faulting instruction
  auto stack = std::make_unique<Stack>();
  Symbolizer::Refresh();
  Symbolizer::SymbolizeStack(g_fault_pcs, g_fault_frames, /*first_is_exact=*/true, stack.get());
  ASSERT_NE(stack->frames[0].function, nullptr) << Describe(*stack);
  EXPECT_STREQ(stack->frames[0].function, "cgosan_unwind_faulting_read") << Describe(*stack);
  EXPECT_EQ(IndexOf(*stack, "cgosan_unwind_fault_caller"), 1) << Describe(*stack);
  // Unwinding went on past the faulting frames down to the program's entry.
  EXPECT_NE(IndexOf(*stack, "main"), -1) << Describe(*stack);
}

TEST_F(UnwinderTest, NullContextGivesNoFrames) {
  uintptr_t pcs[4];
  EXPECT_EQ(Unwinder::CaptureFromContext(nullptr, pcs, 4), 0);
}

}  // namespace
}  // namespace cgosan
