// LeakCheck implementation: the root set, the conservative mark, the grouping by allocation
// stack and the leak findings. Runs at exit only, on cgosan's exit helper thread (Go) or in
// an on_exit handler (C), with every allocation it makes going straight to glibc.
#include "preload/audit/leak_check.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "preload/audit/c_memory.h"
#include "preload/audit/go_heap_view.h"
#include "preload/findings.h"
#include "preload/process_state.h"
#include "preload/thread_state.h"
#include "report/go/heap_layout.h"
#include "report/symbolizer.h"
#include "shadow/base/address_region.h"
#include "shadow/base/internal_mmap.h"
#include "shadow/base/raw_io.h"
#include "shadow/base/safe_read.h"
#include "shadow/go_mappings.h"
#include "shadow/options.h"
#include "report/report_writer.h"
#include "shadow/base/text_buffer.h"

namespace cgosan {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;
constexpr int kMaxOwnStacks = 8;
constexpr size_t kRedZone = 128;  // below a thread's SP the x86-64 ABI lets a leaf keep data
constexpr size_t kMaxInternalRanges = 16384;

struct Range {
  uintptr_t begin = 0, end = 0;
};

constexpr int kRegionHashBits = 16;
constexpr size_t kRegionBits = size_t{1} << kRegionHashBits;

inline size_t RegionBit(uintptr_t addr) { return AddressRegionHash(addr, kRegionHashBits); }

uintptr_t g_own_stack_marks[kMaxOwnStacks];
int g_num_own_stacks = 0;

struct LeakState {
  InternalVector<HeapBlock> blocks;     // sorted by base
  InternalVector<uint8_t> marked;       // per block
  InternalVector<uint32_t> worklist;    // blocks marked, contents not scanned yet
  InternalVector<Range> excluded;       // sorted: never roots
  InternalVector<Range> roots;
  InternalVector<uintptr_t> thread_sps;
  InternalVector<GoroutineStack> goroutines;
  InternalVector<G0Stack> g0s;
  InternalVector<ModuleData> modules;
  InternalVector<HeapBlock> candidates;  // unreached in the first pass
  // Which 1 MiB regions hold a block (hashed into kRegionBits bits): nearly every word
  // scanned is not a pointer into the C heap, and this answers that without a search.
  uint64_t regions[kRegionBits / 64] = {};
  // Initialized members throughout: constant-initialized, no dynamic initializer.
  InternalRange internal[kMaxInternalRanges] = {};
  uint8_t chunk[kChunkBytes] = {};
  char maps[1 << 20] = {};
};

LeakState g_leak;

// Blocks the dynamic loader allocates for itself (a thread's TLS, from pthread_create): it
// keeps them in its own bookkeeping, which is not the program's to free.
bool AllocatedByTheLoader(const HeapBlock& b) {
  const uintptr_t* pcs;
  int n = StackDepot::Get(b.alloc_stack, &pcs);
  uintptr_t offset;
  const char* module = n > 0 ? Symbolizer::ModuleOf(pcs[0], &offset) : nullptr;
  if (module == nullptr) return false;
  const char* slash = strrchr(module, '/');
  return strncmp(slash ? slash + 1 : module, "ld-linux", 8) == 0;
}

bool Leakable(const HeapBlock& b) {
  if (IsGoProcess()) return b.origin == BlockOrigin::kForGo || b.origin == BlockOrigin::kUnderGo;
  return b.origin != BlockOrigin::kGoRuntime;
}

// --- the pieces of the root set ------------------------------------------------------------

uintptr_t ParseHex(const char*& p) {
  uintptr_t v = 0;
  for (;; ++p) {
    char c = *p;
    if (c >= '0' && c <= '9') {
      v = v * 16 + static_cast<uintptr_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = v * 16 + static_cast<uintptr_t>(c - 'a' + 10);
    } else {
      return v;
    }
  }
}

// The stack pointer of every thread blocked in a system call (the kernel keeps the rest of
// its registers); "running" threads have none to give.
void CollectThreadStackPointers() {
  g_leak.thread_sps.Clear();
  // This thread is running, so the kernel gives no stack pointer for it: its own frame is.
  g_leak.thread_sps.Push(reinterpret_cast<uintptr_t>(__builtin_frame_address(0)));
  int dir = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/task",
                                     O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir < 0) return;
  alignas(8) char buf[8192];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (n <= 0) break;
    for (long at = 0; at < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + at);
      at += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      char path[64] = "/proc/self/task/";
      strncat(path, d->d_name, 20);
      strcat(path, "/syscall");
      char line[512];
      ssize_t len = RawReadFile(path, line, sizeof(line) - 1);
      if (len <= 0) continue;
      line[len] = '\0';
      // "nr a1 a2 a3 a4 a5 a6 sp pc": the eighth field is the stack pointer.
      const char* p = line;
      int field = 0;
      while (*p && field < 7) {
        if (*p == ' ') ++field;
        ++p;
      }
      if (field == 7 && p[0] == '0' && p[1] == 'x') {
        p += 2;
        g_leak.thread_sps.Push(ParseHex(p));
      }
    }
  }
  syscall(SYS_close, dir);
}

// The lowest thread stack pointer in [begin, end), or 0.
uintptr_t LowestSpIn(uintptr_t begin, uintptr_t end) {
  uintptr_t best = 0;
  for (uintptr_t sp : g_leak.thread_sps) {
    if (sp >= begin && sp < end && (best == 0 || sp < best)) best = sp;
  }
  return best;
}

bool OwnStackIn(uintptr_t begin, uintptr_t end) {
  for (int i = 0; i < g_num_own_stacks; ++i) {
    if (g_own_stack_marks[i] >= begin && g_own_stack_marks[i] < end) return true;
  }
  return false;
}

void AddRoot(uintptr_t begin, uintptr_t end) {
  if (end > begin) g_leak.roots.Push({begin, end});
}

// Where a region's live part starts: a thread's stack pointer inside it, else its start.
uintptr_t LiveStart(uintptr_t begin, uintptr_t end) {
  uintptr_t sp = LowestSpIn(begin, end);
  return sp && sp - kRedZone >= begin ? sp - kRedZone : begin;
}

// Calls fn(begin, end, line, length) for every line of /proc/self/maps (read into g_leak.maps).
template <typename Fn>
void ForEachMapping(Fn fn) {
  ssize_t n = RawReadFile("/proc/self/maps", g_leak.maps, sizeof(g_leak.maps) - 1);
  if (n <= 0) return;
  g_leak.maps[n] = '\0';
  for (const char* line = g_leak.maps; *line;) {
    const char* p = line;
    uintptr_t begin = ParseHex(p);
    if (*p == '-') ++p;
    uintptr_t end = ParseHex(p);
    const char* eol = strchr(line, '\n');
    const char* next = eol ? eol + 1 : line + strlen(line);
    fn(begin, end, line, static_cast<size_t>((eol ? eol : next) - line));
    line = next;
  }
}

// Every writable mapping, less cgosan's own threads' stacks and, when the Go heap can be
// walked object by object, the Go runtime's mappings (handled by GoRoots).
void MappingRoots(bool go_walked) {
  ForEachMapping([go_walked](uintptr_t begin, uintptr_t end, const char* line, size_t len) {
    const char* perms = static_cast<const char*>(memchr(line, ' ', len));
    bool rw = perms && perms + 2 < line + len && perms[1] == 'r' && perms[2] == 'w';
    bool special = memmem(line, len, "[vvar", 5) != nullptr ||
                   memmem(line, len, "[vsyscall]", 10) != nullptr;
    if (!rw || special || OwnStackIn(begin, end)) return;
    if (go_walked && GoMappings::Contains(begin)) return;
    AddRoot(LiveStart(begin, end), end);
  });
}

// Goroutine stacks from their stack pointer up, and the allocated objects of the Go heap.
void CollectObjectRoot(uintptr_t base, uint64_t size, void*) { AddRoot(base, base + size); }

void GoRoots() {
  GoHeapView::SnapshotGoroutines(&g_leak.goroutines);
  for (const GoroutineStack& g : g_leak.goroutines) {
    if (g.status == kGoStatusDead) continue;
    uintptr_t start = g.lo;
    if (g.status == kGoStatusSyscall && g.syscall_sp > g.lo && g.syscall_sp < g.hi) {
      start = g.syscall_sp;
    } else if (g.status == kGoStatusRunning) {
      start = LiveStart(g.lo, g.hi);
    } else if (g.sched_sp > g.lo && g.sched_sp < g.hi) {
      start = g.sched_sp;
    }
    AddRoot(start, g.hi);
  }
  GoHeapView::ForEachAllocatedObject(CollectObjectRoot, nullptr);
}

// Never roots: cgosan's own tables, and the blocks themselves (reached only through others).
// Called last before the scan, with room reserved first: cgosan's mappings are listed after
// every vector of this pass has its memory.
void CollectExcluded() {
  g_leak.excluded.Clear();
  g_leak.excluded.Reserve(g_leak.blocks.size() + g_leak.g0s.size() + kMaxInternalRanges);
  for (const HeapBlock& b : g_leak.blocks) g_leak.excluded.Push({b.base, b.base + b.size});
  // Dead frames of the g0 stacks of Ms that run a goroutine: below g0.sched.sp (where the
  // thread enters its g0 stack) unless C code of a cgo call may be running there, and in any
  // case below the thread's stack pointer when it is blocked in a system call on it. An M
  // without a live goroutine may be an idle extra M whose bounds describe a C thread's stack
  // of the past: left alone.
  for (const G0Stack& g0 : g_leak.g0s) {
    if (g0.lo == 0 || g0.hi <= g0.lo || !g0.has_curg) continue;
    uintptr_t sp = LowestSpIn(g0.lo, g0.hi);
    bool sched_ok = g0.sched_sp > g0.lo && g0.sched_sp < g0.hi;
    uintptr_t live = 0;
    if (sp) {
      live = sched_ok && g0.sched_sp < sp ? g0.sched_sp : sp;
    } else if (!g0.in_cgo_call && sched_ok) {
      live = g0.sched_sp;
    }
    if (live > g0.lo + kRedZone) g_leak.excluded.Push({g0.lo, live - kRedZone});
  }
  size_t n = InternalMappings(g_leak.internal, kMaxInternalRanges);
  for (size_t i = 0; i < n; ++i) {
    g_leak.excluded.Push({g_leak.internal[i].base, g_leak.internal[i].base + g_leak.internal[i].size});
  }
  std::sort(g_leak.excluded.begin(), g_leak.excluded.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  // Coalesced (the guarded pool's reservation holds blocks), so that ends are sorted too.
  InternalVector<Range>& ex = g_leak.excluded;
  size_t kept = 0;
  for (size_t i = 0; i < ex.size(); ++i) {
    if (kept > 0 && ex[i].begin <= ex[kept - 1].end) {
      if (ex[i].end > ex[kept - 1].end) ex[kept - 1].end = ex[i].end;
    } else {
      ex[kept++] = ex[i];
    }
  }
  ex.Truncate(kept);
}

// --- marking -------------------------------------------------------------------------------

void NoteBlockRegions() {
  memset(g_leak.regions, 0, sizeof(g_leak.regions));
  for (const HeapBlock& b : g_leak.blocks) {
    uintptr_t first = b.base >> kAddressRegionShift;
    uintptr_t last = (b.base + (b.size ? b.size : 1) - 1) >> kAddressRegionShift;
    if (last - first >= kRegionBits) {  // a block of 64 GiB or more: every word may hit it
      memset(g_leak.regions, 0xff, sizeof(g_leak.regions));
      return;
    }
    for (uintptr_t r = first; r <= last; ++r) {
      size_t bit = RegionBit(r << kAddressRegionShift);
      g_leak.regions[bit / 64] |= uint64_t{1} << (bit % 64);
    }
  }
}

void MarkWord(uintptr_t w) {
  size_t bit = RegionBit(w);
  if (!((g_leak.regions[bit / 64] >> (bit % 64)) & 1)) return;
  const HeapBlock* b = CMemory::FindBlock(g_leak.blocks, w);
  if (!b) return;
  uint32_t i = static_cast<uint32_t>(b - g_leak.blocks.data());
  if (g_leak.marked[i]) return;
  g_leak.marked[i] = 1;
  g_leak.worklist.Push(i);
}

void ScanWords(uintptr_t begin, uintptr_t end) {
  ForEachReadableWord(begin, end, g_leak.chunk, kChunkBytes,
                      [](uintptr_t, uintptr_t w) { MarkWord(w); });
}

// Roots are whole mappings, and most of a big one was never touched (the Go runtime's arena
// index alone is 32 MiB of address space): /proc/self/pagemap says which pages were, present
// or swapped out, and only those are read. Without pagemap everything is read.
int g_pagemap_fd = -1;
constexpr uint64_t kPagemapPresent = uint64_t{1} << 63;
constexpr uint64_t kPagemapSwapped = uint64_t{1} << 62;
constexpr size_t kPagemapBatch = 512;  // pages per read: 4 KiB of entries

void ScanTouchedWords(uintptr_t begin, uintptr_t end) {
  const uintptr_t page = PageSize();
  if (g_pagemap_fd < 0 || end - begin < 16 * page) return ScanWords(begin, end);
  uint64_t entries[kPagemapBatch];
  uintptr_t at = begin;
  while (at < end) {
    uintptr_t first_page = at / page;
    size_t want = (RoundUp(end, page) / page) - first_page;
    if (want > kPagemapBatch) want = kPagemapBatch;
    long got = syscall(SYS_pread64, g_pagemap_fd, entries, want * 8, first_page * 8);
    if (got != static_cast<long>(want * 8)) return ScanWords(at, end);
    uintptr_t run = 0;  // start of a run of touched pages, 0: none
    for (size_t i = 0; i <= want; ++i) {
      uintptr_t addr = (first_page + i) * page;
      bool touched = i < want && (entries[i] & (kPagemapPresent | kPagemapSwapped));
      if (touched && !run) run = addr < at ? at : addr;
      if (!touched && run) {
        ScanWords(run, addr < end ? addr : end);
        run = 0;
      }
    }
    at = (first_page + want) * page;
  }
}

// A root minus the excluded ranges inside it.
void ScanRoot(const Range& r) {
  const InternalVector<Range>& ex = g_leak.excluded;
  // The first excluded range that ends after r.begin (coalesced: ends are sorted too).
  size_t lo = static_cast<size_t>(
      std::partition_point(ex.data(), ex.data() + ex.size(),
                           [&r](const Range& e) { return e.end <= r.begin; }) -
      ex.data());
  uintptr_t at = r.begin;
  for (size_t i = lo; i < ex.size() && ex[i].begin < r.end && at < r.end; ++i) {
    if (ex[i].begin > at) ScanTouchedWords(at, ex[i].begin);
    if (ex[i].end > at) at = ex[i].end;
  }
  if (at < r.end) ScanTouchedWords(at, r.end);
}

// One full pass over a fresh snapshot: marks every block reachable from the roots.
void MarkPass() {
  CMemory::SnapshotBlocks(&g_leak.blocks, false);
  g_leak.marked.Clear();
  g_leak.marked.Reserve(g_leak.blocks.size());
  for (size_t i = 0; i < g_leak.blocks.size(); ++i) g_leak.marked.Push(0);
  // Nothing that could be reported (guard=sampled's usual end): the roots need no scan.
  bool any_leakable = false;
  for (const HeapBlock& b : g_leak.blocks) any_leakable = any_leakable || Leakable(b);
  if (!any_leakable) return;
  NoteBlockRegions();
  g_leak.worklist.Clear();
  g_leak.worklist.Reserve(g_leak.blocks.size());  // each block is pushed once at most
  CollectThreadStackPointers();
  if (IsGoProcess()) GoHeapView::SnapshotG0Stacks(&g_leak.g0s);
  g_leak.roots.Clear();
  bool go_walked = IsGoProcess() && GoHeapView::SpansKnown();
  if (go_walked) GoRoots();
  MappingRoots(go_walked);
  CollectExcluded();
  g_pagemap_fd = static_cast<int>(
      syscall(SYS_openat, AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  for (const Range& r : g_leak.roots) ScanRoot(r);
  if (g_pagemap_fd >= 0) syscall(SYS_close, g_pagemap_fd);
  g_pagemap_fd = -1;
  while (g_leak.worklist.size() > 0) {
    uint32_t i = g_leak.worklist[g_leak.worklist.size() - 1];
    g_leak.worklist.Truncate(g_leak.worklist.size() - 1);
    const HeapBlock& b = g_leak.blocks[i];
    ScanWords(b.base, b.base + b.size);
  }
}

// --- findings ------------------------------------------------------------------------------

bool ReportGroup(const HeapBlock* first, uint64_t blocks, uint64_t bytes) {
  if (!AcquireReportLock()) return false;
  Finding* f = BeginFinding(FindingKind::kLeak);
  SetObject(f, *first, first->base);  // no address: a leak is a group, the object its first
  f->has_leak = true;
  f->leak_blocks = blocks;
  f->leak_bytes = bytes;
  AddDepotStack(f, "alloc", first->alloc_stack, first->alloc_tid);
  bool written = Publish(*f);
  ReleaseReportLock();
  return written;
}

// Debugging (verbosity 3): every word of any writable mapping that points into a leaked
// block, and whether it lay in a root: a word outside the roots that should have been one
// shows where the root set is wrong.
void ExplainLeaks() {
  ForEachMapping([](uintptr_t begin, uintptr_t end, const char* line, size_t len) {
    for (uintptr_t at = begin; at < end; at += 8) {
      uintptr_t w;
      if (!SafeLoad(at, &w)) {
        at = (at | 4095) - 7;
        continue;
      }
      for (const HeapBlock& b : g_leak.candidates) {
        if (w < b.base || w >= b.base + b.size) continue;
        bool rooted = false;
        for (const Range& r : g_leak.roots) rooted = rooted || (at >= r.begin && at < r.end);
        InlineTextBuffer<512> out;
        out.Append("leak check: ").Hex(at).Append(" points into leaked ").Hex(b.base);
        out.Append(rooted ? " (in a root" : " (not in a root");
        out.Append(GoMappings::Contains(at) ? ", Go mapping) in " : ") in ").Append(line, len);
        PrintLine(out.data());
      }
    }
  });
}

}  // namespace

bool LeakCheck::Enabled() {
  const Options& o = GetOptions();
  if (PreloadPassive()) return false;
  return o.Given("leak_check") ? o.leak_check != 0 : IsGoProcess();
}

void LeakCheck::NoteOwnThreadStack() {
  int i = __atomic_fetch_add(&g_num_own_stacks, 1, __ATOMIC_RELAXED);
  if (i < kMaxOwnStacks) {
    uintptr_t mark = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    __atomic_store_n(&g_own_stack_marks[i], mark, __ATOMIC_RELEASE);
  }
}

uint64_t LeakCheck::Run() {
  ReentrancyGuard reentrancy;
  MarkPass();
  g_leak.candidates.Clear();
  if (!AcquireReportLock()) return 0;  // the symbolizer's tables are the reports'
  Symbolizer::Refresh();
  for (size_t i = 0; i < g_leak.blocks.size(); ++i) {
    const HeapBlock& b = g_leak.blocks[i];
    if (!g_leak.marked[i] && Leakable(b) && !AllocatedByTheLoader(b)) g_leak.candidates.Push(b);
  }
  ReleaseReportLock();
  if (g_leak.candidates.size() == 0) return 0;
  MarkPass();  // threads still run: a pointer in flight between regions is seen once
  // Leaked: unreached in both passes and still the same live block.
  InternalVector<HeapBlock>& leaked = g_leak.candidates;
  size_t kept = 0;
  for (size_t i = 0; i < leaked.size(); ++i) {
    const HeapBlock* b = CMemory::FindBlock(g_leak.blocks, leaked[i].base);
    if (!b || b->base != leaked[i].base || b->alloc_stack != leaked[i].alloc_stack) continue;
    if (g_leak.marked[b - g_leak.blocks.data()]) continue;
    leaked[kept++] = *b;
  }
  leaked.Truncate(kept);
  if (GetOptions().verbosity >= 3) ExplainLeaks();
  // One finding per allocation stack.
  std::sort(leaked.begin(), leaked.end(), [](const HeapBlock& a, const HeapBlock& b) {
    return a.alloc_stack != b.alloc_stack ? a.alloc_stack < b.alloc_stack : a.base < b.base;
  });
  uint64_t findings = 0;
  for (size_t i = 0; i < leaked.size();) {
    size_t j = i;
    uint64_t bytes = 0;
    while (j < leaked.size() && leaked[j].alloc_stack == leaked[i].alloc_stack) {
      bytes += leaked[j].size;
      ++j;
    }
    if (ReportGroup(&leaked[i], j - i, bytes)) ++findings;
    i = j;
  }
  return findings;
}

}  // namespace cgosan
