// LeakCheck: at exit, the C blocks nobody can free any more. In a Go program those that were
// allocated for Go (C.CString, C.CBytes, C.malloc) or by C code during a cgo call; in a C
// program (leak_check=1 given) every block. A block leaks when no root points into it:
// writable data of every module (C and Go globals), the live Go heap (allocated objects
// of in-use spans, where the heap layout is known), goroutine stacks from their saved
// stack pointer up, thread stacks from each thread's stack pointer (/proc/self/task/*/syscall)
// up, every other writable mapping, and the blocks reachable from those (conservatively:
// any word that points into a block). cgosan's own tables and threads are never roots.
//
// Conservative on purpose: a false report is worse than a missed leak. Two full passes are
// made and a block is reported only when neither reached it (threads still run while the
// process exits). Not seen: pointers held only in another thread's registers while it
// computes (a thread blocked in a system call has them on its stack) — such a block can be
// reported as leaked; stale words in free memory can hide a leak.
#pragma once

#include <cstdint>

namespace cgosan {

class LeakCheck {
 public:
  // Whether it runs at exit (leak_check: given, else on in a Go program).
  static bool Enabled();
  // Runs both passes and reports one finding per allocation stack. Returns the number of
  // leak findings written.
  static uint64_t Run();
  // cgosan's own threads call this on their stack: it is never a root.
  static void NoteOwnThreadStack();
};

}  // namespace cgosan
