// GoStack implementation (see go_stack.h for the walk and its limits).
#include "report/go_stack.h"

#include "report/go/go_runtime.h"

namespace cgosan {
namespace {

const GoRuntimeLayout* g_layout = nullptr;
CodeRange g_asmcgocall, g_cgocall;

template <typename T>
T Load(uintptr_t addr) {
  return *reinterpret_cast<const T*>(addr);
}

bool Plausible(uintptr_t p) { return p >= 4096 && (p & 7) == 0; }

}  // namespace

bool GoStack::Init() {
  g_layout = GoRuntime::Layout();
  g_asmcgocall = GoRuntime::Asmcgocall();
  g_cgocall = GoRuntime::Cgocall();
  return g_layout != nullptr;
}

bool GoStack::Enabled() { return g_layout != nullptr; }

int GoStack::ContinueFromCgoCall(uintptr_t* pcs, int n, int max) {
  const GoRuntimeLayout* l = g_layout;
  if (!l || n <= 0 || n >= max || !g_asmcgocall.Contains(pcs[n - 1])) return n;
  // asmcgocall on the stack means a Go thread in a cgo call: %fs:-8 holds g0.
  uintptr_t g0;
  asm volatile("movq %%fs:-8, %0" : "=r"(g0));
  if (!Plausible(g0)) return n;
  uintptr_t m = Load<uintptr_t>(g0 + l->g_m);
  if (!Plausible(m) || Load<uintptr_t>(m + l->m_g0) != g0) return n;
  uintptr_t g = Load<uintptr_t>(m + l->m_curg);
  if (!Plausible(g) || g == g0) return n;
  uintptr_t lo = Load<uintptr_t>(g + l->g_stack_lo), hi = Load<uintptr_t>(g + l->g_stack_hi);
  uintptr_t sp = Load<uintptr_t>(g + l->g_sched_sp), bp = Load<uintptr_t>(g + l->g_sched_bp);
  if (!(lo < sp && sp < hi && hi - lo <= (uintptr_t{1} << 30))) return n;
  auto on_stack = [&](uintptr_t p) { return p >= sp && p + 16 <= hi && (p & 7) == 0; };
  // runtime.cgocall's own frame: its return address into cgocall, where this version keeps it.
  uintptr_t slot = sp + l->cgocall_return_slot;
  uintptr_t pc = on_stack(slot) ? Load<uintptr_t>(slot) : 0;
  if (g_cgocall.Contains(pc)) pcs[n++] = pc;
  // Then the frame-pointer chain: [bp] is the caller's bp, [bp+8] the return address.
  while (n < max && on_stack(bp)) {
    uintptr_t ret = Load<uintptr_t>(bp + 8);
    uintptr_t next = Load<uintptr_t>(bp);
    if (ret == 0) break;
    // 1.21+: asmcgocall's own frame links to runtime.cgocall's return slot read above.
    if (ret != pcs[n - 1]) pcs[n++] = ret;
    if (next <= bp) break;
    bp = next;
  }
  return n;
}

}  // namespace cgosan
