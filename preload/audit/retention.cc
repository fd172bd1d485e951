// Retention implementation: the audit thread, the scan, the confirmation against the cgo
// calls of every thread, and the go-pointer-retained findings.
#include "preload/audit/retention.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "preload/audit/audit_stats.h"
#include "preload/audit/c_memory.h"
#include "preload/audit/go_heap_view.h"
#include "preload/audit/leak_check.h"
#include "preload/cgo_calls.h"
#include "preload/findings.h"
#include "preload/hooks/raw_syscall.h"
#include "preload/thread_state.h"
#include "report/report_writer.h"
#include "shadow/base/text_buffer.h"
#include "report/symbolizer.h"
#include "shadow/base/safe_read.h"
#include "shadow/base/spin_lock.h"
#include "shadow/c_heap.h"
#include "shadow/go/map_arrays.h"
#include "shadow/go_mappings.h"
#include "shadow/options.h"

namespace cgosan {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kMaxCandidates = 256;
constexpr int kMaxThreads = 4096;
constexpr size_t kMaxNamedCalls = 8192;
// A deferred candidate is looked at again this soon.
constexpr int64_t kRetryNs = 50 * 1000000;
// A background pass works in slices of this much C memory read (or of this many block
// snapshot steps, BlockSnapshot::kSlotsPerStep slots each), each followed by a pause at
// least as long as the slice and at least kMinPauseNs.
constexpr size_t kSliceBytes = 1 << 20;
constexpr int kStepsPerSlice = 16;
constexpr int64_t kMinPauseNs = 500 * 1000;
constexpr int64_t kMaxPauseNs = 10 * 1000 * 1000;

struct Candidate {
  uintptr_t location = 0;  // the word in C memory
  uintptr_t value = 0;     // the Go pointer it holds
  GoObjectInfo object;
  bool in_block = false;
  HeapBlock block;         // the holder, when in_block
  int module = -1;         // else the index of the holder in the module snapshot
  bool deferred = false;
};

// A cgo call with Go pointers as the audits remember it, for naming the call that handed
// a pointer over.
struct NamedCall {
  uintptr_t thread = 0;
  RecentGoCall call;
};

struct Reported {
  uintptr_t holder = 0, object = 0;
};

// Audits are serialized by g_audit_lock, so their scratch state is static.
struct AuditState {
  InternalVector<HeapBlock> blocks;
  InternalVector<ModuleData> modules;
  InternalVector<GoroutineStack> goroutines;
  InternalVector<Candidate> candidates;
  InternalVector<NamedCall> named;
  InternalVector<Reported> reported;
  // Initialized members throughout: the state is constant-initialized (no dynamic
  // initializer runs in the preload).
  uintptr_t threads[kMaxThreads] = {};
  uint64_t go_calls_before[kMaxThreads] = {};
  CgoThreadCalls copy = {};
  uint8_t chunk[kChunkBytes] = {};
};

AuditState g_state;
SpinLock g_audit_lock;
bool g_enabled = false;
uint32_t g_wanted = 0;  // futex word: 1 when an audit is wanted
std::atomic<uint64_t> g_findings{0};
std::atomic<uint64_t> g_audits{0};
std::atomic<bool> g_retry{false};
std::atomic<bool> g_hurry{false};  // the exit audit is waiting: a background pass gives up
long g_pid = 0;

bool Touches(const uintptr_t* pointers, int n, bool truncated, const GoObjectInfo& o) {
  if (truncated) return true;
  for (int i = 0; i < n; ++i) {
    if (pointers[i] >= o.base && pointers[i] - o.base < o.size) return true;
  }
  return false;
}

bool AlreadyReported(uintptr_t holder, uintptr_t object) {
  for (const Reported& r : g_state.reported) {
    if (r.holder == holder && r.object == object) return true;
  }
  return false;
}

uintptr_t HolderBase(const Candidate& c) {
  return c.in_block ? c.block.base : g_state.modules[c.module].begin;
}

// --- the scan ------------------------------------------------------------------------------

void ConsiderWord(uintptr_t location, uintptr_t value, const HeapBlock* block, int module) {
  if (!GoMappings::Contains(value)) return;
  GoObjectInfo object;
  const InternalVector<GoroutineStack>& gs = g_state.goroutines;
  if (!GoHeapView::Lookup(value, gs.data(), gs.size(), &object) || object.pinned) return;
  uintptr_t holder = block ? block->base : g_state.modules[module].begin;
  if (AlreadyReported(holder, object.base)) return;
  for (const Candidate& c : g_state.candidates) {
    if (HolderBase(c) == holder && c.object.base == object.base) return;  // one per pair
  }
  if (g_state.candidates.size() >= kMaxCandidates) return;
  Candidate c;
  c.location = location;
  c.value = value;
  c.object = object;
  c.in_block = block != nullptr;
  if (block) c.block = *block;
  c.module = module;
  g_state.candidates.Push(c);
}

void ScanRange(uintptr_t begin, uintptr_t end, const HeapBlock* block, int module) {
  ForEachReadableWord(begin, end, g_state.chunk, kChunkBytes, [&](uintptr_t at, uintptr_t w) {
    ConsiderWord(at, w, block, module);
  });
}

// --- confirmation --------------------------------------------------------------------------

bool CopyThread(uintptr_t thread) {
  return SafeRead(thread, &g_state.copy, sizeof(g_state.copy)) == sizeof(g_state.copy);
}

// Defers every candidate whose object a call in progress in the copy received.
void DeferInFlight() {
  const CgoThreadCalls& t = g_state.copy;
  int depth = t.depth < CgoThreadCalls::kMaxDepth ? t.depth : CgoThreadCalls::kMaxDepth;
  for (int i = 0; i < depth; ++i) {
    const CgoCall& call = t.calls[i];
    int n = call.num_go_pointers <= CgoCall::kMaxGoPointers ? call.num_go_pointers : 0;
    for (Candidate& c : g_state.candidates) {
      if (Touches(call.go_pointers, n, call.go_pointers_truncated, c.object)) c.deferred = true;
    }
  }
}

void DeferAll() {
  for (Candidate& c : g_state.candidates) c.deferred = true;
}

// Whether a began after b: by epoch, and within one epoch by the thread's own count (calls
// of two threads in the same epoch stay unordered: the first seen is kept).
bool Later(const NamedCall& a, const NamedCall& b) {
  if (a.call.when != b.call.when) return a.call.when > b.call.when;
  return a.thread == b.thread && a.call.seq > b.call.seq;
}

void Remember(uintptr_t thread, const RecentGoCall& call) {
  for (const NamedCall& n : g_state.named) {
    if (n.thread == thread && n.call.seq == call.seq) return;
  }
  if (g_state.named.size() >= kMaxNamedCalls) {
    // Keep the newer half.
    std::sort(g_state.named.begin(), g_state.named.end(),
              [](const NamedCall& a, const NamedCall& b) {
                // A strict weak order (Later is not one across threads): newest epoch
                // first, then by thread, newest first within one.
                if (a.call.when != b.call.when) return a.call.when > b.call.when;
                if (a.thread != b.thread) return a.thread < b.thread;
                return a.call.seq > b.call.seq;
              });
    g_state.named.Truncate(kMaxNamedCalls / 2);
  }
  NamedCall n;
  n.thread = thread;
  n.call = call;
  g_state.named.Push(n);
}

void RememberRecent(uintptr_t thread) {
  const CgoThreadCalls& t = g_state.copy;
  for (const RecentGoCall& r : t.recent) {
    if (r.seq != 0 && r.seq <= t.go_calls) Remember(thread, r);
  }
}

// Phase C for one thread: calls begun since phase A that touched a candidate's object.
void DeferBegunSince(uint64_t before) {
  const CgoThreadCalls& t = g_state.copy;
  if (t.go_calls == before) return;
  if (t.go_calls < before || t.go_calls - before > CgoThreadCalls::kRecent) {
    DeferAll();  // too many to see, or a new thread in the old one's TLS
    return;
  }
  for (uint64_t seq = before + 1; seq <= t.go_calls; ++seq) {
    const RecentGoCall& r = t.recent[(seq - 1) % CgoThreadCalls::kRecent];
    if (r.seq != seq) {
      DeferAll();  // being written right now
      return;
    }
    int n = r.num_go_pointers <= CgoCall::kMaxGoPointers ? r.num_go_pointers : 0;
    for (Candidate& c : g_state.candidates) {
      if (Touches(r.go_pointers, n, r.go_pointers_truncated, c.object)) c.deferred = true;
    }
  }
}

// Whether the candidate still holds: its word unchanged, its holder the same live block
// (a pass reads blocks long after its snapshot: one freed, even reused, since must not
// stand for the block it was), the word's target the same live Go object.
bool StillThere(const Candidate& c) {
  uintptr_t now = 0;
  if (!SafeLoad(c.location, &now) || now != c.value) return false;
  if (c.in_block && !CHeap::StillLive(c.block)) return false;
  GoObjectInfo object;
  const InternalVector<GoroutineStack>& gs = g_state.goroutines;
  return GoHeapView::Lookup(c.value, gs.data(), gs.size(), &object) && !object.pinned &&
         object.base == c.object.base && object.size == c.object.size;
}

// A candidate stands when it was there before and after a moment in which no call that
// received a pointer into its object was in progress or began.
void Confirm() {
  int n = CgoCalls::RegisteredThreads(g_state.threads, kMaxThreads);
  if (n >= kMaxThreads) {
    DeferAll();  // calls of unregistered threads cannot be seen: never confirm
    return;
  }
  // Calls begun from here on get a later epoch than those this look remembers.
  CgoCalls::AdvanceEpoch();
  for (int i = 0; i < n; ++i) {
    g_state.go_calls_before[i] = UINT64_MAX;
    if (!CopyThread(g_state.threads[i])) continue;  // exited
    g_state.go_calls_before[i] = g_state.copy.go_calls;
    DeferInFlight();
    RememberRecent(g_state.threads[i]);
  }
  if (g_state.candidates.size() > 0) GoHeapView::SnapshotGoroutines(&g_state.goroutines);
  for (Candidate& c : g_state.candidates) {
    if (!c.deferred && !StillThere(c)) c.value = 0;  // gone
  }
  CgoCalls::AdvanceEpoch();
  for (int i = 0; i < n; ++i) {
    if (!CopyThread(g_state.threads[i])) continue;
    DeferInFlight();
    if (g_state.go_calls_before[i] == UINT64_MAX) {
      DeferAll();  // a thread appeared in a TLS block that was unreadable before
    } else {
      DeferBegunSince(g_state.go_calls_before[i]);
    }
    RememberRecent(g_state.threads[i]);
  }
}

// --- findings ------------------------------------------------------------------------------

const NamedCall* LatestCallInto(const GoObjectInfo& o) {
  const NamedCall* best = nullptr;
  for (const NamedCall& n : g_state.named) {
    int k = n.call.num_go_pointers <= CgoCall::kMaxGoPointers ? n.call.num_go_pointers : 0;
    if (!Touches(n.call.go_pointers, k, false, o)) continue;
    if (!best || Later(n, *best)) best = &n;
  }
  return best;
}

void DescribeObject(Finding* f, const Candidate& c) {
  f->has_object = true;
  f->object_base = c.object.base;
  f->object_size = c.object.size;
  f->object_offset = static_cast<int64_t>(c.value - c.object.base);
  MapArrayRecord map;
  if (c.object.kind == GoObjectInfo::kStack) {
    f->region = Region::kGoStack;
    f->go.goroutine = c.object.goroutine;
  } else if (MapArrays::Find(c.value, &map)) {
    f->object_base = map.base;
    f->object_size = map.size;
    f->object_offset = static_cast<int64_t>(c.value - map.base);
    DescribeMapArray(f, map);
  } else {
    f->region = Region::kGoHeap;
  }
}

void DescribeHolder(Finding* f, const Candidate& c) {
  f->has_holder = true;
  Holder& h = f->holder;
  if (c.in_block) {
    h.region = Region::kCHeap;
    h.base = c.block.base;
    h.size = c.block.size;
    h.origin = OriginName(c.block.origin);
    AddDepotStack(f, "holder", c.block.alloc_stack, c.block.alloc_tid);
  } else {
    const ModuleData& m = g_state.modules[c.module];
    h.region = Region::kGlobal;
    h.base = m.begin;
    h.size = m.end - m.begin;
    strncpy(h.module, m.module, sizeof(h.module) - 1);
    uintptr_t start;
    uint64_t size;
    if (CMemory::DataSymbol(m.module, CMemory::ModuleBias(c.location), c.location, h.symbol,
                            sizeof(h.symbol), &start, &size)) {
      h.base = start;
      h.size = size;
    }
  }
  h.offset = static_cast<int64_t>(c.location - h.base);
}

void ReportCandidate(const Candidate& c) {
  if (!AcquireReportLock()) return;
  Finding* f = BeginFinding(FindingKind::kGoPointerRetained);
  f->has_address = true;
  f->address = c.value;
  if (const NamedCall* call = LatestCallInto(c.object)) {
    const RecentGoCall& r = call->call;
    f->cgo_function = r.function;
    f->num_cgo_go_pointers = r.num_go_pointers <= 4 ? r.num_go_pointers : 4;
    for (int i = 0; i < f->num_cgo_go_pointers; ++i) f->cgo_go_pointers[i] = r.go_pointers[i];
    f->thread.goroutine = r.goroutine;
    int n = r.num_caller_pcs <= RecentGoCall::kMaxCallerFrames ? r.num_caller_pcs : 0;
    Stack* s = n > 0 ? f->AddStack("cgo_call") : nullptr;
    if (s) {
      s->goroutine = r.goroutine;
      Symbolizer::SymbolizeStack(r.caller_pcs, n, false, s);
    }
  }
  DescribeObject(f, c);
  DescribeHolder(f, c);
  bool written = Publish(*f);
  ReleaseReportLock();
  if (!written) return;
  g_findings.fetch_add(1);
  if (GetOptions().halt_on_error) _exit(static_cast<int>(GetOptions().exitcode));
}

// --- the pass ------------------------------------------------------------------------------

// Where a pass is in the C memory it reads: range `range` of the blocks, then of the
// module data; `at` the next address in it (0: its start).
struct Cursor {
  size_t range = 0;
  uintptr_t at = 0;
};

// Scans about `budget` bytes from *cur on (big blocks and data ranges are split). Returns
// true when every range was scanned.
bool ScanSome(Cursor* cur, size_t budget, uint64_t* scanned) {
  size_t num_blocks = g_state.blocks.size();
  size_t total = num_blocks + g_state.modules.size();
  size_t done = 0;
  while (cur->range < total && done < budget) {
    const HeapBlock* b = cur->range < num_blocks ? &g_state.blocks[cur->range] : nullptr;
    int module = b ? -1 : static_cast<int>(cur->range - num_blocks);
    uintptr_t begin = b ? b->base : g_state.modules[module].begin;
    uintptr_t end = b ? b->base + b->size : g_state.modules[module].end;
    uintptr_t from = cur->at > begin ? cur->at : begin;
    size_t left = (budget - done + 7) & ~size_t{7};  // split on a word boundary of from
    uintptr_t to = end - from > left ? from + left : end;
    ScanRange(from, to, b, module);
    done += to - from;
    if (to >= end) {
      ++cur->range;
      cur->at = 0;
    } else {
      cur->at = to;
    }
  }
  *scanned += done;
  return cur->range >= total;
}

void SayCandidates() {
  if (GetOptions().verbosity < 3 || g_state.candidates.size() == 0) return;
  InlineTextBuffer<256> line;
  line.Append("retention audit: ").Unsigned(g_state.candidates.size()).Append(" candidates");
  for (const Candidate& c : g_state.candidates) {
    line.Append(c.deferred ? " deferred:" : c.value ? " confirmed:" : " gone:").Hex(c.location);
  }
  PrintLine(line.data());
}

// Reports the confirmed candidates; returns whether any was deferred.
bool ReportConfirmed() {
  SayCandidates();
  bool retry = false;
  for (const Candidate& c : g_state.candidates) {
    if (c.value == 0) continue;
    if (c.deferred) {
      retry = true;
      continue;
    }
    Reported r{HolderBase(c), c.object.base};
    g_state.reported.Push(r);
    ReportCandidate(c);
  }
  g_state.candidates.Clear();
  return retry;
}

// The pacing of a background pass: after each slice of work (kSliceBytes read, or
// kStepsPerSlice snapshot steps), a pause at least as long as the slice, so that the audit
// thread takes at most half of one core however large the heap, and gives up when the
// exit audit is waiting for it.
class Pacer {
 public:
  explicit Pacer(bool paced) : paced_(paced), slice_start_(AuditClockNs()) {}
  // Ends a slice. False: give the pass up.
  bool Pause() {
    int64_t now = AuditClockNs();
    AuditStats& stats = GetAuditStats();
    if (!paced_) return true;
    ++stats.slices;
    stats.longest_slice_ns = std::max(stats.longest_slice_ns, now - slice_start_);
    if (g_hurry.load(std::memory_order_relaxed)) return false;
    // A slice made long by preemption gets no longer pause than kMaxPauseNs: the thread
    // did not run meanwhile, and the exit audit may be waiting.
    int64_t pause = std::min(std::max(kMinPauseNs, now - slice_start_), kMaxPauseNs);
    struct timespec ts = {static_cast<time_t>(pause / 1000000000), pause % 1000000000};
    nanosleep(&ts, nullptr);
    slice_start_ = AuditClockNs();
    return !g_hurry.load(std::memory_order_relaxed);
  }
  void EndPass() {
    if (!paced_) return;
    AuditStats& stats = GetAuditStats();
    ++stats.slices;
    stats.longest_slice_ns = std::max(stats.longest_slice_ns, AuditClockNs() - slice_start_);
  }

 private:
  bool paced_;
  int64_t slice_start_;
};

// One pass over C memory: the block snapshot in steps, then the scan in slices, each
// slice's candidates confirmed (Confirm re-checks holder, word and object) before the next.
// Returns false when a background pass gave up for the exit audit.
bool Pass(bool paced, uint64_t* scanned, bool* retry) {
  Pacer pacer(paced);
  AuditStats& stats = GetAuditStats();
  GoHeapView::SnapshotGoroutines(&g_state.goroutines);
  CMemory::SnapshotModuleData(&g_state.modules);
  BlockSnapshot snapshot;
  snapshot.Begin(&g_state.blocks, true);
  for (int steps = 1;; ++steps) {
    int64_t held = 0;
    bool more = snapshot.Step(&held);
    stats.longest_lock_ns = std::max(stats.longest_lock_ns, held);
    if (!more) break;
    if (steps % kStepsPerSlice == 0 && !pacer.Pause()) return false;
  }
  g_state.candidates.Clear();
  Cursor cursor;
  for (;;) {
    bool done = ScanSome(&cursor, kSliceBytes, scanned);
    if (g_state.candidates.size() > 0 || done) {
      Confirm();  // at the end even without candidates: it remembers the recent calls
      *retry |= ReportConfirmed();
    }
    if (done) break;
    if (!pacer.Pause()) return false;
  }
  pacer.EndPass();
  return true;
}

void Audit(bool at_exit) {
  ReentrancyGuard reentrancy;
  if (at_exit) g_hurry.store(true);
  SpinLockGuard lock(g_audit_lock);
  if (!at_exit && g_hurry.load()) return;
  g_audits.fetch_add(1);
  int64_t start = AuditClockNs();
  uint64_t bytes = 0;
  bool retry = false;
  bool complete = Pass(!at_exit, &bytes, &retry);
  int64_t took = AuditClockNs() - start;
  AuditStats& stats = GetAuditStats();
  if (at_exit) {
    stats.exit_pass_ns = took;
    stats.exit_bytes = bytes;
  } else if (!complete) {
    ++stats.abandoned;
  } else {
    ++stats.passes;
    stats.bytes += bytes;
    stats.total_pass_ns += took;
    stats.longest_pass_ns = std::max(stats.longest_pass_ns, took);
  }
  if (GetOptions().verbosity >= 3) {
    InlineTextBuffer<256> line;
    line.Append("retention audit: ").Unsigned(g_state.blocks.size()).Append(" blocks, ");
    line.Unsigned(g_state.modules.size()).Append(" data ranges, ");
    line.Unsigned(g_state.goroutines.size()).Append(" goroutines, ").Unsigned(bytes);
    line.Append(complete ? " bytes" : " bytes, given up for the exit audit");
    PrintLine(line.data());
  }
  g_retry.store(retry || !complete);
}

void Wake() {
  if (__atomic_load_n(&g_wanted, __ATOMIC_RELAXED)) return;
  __atomic_store_n(&g_wanted, 1, __ATOMIC_RELEASE);
  raw::FutexWake(&g_wanted, 1);
}

void AfterGoCall() { Wake(); }

void* AuditThreadMain(void*) {
  LeakCheck::NoteOwnThreadStack();
  prctl(PR_SET_NAME, "cgosan-audit", 0, 0, 0);
  int64_t interval = GetOptions().retention_interval_ms * 1000000;
  for (;;) {
    if (raw::GetPid() != g_pid) return nullptr;
    if (!__atomic_load_n(&g_wanted, __ATOMIC_ACQUIRE)) {
      raw::Timespec retry = {0, kRetryNs};
      raw::FutexWait(&g_wanted, 0, g_retry.load() ? &retry : nullptr);
      if (!__atomic_load_n(&g_wanted, __ATOMIC_ACQUIRE) && !g_retry.load()) continue;
    }
    // Batch: one audit for every request of the next interval (and the program's next
    // steps, a map growing after C kept a pointer into it, get that long to happen).
    if (interval > 0) {
      struct timespec ts = {static_cast<time_t>(interval / 1000000000), interval % 1000000000};
      nanosleep(&ts, nullptr);
    }
    __atomic_store_n(&g_wanted, 0, __ATOMIC_RELEASE);
    Audit(false);
  }
}

}  // namespace

void Retention::Attach() {
  g_pid = raw::GetPid();
  CgoCalls::SetRecordRecentGoCalls(true);
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited: no signal of the program lands here
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, AuditThreadMain, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    CgoCalls::SetRecordRecentGoCalls(false);
    return;
  }
  g_enabled = true;
  if (GetOptions().retention_interval_ms > 0) CgoCalls::SetGoCallDoneHook(AfterGoCall, &g_wanted);
}

bool Retention::Enabled() { return g_enabled; }

void Retention::Request() {
  if (g_enabled) Wake();
}

void Retention::AuditNow() {
  if (g_enabled) Audit(true);
}

void Retention::SayStats() {
  if (!g_enabled) return;
  SpinLockGuard lock(g_audit_lock);
  SayAuditStats();
}

uint64_t Retention::Findings() { return g_findings.load(); }
uint64_t Retention::Audits() { return g_audits.load(); }

void Retention::AfterForkInChild() {
  g_enabled = false;
  g_audit_lock.ResetAfterFork();
  CgoCalls::SetGoCallDoneHook(nullptr);
  CgoCalls::SetRecordRecentGoCalls(false);
}

}  // namespace cgosan
