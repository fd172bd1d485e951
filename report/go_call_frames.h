// GoCallFrames: the calling goroutine's frames of the cgo call in progress on this thread,
// remembered per thread by where the call was made, for the ring entry that every cgo call
// with Go pointers writes (preload/cgo_calls.cc). The common case, a call from a place this
// thread called from before, is inline and costs a few loads and compares per frame: the
// entry is found by the goroutine's saved SP and stack top, and confirmed by reading every
// frame's return address again from the slot it was found in (two callers at the same depth
// differ only there). A miss walks the frames (GoStack) out of line and remembers them.
#pragma once

#include <cstdint>

namespace cgosan {

class GoCallFrames {
 public:
  static constexpr int kMaxFrames = 12;

  // Takes the g/m offsets from the runtime layout (GoStack::Init calls it). Until then
  // Capture returns 0.
  static void Init();

  // The frames (from runtime.cgocall up, at most kMaxFrames) of the goroutine that made
  // this thread's cgo call, into pcs; returns their count. *key names the frames pcs held
  // before (0: none): when the same frames are found again pcs is not rewritten, so a ring
  // slot that a loop refills pays no copy. *goroutine_id: the goroutine's id, -1 without
  // one. On g0 in a cgo call only; not async-signal-safe (the cache is the thread's).
  __attribute__((always_inline)) static inline int Capture(uintptr_t* pcs, uint64_t* key,
                                                           int64_t* goroutine_id);

 private:
  struct Layout {
    uint32_t g_m, m_g0, m_curg, g_goid, g_stack_lo, g_stack_hi, g_sched_sp;
    uint32_t cgocall_return_slot;
    bool ready;
  };
  // One call site: the goroutine's saved SP and stack top (a moved stack is a new site),
  // the slots the frames' return addresses were read from, and those addresses.
  struct Entry {
    uintptr_t sp, hi;
    uint64_t key;  // this thread's fill count when the entry was written (never 0)
    int n;
    struct Frame {
      uintptr_t slot, pc;  // side by side: a hit reads them in order
    } frames[kMaxFrames];
  };
  static constexpr int kEntries = 16;

  static bool Plausible(uintptr_t p) { return p >= 4096 && (p & 7) == 0; }
  static uintptr_t Load(uintptr_t addr) { return *reinterpret_cast<const uintptr_t*>(addr); }
  static Entry& EntryFor(uintptr_t sp, uintptr_t hi) {
    return t_entries_[((sp ^ (hi << 7)) * 0x9e3779b97f4a7c15ull) >> 60];
  }
  static_assert(kEntries == 16, "EntryFor keeps 4 bits");
  // The miss: walks the frames, remembers them when every slot is on this stack.
  static int Fill(uintptr_t m, uintptr_t g, uintptr_t sp, uintptr_t hi, uintptr_t* pcs,
                  uint64_t* key);

  static Layout layout_;
  static __thread Entry t_entries_[kEntries] __attribute__((tls_model("initial-exec")));
  static __thread uint64_t t_fills_ __attribute__((tls_model("initial-exec")));
};

int GoCallFrames::Capture(uintptr_t* pcs, uint64_t* key, int64_t* goroutine_id) {
  *goroutine_id = -1;
  const Layout& l = layout_;
  if (!l.ready) return 0;
  uintptr_t g0;
  asm volatile("movq %%fs:-8, %0" : "=r"(g0));
  if (!Plausible(g0)) return 0;
  uintptr_t m = Load(g0 + l.g_m);
  if (!Plausible(m) || Load(m + l.m_g0) != g0) return 0;
  uintptr_t g = Load(m + l.m_curg);
  if (!Plausible(g) || g == g0) return 0;
  *goroutine_id = static_cast<int64_t>(Load(g + l.g_goid));
  uintptr_t lo = Load(g + l.g_stack_lo);
  uintptr_t hi = Load(g + l.g_stack_hi);
  uintptr_t sp = Load(g + l.g_sched_sp);
  // The entry's slots were inside [sp, hi) when it was filled: with the same sp and hi,
  // and sp still inside the stack, they are now.
  const Entry& e = EntryFor(sp, hi);
  if (e.sp == sp && e.hi == hi && sp >= lo && sp < hi) {
    const Entry::Frame* f = e.frames;
    const Entry::Frame* end = e.frames + e.n;
    while (f < end && Load(f->slot) == f->pc) ++f;
    if (f == end) {
      if (*key != e.key) {
        for (int k = 0; k < e.n; ++k) pcs[k] = e.frames[k].pc;
        *key = e.key;
      }
      return e.n;
    }
  }
  return Fill(m, g, sp, hi, pcs, key);
}

}  // namespace cgosan
