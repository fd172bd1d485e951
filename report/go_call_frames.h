// GoCallFrames: the calling goroutine's frames of the cgo call in progress on this thread,
// remembered per thread by where the call was made, for the ring entry that every cgo call
// with Go pointers writes (preload/cgo_calls.cc). The common case, a call from a place this
// thread called from before, is inline and costs a few loads per frame: the entry is found
// by the goroutine's saved SP and stack top, and confirmed by reading every frame's return
// address again from the slot it was found in (two callers at the same depth may differ in
// any frame, not only the innermost). A miss walks the frames (GoStack) out of line and
// remembers them.
#pragma once

#include <cstdint>

namespace cgosan {

class GoCallFrames {
 public:
  static constexpr int kMaxFrames = 12;

  // Takes the g/m offsets from the runtime layout (GoStack::Init calls it). Until then
  // the capture finds no frames (CaptureMiss returns 0).
  static void Init();

  // One call site: the goroutine's saved SP and stack top (a moved stack is a new site),
  // the slots the frames' return addresses were read from, and those addresses. Its
  // fields are GoCallFrames' own.
  struct Entry {
    uintptr_t sp, hi;
    uint64_t key;  // this thread's fill count when the entry was written (never 0)
    int n;
    struct Frame {
      uintptr_t slot, pc;  // side by side: a hit reads them in order
    } frames[kMaxFrames];
    char pad[32];  // 256 bytes: EntryFor indexes with a shift
  };

  // The capture: the frames (from runtime.cgocall up, at most kMaxFrames) of the goroutine
  // that made this thread's cgo call, into pcs, and their count. *key names the frames pcs
  // held before (0: none): when the same frames are found again pcs is not rewritten, so a
  // ring slot that a loop refills pays no copy. *goroutine_id: the goroutine's id, -1
  // without one. On g0 in a cgo call only; not async-signal-safe (the cache is the
  // thread's). In steps, so that a caller's common case makes no call and writes nothing
  // before it has the frames: Find, inline, gives the confirmed entry of a call site this
  // thread knows (and *goroutine_id), else nullptr (always before the thread's first
  // CaptureMiss); Copy then writes its frames. CaptureMiss does both for every other case.
  __attribute__((always_inline)) static inline const Entry* Find(int64_t* goroutine_id);
  __attribute__((always_inline)) static inline int Copy(const Entry& e, uintptr_t* pcs,
                                                        uint64_t* key);
  static int CaptureMiss(uintptr_t* pcs, uint64_t* key, int64_t* goroutine_id);

 private:
  struct Layout {
    uint32_t g_m, m_g0, m_curg, g_goid, g_stack_lo, g_stack_hi, g_sched_sp;
    bool ready;
  };
  static_assert(sizeof(Entry) == 256, "Entry is padded to a power of two");
  static constexpr int kEntries = 16;
  // The thread's g0 and its m, checked against each other once (an m keeps its g0 for
  // life, and a thread's g0 changes only when a C thread's callback borrows another m),
  // and the entry of the last hit, tried before the hash: a loop calls from one place
  // (set with g0, never null after).
  struct Thread {
    uintptr_t g0, m;
    const Entry* last;
  };

  static bool Plausible(uintptr_t p) { return p >= 4096 && (p & 7) == 0; }
  static uintptr_t Load(uintptr_t addr) { return *reinterpret_cast<const uintptr_t*>(addr); }
  static Entry& EntryFor(uintptr_t sp, uintptr_t hi) {
    return t_entries_[((sp ^ (hi << 7)) * 0x9e3779b97f4a7c15ull) >> 60];
  }
  static_assert(kEntries == 16, "EntryFor keeps 4 bits");
  // Whether every frame's slot still holds its return address: no early exit (a miss is
  // rare), so the loads overlap, and no loop (a switch into the run of frames).
  __attribute__((always_inline)) static bool Confirmed(const Entry& e) {
    const Entry::Frame* f = e.frames;
    auto diff = [f](int i) { return Load(f[i].slot) ^ f[i].pc; };
    uintptr_t d = 0;
    static_assert(kMaxFrames == 12, "one case per frame count");
    switch (e.n) {
      case 12: d |= diff(11); [[fallthrough]];
      case 11: d |= diff(10); [[fallthrough]];
      case 10: d |= diff(9); [[fallthrough]];
      case 9: d |= diff(8); [[fallthrough]];
      case 8: d |= diff(7); [[fallthrough]];
      case 7: d |= diff(6); [[fallthrough]];
      case 6: d |= diff(5); [[fallthrough]];
      case 5: d |= diff(4); [[fallthrough]];
      case 4: d |= diff(3); [[fallthrough]];
      case 3: d |= diff(2); [[fallthrough]];
      case 2: d |= diff(1); [[fallthrough]];
      case 1: d |= diff(0); [[fallthrough]];
      case 0: return d == 0;
      default: return false;
    }
  }
  // Where the goroutine of the call stands: its stack top and saved SP (g 0: no goroutine).
  struct Site {
    uintptr_t g, sp, hi;
  };
  // Find past the thread's g0 and m: the goroutine, the lookup, the confirmation; nullptr
  // (with *site) when the call site is not known.
  __attribute__((always_inline)) static inline const Entry* Lookup(uintptr_t g0, uintptr_t m,
                                                                   int64_t* goroutine_id,
                                                                   Site* site);
  // The miss: walks the frames, remembers them when every slot is on this stack.
  static int Fill(uintptr_t m, uintptr_t g, uintptr_t sp, uintptr_t hi, uintptr_t* pcs,
                  uint64_t* key);

  static Layout layout_;
  static __thread Entry t_entries_[kEntries] __attribute__((tls_model("initial-exec")));
  static __thread uint64_t t_fills_ __attribute__((tls_model("initial-exec")));
  static __thread Thread t_thread_ __attribute__((tls_model("initial-exec")));
};

const GoCallFrames::Entry* GoCallFrames::Find(int64_t* goroutine_id) {
  uintptr_t g0;
  asm volatile("movq %%fs:-8, %0" : "=r"(g0));
  const Thread& t = t_thread_;
  if (__builtin_expect(g0 != t.g0 || g0 == 0, 0)) return nullptr;
  Site site;
  return Lookup(g0, t.m, goroutine_id, &site);
}

int GoCallFrames::Copy(const Entry& e, uintptr_t* pcs, uint64_t* key) {
  if (*key != e.key) {
    for (int k = 0; k < e.n; ++k) pcs[k] = e.frames[k].pc;
    *key = e.key;
  }
  return e.n;
}

const GoCallFrames::Entry* GoCallFrames::Lookup(uintptr_t g0, uintptr_t m, int64_t* goroutine_id,
                                                Site* site) {
  const Layout& l = layout_;
  uintptr_t g = Load(m + l.m_curg);
  if (!Plausible(g) || g == g0) {
    *goroutine_id = -1;
    *site = {0, 0, 0};
    return nullptr;
  }
  *goroutine_id = static_cast<int64_t>(Load(g + l.g_goid));
  uintptr_t lo = Load(g + l.g_stack_lo);
  uintptr_t hi = Load(g + l.g_stack_hi);
  uintptr_t sp = Load(g + l.g_sched_sp);
  *site = {g, sp, hi};
  // The entry's slots were inside [sp, hi) when it was filled: with the same sp and hi,
  // and sp still inside the stack, they are now.
  Thread& t = t_thread_;
  const Entry* e = t.last;
  if (e->sp != sp || e->hi != hi) {
    e = &EntryFor(sp, hi);
    if (e->sp != sp || e->hi != hi) return nullptr;
    t.last = e;  // a miss refills this same entry
  }
  if (sp < lo || sp >= hi || !Confirmed(*e)) return nullptr;
  return e;
}

}  // namespace cgosan
