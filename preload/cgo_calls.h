// CgoCalls: every cgo call of the program, seen as it happens.
//
// cgo calls C through a package variable per C function, `<pkg>._cgo_<hash>_Cfunc_<name>`,
// holding the address of the C wrapper; runtime.cgocall reloads it on every call. At attach
// each such variable (a local 8-byte object in .data, found in .symtab and cross-checked
// against the wrapper's own function symbol) is pointed at a small generated thunk that
// records the call on the calling thread, calls the original wrapper, and pops the record.
// The per-thread record is resynchronised by stack pointer on every entry and exit, so a
// Go panic through C frames or a callback that never returns cannot leave it unbalanced.
#pragma once

#include <cstdint>

namespace cgosan {

struct CgoCall {
  // The fields up to kStartBytes are the same at the start of every call of one C
  // function: the entry path copies them from the function's own record, then scans.
  const char* function;  // the C function as Go code names it after "C." ("free", "_Cmalloc")
  uint32_t frame_size;   // frame's size: the `args` of the Go stub <pkg>._Cfunc_<name> (0: unknown)
  uint8_t num_go_pointers;  // how many of go_pointers (below) hold one
  bool go_pointers_truncated;  // more Go pointers than kMaxGoPointers, or a frame too big
  mutable bool go_frames_known;
  bool is_cgo_malloc;  // C.CString/C.CBytes/C.malloc (cgo's _Cmalloc)
  static constexpr int kStartBytes = 16;
  uintptr_t frame;     // the argument frame (a pointer into the goroutine's stack)
  uintptr_t entry_sp;  // the thunk's stack pointer on entry (for resynchronisation)
  // Words of the frame that point into the Go runtime's memory (GoMappings): the Go
  // pointers this call received (the first kMaxGoPointers of them).
  static constexpr int kMaxGoPointers = 4;
  uintptr_t go_pointers[kMaxGoPointers];
  // The calling goroutine's frames (from runtime.cgocall up) as a depot id, captured by the
  // first allocation stack that needs them (go_frames_known): they do not change until the
  // call returns.
  mutable uint32_t go_frames;

  bool ReceivedGoPointers() const { return num_go_pointers > 0 || go_pointers_truncated; }
};

// A cgo call that received Go pointers, as the retention audits need it after the fact:
// which Go memory it was handed, by whom. `seq` is the thread's count of such calls when it
// began (0 while the entry is being written, so a reader that races the writer sees it as
// unknown).
struct RecentGoCall {
  static constexpr int kMaxCallerFrames = 12;
  uint64_t seq;
  // The audit epoch at entry (CgoCalls::AdvanceEpoch): orders calls of different threads
  // to within one audit; calls of one thread are ordered by seq.
  uint64_t when;
  const char* function;
  uint8_t num_go_pointers;  // how many of go_pointers (below) hold one
  bool go_pointers_truncated;
  uintptr_t go_pointers[CgoCall::kMaxGoPointers];
  int64_t goroutine;
  int num_caller_pcs;
  uintptr_t caller_pcs[kMaxCallerFrames];  // the goroutine's frames from runtime.cgocall on
  // Which frames caller_pcs hold (GoCallFrames' key): a refill with the same frames skips
  // the copy.
  uint64_t frames_key;
};

// What one thread's cgo calls look like to another thread (the audit): its calls in
// progress and its most recent calls with Go pointers. Lives in the thread's TLS; read only
// as a copy taken with SafeRead (the thread may exit meanwhile).
struct CgoThreadCalls {
  static constexpr int kMaxDepth = 64;
  static constexpr int kRecent = 16;
  uint64_t go_calls;  // calls with Go pointers begun so far (recent[(go_calls-1) % kRecent])
  int depth;          // calls in progress; may exceed kMaxDepth (only kMaxDepth recorded)
  CgoCall calls[kMaxDepth];
  RecentGoCall recent[kRecent];
};

class CgoCalls {
 public:
  // Redirects the cgo call variables of the main executable. Returns the number of
  // variables redirected; 0 without a symbol table (said at verbosity 1 by the caller).
  static int Attach();

  // The innermost cgo call in progress on this thread, or nullptr. Async-signal-safe.
  // Inline: every tracked allocation asks.
  static const CgoCall* Current() {
    const CgoThreadCalls& cs = t_calls_;
    if (cs.depth <= 0 || cs.depth > CgoThreadCalls::kMaxDepth) return nullptr;
    return &cs.calls[cs.depth - 1];
  }
  // Whether this thread is inside C.CString/C.CBytes/C.malloc (cgo's _Cmalloc).
  static bool InCgoMalloc() {
    const CgoCall* c = Current();
    return c && c->is_cgo_malloc;
  }

  // The threads that ever made a cgo call with Go pointers: the TLS address of each one's
  // CgoThreadCalls (a thread that exited leaves a stale address: read it with SafeRead,
  // and a later thread may reuse it). Returns the count written to out.
  static int RegisteredThreads(uintptr_t* out, int max);
  // Called (from the thunk's exit path) when a call that received Go pointers returns,
  // unless *pending (when given) is non-zero: the hook's request is outstanding already.
  using GoCallDoneHook = void (*)();
  static void SetGoCallDoneHook(GoCallDoneHook hook, const uint32_t* pending = nullptr);
  // Starts a new epoch for RecentGoCall::when (the audits, at each look at the rings).
  static void AdvanceEpoch();
  static uint64_t epoch_;
  // Whether calls with Go pointers are written to each thread's `recent` ring (its Go
  // stack, its pointers). Off until the retention audits, its only reader, attach.
  static void SetRecordRecentGoCalls(bool on);

  // This thread's calls (initial-exec TLS: the preload is loaded at startup).
  static __thread CgoThreadCalls t_calls_ __attribute__((tls_model("initial-exec")));
};

}  // namespace cgosan
