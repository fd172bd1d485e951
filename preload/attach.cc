// Process attach: the constructor that turns the preload on, and fork handling.
// Until it has run, the interposers only track blocks (libraries' constructors may call
// malloc before ours runs); it parses options first so that a bad option stops the program
// before any of its code runs.
#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload/audit/go_heap_view.h"
#include "preload/audit/leak_check.h"
#include "preload/audit/retention.h"
#include "preload/cgo_calls.h"
#include "preload/conflicts.h"
#include "preload/fault_handler.h"
#include "preload/go_fault.h"
#include "preload/go_memory_hooks.h"
#include "preload/go_runtime_hooks.h"
#include "preload/hooks/hook_engine.h"
#include "preload/hooks/tracer.h"
#include "preload/mapping_limit.h"
#include "preload/process_state.h"
#include "preload/signal_table.h"
#include "preload/thread_state.h"
#include "report/go/go_function_finder.h"
#include "report/go/go_runtime.h"
#include "report/go_stack.h"
#include "report/report_writer.h"
#include "report/suppressions.h"
#include "report/unwinder.h"
#include "shadow/base/internal_mmap.h"
#include "shadow/base/raw_io.h"
#include "shadow/base/safe_read.h"
#include "shadow/base/text_buffer.h"
#include "shadow/c_heap.h"
#include "shadow/go/go_heap.h"
#include "shadow/go/map_arrays.h"
#include "shadow/guarded_pool.h"
#include "shadow/options.h"

namespace cgosan {
namespace {

// Guarded slots are each about two kernel mappings; keep them within a quarter of the
// process's mapping limit (the program and the Go runtime need the rest: Go throws when its
// own mmap fails).
size_t MaxLiveGuardedSlots() {
  char buf[32];
  ssize_t n = RawReadFile("/proc/sys/vm/max_map_count", buf, sizeof(buf) - 1);
  size_t limit = 65530;
  if (n > 0) {
    size_t v = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) v = v * 10 + (buf[i] - '0');
    if (v > 0) limit = v;
  }
  return limit / 8;
}

void ParseOptionsOrDie() {
  InlineTextBuffer<1024> error;
  if (!ParseOptions(getenv("CGOSAN_OPTIONS"), &MutableOptions(), &error)) {
    InlineTextBuffer<1200> line;
    line.Append("ERROR: CGOSAN_OPTIONS: ").Append(error.data());
    PrintLine(line.data());
    _exit(1);
  }
  const char* suppressions = GetOptions().suppressions;
  if (suppressions[0] != '\0' && !Suppressions::Load(suppressions, &error)) {
    InlineTextBuffer<1200> line;
    line.Append("ERROR: suppressions: ").Append(error.data());
    PrintLine(line.data());
    _exit(1);
  }
}

// The wrapper names the program it was asked to run in CGOSAN_NAMED_EXE; a process that is
// neither that program nor a Go program only inherited the preload.
bool ShouldBePassive() {
  const char* named = getenv("CGOSAN_NAMED_EXE");
  if (!named || !*named || IsGoProcess()) return false;
  const char* exe = CurrentProcessInfo().exe;
  return !exe || strcmp(exe, named) != 0;
}

void ConfigureHeap() {
  const Options& o = GetOptions();
  CHeapConfig config;
  bool passive = PreloadPassive();
  config.guard_enabled = !passive && o.guard_mode() != GuardMode::kNone;
  config.guard_pool_bytes = static_cast<size_t>(o.guard_pool_mb) << 20;
  config.quarantine_bytes = passive ? 0 : static_cast<uint64_t>(o.quarantine_mb) << 20;
  config.unguarded_quarantine_bytes =
      passive ? 0 : static_cast<uint64_t>(o.quarantine_unguarded_mb) << 20;
  config.max_live_guarded = MaxLiveGuardedSlots();
  config.guard_left = o.guard_left != 0;
  // Only where the audits read block contents: elsewhere the fill would be pure cost.
  if (!passive && (IsGoProcess() || LeakCheck::Enabled())) {
    config.fill_byte = static_cast<int>(o.malloc_fill_byte);
  }
  CHeap::Configure(config);
}

int g_intercepted_cgo_functions = 0;
bool g_cgo_guard_fell_back = false;
int g_runtime_hooks = 0;
int g_go_memory_hooks = 0;
const char* g_exit_hook_off = nullptr;  // why runtime.exit is not hooked (Go), or nullptr
// Freed Go ranges remembered (efence frees of large objects and stacks; the newest win).
constexpr size_t kMaxFreedGoRanges = size_t{1} << 20;

void PrepareFork() { CHeap::LockAllForFork(); }
void ParentAfterFork() { CHeap::UnlockAllAfterFork(); }
void ChildAfterFork() {
  CHeap::UnlockAllAfterFork();
  Unwinder::AfterForkInChild();
  InternalMappingsResetAfterFork();
  SafeReadAfterFork();
  Retention::AfterForkInChild();
  t_state.tid = 0;  // the child's only thread has a new tid
  GoHeap::ResetAfterFork();
  MapArrays::ResetAfterFork();
  CollectProcessInfo();
}

// Said whatever the verbosity: under a debugger the runtime hooks (int3 breakpoints) are off
// unless forced, and when forced every hit stops the debugger.
void WarnIfTraced() {
  if (GoMemoryHooks::OffForDebugger()) {
    PrintLine(
        "note: a debugger is attached, so cgosan's runtime hooks are off: C accesses to "
        "relocated map arrays are reported as freed Go heap (go_hooks=1 forces the hooks on)");
  } else if (HookEngine::Installed() > 0 && TracerAttached()) {
    PrintLine(
        "note: a debugger is attached and go_hooks=1: every runtime hook hit is a SIGTRAP "
        "that stops it");
  }
}

void SayAttached() {
  if (GetOptions().verbosity < 1) return;
  InlineTextBuffer<256> line;
  if (PreloadPassive()) {
    PrintLine("passive: not the program cgosan was asked to run, nor a Go program");
    return;
  }
  line.Append("attached: guard=");
  switch (GetOptions().guard_mode()) {
    case GuardMode::kAll:
      line.Append("all");
      break;
    case GuardMode::kSampled:
      line.Append("sampled");
      break;
    case GuardMode::kNone:
      line.Append("none");
      break;
    case GuardMode::kCgo:
      line.Append("cgo");
      break;
  }
  if (GetOptions().guard_mode() != GuardMode::kNone && !GuardedPool::Enabled()) {
    line.Append(
        " (guarded pool unavailable: reserving guard_pool_mb failed; blocks are unguarded)");
  }
  line.Append(", max live guarded blocks ").Unsigned(MaxLiveGuardedSlots());
  if (GuardedPool::Enabled()) {
    line.Append(GuardedPool::UsesGuardMarkers() ? " (guard markers)"
                                                : " (mprotect: no guard markers before Linux 6.13)");
  }
  line.Append(", unwinder ")
      .Append(Unwinder::Ready() ? "libunwind" : "off (libunwind.so.8 not found)");
  if (IsGoProcess()) {
    line.Append(", Go program ")
        .Append(GoRuntime::Binary().version[0] ? GoRuntime::Binary().version : "(version unknown)");
    if (*GoRuntime::OffReason()) line.Append(", Go features off: ").Append(GoRuntime::OffReason());
    if (g_intercepted_cgo_functions > 0) {
      line.Append(", ")
          .Unsigned(g_intercepted_cgo_functions)
          .Append(" cgo call variables intercepted");
      line.Append(", ").Unsigned(g_runtime_hooks).Append(" of 3 runtime/cgo hooks");
    } else {
      line.Append(", cgo call interception off (no symbol table: built with -ldflags=-s?)");
      if (g_cgo_guard_fell_back) line.Append(", so guard=all instead of guard=cgo");
    }
  } else {
    line.Append(", not a Go program");
  }
  PrintLine(line.data());
  if (IsGoProcess()) PrintLine(GoMemoryHooks::Describe());
}

// Said at verbosity 1 when the program ends, if any finding was suppressed.
void SaySuppressed() {
  uint64_t n = Suppressions::SuppressedCount();
  if (GetOptions().verbosity < 1 || n == 0) return;
  InlineTextBuffer<128> line;
  line.Append("suppressed ").Unsigned(n).Append(n == 1 ? " finding" : " findings");
  PrintLine(line.data());
}

// The end-of-run audits. Returns the exit status: a retention or leak finding turns 0 into
// exitcode (so that go test fails); any other status of the program is kept.
int EndOfRun(int code) {
  if (FatalFindingReported()) return code;
  uint64_t findings = 0;
  if (Retention::Enabled()) {
    Retention::AuditNow();
    findings += Retention::Findings();
    Retention::SayStats();
  }
  if (LeakCheck::Enabled()) findings += LeakCheck::Run();
  SaySuppressed();
  return findings > 0 && code == 0 ? static_cast<int>(GetOptions().exitcode) : code;
}

// Go: runtime.exit's hook, on the exit helper thread (a real stack, every signal blocked).
int OnGoExit(int code) {
  LeakCheck::NoteOwnThreadStack();
  ReentrancyGuard guard;
  return EndOfRun(code);
}

// C: an on_exit handler, registered first so that it runs after the program's own.
void OnCExit(int status, void*) {
  int code = EndOfRun(status);
  if (code != status) {
    fflush(nullptr);  // exit() would flush after the handlers; _exit does not
    _exit(code);
  }
}

// runtime.exit (assembly: "runtime.exit" in the pclntab) gets the jump to the exit hook.
bool InstallGoExitHook(const char** why) {
  if (!GoRuntime::Table()) {
    *why = "no pclntab";
    return false;
  }
  GoFunctionQuery q;
  q.name = "runtime.exit";
  if (FindGoFunctions(*GoRuntime::Table(), &q, 1) != 1) {
    *why = "runtime.exit not found";
    return false;
  }
  return HookEngine::InstallExitHook(q.func.entry, OnGoExit, why);
}

void AttachAudits() {
  GoHeapView::Init();
  bool audits = GetOptions().retention_check != 0 && g_intercepted_cgo_functions > 0 &&
                GoRuntime::Layout() != nullptr;
  if (audits) Retention::Attach();
  if (audits || LeakCheck::Enabled()) {
    const char* why = "";
    if (!InstallGoExitHook(&why)) g_exit_hook_off = why;
  }
}

void SayAudits() {
  if (GetOptions().verbosity < 1 || PreloadPassive()) return;
  InlineTextBuffer<512> line;
  line.Append("audits: retention ");
  if (Retention::Enabled()) {
    line.Append("on (every ").Unsigned(GetOptions().retention_interval_ms).Append(" ms at most)");
  } else {
    line.Append(!IsGoProcess()                     ? "off (not a Go program)"
                : GetOptions().retention_check == 0 ? "off (retention_check=0)"
                                                    : "off (needs cgo call interception and the runtime layout)");
  }
  line.Append(", leak check ").Append(LeakCheck::Enabled() ? "on" : "off");
  if (IsGoProcess()) {
    line.Append(", ").Append(GoHeapView::Describe());
    if (g_exit_hook_off) line.Append(", exit hook off: ").Append(g_exit_hook_off);
  }
  if (Suppressions::RuleCount() > 0) {
    line.Append(", ").Unsigned(Suppressions::RuleCount()).Append(" suppression rules");
  }
  PrintLine(line.data());
}

constexpr const char* kSecureReason =
    "a set-user-ID or set-group-ID program (AT_SECURE): cgosan reads no options, writes no "
    "files";

// Why cgosan must not touch this process at all (nullptr: it may). Options are not even read
// in a secure process: log_path would be a file written with the program's privileges.
const char* StayOutReason() {
  if (SecureExecution()) return kSecureReason;
  ParseOptionsOrDie();
  if (GetOptions().test_secure != 0) {
    MutableOptions() = Options();
    return kSecureReason;
  }
  return nullptr;
}

// Said whatever the verbosity, once: protection the user asked for is not there.
void WarnDegraded() {
  if (PreloadPassive() || GetOptions().verbosity >= 1) return;  // the attached line says it
  if (GetOptions().guard_mode() != GuardMode::kNone && !GuardedPool::Enabled()) {
    InlineTextBuffer<256> line;
    line.Append("warning: reserving guard_pool_mb=").Dec(GetOptions().guard_pool_mb);
    line.Append(" MiB of address space failed: blocks are tracked without guard pages");
    line.Append(" (bad frees are still found, accesses to freed or overflowed blocks are not)");
    PrintLine(line.data());
  }
  const char* off = GoRuntime::OffReason();
  if (IsGoProcess() && strncmp(off, "unsupported Go version", 22) == 0) {
    InlineTextBuffer<256> line;
    line.Append("note: Go features off: ").Append(off);
    line.Append(" (cgosan knows Go 1.19 and 1.21-1.24); C heap checks only");
    PrintLine(line.data());
  }
}

__attribute__((constructor(101))) void AttachPreload() {
  ReentrancyGuard guard;
  const char* stay_out = StayOutReason();
  CollectProcessInfo();
  SetGoProcess(dlsym(RTLD_DEFAULT, "crosscall2") != nullptr);
  if (!stay_out) stay_out = ConflictingRuntime();
  if (stay_out) {
    SetPreloadPassive();
    MutableOptions().malloc_context_size = 0;
    InlineTextBuffer<700> line;
    line.Append("passive: ").Append(stay_out).Append("; the program runs without cgosan");
    PrintLine(line.data());
  }
  // guard=cgo is the default in a Go program: the blocks that cross the boundary (allocated
  // for Go) are all guarded, C's own at the sample rate, so C-internal allocation stays fast.
  if (IsGoProcess() && !GetOptions().Given("guard")) {
    MutableOptions().guard = static_cast<int>(GuardMode::kCgo);
  }
  if (!stay_out && ShouldBePassive()) {
    SetPreloadPassive();
    MutableOptions().malloc_context_size = 0;
  }
  ConfigureHeap();
  pthread_atfork(PrepareFork, ParentAfterFork, ChildAfterFork);
  if (!PreloadPassive()) {
    Unwinder::Init();
    if (IsGoProcess()) {
      GoRuntime::Attach();
      GoStack::Init();
      g_intercepted_cgo_functions = CgoCalls::Attach();
      SetGoClockStart();
      GoHeap::Init(kMaxFreedGoRanges);  // before the runtime's mmaps are redirected to it
      MappingLimit::Init();
      g_runtime_hooks = GoRuntimeHooks::Attach();
      g_go_memory_hooks = GoMemoryHooks::Attach();
      // guard=cgo needs interception to know which blocks are allocated for Go; without it
      // (no symbol table) every block is guarded rather than none of Go's.
      if (g_intercepted_cgo_functions == 0 && GetOptions().guard_mode() == GuardMode::kCgo) {
        MutableOptions().guard = static_cast<int>(GuardMode::kAll);
        g_cgo_guard_fell_back = true;
      }
      AttachAudits();
    } else if (LeakCheck::Enabled() || Suppressions::RuleCount() > 0) {
      on_exit(OnCExit, nullptr);
    }
    SignalTable::InstallHandlers(OnFaultSignal);
  }
  if (UntrackedMode()) CHeap::ReleaseUnguardedRecords();
  SetPreloadReady();
  if (stay_out) return;
  SayAttached();
  WarnDegraded();
  SayAudits();
  WarnIfTraced();
}

}  // namespace
}  // namespace cgosan
