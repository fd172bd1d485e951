// GoHeapView implementation: span lookups through mheap_.arenas, allgs through
// allgptr/allglen, all reads through SafeRead.
#include "preload/audit/go_heap_view.h"

#include <elf.h>
#include <string.h>

#include <algorithm>

#include "report/elf_reader.h"
#include "report/elf_symbols.h"
#include "report/go/go_runtime.h"
#include "report/go/heap_layout.h"
#include "report/main_executable.h"
#include "shadow/base/safe_read.h"
#include "shadow/go/go_heap.h"
#include "shadow/go_mappings.h"

namespace cgosan {
namespace {

const GoHeapLayout* g_heap = nullptr;
uintptr_t g_mheap = 0, g_allgptr = 0, g_allglen = 0, g_allm = 0;
char g_describe[160] = "Go heap view not initialised";
constexpr int kMaxGoData = 4;
GoDataRange g_data[kMaxGoData];
int g_num_data = 0;

struct SymbolScan {
  uintptr_t bias;
  uintptr_t mheap = 0;
  uint64_t mheap_size = 0;
  uintptr_t allgptr = 0, allglen = 0, allm = 0;
  // runtime.data, edata, noptrdata, enoptrdata, bss, ebss, noptrbss, enoptrbss
  uintptr_t bounds[8] = {};
};

constexpr const char* kBoundNames[8] = {
    "runtime.data", "runtime.edata", "runtime.noptrdata", "runtime.enoptrdata",
    "runtime.bss",  "runtime.ebss",  "runtime.noptrbss",  "runtime.enoptrbss"};

bool VisitSymbol(const Elf64_Sym& s, const char* name, void* ctx) {
  auto* scan = static_cast<SymbolScan*>(ctx);
  if (strncmp(name, "runtime.", 8) != 0) return true;
  uintptr_t addr = scan->bias + s.st_value;
  if (strcmp(name, "runtime.mheap_") == 0) {
    scan->mheap = addr;
    scan->mheap_size = s.st_size;
  } else if (strcmp(name, "runtime.allgptr") == 0) {
    scan->allgptr = addr;
  } else if (strcmp(name, "runtime.allglen") == 0) {
    scan->allglen = addr;
  } else if (strcmp(name, "runtime.allm") == 0) {
    scan->allm = addr;
  } else {
    for (int i = 0; i < 8; ++i) {
      if (strcmp(name, kBoundNames[i]) == 0) scan->bounds[i] = addr;
    }
  }
  return true;
}

void Say(const char* a, const char* b = "") {
  size_t n = 0;
  for (const char* s : {a, b}) {
    for (; *s && n + 1 < sizeof(g_describe); ++s) g_describe[n++] = *s;
  }
  g_describe[n] = '\0';
}

struct SpanFields {
  uintptr_t start = 0;
  uint64_t npages = 0, freeindex = 0, nelems = 0, elemsize = 0, limit = 0;
  uintptr_t alloc_bits = 0, pinner_bits = 0;
  uint8_t state = 0;
};

uint64_t IndexField(const uint8_t* raw, uint32_t off) {
  if (g_heap->index_bytes == 2) {
    uint16_t v;
    memcpy(&v, raw + off, 2);
    return v;
  }
  uint64_t v;
  memcpy(&v, raw + off, 8);
  return v;
}

bool ReadSpanAt(uintptr_t span, SpanFields* out) {
  uint8_t raw[192];
  if (SafeRead(span, raw, sizeof(raw)) != sizeof(raw)) return false;
  auto word = [&](uint32_t off) {
    uint64_t v;
    memcpy(&v, raw + off, 8);
    return v;
  };
  out->start = word(g_heap->span_start);
  out->npages = word(g_heap->span_npages);
  out->freeindex = IndexField(raw, g_heap->span_freeindex);
  out->nelems = IndexField(raw, g_heap->span_nelems);
  out->elemsize = word(g_heap->span_elemsize);
  out->limit = word(g_heap->span_limit);
  out->alloc_bits = word(g_heap->span_alloc_bits);
  out->pinner_bits = g_heap->span_pinner_bits ? word(g_heap->span_pinner_bits) : 0;
  out->state = raw[g_heap->span_state];
  return true;
}

// The span that owns addr's page, checked to contain it.
bool SpanOf(uintptr_t addr, SpanFields* out) {
  if (!g_heap) return false;
  uint64_t index = GoArenaIndex(addr);
  if (index >= kGoArenaL2Entries) return false;
  uintptr_t l2 = 0, arena = 0, span = 0;
  if (!SafeLoad(g_mheap + g_heap->mheap_arenas, &l2) || !l2) return false;
  if (!SafeLoad(l2 + index * 8, &arena) || !arena) return false;
  uint64_t page = (addr / kGoPageBytes) % kGoPagesPerArena;
  if (!SafeLoad(arena + g_heap->arena_spans + page * 8, &span) || !span) return false;
  if (!ReadSpanAt(span, out)) return false;
  return out->npages != 0 && addr >= out->start && addr - out->start < out->npages * kGoPageBytes;
}

bool BitSet(uintptr_t bits, uint64_t index) {
  uint8_t byte = 0;
  return bits && SafeLoad(bits + index / 8, &byte) && (byte >> (index % 8)) & 1;
}

bool Allocated(const SpanFields& s, uint64_t index) {
  return index < s.freeindex || BitSet(s.alloc_bits, index);
}

const GoroutineStack* StackContaining(uintptr_t addr, const GoroutineStack* stacks, size_t n) {
  // Sorted by lo: the last stack starting at or below addr is the only candidate.
  const GoroutineStack* after = std::upper_bound(
      stacks, stacks + n, addr, [](uintptr_t a, const GoroutineStack& s) { return a < s.lo; });
  if (after == stacks) return nullptr;
  return addr < after[-1].hi ? &after[-1] : nullptr;
}

}  // namespace

void GoHeapView::Init() {
  MainExecutable exe;
  ElfReader elf;
  SymbolTableInfo table;
  if (!OpenMainExecutableSymtab(&exe, &elf, &table)) {
    Say("Go heap view off: no symbol table (built with -ldflags=-s?)");
    return;
  }
  SymbolScan scan;
  scan.bias = exe.bias;
  ForEachSymbol(elf, table, VisitSymbol, &scan);
  for (int i = 0; i < 8; i += 2) {
    if (scan.bounds[i] && scan.bounds[i + 1] > scan.bounds[i]) {
      g_data[g_num_data++] = {scan.bounds[i], scan.bounds[i + 1]};
    }
  }
  g_allgptr = scan.allgptr;
  g_allglen = scan.allglen;
  g_allm = scan.allm;
  const GoBinaryInfo& bin = GoRuntime::Binary();
  const GoHeapLayout* layout = FindGoHeapLayout(bin.go_major == 1 ? bin.go_minor : 0);
  if (!layout) {
    Say("Go spans unknown: no heap layout for ", bin.version[0] ? bin.version : "this version");
  } else if (!scan.mheap || scan.mheap_size != layout->mheap_size) {
    Say("Go spans unknown: runtime.mheap_ does not have the size of this version's layout");
  } else if (!GoRuntime::Layout()) {
    Say("Go spans unknown: the Go runtime layout is off");
  } else {
    g_heap = layout;
    g_mheap = scan.mheap;
    Say("Go spans read through mheap_.arenas");
  }
}

const char* GoHeapView::Describe() { return g_describe; }
bool GoHeapView::SpansKnown() { return g_heap != nullptr; }

int GoHeapView::GoData(const GoDataRange** out) {
  *out = g_data;
  return g_num_data;
}

void GoHeapView::SnapshotGoroutines(InternalVector<GoroutineStack>* out) {
  out->Clear();
  const GoRuntimeLayout* rl = GoRuntime::Layout();
  if (!rl || !g_allgptr || !g_allglen) return;
  // allglen before allgptr: the runtime publishes the array first (allgadd).
  uint64_t len = 0;
  uintptr_t array = 0;
  if (!SafeLoad(g_allglen, &len) || !SafeLoad(g_allgptr, &array) || !array) return;
  uint32_t status_off = g_heap ? g_heap->g_atomicstatus : rl->g_atomicstatus;
  for (uint64_t i = 0; i < len; ++i) {
    uintptr_t g = 0;
    if (!SafeLoad(array + i * 8, &g) || !g) continue;
    GoroutineStack s;
    s.g = g;
    uint8_t raw[256];
    if (SafeRead(g, raw, sizeof(raw)) != sizeof(raw)) continue;
    memcpy(&s.lo, raw + rl->g_stack_lo, 8);
    memcpy(&s.hi, raw + rl->g_stack_hi, 8);
    memcpy(&s.goid, raw + rl->g_goid, 8);
    memcpy(&s.status, raw + status_off, 4);
    memcpy(&s.sched_sp, raw + rl->g_sched_sp, 8);
    if (g_heap) memcpy(&s.syscall_sp, raw + g_heap->g_syscallsp, 8);
    if (s.lo == 0 || s.hi <= s.lo) continue;
    out->Push(s);
  }
  std::sort(out->begin(), out->end(),
            [](const GoroutineStack& a, const GoroutineStack& b) { return a.lo < b.lo; });
}

void GoHeapView::SnapshotG0Stacks(InternalVector<G0Stack>* out) {
  out->Clear();
  const GoRuntimeLayout* rl = GoRuntime::Layout();
  if (!g_heap || !rl || !g_allm) return;
  uintptr_t m = 0;
  if (!SafeLoad(g_allm, &m)) return;
  for (int i = 0; m && i < 100000; ++i) {
    uintptr_t g0 = 0, curg = 0, next = 0;
    G0Stack s;
    if (!SafeLoad(m + rl->m_g0, &g0) || !SafeLoad(m + rl->m_curg, &curg) ||
        !SafeLoad(m + g_heap->m_alllink, &next)) {
      return;
    }
    if (g0 && SafeLoad(g0 + rl->g_stack_lo, &s.lo) && SafeLoad(g0 + rl->g_stack_hi, &s.hi) &&
        SafeLoad(g0 + rl->g_sched_sp, &s.sched_sp)) {
      uint32_t status = kGoStatusDead;
      if (curg) SafeLoad(curg + g_heap->g_atomicstatus, &status);
      s.has_curg = curg != 0 && status != kGoStatusDead;
      s.in_cgo_call = s.has_curg && status == kGoStatusSyscall;
      out->Push(s);
    }
    m = next;
  }
}

bool GoHeapView::Lookup(uintptr_t addr, const GoroutineStack* stacks, size_t num_stacks,
                        GoObjectInfo* out) {
  *out = GoObjectInfo();
  if (const GoroutineStack* s = StackContaining(addr, stacks, num_stacks)) {
    // A dead g keeps its stack cached for reuse: nothing there is live.
    if (s->status == kGoStatusDead) return false;
    out->kind = GoObjectInfo::kStack;
    out->base = s->lo;
    out->size = s->hi - s->lo;
    out->exact = true;
    out->goroutine = s->goid;
    return true;
  }
  if (!GoHeap::InArena(addr)) return false;
  GoFreedRange freed;
  if (GoHeap::FindFreed(addr, &freed)) return false;
  SpanFields span;
  if (!SpanOf(addr, &span)) {
    if (g_heap) return false;  // spans are known and no span holds it: not live
    out->base = addr & ~(kGoArenaBytes - 1);
    out->size = kGoArenaBytes;
    return true;
  }
  if (span.state != kGoSpanInUse || span.elemsize == 0) return false;  // free, or a stack
  if (span.limit && addr >= span.limit) return false;
  uint64_t index = (addr - span.start) / span.elemsize;
  if (index >= span.nelems || !Allocated(span, index)) return false;
  out->base = span.start + index * span.elemsize;
  out->size = span.elemsize;
  out->exact = true;
  out->pinned = BitSet(span.pinner_bits, index * 2);
  return true;
}

bool GoHeapView::ForEachAllocatedObject(ObjectVisitor fn, void* ctx) {
  if (!g_heap) return false;
  uintptr_t spans = 0;
  uint64_t len = 0;
  if (!SafeLoad(g_mheap + g_heap->mheap_allspans, &spans) ||
      !SafeLoad(g_mheap + g_heap->mheap_allspans + 8, &len)) {
    return false;
  }
  // A span has at most 8 KiB / 8 B = 1024 objects: its allocation bits fit in 128 bytes,
  // read with one system call rather than one per object.
  constexpr uint64_t kMaxBitBytes = 128;
  uint8_t bits[kMaxBitBytes];
  for (uint64_t i = 0; i < len; ++i) {
    uintptr_t sp = 0;
    SpanFields s;
    if (!SafeLoad(spans + i * 8, &sp) || !sp || !ReadSpanAt(sp, &s)) continue;
    if (s.state != kGoSpanInUse || s.elemsize == 0) continue;
    uint64_t bit_bytes = (s.nelems + 7) / 8;
    bool bulk = s.freeindex < s.nelems && bit_bytes <= kMaxBitBytes && s.alloc_bits &&
                SafeRead(s.alloc_bits, bits, bit_bytes) == bit_bytes;
    for (uint64_t k = 0; k < s.nelems; ++k) {
      bool allocated = k < s.freeindex ||
                       (bulk ? (bits[k / 8] >> (k % 8)) & 1 : Allocated(s, k));
      if (allocated) fn(s.start + k * s.elemsize, s.elemsize, ctx);
    }
  }
  return true;
}

}  // namespace cgosan
