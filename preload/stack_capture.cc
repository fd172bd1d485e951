// The per-thread stack caches of stack_capture.h: their storage and the slow path that fills
// CgoStackCache after an unwind.
#include "preload/stack_capture.h"

namespace cgosan {

__thread CgoStackCache::Entry CgoStackCache::t_entries[CgoStackCache::kEntries];
__thread OneFrameCache::Entry OneFrameCache::t_entries[OneFrameCache::kEntries];

namespace {
// Deeper C stacks are not remembered: finding their slots would cost more than it saves.
constexpr uintptr_t kMaxScannedBytes = 64 * 1024;
}  // namespace

void CgoStackCache::Remember(uintptr_t caller, uintptr_t anchor, uintptr_t entry_sp,
                             StackId go_frames, StackId stack, const uintptr_t* pcs, int n_c) {
  if (stack == 0 || n_c <= 0 || n_c > kMaxCFrames || entry_sp <= anchor ||
      entry_sp - anchor > kMaxScannedBytes) {
    return;
  }
  Entry found;
  found.caller = caller;
  found.depth = entry_sp - anchor;
  found.go_frames = go_frames;
  found.stack = stack;
  found.n = n_c;
  // Each return address lies above the previous one: the first slot holding it is taken. A
  // stale copy in a local variable would only be taken for a slot that the check then reads
  // on every hit; it cannot make a different chain of callers look like this one unless
  // every other slot matches too.
  uintptr_t at = anchor;
  for (int i = 0; i < n_c; ++i) {
    while (at < entry_sp && *reinterpret_cast<const uintptr_t*>(at) != pcs[i]) at += 8;
    if (at >= entry_sp) return;
    found.slot[i] = static_cast<uint32_t>(at - anchor);
    found.pc[i] = pcs[i];
    at += 8;
  }
  t_entries[IndexOf(caller, found.depth)] = found;
}

}  // namespace cgosan
