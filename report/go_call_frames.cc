// GoCallFrames implementation: the layout copy and the miss path (the g0/m check of a
// thread's first capture under a g0, and the GoStack walk that records where each return
// address was read from).
#include "report/go_call_frames.h"

#include "report/go/go_runtime.h"
#include "report/go_stack.h"

namespace cgosan {

GoCallFrames::Layout GoCallFrames::layout_ = {};
__thread GoCallFrames::Entry GoCallFrames::t_entries_[GoCallFrames::kEntries];
__thread uint64_t GoCallFrames::t_fills_;
__thread GoCallFrames::Thread GoCallFrames::t_thread_;

void GoCallFrames::Init() {
  const GoRuntimeLayout* l = GoRuntime::Layout();
  if (l == nullptr) return;
  layout_.g_m = l->g_m;
  layout_.m_g0 = l->m_g0;
  layout_.m_curg = l->m_curg;
  layout_.g_goid = l->g_goid;
  layout_.g_stack_lo = l->g_stack_lo;
  layout_.g_stack_hi = l->g_stack_hi;
  layout_.g_sched_sp = l->g_sched_sp;
  __atomic_store_n(&layout_.ready, true, __ATOMIC_RELEASE);
}

int GoCallFrames::CaptureMiss(uintptr_t* pcs, uint64_t* key, int64_t* goroutine_id) {
  *goroutine_id = -1;
  const Layout& l = layout_;
  if (!__atomic_load_n(&l.ready, __ATOMIC_ACQUIRE)) return 0;
  uintptr_t g0;
  asm volatile("movq %%fs:-8, %0" : "=r"(g0));
  if (!Plausible(g0)) return 0;
  uintptr_t m = Load(g0 + l.g_m);
  if (!Plausible(m) || Load(m + l.m_g0) != g0) return 0;
  Thread& t = t_thread_;
  t.g0 = g0;
  t.m = m;
  if (t.last == nullptr) t.last = &t_entries_[0];
  Site site;
  if (const Entry* e = Lookup(g0, m, goroutine_id, &site)) return Copy(*e, pcs, key);
  return site.g == 0 ? 0 : Fill(m, site.g, site.sp, site.hi, pcs, key);
}

int GoCallFrames::Fill(uintptr_t m, uintptr_t g, uintptr_t sp, uintptr_t hi, uintptr_t* pcs,
                       uint64_t* key) {
  uintptr_t slots[kMaxFrames];
  bool crossed = false;
  *key = 0;  // pcs are rewritten below, whatever they held
  int n = GoStack::WalkCgoCallGoroutine(m, g, pcs, slots, kMaxFrames, &crossed);
  // A walk through a callback's C frames has slots on the g0 stack that it does not know:
  // such calls are walked every time.
  if (crossed || n == 0) return n;
  for (int i = 0; i < n; ++i) {
    if (slots[i] < sp || slots[i] >= hi) return n;  // not a slot of this stack
  }
  Entry& e = EntryFor(sp, hi);
  e.sp = sp;
  e.hi = hi;
  e.key = ++t_fills_;
  e.n = n;
  for (int i = 0; i < n; ++i) {
    e.frames[i].slot = slots[i];
    e.frames[i].pc = pcs[i];
  }
  *key = e.key;
  return n;
}

}  // namespace cgosan
