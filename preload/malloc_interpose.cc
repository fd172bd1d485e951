// The interposed C allocator entry points. Thin: each validates its arguments the way
// glibc does, then asks the C heap model (shadow/c_heap.h) for memory; bad frees become
// findings. Reentrancy: cgosan's own allocations (libunwind, dlopen, the demangler) reach
// these functions too; they are served without stack or guard (depth > 0) or from the
// report arena (during a report).
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <atomic>

#include "preload/cgo_calls.h"
#include "preload/findings.h"
#include "preload/process_state.h"
#include "preload/report_arena.h"
#include "preload/stack_capture.h"
#include "preload/thread_state.h"
#include "report/report_writer.h"
#include "shadow/base/internal_mmap.h"
#include "shadow/base/text_buffer.h"
#include "shadow/base/token_bucket.h"
#include "shadow/c_heap.h"
#include "shadow/guarded_pool.h"
#include "shadow/options.h"

#define CGOSAN_EXPORT extern "C" __attribute__((visibility("default")))
// The program's call site of the interposed function (the cheap one-frame record).
#define CALLER __builtin_return_address(0)

extern "C" void* __libc_malloc(size_t size);
extern "C" void* __libc_calloc(size_t n, size_t size);
extern "C" void* __libc_realloc(void* ptr, size_t size);
extern "C" void __libc_free(void* ptr);

namespace cgosan {
namespace {

__attribute__((always_inline)) inline BlockOrigin CurrentOrigin() {
  if (!IsGoProcess()) return BlockOrigin::kC;
  if (t_state.in_go_runtime) return BlockOrigin::kGoRuntime;
  if (CgoCalls::InCgoMalloc()) return BlockOrigin::kForGo;
  return CgoCalls::Current() ? BlockOrigin::kUnderGo : BlockOrigin::kC;
}

// The guarded blocks' share of time, bounded (sample_budget): one bucket for the process.
TokenBucket g_sample_budget;

int64_t CoarseNowNs() {  // the vDSO's coarse clock: no system call, a few ms of resolution
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

bool Sampled() {
  // A countdown, not a modulo: this runs on every malloc and a division is not free.
  if (t_state.sample_countdown == 0) t_state.sample_countdown = GetOptions().sample_rate;
  if (--t_state.sample_countdown != 0) return false;
  return g_sample_budget.Take(CoarseNowNs(), GetOptions().sample_budget);
}

// Sampled()'s answer for the next block when it is certainly false, without asking: while
// the countdown is above 1, Sampled() only counts down. The fast paths check this first
// and count the block (CountUnsampled) once they serve it.
__attribute__((always_inline)) inline bool NextIsUnsampled() {
  return t_state.sample_countdown > 1;
}
__attribute__((always_inline)) inline void CountUnsampled() { --t_state.sample_countdown; }

// Whether ptr is glibc's own block, one cgosan does not track (see UntrackedMode).
__attribute__((always_inline)) inline bool GlibcOwned(void* ptr) {
  return UntrackedMode() && !CHeap::Tracks(reinterpret_cast<uintptr_t>(ptr));
}

// The whole of what an unsampled block costs in guard=sampled, and any block in a passive
// process: a few loads and the countdown, then glibc. Everything else (not ready, a report
// in progress, the sampled block, injected failures) takes the general path.
__attribute__((always_inline)) inline bool UntrackedFastPath() {
  if (!PreloadReady() || !UntrackedMode() || t_state.in_report) return false;
  if (GetOptions().test_fail_malloc_after > 0) return false;
  if (PreloadPassive()) return true;
  if (!NextIsUnsampled()) return false;
  CountUnsampled();
  return true;
}

enum class Placement { kUntracked, kTracked, kGuarded };

// Where a new block of the program goes, sampling at most once. *origin is set for the
// tracked and guarded ones (the untracked never need it, and it costs a few loads).
Placement PlaceBlock(BlockOrigin* origin) {
  if (PreloadPassive()) return Placement::kUntracked;
  GuardMode mode = GetOptions().guard_mode();
  if (mode == GuardMode::kSampled && !Sampled()) return Placement::kUntracked;
  *origin = CurrentOrigin();
  switch (mode) {
    case GuardMode::kAll:
    case GuardMode::kSampled:  // sampled above
      return Placement::kGuarded;
    case GuardMode::kNone:
      return Placement::kTracked;
    case GuardMode::kCgo:
      return *origin == BlockOrigin::kForGo || Sampled() ? Placement::kGuarded
                                                         : Placement::kTracked;
  }
  return Placement::kTracked;
}

// Which stack a block without a guard page gets: full where the block can matter to a
// report about Go (allocated in a cgo call: its Go part is walked once per call, kUnderCgo)
// and in C programs; with guard=cgo, C code's own blocks keep one frame.
enum class StackKind { kFull, kUnderCgo, kOneFrame };
__attribute__((always_inline)) inline StackKind UnguardedStackKind(BlockOrigin origin,
                                                                   const CgoCall* call) {
  if (call) return StackKind::kUnderCgo;
  if (origin != BlockOrigin::kC || GetOptions().guard_mode() != GuardMode::kCgo) {
    return StackKind::kFull;
  }
  return StackKind::kOneFrame;
}

// The allocation stack: full for guarded blocks, else as UnguardedStackKind says.
// anchor: Allocate's frame address, which the stack caches key on (see CaptureStackUnderCgo).
__attribute__((always_inline)) inline StackId AllocationStack(bool guarded, BlockOrigin origin,
                                                              void* caller, uintptr_t anchor) {
  if (guarded) return CaptureFullStack();
  const CgoCall* call = CgoCalls::Current();
  switch (UnguardedStackKind(origin, call)) {
    case StackKind::kUnderCgo:
      return CaptureStackUnderCgo(*call, reinterpret_cast<uintptr_t>(caller), anchor);
    case StackKind::kOneFrame:
      return OneFrameStack(caller);
    case StackKind::kFull:
      break;
  }
  return CaptureFullStack();
}

// The same stack when this thread's caches have it; 0 when it takes an unwind or a depot
// insertion (which may allocate), and always with malloc_context_size=0, whose captures
// never fill the caches.
__attribute__((always_inline)) inline StackId CachedAllocationStack(BlockOrigin origin,
                                                                    void* caller,
                                                                    uintptr_t anchor) {
  const CgoCall* call = CgoCalls::Current();
  switch (UnguardedStackKind(origin, call)) {
    case StackKind::kUnderCgo:
      if (!call->go_frames_known) return 0;
      return CgoStackCache::Find(reinterpret_cast<uintptr_t>(caller), anchor, call->entry_sp,
                                 call->go_frames);
    case StackKind::kOneFrame:
      return OneFrameCache::Find(reinterpret_cast<uintptr_t>(caller));
    case StackKind::kFull:
      break;
  }
  return 0;
}

// The free stack: full for a guarded block, whose use after free a fault finds. Any other
// block's free stack is only ever shown by a double-free report, which gets its top frame.
__attribute__((always_inline)) inline StackId FreeStack(void* ptr, void* caller, uintptr_t anchor) {
  if (GuardedPool::Contains(reinterpret_cast<uintptr_t>(ptr))) {
    if (const CgoCall* call = CgoCalls::Current()) {
      return CaptureStackUnderCgo(*call, reinterpret_cast<uintptr_t>(caller), anchor);
    }
    return CaptureFullStack();
  }
  return OneFrameStack(caller);
}

void SayFallbackOnce() {
  if (const char* reason = GuardedPool::TakeFallbackReason()) {
    InlineTextBuffer<256> line;
    line.Append("guard: ").Append(reason).Append(
        "; further blocks are tracked without a guard page");
    PrintLine(line.data());
  }
}

// The common tracked block, whole and inline: the program's (ready, not passive, no report
// in progress), not sampled for a guard page, with its stack in the thread's caches, from
// the slab. Nothing here allocates through malloc, so no ReentrancyGuard is needed.
// nullptr: any other case, which AllocateGeneral decides (having changed nothing here).
__attribute__((always_inline)) inline void* AllocateCommon(size_t size, size_t alignment, bool zero,
                                                           void* caller, uintptr_t anchor) {
  if (!PreloadReady() || PreloadPassive() || t_state.in_report || t_state.depth > 0) {
    return nullptr;
  }
  GuardMode mode = GetOptions().guard_mode();
  if (mode != GuardMode::kCgo && mode != GuardMode::kNone) return nullptr;
  BlockOrigin origin = CurrentOrigin();
  // PlaceBlock's choice in guard=cgo, without its side effect.
  bool counts_down = mode == GuardMode::kCgo;
  if (counts_down && (origin == BlockOrigin::kForGo || !NextIsUnsampled())) return nullptr;
  StackId stack = CachedAllocationStack(origin, caller, anchor);
  if (stack == 0) return nullptr;
  void* p = CHeap::AllocateCommon(size, alignment, zero, stack, CurrentTid(), origin);
  if (p && counts_down) CountUnsampled();
  return p;
}

// Every other allocation (anchor: see AllocationStack).
__attribute__((noinline)) void* AllocateGeneral(size_t size, size_t alignment, bool zero,
                                                void* caller, uintptr_t anchor) {
  if (t_state.in_report) {
    void* p = ReportArena::Allocate(size, alignment);
    if (p && zero) memset(p, 0, size);
    return p;
  }
  void* p;
  if (!PreloadReady()) {
    p = CHeap::Allocate(size, alignment, zero, false, 0, 0);
  } else if (t_state.depth > 0) {
    // cgosan's own blocks (libunwind's caches, ...): tracked only where every block is, so
    // that in guard=sampled the regions of the program's threads hold no record at all.
    p = UntrackedMode() ? CHeap::AllocateUntracked(size, alignment, zero)
                        : CHeap::Allocate(size, alignment, zero, false, 0, 0);
  } else {
    BlockOrigin origin = BlockOrigin::kUnknown;
    Placement place = PlaceBlock(&origin);
    if (place == Placement::kUntracked) {
      p = CHeap::AllocateUntracked(size, alignment, zero);
    } else {
      ReentrancyGuard guard;
      bool guarded = place == Placement::kGuarded;
      StackId stack = AllocationStack(guarded, origin, caller, anchor);
      p = CHeap::Allocate(size, alignment, zero, guarded, stack, CurrentTid(), origin);
      if (guarded && GetOptions().verbosity >= 1) SayFallbackOnce();
    }
  }
  if (!p) errno = ENOMEM;
  return p;
}

// Out of line (and tail-called) so that the untracked fast paths in the entry points stay
// leaf functions without a frame of their own. Its frame is the stack caches' anchor.
__attribute__((noinline)) void* Allocate(size_t size, size_t alignment, bool zero, void* caller) {
  uintptr_t anchor = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (void* p = AllocateCommon(size, alignment, zero, caller, anchor)) return p;
  return AllocateGeneral(size, alignment, zero, caller, anchor);
}

// Frees ptr (non-null), neither the report arena's nor glibc's own block. Returns normally
// only when the free was valid. Out of line, as Allocate.
__attribute__((noinline)) void FreeTracked(void* ptr, void* caller) {
  uintptr_t addr = reinterpret_cast<uintptr_t>(ptr);
  bool ours = t_state.depth > 0 || !PreloadReady();
  if (!ours && !GuardedPool::Contains(addr)) {
    ReentrancyGuard guard;
    if (CHeap::FreeUnguarded(addr, OneFrameStack(caller), CurrentTid())) return;
  }
  HeapBlock block;
  bool known;
  uint64_t corrupt_offset = 0;
  if (ours) {
    // cgosan's own frees (and the loader's before attach): no stack, never a report.
    CHeap::Free(ptr, 0, 0, &block, &known, &corrupt_offset);
    return;
  }
  ReentrancyGuard guard;
  StackId stack = FreeStack(ptr, caller, reinterpret_cast<uintptr_t>(__builtin_frame_address(0)));
  FreeVerdict verdict = CHeap::Free(ptr, stack, CurrentTid(), &block, &known, &corrupt_offset);
  if (verdict == FreeVerdict::kOk) return;
  ReportBadFree(verdict, ptr, block, known, corrupt_offset);
}

// Frees ptr (non-null), whoever owns it. Inline: for glibc's own blocks (guard=sampled's
// unsampled ones) free() stays a leaf that tail-calls glibc.
__attribute__((always_inline)) inline void Free(void* ptr, void* caller) {
  if (ReportArena::Owns(ptr)) return;
  if (__builtin_expect(GlibcOwned(ptr), 1)) return __libc_free(ptr);
  FreeTracked(ptr, caller);
}

// The live block at ptr, or a finding (as free() would make) when ptr is not one.
// *suppressed: the finding was suppressed, so the caller must ignore the call.
// An untracked block (see UntrackedMode) is glibc's: the result is empty, as for unknown ones.
HeapBlock LiveBlockOrReport(void* ptr, bool* suppressed = nullptr) {
  HeapBlock block;
  if (CHeap::FindLive(reinterpret_cast<uintptr_t>(ptr), &block)) return block;
  if (t_state.depth > 0 || !PreloadReady() || UntrackedMode()) return HeapBlock();
  ReentrancyGuard guard;
  bool known;
  uint64_t corrupt_offset = 0;
  // Not live: the model's free() verdict (double or invalid) says what it is; it frees nothing.
  FreeVerdict verdict = CHeap::Free(ptr, 0, CurrentTid(), &block, &known, &corrupt_offset);
  ReportBadFree(verdict == FreeVerdict::kOk ? FreeVerdict::kInvalidFree : verdict, ptr, block,
                known, corrupt_offset);
  if (suppressed) *suppressed = true;
  return HeapBlock();
}

bool IsPowerOfTwo(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

}  // namespace
}  // namespace cgosan

using namespace cgosan;

CGOSAN_EXPORT void* malloc(size_t size) {
  if (__builtin_expect(UntrackedFastPath(), 1)) return __libc_malloc(size);
  return Allocate(size, 0, false, CALLER);
}

CGOSAN_EXPORT void free(void* ptr) {
  if (!ptr) return;
  Free(ptr, CALLER);
}

CGOSAN_EXPORT void* calloc(size_t n, size_t size) {
  if (__builtin_expect(UntrackedFastPath(), 1)) return __libc_calloc(n, size);
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return Allocate(total, 0, true, CALLER);
}

CGOSAN_EXPORT void* realloc(void* ptr, size_t size) {
  if (!ptr) return Allocate(size, 0, false, CALLER);
  if (ReportArena::Owns(ptr)) return ReportArena::Reallocate(ptr, size);
  if (size == 0) {  // glibc: realloc(p, 0) frees p and returns NULL
    Free(ptr, CALLER);
    return nullptr;
  }
  bool suppressed = false;
  HeapBlock old = LiveBlockOrReport(ptr, &suppressed);
  if (suppressed) return nullptr;  // ignored: the program keeps its (bad) pointer
  if (old.base == 0) {
    // Unknown block (before attach, inside cgosan, untracked): glibc decides.
    return __libc_realloc(ptr, size);
  }
  void* p = Allocate(size, old.alignment > 16 ? old.alignment : 0, false, CALLER);
  if (!p) return nullptr;  // the old block stays valid, as in glibc
  memcpy(p, ptr, old.size < size ? old.size : size);
  Free(ptr, CALLER);
  return p;
}

CGOSAN_EXPORT void* reallocarray(void* ptr, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(ptr, total);
}

CGOSAN_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!IsPowerOfTwo(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
  int saved = errno;
  void* p = Allocate(size, alignment, false, CALLER);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

CGOSAN_EXPORT void* aligned_alloc(size_t alignment, size_t size) {
  if (!IsPowerOfTwo(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return Allocate(size, alignment, false, CALLER);
}

CGOSAN_EXPORT void* memalign(size_t alignment, size_t size) {
  // glibc rounds a non-power-of-two alignment up to the next power of two.
  size_t a = 1;
  while (a < alignment) a <<= 1;
  return Allocate(size, a, false, CALLER);
}

CGOSAN_EXPORT void* valloc(size_t size) { return Allocate(size, PageSize(), false, CALLER); }

CGOSAN_EXPORT void* pvalloc(size_t size) {
  size_t page = PageSize();
  size_t rounded = (size + page - 1) & ~(page - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  return Allocate(rounded ? rounded : page, page, false, CALLER);
}

CGOSAN_EXPORT size_t malloc_usable_size(void* ptr) {
  if (!ptr) return 0;
  if (ReportArena::Owns(ptr)) return ReportArena::SizeOf(ptr);
  if (GlibcOwned(ptr)) {
    // glibc's own answer for its block (dlsym may allocate: that is served like any malloc).
    // No function-local static: its guard would drag libstdc++'s exception pool in.
    using UsableSizeFn = size_t (*)(void*);
    static std::atomic<UsableSizeFn> libc_usable_size{nullptr};
    UsableSizeFn fn = libc_usable_size.load(std::memory_order_acquire);
    if (!fn) {
      fn = reinterpret_cast<UsableSizeFn>(dlsym(RTLD_NEXT, "malloc_usable_size"));
      libc_usable_size.store(fn, std::memory_order_release);
    }
    return fn ? fn(ptr) : 0;
  }
  return LiveBlockOrReport(ptr).size;
}
