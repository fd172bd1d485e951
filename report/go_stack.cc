// GoStack implementation (see go_stack.h): Go frames by pclntab SP deltas, the way Go's own
// traceback walks them, and the crossing of callbacks back onto the g0 stack.
#include "report/go_stack.h"

#include "report/finding.h"
#include "report/go_call_frames.h"
#include "report/go/go_runtime.h"
#include "report/unwinder.h"

namespace cgosan {
namespace {

const GoRuntimeLayout* g_layout = nullptr;
CodeRange g_asmcgocall, g_cgocall, g_cgocallback, g_crosscall2, g_goexit;

template <typename T>
T Load(uintptr_t addr) {
  return *reinterpret_cast<const T*>(addr);
}

bool Plausible(uintptr_t p) { return p >= 4096 && (p & 7) == 0; }

struct StackBounds {
  uintptr_t lo = 0, hi = 0;
  bool Holds(uintptr_t p, uintptr_t size = 8) const {
    return (p & 7) == 0 && p >= lo && p + size <= hi;
  }
};

StackBounds BoundsOf(uintptr_t g) {
  StackBounds b;
  b.lo = Load<uintptr_t>(g + g_layout->g_stack_lo);
  b.hi = Load<uintptr_t>(g + g_layout->g_stack_hi);
  if (!(b.lo < b.hi && b.hi - b.lo <= (uintptr_t{1} << 30))) b.lo = b.hi = 0;
  return b;
}

int32_t SpDeltaAt(uintptr_t pc, bool return_address) {
  const Pclntab* table = GoRuntime::Table();
  GoFuncInfo f;
  uintptr_t lookup = return_address ? pc - 1 : pc;
  if (!table || !table->FindFunc(lookup, &f)) return -1;
  return table->SpDelta(f, lookup);
}

struct Walk {
  uintptr_t* pcs;
  int n;
  int max;
  // Where each pc was read from (for GoCallFrames), when non-null; `crossed`: the walk
  // went through a callback's C frames, whose slots it does not know.
  uintptr_t* slots = nullptr;
  bool crossed = false;
  void Add(uintptr_t pc, uintptr_t slot = 0) {
    if (n < max && (n == 0 || pcs[n - 1] != pc)) {
      if (slots) slots[n] = slot;
      pcs[n++] = pc;
    }
  }
  bool Full() const { return n >= max; }
};

// Return addresses along a frame pointer chain ([bp] the caller's bp, [bp+8] the return
// address), inside the goroutine's stack, to runtime.goexit.
void WalkFramePointers(const StackBounds& gs, uintptr_t bp, Walk* w) {
  for (int frames = 0; frames < kMaxFramesPerStack && !w->Full() && gs.Holds(bp, 16); ++frames) {
    uintptr_t ret = Load<uintptr_t>(bp + 8);
    uintptr_t next = Load<uintptr_t>(bp);
    if (ret == 0) return;
    w->Add(ret);
    if (g_goexit.Contains(ret) || next <= bp) return;
    bp = next;
  }
}

// The goroutine's frames from the SP that asmcgocall saved in g.sched.sp (or that a
// callback's fake frame restores), through callbacks, to runtime.goexit.
void WalkGoroutine(uintptr_t m, uintptr_t g, uintptr_t saved_sp, uintptr_t bp, Walk* w);

// At a frame of runtime.cgocallback (pc, sp on the goroutine stack): the C code that called
// Go is on the g0 stack below g0.sched.sp; after it, the goroutine's outer frames.
void CrossCallback(uintptr_t m, uintptr_t g, uintptr_t pc, uintptr_t sp, const StackBounds& gs,
                   Walk* w) {
  int32_t delta = SpDeltaAt(pc, true);
  if (delta < 0 || !gs.Holds(sp + delta)) return;
  // The fake frame's return slot holds the goroutine's old sched.pc; above it, its old SP.
  uintptr_t outer_sp = sp + delta + 8;
  uintptr_t g0 = Load<uintptr_t>(m + g_layout->m_g0);
  if (!Plausible(g0)) return;
  StackBounds g0s = BoundsOf(g0);
  uintptr_t g0sp = Load<uintptr_t>(g0 + g_layout->g_sched_sp);
  if (!g0s.Holds(g0sp + delta)) return;
  uintptr_t c2pc = Load<uintptr_t>(g0sp + delta);
  if (!g_crosscall2.Contains(c2pc)) return;
  w->Add(c2pc);
  // crosscall2's frame per the layout table, confirmed by the pclntab's SP delta.
  uintptr_t c2sp = g0sp + delta + 8;
  uintptr_t frame = g_layout->crosscall2_frame;
  if (SpDeltaAt(c2pc, true) != static_cast<int32_t>(frame) || !g0s.Holds(c2sp + frame)) return;
  uintptr_t cpc = Load<uintptr_t>(c2sp + frame);
  uintptr_t csp = c2sp + frame + 8;
  uintptr_t cbp = Load<uintptr_t>(c2sp + frame - 8);
  w->crossed = true;
  w->n += Unwinder::CaptureCFramesFrom(cpc, csp, cbp, w->pcs + w->n, w->max - w->n);
  // A C thread that called into Go has no goroutine below its C frames; a cgo call does:
  // the C frames end in the outer runtime.asmcgocall.
  // There, 1.21+ asmcgocall saved the goroutine's frame pointer at the saved SP; 1.19 has
  // none to start from and walks by SP deltas.
  if (w->n > 0 && g_asmcgocall.Contains(w->pcs[w->n - 1])) {
    WalkGoroutine(m, g, outer_sp, g_layout->asmcgocall_has_frame ? outer_sp : 0, w);
  }
}

void WalkGoroutine(uintptr_t m, uintptr_t g, uintptr_t saved_sp, uintptr_t bp, Walk* w) {
  StackBounds gs = BoundsOf(g);
  uintptr_t slot = saved_sp + g_layout->cgocall_return_slot;
  if (!gs.Holds(slot)) return;
  uintptr_t pc = Load<uintptr_t>(slot);
  if (!g_cgocall.Contains(pc)) return;
  w->Add(pc, slot);
  if (bp != 0) {
    // The fast path, taken on every malloc/free made in a cgo call: Go keeps frame
    // pointers, [bp] is the caller's bp and [bp+8] the return address.
    for (int frames = 0; frames < kMaxFramesPerStack && !w->Full() && gs.Holds(bp, 16); ++frames) {
      uintptr_t ret = Load<uintptr_t>(bp + 8);
      uintptr_t next = Load<uintptr_t>(bp);
      if (ret == 0) return;
      w->Add(ret, bp + 8);
      if (g_goexit.Contains(ret)) return;
      // The frame that returns into cgocallback is cgocallbackg's: cgocallback's SP is
      // just above that return address.
      if (g_cgocallback.Contains(ret)) return CrossCallback(m, g, ret, bp + 16, gs, w);
      if (next <= bp) return;
      bp = next;
    }
    return;
  }
  // Without a frame pointer to start from: the pclntab's SP deltas, as Go's traceback does.
  uintptr_t sp = slot + 8;
  for (int frames = 0; frames < kMaxFramesPerStack && !w->Full(); ++frames) {
    if (g_goexit.Contains(pc)) return;
    if (g_cgocallback.Contains(pc)) return CrossCallback(m, g, pc, sp, gs, w);
    int32_t delta = SpDeltaAt(pc, true);
    if (delta < 0 || !gs.Holds(sp + delta)) return;
    uintptr_t ret = Load<uintptr_t>(sp + delta);
    if (ret == 0) return;
    w->Add(ret, sp + delta);
    sp = sp + delta + 8;
    pc = ret;
  }
}

}  // namespace

bool GoStack::Init() {
  g_layout = GoRuntime::Layout();
  const RuntimeFunctions& f = GoRuntime::Functions();
  g_asmcgocall = f.asmcgocall;
  g_cgocall = f.cgocall;
  g_cgocallback = f.cgocallback;
  g_crosscall2 = f.crosscall2;
  g_goexit = f.goexit;
  bool ok = g_layout != nullptr && GoRuntime::Table() != nullptr;
  if (ok) GoCallFrames::Init();
  return ok;
}

uintptr_t GoStack::CurrentGoroutine() {
  const GoRuntimeLayout* l = g_layout;
  if (!l) return 0;
  uintptr_t g;
  asm volatile("movq %%fs:-8, %0" : "=r"(g));
  if (!Plausible(g)) return 0;
  uintptr_t m = Load<uintptr_t>(g + l->g_m);
  if (!Plausible(m)) return 0;
  // On g0 (a cgo call, the scheduler) or gsignal, the goroutine is m.curg.
  if (Load<uintptr_t>(m + l->m_g0) == g || Load<uintptr_t>(m + l->m_gsignal) == g) {
    g = Load<uintptr_t>(m + l->m_curg);
    if (!Plausible(g)) return 0;
  }
  return g;
}

int64_t GoStack::GoroutineId(uintptr_t g) {
  if (!g_layout || !Plausible(g)) return -1;
  return Load<int64_t>(g + g_layout->g_goid);
}

int64_t GoStack::CurrentGoroutineId() { return GoroutineId(CurrentGoroutine()); }

bool GoStack::StackBoundsOf(uintptr_t g, uintptr_t* lo, uintptr_t* hi) {
  if (!g_layout || !Plausible(g)) return false;
  StackBounds b = BoundsOf(g);
  *lo = b.lo;
  *hi = b.hi;
  return b.lo != 0;
}

bool GoStack::IsCopyingStack(uintptr_t g) {
  if (!g_layout || !Plausible(g)) return false;
  return Load<uint32_t>(g + g_layout->g_atomicstatus) == kGoStatusCopystack;
}

int GoStack::CaptureAtBoundary(uintptr_t g, uintptr_t pc, uintptr_t sp, uintptr_t bp,
                               uintptr_t* pcs, int max) {
  if (!g_layout || !Plausible(g) || max < 2) return 0;
  StackBounds gs = BoundsOf(g);
  Walk w{pcs, 0, max};
  w.Add(pc + 1);
  if (!gs.Holds(sp)) return w.n;
  w.Add(Load<uintptr_t>(sp));
  WalkFramePointers(gs, bp, &w);
  return w.n;
}

int GoStack::CaptureSaved(uintptr_t g, uintptr_t* pcs, int max) {
  if (!g_layout || !Plausible(g) || max < 1) return 0;
  StackBounds gs = BoundsOf(g);
  Walk w{pcs, 0, max};
  // gobuf is {sp, pc, g, ctxt, ret, lr, bp}: pc follows sp. morestack and mcall save a
  // return address there, so it symbolizes like the frames after it.
  uintptr_t pc = Load<uintptr_t>(g + g_layout->g_sched_sp + 8);
  if (pc == 0) return 0;
  w.Add(pc);
  WalkFramePointers(gs, Load<uintptr_t>(g + g_layout->g_sched_bp), &w);
  return w.n;
}

int GoStack::ContinueFromCgoCall(uintptr_t* pcs, int n, int max) {
  if (n <= 0 || n >= max || !g_asmcgocall.Contains(pcs[n - 1])) return n;
  // asmcgocall on the stack means a Go thread in a cgo call: %fs:-8 holds g0.
  return AppendCgoCallGoroutine(pcs, n, max);
}

bool GoStack::IsAsmcgocall(uintptr_t pc) { return g_asmcgocall.Contains(pc); }

int GoStack::CaptureCgoCallGoroutine(uintptr_t* pcs, int max) {
  return AppendCgoCallGoroutine(pcs, 0, max);
}

namespace {

// The goroutine of this thread's cgo call (on g0), or 0.
uintptr_t CgoCallGoroutine(uintptr_t* m_out) {
  const GoRuntimeLayout* l = g_layout;
  if (!l) return 0;
  uintptr_t g0;
  asm volatile("movq %%fs:-8, %0" : "=r"(g0));
  if (!Plausible(g0)) return 0;
  uintptr_t m = Load<uintptr_t>(g0 + l->g_m);
  if (!Plausible(m) || Load<uintptr_t>(m + l->m_g0) != g0) return 0;
  uintptr_t g = Load<uintptr_t>(m + l->m_curg);
  if (!Plausible(g) || g == g0) return 0;
  *m_out = m;
  return g;
}

}  // namespace

int GoStack::WalkCgoCallGoroutine(uintptr_t m, uintptr_t g, uintptr_t* pcs, uintptr_t* slots,
                                  int max, bool* crossed) {
  if (!g_layout || max <= 0) return 0;
  Walk w{pcs, 0, max};
  w.slots = slots;
  WalkGoroutine(m, g, Load<uintptr_t>(g + g_layout->g_sched_sp),
                Load<uintptr_t>(g + g_layout->g_sched_bp), &w);
  *crossed = w.crossed;
  return w.n;
}

int GoStack::AppendCgoCallGoroutine(uintptr_t* pcs, int n, int max) {
  if (n >= max) return n;
  uintptr_t m;
  uintptr_t g = CgoCallGoroutine(&m);
  if (g == 0) return n;
  Walk w{pcs, n, max};
  WalkGoroutine(m, g, Load<uintptr_t>(g + g_layout->g_sched_sp),
                Load<uintptr_t>(g + g_layout->g_sched_bp), &w);
  return w.n;
}

}  // namespace cgosan
