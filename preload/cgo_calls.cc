// CgoCalls implementation: the thunk page, the common entry in assembly, and the
// per-thread call stack. The thunk path costs two calls and a few TLS stores per cgo call.
#include "preload/cgo_calls.h"

#include <elf.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include <atomic>

#include "report/elf_reader.h"
#include "report/elf_symbols.h"
#include "report/go/go_runtime.h"
#include "report/go_call_frames.h"
#include "report/main_executable.h"
#include "shadow/base/internal_mmap.h"
#include "shadow/go_mappings.h"

extern "C" {
// Called by the thunks (assembly below). Enter returns the original wrapper to call.
// `target`: the call's Target (its address is in the thunk).
__attribute__((used, visibility("hidden"))) uintptr_t cgosan_cgo_enter(uintptr_t target,
                                                                       uintptr_t frame,
                                                                       uintptr_t entry_sp);
__attribute__((used, visibility("hidden"))) void cgosan_cgo_exit(uintptr_t entry_sp);
void cgosan_cgo_thunk_common();
}

// Entered from thunk i with %r11 = &g_targets[i] and the wrapper's argument in %rdi, on the
// g0 stack with %rsp = 8 mod 16. Keeps every callee-saved register; the wrappers return
// nothing.
asm(R"(
  .text
  .p2align 4
  .globl cgosan_cgo_thunk_common
  .hidden cgosan_cgo_thunk_common
  .type cgosan_cgo_thunk_common, @function
cgosan_cgo_thunk_common:
  .cfi_startproc
  pushq %rbx
  .cfi_def_cfa_offset 16
  .cfi_offset %rbx, -16
  pushq %r12
  .cfi_def_cfa_offset 24
  .cfi_offset %r12, -24
  subq $8, %rsp
  .cfi_def_cfa_offset 32
  movq %rdi, %rbx
  leaq 32(%rsp), %r12
  movq %r11, %rdi
  movq %rbx, %rsi
  movq %r12, %rdx
  call cgosan_cgo_enter
  movq %rbx, %rdi
  call *%rax
  movq %r12, %rdi
  call cgosan_cgo_exit
  addq $8, %rsp
  .cfi_def_cfa_offset 24
  popq %r12
  .cfi_def_cfa_offset 16
  popq %rbx
  .cfi_def_cfa_offset 8
  ret
  .cfi_endproc
  .size cgosan_cgo_thunk_common, .-cgosan_cgo_thunk_common
)");

namespace cgosan {

__thread CgoThreadCalls CgoCalls::t_calls_;
uint64_t CgoCalls::epoch_ = 1;

namespace {

constexpr int kMaxTargets = 8192;
constexpr int kMaxDepth = CgoThreadCalls::kMaxDepth;
constexpr int kMaxThreads = 4096;
constexpr size_t kThunkBytes = 32;

struct Target {
  // The start of every call's record: function (pointing at `function` below),
  // frame_size, is_cgo_malloc; no Go pointers yet.
  CgoCall start;
  uintptr_t original;
  char function[96];
  char stub[160];  // the Go stub's name, "<pkg>._Cfunc_<name>"
};

Target* g_targets = nullptr;  // InternalMmap'd, kMaxTargets entries
int g_num_targets = 0;

using CallStack = CgoThreadCalls;
__thread bool t_registered __attribute__((tls_model("initial-exec")));

uintptr_t g_threads[kMaxThreads];
std::atomic<int> g_num_threads{0};
std::atomic<CgoCalls::GoCallDoneHook> g_done_hook{nullptr};
// The hook's own "already requested" word: while it is non-zero the hook would do nothing.
const uint32_t* g_done_pending = nullptr;
// Whether calls with Go pointers go into the ring (its reader, the retention audits, is on).
bool g_record_recent = false;

// Once per thread, at its first call with Go pointers. A thread reusing the TLS block of
// one that exited finds its address there already.
void RegisterThread() {
  t_registered = true;
  uintptr_t self = reinterpret_cast<uintptr_t>(&CgoCalls::t_calls_);
  int n = g_num_threads.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    if (__atomic_load_n(&g_threads[i], __ATOMIC_RELAXED) == self) return;
  }
  int slot = g_num_threads.fetch_add(1, std::memory_order_acq_rel);
  if (slot >= kMaxThreads) return;  // audits then miss this thread's calls: see Retention
  __atomic_store_n(&g_threads[slot], self, __ATOMIC_RELEASE);
}

static_assert(offsetof(CgoCall, frame) == CgoCall::kStartBytes &&
                  offsetof(CgoCall, is_cgo_malloc) < CgoCall::kStartBytes,
              "the start of a call's record is function, frame_size, the Go pointer count, "
              "go_frames_known and is_cgo_malloc");
static_assert(RecentGoCall::kMaxCallerFrames == GoCallFrames::kMaxFrames,
              "the ring's caller frames come from GoCallFrames");

// x, its address held in a register from here on: the compiler would otherwise recompute
// the address of a thread-local object or of an array element (two or three instructions)
// at nearly every use, and spill around it.
template <typename T>
__attribute__((always_inline)) inline T& Pinned(T& x) {
  T* p = &x;
  asm("" : "+r"(p));
  return *p;
}

// The ring entry of call c, which received Go pointers: who made it and which pointers it
// got. No time stamp (rdtsc alone cost about 7 ns a call): the audit epoch orders calls of
// different threads, the thread's own count its calls. BeginRecent writes all but the
// caller's goroutine and frames, EndRecent the count of frames, then the seq that marks
// the entry complete.
inline RecentGoCall& BeginRecent(CallStack& cs, const CgoCall& c, uint64_t* seq_out) {
  uint64_t seq = cs.go_calls + 1;
  RecentGoCall& r = cs.recent[(seq - 1) % CgoThreadCalls::kRecent];
  __atomic_store_n(&r.seq, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&cs.go_calls, seq, __ATOMIC_RELEASE);
  r.when = __atomic_load_n(&CgoCalls::epoch_, __ATOMIC_RELAXED);
  r.function = c.function;
  r.num_go_pointers = c.num_go_pointers;
  r.go_pointers_truncated = c.go_pointers_truncated;
  static_assert(sizeof(r.go_pointers) == sizeof(c.go_pointers), "copied whole");
  __builtin_memcpy(r.go_pointers, c.go_pointers, sizeof(r.go_pointers));
  *seq_out = seq;
  return r;
}

inline void EndRecent(RecentGoCall& r, uint64_t seq, int num_caller_pcs) {
  r.num_caller_pcs = num_caller_pcs;
  __atomic_store_n(&r.seq, seq, __ATOMIC_RELEASE);
}

// RecordRecent's rare cases: the thread's first call with Go pointers, a call site its
// frames cache does not hold. Tail-called, so that the common case makes no call.
__attribute__((noinline)) uintptr_t RecordRecentMiss(CallStack& cs, const CgoCall& c,
                                                     uintptr_t original) {
  if (!t_registered) RegisterThread();
  uint64_t seq;
  RecentGoCall& r = BeginRecent(cs, c, &seq);
  EndRecent(r, seq, GoCallFrames::CaptureMiss(r.caller_pcs, &r.frames_key, &r.goroutine));
  return original;
}

// Writes the ring entry of c (see BeginRecent) and returns original, for the thunk. The
// frames are looked up before anything is written, so that the common case holds few
// values at a time. Out of line and tail-called: the calls without Go pointers keep a
// lean entry path.
__attribute__((noinline)) uintptr_t RecordRecent(CallStack& cs, const CgoCall& c,
                                                 uintptr_t original) {
  // Find finds nothing on a thread before its first CaptureMiss, which RecordRecentMiss
  // makes once the thread is registered: a thread it finds frames on is registered.
  int64_t goroutine;
  const GoCallFrames::Entry* frames = GoCallFrames::Find(&goroutine);
  if (frames == nullptr) return RecordRecentMiss(cs, c, original);
  uint64_t seq;
  RecentGoCall& r = BeginRecent(cs, c, &seq);
  r.goroutine = goroutine;
  EndRecent(r, seq, GoCallFrames::Copy(*frames, r.caller_pcs, &r.frames_key));
  return original;
}

// The depth once the records whose frames are gone are dropped: a call at entry_sp lives
// below (at a lower address than) every call that is still in progress outside it.
// Out of line: the entry and exit paths keep their common case small.
__attribute__((noinline)) int DepthAfterPop(const CallStack& cs, int depth, uintptr_t sp) {
  while (depth > 0) {
    int top = depth - 1;
    if (top < kMaxDepth && cs.calls[top].entry_sp > sp) break;
    --depth;
  }
  return depth;
}

// "<pkg>._cgo_<hex>_Cfunc_<name>" -> "<name>"; nullptr for other symbols.
const char* CgoVariableFunction(const char* name) {
  const char* dot = strstr(name, "._cgo_");
  if (!dot) return nullptr;
  const char* cfunc = strstr(dot, "_Cfunc_");
  if (!cfunc) return nullptr;
  for (const char* p = dot + 6; p < cfunc; ++p) {
    bool hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
    if (!hex) return nullptr;
  }
  return cfunc + 7;
}

struct Candidate {
  uintptr_t variable;
  char function[96];
  char stub[160];
};

struct Scan {
  uintptr_t bias;
  Candidate* candidates;
  int count;
};

bool VisitSymbol(const Elf64_Sym& s, const char* name, void* ctx) {
  auto* scan = static_cast<Scan*>(ctx);
  if (ELF64_ST_TYPE(s.st_info) != STT_OBJECT || s.st_size != 8) return true;
  const char* function = CgoVariableFunction(name);
  if (!function || !*function || scan->count >= kMaxTargets) return true;
  Candidate& c = scan->candidates[scan->count++];
  c.variable = scan->bias + s.st_value;
  strncpy(c.function, function, sizeof(c.function) - 1);
  c.function[sizeof(c.function) - 1] = '\0';
  // "<pkg>._cgo_<hash>_Cfunc_<name>" -> "<pkg>._Cfunc_<name>"
  size_t pkg = static_cast<size_t>(strstr(name, "._cgo_") - name);
  if (pkg + 8 + strlen(function) < sizeof(c.stub)) {
    memcpy(c.stub, name, pkg);
    strcpy(c.stub + pkg, "._Cfunc_");
    strcat(c.stub, function);
  } else {
    c.stub[0] = '\0';
  }
  return true;
}

// The argument frame sizes, from the `args` of each Go stub in the pclntab: one pass over
// the table's functions.
void FindFrameSizes(Target* targets, int count) {
  const Pclntab* table = GoRuntime::Table();
  if (table == nullptr) return;
  GoFuncInfo f;
  for (uint64_t i = 0; i < table->nfunc(); ++i) {
    if (!table->FindFuncByIndex(i, &f)) continue;
    const char* name = table->FuncName(f);
    if (name == nullptr || strstr(name, "._Cfunc_") == nullptr) continue;
    for (int k = 0; k < count; ++k) {
      CgoCall& start = targets[k].start;
      if (start.frame_size == 0 && strcmp(targets[k].stub, name) == 0 && f.args > 0) {
        start.frame_size = static_cast<uint32_t>(f.args);
      }
    }
  }
}

// The frame holds the call's arguments (and room for its results, still zero or stale).
// Every word is looked at, whatever its Go type: a Go pointer passed as an integer (uintptr,
// C.uintptr_t) is retained just the same. At most the first 16, so that a call with a huge
// frame stays cheap. Into c's Go pointers; false, before c's count of them is written,
// when a word needs the search of GoMappings and `search` is false: the inline scan makes
// no call.
__attribute__((always_inline)) inline bool ScanGoPointers(CgoCall& c, bool search) {
  const auto* words = reinterpret_cast<const uintptr_t*>(c.frame);
  uint32_t n = c.frame_size / 8;
  bool truncated = n > 16;
  if (n > 16) n = 16;
  uint8_t found = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uintptr_t w = words[i];
    bool in;
    if (!GoMappings::Decided(w, &in)) {
      if (!search) return false;
      in = GoMappings::ContainsSearched(w);
    }
    if (!in) continue;
    if (found == CgoCall::kMaxGoPointers) {
      truncated = true;
      break;
    }
    c.go_pointers[found++] = w;
  }
  c.num_go_pointers = found;
  c.go_pointers_truncated = truncated;
  return true;
}

// The end of the entry path once c is written: the depth that publishes it, then the
// ring entry when c received Go pointers. Returns original, for the thunk.
__attribute__((always_inline)) inline uintptr_t EndEnter(CallStack& cs, const CgoCall& c,
                                                         int depth, uintptr_t original) {
  __atomic_store_n(&cs.depth, depth + 1, __ATOMIC_RELEASE);
  if (c.ReceivedGoPointers() && __atomic_load_n(&g_record_recent, __ATOMIC_RELAXED)) {
    return RecordRecent(cs, c, original);
  }
  return original;
}

// The entry path of a frame with a word that needs the search.
__attribute__((noinline)) uintptr_t EnterSearching(CallStack& cs, CgoCall& c, int depth,
                                                   uintptr_t original) {
  ScanGoPointers(c, true);
  return EndEnter(cs, c, depth, original);
}

// The entry path once the depth is known: the call's record, the scan of its frame.
__attribute__((always_inline)) inline uintptr_t EnterAt(CallStack& cs, const Target& t,
                                                        uintptr_t frame, uintptr_t entry_sp,
                                                        int depth) {
  if (depth >= kMaxDepth) {
    __atomic_store_n(&cs.depth, depth + 1, __ATOMIC_RELEASE);
    return t.original;
  }
  CgoCall& c = Pinned(cs.calls[depth]);
  __builtin_memcpy(&c, &t.start, CgoCall::kStartBytes);
  c.frame = frame;
  c.entry_sp = entry_sp;
  if (t.start.frame_size >= 8 && !ScanGoPointers(c, false)) {
    return EnterSearching(cs, c, depth, t.original);
  }
  return EndEnter(cs, c, depth, t.original);
}

// The entry path of a call that finds records of calls already gone on top: tail-called,
// so that the common case makes no call.
__attribute__((noinline)) uintptr_t EnterOutOfOrder(CallStack& cs, const Target& t,
                                                    uintptr_t frame, uintptr_t entry_sp) {
  return EnterAt(cs, t, frame, entry_sp, DepthAfterPop(cs, cs.depth, entry_sp));
}

}  // namespace

int CgoCalls::Attach() {
  MainExecutable exe;
  ElfReader elf;
  SymbolTableInfo table;
  if (!OpenMainExecutableSymtab(&exe, &elf, &table)) return 0;
  auto* candidates = static_cast<Candidate*>(InternalMmap(sizeof(Candidate) * kMaxTargets));
  g_targets = static_cast<Target*>(InternalMmap(sizeof(Target) * kMaxTargets));
  if (!candidates || !g_targets) return 0;
  Scan scan{exe.bias, candidates, 0};
  ForEachSymbol(elf, table, VisitSymbol, &scan);
  if (scan.count == 0) return 0;

  size_t page = PageSize();
  size_t code_bytes = RoundUp(scan.count * kThunkBytes, page);
  auto* code = static_cast<uint8_t*>(InternalMmap(code_bytes));
  if (!code) return 0;
  uint64_t common = reinterpret_cast<uintptr_t>(&cgosan_cgo_thunk_common);
  for (int i = 0; i < scan.count; ++i) {
    uint8_t* t = code + i * kThunkBytes;
    // movabs $&g_targets[i], %r11 ; movabs $common, %r10 ; jmp *%r10 ; int3 padding.
    // r10 and r11 are scratch at a C call boundary (a plain C function has no static chain).
    uint64_t target = reinterpret_cast<uintptr_t>(&g_targets[i]);
    const uint8_t to_r11[] = {0x49, 0xbb};
    const uint8_t to_r10[] = {0x49, 0xba};
    const uint8_t jmp[] = {0x41, 0xff, 0xe2};
    memset(t, 0xcc, kThunkBytes);
    memcpy(t, to_r11, 2);
    memcpy(t + 2, &target, 8);
    memcpy(t + 10, to_r10, 2);
    memcpy(t + 12, &common, 8);
    memcpy(t + 20, jmp, 3);
  }
  if (InternalMprotect(code, code_bytes, PROT_READ | PROT_EXEC) != 0) return 0;

  // Point each variable at its thunk. The variable is an ordinary aligned 8-byte word that
  // Go reloads before every call: one atomic store switches it.
  for (int i = 0; i < scan.count; ++i) {
    auto* var = reinterpret_cast<uintptr_t*>(candidates[i].variable);
    Target& t = g_targets[i];
    t.original = __atomic_load_n(var, __ATOMIC_RELAXED);
    memcpy(t.function, candidates[i].function, sizeof(t.function));
    memcpy(t.stub, candidates[i].stub, sizeof(t.stub));
    memset(&t.start, 0, sizeof(t.start));
    t.start.function = t.function;
    t.start.is_cgo_malloc = strcmp(t.function, "_Cmalloc") == 0;
  }
  FindFrameSizes(g_targets, scan.count);
  g_num_targets = scan.count;
  for (int i = 0; i < scan.count; ++i) {
    auto* var = reinterpret_cast<uintptr_t*>(candidates[i].variable);
    __atomic_store_n(var, reinterpret_cast<uintptr_t>(code + i * kThunkBytes), __ATOMIC_RELEASE);
  }
  InternalMunmap(candidates, sizeof(Candidate) * kMaxTargets);
  return scan.count;
}

int CgoCalls::RegisteredThreads(uintptr_t* out, int max) {
  int n = g_num_threads.load(std::memory_order_acquire);
  if (n > kMaxThreads) n = kMaxThreads;
  int written = 0;
  for (int i = 0; i < n && written < max; ++i) {
    uintptr_t t = __atomic_load_n(&g_threads[i], __ATOMIC_ACQUIRE);
    if (t) out[written++] = t;
  }
  return written;
}

void CgoCalls::SetGoCallDoneHook(GoCallDoneHook hook, const uint32_t* pending) {
  g_done_hook.store(nullptr);
  __atomic_store_n(&g_done_pending, pending, __ATOMIC_RELAXED);
  g_done_hook.store(hook);
}

void CgoCalls::AdvanceEpoch() { __atomic_fetch_add(&epoch_, 1, __ATOMIC_RELAXED); }

void CgoCalls::SetRecordRecentGoCalls(bool on) {
  __atomic_store_n(&g_record_recent, on, __ATOMIC_RELAXED);
}

}  // namespace cgosan

// Enter and exit keep the depth in a register and store it once: other threads and signal
// handlers read it (release order: a call's record is written before the depth counts it).
// The common case is a call nested properly in those in progress: at entry the top record
// (if any) is an outer call's, higher on the g0 stack; at exit it is this call's. Anything
// else (a Go panic through C frames, a callback that never returned) takes DepthAfterPop.
extern "C" uintptr_t cgosan_cgo_enter(uintptr_t target, uintptr_t frame, uintptr_t entry_sp) {
  using namespace cgosan;
  CallStack& cs = Pinned(CgoCalls::t_calls_);
  const Target& t = *reinterpret_cast<const Target*>(target);
  int depth = cs.depth;
  if (depth > 0 && (depth > kMaxDepth || cs.calls[depth - 1].entry_sp <= entry_sp)) {
    return EnterOutOfOrder(cs, t, frame, entry_sp);
  }
  return EnterAt(cs, t, frame, entry_sp, depth);
}

namespace cgosan {
namespace {

// A call with Go pointers returned: the hook (an audit request), unless the one it made
// before is still outstanding.
__attribute__((noinline)) void GoCallDone() {
  const uint32_t* pending = __atomic_load_n(&g_done_pending, __ATOMIC_RELAXED);
  if (pending && __atomic_load_n(pending, __ATOMIC_RELAXED)) return;
  if (auto hook = g_done_hook.load(std::memory_order_acquire)) hook();
}

__attribute__((noinline)) void ExitOutOfOrder(CallStack& cs, int depth, uintptr_t entry_sp) {
  bool had_go_pointers = false;
  if (depth > 0 && depth <= kMaxDepth) {
    const CgoCall& top = cs.calls[depth - 1];
    had_go_pointers = top.ReceivedGoPointers();
  }
  __atomic_store_n(&cs.depth, DepthAfterPop(cs, depth, entry_sp), __ATOMIC_RELEASE);
  if (had_go_pointers) GoCallDone();
}

}  // namespace
}  // namespace cgosan

extern "C" void cgosan_cgo_exit(uintptr_t entry_sp) {
  using namespace cgosan;
  CallStack& cs = CgoCalls::t_calls_;
  int depth = cs.depth;
  if (depth > 0 && depth <= kMaxDepth) {
    const CgoCall& top = cs.calls[depth - 1];
    if (top.entry_sp == entry_sp) {
      // Records below the top were checked at this call's entry: they are outer calls.
      bool had_go_pointers = top.ReceivedGoPointers();
      __atomic_store_n(&cs.depth, depth - 1, __ATOMIC_RELEASE);
      if (had_go_pointers) GoCallDone();
      return;
    }
  }
  ExitOutOfOrder(cs, depth, entry_sp);
}
