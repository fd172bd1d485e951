// Findings: fills the one static Finding (it is too big for a signal stack), symbolizes
// it and hands it to the writers. Runs with the report lock held and malloc redirected to
// the report arena, so it is safe in a signal handler that interrupted anything.
#include "preload/findings.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "preload/cgo_calls.h"
#include "preload/go_fault.h"
#include "preload/process_state.h"
#include "preload/thread_state.h"
#include "report/go/go_type_name.h"
#include "report/go_stack.h"
#include "report/report_writer.h"
#include "report/suppressions.h"
#include "report/symbolizer.h"
#include "report/unwinder.h"
#include "shadow/base/raw_io.h"
#include "shadow/base/text_buffer.h"
#include "shadow/go_mappings.h"
#include "shadow/options.h"

namespace cgosan {
namespace {

Finding g_finding;
std::atomic<pid_t> g_report_owner{0};
std::atomic<int> g_findings_waiting{0};

}  // namespace

void AddDepotStack(Finding* f, const char* name, StackId id, pid_t tid, int64_t goroutine) {
  const uintptr_t* pcs;
  int n = StackDepot::Get(id, &pcs);
  Stack* s = f->AddStack(name);
  if (!s) return;
  s->tid = tid;
  s->goroutine = goroutine;
  Symbolizer::SymbolizeStack(pcs, n, false, s);
}

namespace {

void AddCurrentStack(Finding* f, const char* name) {
  uintptr_t pcs[kMaxFramesPerStack];
  int n = Unwinder::CaptureCurrent(pcs, kMaxFramesPerStack);
  Stack* s = f->AddStack(name);
  if (!s) return;
  s->tid = CurrentTid();
  Symbolizer::SymbolizeStack(pcs, n, false, s);
}

}  // namespace

const char* OriginName(BlockOrigin origin) {
  switch (origin) {
    case BlockOrigin::kForGo:
      return "for-go";
    case BlockOrigin::kUnderGo:
      return "under-go";
    case BlockOrigin::kC:
      return "c";
    case BlockOrigin::kGoRuntime:
      return "go-runtime";
    case BlockOrigin::kUnknown:
      break;
  }
  return nullptr;
}

void SetObject(Finding* f, const HeapBlock& block, uintptr_t address) {
  f->has_object = true;
  f->object_origin = OriginName(block.origin);
  f->region = Region::kCHeap;
  f->object_base = block.base;
  f->object_size = block.size;
  f->object_offset = static_cast<int64_t>(address - block.base);
}

bool Publish(const Finding& f) {
  if (Suppressions::Matches(f)) return false;
  WriteReport(f);
  return true;
}

namespace {

void AddBlockStacks(Finding* f, const HeapBlock& block) {
  if (block.state == BlockState::kFreed) AddDepotStack(f, "free", block.free_stack, block.free_tid);
  AddDepotStack(f, "alloc", block.alloc_stack, block.alloc_tid);
}

}  // namespace

Finding* BeginFinding(FindingKind kind) {
  Finding* f = &g_finding;
  f->Reset(kind);
  CurrentThreadInfo(&f->thread);
  f->thread.goroutine = GoStack::CurrentGoroutineId();
  if (const CgoCall* call = CgoCalls::Current()) {
    f->cgo_function = call->function;
    f->cgo_frame = call->frame;
    f->cgo_frame_size = call->frame_size;
    f->num_cgo_go_pointers = call->num_go_pointers;
    for (int i = 0; i < call->num_go_pointers; ++i) f->cgo_go_pointers[i] = call->go_pointers[i];
  }
  Symbolizer::Refresh();
  return f;
}

namespace {

// Where an invalid free's pointer points, when it is not a known block (from the maps).
void DescribeForeignPointer(uintptr_t addr, TextBuffer* out) {
  static char maps[256 * 1024];
  ssize_t n = RawReadFile("/proc/self/maps", maps, sizeof(maps) - 1);
  if (n <= 0) return;
  maps[n] = '\0';
  for (char* line = maps; *line;) {
    char* end = line;
    while (*end && *end != '\n') ++end;
    char saved = *end;
    *end = '\0';
    char* p = line;
    uintptr_t lo = 0, hi = 0;
    auto hex = [](char*& q) {
      uintptr_t v = 0;
      for (;; ++q) {
        char c = *q;
        if (c >= '0' && c <= '9')
          v = v * 16 + (c - '0');
        else if (c >= 'a' && c <= 'f')
          v = v * 16 + (c - 'a' + 10);
        else
          break;
      }
      return v;
    };
    lo = hex(p);
    if (*p == '-') ++p;
    hi = hex(p);
    if (addr >= lo && addr < hi) {
      // The path is the sixth field.
      const char* path = line;
      for (int field = 0; field < 5 && *path; ++field) {
        while (*path && *path != ' ') ++path;
        while (*path == ' ') ++path;
      }
      if (path[0] == '[' && path[1] == 's' && path[2] == 't') {
        out->Append("the address is on a stack");
      } else if (path[0] == '/') {
        out->Append("the address is in the data of ").Append(path);
      } else if (path[0] == '[' && path[1] == 'h') {
        out->Append("the address is in the brk heap but not the start of a block");
      } else {
        out->Append("the address is in an mmap'd region [").Hex(lo).Char(',').Hex(hi).Char(')');
      }
      *end = saved;
      return;
    }
    *end = saved;
    line = *end ? end + 1 : end;
  }
  out->Append("the address is not mapped");
}

[[noreturn]] void EndAfterFreeFinding() {
  SetFatalFindingReported();
  SayOtherFindingsWaiting();
  ReleaseReportLock();
  if (IsGoProcess()) {
    // Go prints its own goroutine dump for SIGABRT and exits 2: the program's usual end.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGABRT);
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, nullptr, sizeof(uint64_t));
    syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), SIGABRT);
  }
  _exit(static_cast<int>(GetOptions().exitcode));
}

}  // namespace

bool AcquireReportLock(bool finding) {
  pid_t self = CurrentTid();
  bool counted = false;
  for (;;) {
    pid_t expected = 0;
    if (g_report_owner.compare_exchange_strong(expected, self)) break;
    if (expected == self) return false;
    if (finding && !counted) {
      g_findings_waiting.fetch_add(1);
      counted = true;
    }
    // Another thread is reporting and will end the process; wait for it without spinning hot.
    struct timespec ts = {0, 1000000};
    syscall(SYS_nanosleep, &ts, nullptr);
  }
  if (counted) g_findings_waiting.fetch_sub(1);
  t_state.in_report = true;
  return true;
}

void SayOtherFindingsWaiting() {
  int n = g_findings_waiting.load();
  if (n <= 0) return;
  InlineTextBuffer<200> line;
  line.Append("note: ").Dec(n).Append(n == 1 ? " other thread" : " other threads");
  line.Append(" hit a finding while this one was reported; the process ends here, so only ");
  line.Append("this first finding is reported");
  PrintLine(line.data());
}

void ReleaseReportLock() {
  t_state.in_report = false;
  g_report_owner.store(0);
}

bool ThisThreadIsReporting() { return g_report_owner.load() == CurrentTid(); }

void ReportBadFree(FreeVerdict verdict, const void* ptr, const HeapBlock& block, bool block_known,
                   uint64_t corrupt_offset) {
  if (!AcquireReportLock(true)) _exit(static_cast<int>(GetOptions().exitcode));
  uintptr_t addr = reinterpret_cast<uintptr_t>(ptr);
  static char detail_storage[512];
  TextBuffer detail(detail_storage, sizeof(detail_storage));
  Finding* f;
  switch (verdict) {
    case FreeVerdict::kDoubleFree:
      f = BeginFinding(FindingKind::kDoubleFree);
      f->access = AccessType::kFree;
      break;
    case FreeVerdict::kOverflowAtFree:
      f = BeginFinding(FindingKind::kHeapBufferOverflow);
      f->access = AccessType::kWrite;
      addr = block.base + corrupt_offset;
      detail.Append("found when the block was freed: the bytes after its end were overwritten");
      break;
    case FreeVerdict::kInvalidFree:
    case FreeVerdict::kOk:
    default:
      f = BeginFinding(FindingKind::kInvalidFree);
      f->access = AccessType::kFree;
      if (block_known) {
        detail.Append("the address is ");
        int64_t off = static_cast<int64_t>(addr - block.base);
        detail.Dec(off).Append(" bytes inside of a ").Unsigned(block.size).Append("-byte ");
        detail.Append(block.state == BlockState::kLive ? "block" : "freed block");
      } else if (GoMappings::Contains(addr)) {
        // Go memory handed to C.free: a pointer into a Go object or a goroutine stack.
        detail.Append(
            "the address is in memory of the Go runtime (the Go heap or a goroutine "
            "stack), not a C heap block");
      } else {
        DescribeForeignPointer(addr, &detail);
      }
      break;
  }
  f->has_address = true;
  f->address = addr;
  if (detail.size()) f->detail = detail.data();
  AddCurrentStack(f, "access");
  if (block_known) {
    SetObject(f, block, addr);
    AddBlockStacks(f, block);
  }
  if (!Publish(*f)) {
    ReleaseReportLock();
    return;
  }
  EndAfterFreeFinding();
}

// The access that faulted: address, pc, read or write, and the stack from the signal's
// context (C frames, then the goroutine's when the fault is in a cgo call).
void SetFaultingAccess(Finding* f, siginfo_t* si, void* ucontext) {
  auto* uc = static_cast<ucontext_t*>(ucontext);
  uintptr_t addr = reinterpret_cast<uintptr_t>(si->si_addr);
  f->has_address = true;
  f->address = addr;
  f->pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  // Page-fault error code bit 1: the access was a write.
  f->access = (uc->uc_mcontext.gregs[REG_ERR] & 2) ? AccessType::kWrite : AccessType::kRead;
  uintptr_t pcs[kMaxFramesPerStack];
  int n = Unwinder::CaptureFromContext(ucontext, pcs, kMaxFramesPerStack);
  if (n == 0) {
    pcs[0] = f->pc;
    n = 1;
  }
  Stack* s = f->AddStack("access");
  if (s) {
    s->tid = CurrentTid();
    Symbolizer::SymbolizeStack(pcs, n, true, s);
  }
}

void ReportPoolFault(const PoolFaultInfo& info, int sig, siginfo_t* si, void* ucontext) {
  Finding* f =
      BeginFinding(info.kind == PoolFaultInfo::kUseAfterFree ? FindingKind::kHeapUseAfterFree
                                                             : FindingKind::kHeapBufferOverflow);
  SetFaultingAccess(f, si, ucontext);
  SetObject(f, info.block, f->address);
  AddBlockStacks(f, info.block);
  Publish(*f);
}

void DescribeMapArray(Finding* f, const MapArrayRecord& m) {
  f->region = Region::kMapBuckets;
  f->go.map_address = m.map;
  if (m.type) GoTypeName(m.type, f->go.map_type, sizeof(f->go.map_type));
  f->go.array_kind = m.swiss ? "group array" : "bucket array";
  f->go.map_state = MapArrayStateName(m.state);
  if (m.event_stack) {
    AddDepotStack(f, m.state == MapArrayState::kCleared ? "clear" : "relocation", m.event_stack, 0,
                  m.event_goroutine);
  }
  if (m.alloc_stack) AddDepotStack(f, "alloc", m.alloc_stack, 0, m.alloc_goroutine);
}

void ReportGoFault(const GoFaultExplanation& ex, int sig, siginfo_t* si, void* ucontext) {
  Finding* f = BeginFinding(ex.kind);
  SetFaultingAccess(f, si, ucontext);
  const GoFreedRange& freed = ex.freed;
  f->has_object = true;
  f->object_base = ex.has_map ? ex.map.base : freed.base;
  f->object_size = ex.has_map ? ex.map.size : freed.size;
  f->object_offset = static_cast<int64_t>(f->address - f->object_base);
  f->go.gc_cycle = freed.gc_cycle;
  f->go.freed_ms = GoMillisSinceStart(freed.freed_ns);
  if (ex.has_map) {
    DescribeMapArray(f, ex.map);
  } else if (freed.kind == GoFreedKind::kStack) {
    f->region = Region::kGoStack;
    f->go.goroutine = freed.goroutine;
    f->go.stack_moved = freed.stack_moved;
    if (freed.stack) AddDepotStack(f, "free", freed.stack, 0, freed.goroutine);
  } else {
    f->region = Region::kGoHeap;
  }
  Publish(*f);
}

}  // namespace cgosan
