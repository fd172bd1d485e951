// Unwinder: libunwind reached only through dlopen(RTLD_LOCAL) + dlsym (see unwinder.h for
// why), and the filtering of cgosan's own frames out of captured stacks.
#include "report/unwinder.h"

#include <dlfcn.h>
#include <ucontext.h>

#include <atomic>
#include <cstring>

#include "report/go_stack.h"

// Types and constants only: nothing from libunwind is linked, every call goes through the
// pointers resolved in Init().
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "report/finding.h"
#include "report/loaded_module.h"

namespace cgosan {
namespace {

using InitLocal2Fn = int (*)(unw_cursor_t*, unw_context_t*, int);
using StepFn = int (*)(unw_cursor_t*);
using GetRegFn = int (*)(unw_cursor_t*, unw_regnum_t, unw_word_t*);
using BacktraceFn = int (*)(void**, int);
using SetCachingPolicyFn = int (*)(unw_addr_space_t, unw_caching_policy_t);

struct LibUnwind {
  InitLocal2Fn init_local2 = nullptr;
  StepFn step = nullptr;
  GetRegFn get_reg = nullptr;
  BacktraceFn backtrace = nullptr;
  SetCachingPolicyFn set_caching = nullptr;
  unw_addr_space_t* local_as = nullptr;
};

LibUnwind g_unw;
std::atomic<bool> g_ready{false};
// Set by the first Init(). Later and nested calls (dlopen calls malloc, which the preload may
// answer by calling Init again) return at once instead of waiting on a lock they hold.
std::atomic<bool> g_init_started{false};

// Frames inside [begin, end) are cgosan's and are dropped. begin == end disables it.
std::atomic<uintptr_t> g_own_begin{0};
std::atomic<uintptr_t> g_own_end{0};
std::atomic<bool> g_own_overridden{false};
// unw_backtrace records its own pc as the innermost frame; it lives in libunwind.so.
uintptr_t g_unwind_begin = 0;
uintptr_t g_unwind_end = 0;

// Room for cgosan's frames (interposer, depot, Capture itself) beyond what the caller wants.
constexpr int kOwnFrameSlack = 16;

bool LoadLibUnwind() {
  void* lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  LibUnwind unw;
  unw.init_local2 = reinterpret_cast<InitLocal2Fn>(dlsym(lib, "_ULx86_64_init_local2"));
  unw.step = reinterpret_cast<StepFn>(dlsym(lib, "_ULx86_64_step"));
  unw.get_reg = reinterpret_cast<GetRegFn>(dlsym(lib, "_ULx86_64_get_reg"));
  unw.backtrace = reinterpret_cast<BacktraceFn>(dlsym(lib, "unw_backtrace"));
  if (unw.backtrace == nullptr) {
    unw.backtrace = reinterpret_cast<BacktraceFn>(dlsym(lib, "_ULx86_64_backtrace"));
  }
  auto set_caching =
      reinterpret_cast<SetCachingPolicyFn>(dlsym(lib, "_ULx86_64_set_caching_policy"));
  // A variable holding the address space, not the address space itself.
  auto* local_as = static_cast<unw_addr_space_t*>(dlsym(lib, "_ULx86_64_local_addr_space"));
  if (unw.init_local2 == nullptr || unw.step == nullptr || unw.get_reg == nullptr ||
      unw.backtrace == nullptr) {
    dlclose(lib);
    return false;
  }
  // The default global cache takes a lock and calls sigprocmask on every unwind; the
  // per-thread cache does neither, which matters on every malloc and in signal handlers.
  // (Debian's libunwind 1.6 is built without it and silently keeps the global cache; its
  // unw_backtrace fast path, a per-thread trace cache, still takes no lock.)
  if (set_caching != nullptr && local_as != nullptr) {
    set_caching(*local_as, UNW_CACHE_PER_THREAD);
  }
  unw.set_caching = set_caching;
  unw.local_as = local_as;
  LoadedModuleRange(reinterpret_cast<const void*>(unw.backtrace), &g_unwind_begin, &g_unwind_end);
  g_unw = unw;
  return true;
}

bool InRange(uintptr_t pc, uintptr_t begin, uintptr_t end) { return begin <= pc && pc < end; }

}  // namespace

bool Unwinder::Init() {
  if (g_init_started.exchange(true, std::memory_order_acq_rel)) {
    return g_ready.load(std::memory_order_acquire);
  }
  if (!g_own_overridden.load(std::memory_order_relaxed)) {
    uintptr_t begin = 0, end = 0;
    if (LoadedModuleRange(reinterpret_cast<const void*>(&Unwinder::Init), &begin, &end)) {
      g_own_begin.store(begin, std::memory_order_relaxed);
      g_own_end.store(end, std::memory_order_relaxed);
    }
  }
  bool ok = LoadLibUnwind();
  g_ready.store(ok, std::memory_order_release);
  return ok;
}

bool Unwinder::Ready() { return g_ready.load(std::memory_order_acquire); }

void Unwinder::AfterForkInChild() {
  // Another thread of the parent may have been inside libunwind's slow path at fork, holding
  // the global cache's mutex: the child's first unwind would wait on it for ever. Without a
  // cache that lock is never taken (the trace cache of unw_backtrace takes none).
  if (Ready() && g_unw.set_caching != nullptr && g_unw.local_as != nullptr) {
    g_unw.set_caching(*g_unw.local_as, UNW_CACHE_NONE);
  }
}

void Unwinder::SetOwnModuleRange(uintptr_t begin, uintptr_t end) {
  g_own_overridden.store(true, std::memory_order_relaxed);
  g_own_begin.store(begin, std::memory_order_relaxed);
  g_own_end.store(end, std::memory_order_relaxed);
}

bool Unwinder::IsOwnPc(uintptr_t pc) {
  return InRange(pc, g_own_begin.load(std::memory_order_relaxed),
                 g_own_end.load(std::memory_order_relaxed));
}

namespace {

// Inlined into both captures: each is one frame of its own for libunwind to walk through.
__attribute__((always_inline)) inline int CaptureCFrames(uintptr_t* pcs, int max_frames) {
  if (!Unwinder::Ready() || max_frames <= 0) return 0;
  constexpr int kLocalCap = kMaxFramesPerStack + kOwnFrameSlack;
  void* raw[kLocalCap];
  int want = max_frames + kOwnFrameSlack;
  if (want > kLocalCap) want = kLocalCap;
  int n = g_unw.backtrace(raw, want);
  const uintptr_t own_begin = g_own_begin.load(std::memory_order_relaxed);
  const uintptr_t own_end = g_own_end.load(std::memory_order_relaxed);
  int i = 0;
  while (i < n && InRange(reinterpret_cast<uintptr_t>(raw[i]), g_unwind_begin, g_unwind_end)) {
    ++i;
  }
  int out = 0;
  for (; i < n && out < max_frames; ++i) {
    uintptr_t pc = reinterpret_cast<uintptr_t>(raw[i]);
    if (pc == 0 || InRange(pc, own_begin, own_end)) continue;
    pcs[out++] = pc;
  }
  return out;
}

}  // namespace

int Unwinder::CaptureCurrent(uintptr_t* pcs, int max_frames) {
  int out = CaptureCFrames(pcs, max_frames);
  return GoStack::ContinueFromCgoCall(pcs, out, max_frames);
}

int Unwinder::CaptureCurrentCFrames(uintptr_t* pcs, int max_frames) {
  return CaptureCFrames(pcs, max_frames);
}

namespace {

// libunwind from a context: the C frames only (no Go continuation).
int UnwindContext(void* ucontext, int flags, uintptr_t* pcs, int max_frames) {
  const uintptr_t own_begin = g_own_begin.load(std::memory_order_relaxed);
  const uintptr_t own_end = g_own_end.load(std::memory_order_relaxed);
  unw_cursor_t cursor;
  if (g_unw.init_local2(&cursor, static_cast<unw_context_t*>(ucontext), flags) < 0) {
    // Still report where it happened.
    auto* uc = static_cast<ucontext_t*>(ucontext);
    uintptr_t pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
    if (pc == 0 || InRange(pc, own_begin, own_end)) return 0;
    pcs[0] = pc;
    return 1;
  }
  int out = 0;
  // Bounded even when the unwinder loops on a corrupt stack: at most this many steps.
  const int kMaxSteps = max_frames + kOwnFrameSlack;
  for (int steps = 0; steps < kMaxSteps && out < max_frames; ++steps) {
    unw_word_t ip = 0;
    if (g_unw.get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0) break;
    if (!InRange(ip, own_begin, own_end)) pcs[out++] = static_cast<uintptr_t>(ip);
    if (g_unw.step(&cursor) <= 0) break;
  }
  return out;
}

}  // namespace

int Unwinder::CaptureFromContext(void* ucontext, uintptr_t* pcs, int max_frames) {
  if (!Ready() || ucontext == nullptr || max_frames <= 0) return 0;
  // UNW_INIT_SIGNAL_FRAME: the first pc is the interrupted instruction, not a return
  // address, so libunwind must not look its unwind info up at pc-1.
  int out = UnwindContext(ucontext, UNW_INIT_SIGNAL_FRAME, pcs, max_frames);
  return GoStack::ContinueFromCgoCall(pcs, out, max_frames);
}

int Unwinder::CaptureCFramesFrom(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t* pcs,
                                 int max_frames) {
  if (!Ready() || max_frames <= 0) return 0;
  // The other registers are unknown; C code without a frame pointer needs only sp and pc.
  ucontext_t uc;
  memset(&uc, 0, sizeof(uc));
  uc.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(pc);
  uc.uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(sp);
  uc.uc_mcontext.gregs[REG_RBP] = static_cast<greg_t>(bp);
  return UnwindContext(&uc, 0, pcs, max_frames);
}

}  // namespace cgosan
