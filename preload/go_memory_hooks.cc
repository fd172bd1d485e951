// GoMemoryHooks implementation. Every callback runs in the SIGTRAP handler on the thread
// that hit the hook, with the Go function's register arguments (ABIInternal), so it only
// reads the runtime structures it was handed, through the per-version layouts.
#include "preload/go_memory_hooks.h"

#include <string.h>
#include <time.h>

#include <initializer_list>

#include "preload/audit/retention.h"
#include "preload/hooks/hook_engine.h"
#include "preload/hooks/tracer.h"
#include "preload/mapping_limit.h"
#include "report/go/go_function_finder.h"
#include "report/go/go_runtime.h"
#include "report/go/map_layout.h"
#include "report/go_stack.h"
#include "shadow/base/text_buffer.h"
#include "shadow/go/go_heap.h"
#include "shadow/go/map_arrays.h"
#include "shadow/options.h"
#include "shadow/stack_depot.h"

namespace cgosan {
namespace {

const GoMapLayout* g_map = nullptr;
char g_describe[512];
bool g_off_for_tracer = false;

constexpr int kHookStackDepth = 32;
constexpr uint64_t kGoPageSize = 8192;

template <typename T>
T Load(uintptr_t addr) {
  return *reinterpret_cast<const T*>(addr);
}

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

MapEvent EventAt(const HookContext& ctx, uintptr_t map, uintptr_t type) {
  MapEvent e;
  e.map = map;
  e.type = type;
  e.swiss = g_map->swiss;
  uintptr_t pcs[kHookStackDepth];
  int n = GoStack::CaptureAtBoundary(ctx.r14(), ctx.pc(), ctx.sp(), ctx.bp(), pcs, kHookStackDepth);
  e.stack = StackDepot::Put(pcs, n);
  e.goroutine = GoStack::CurrentGoroutineId();
  return e;
}

bool Large(uint64_t bytes) { return bytes > MapArrays::kMaxSmallObject; }

// hashGrow(t *maptype, h *hmap): the current array starts relocating.
void OnHashGrow(const HookContext& ctx) {
  uintptr_t t = ctx.rax(), h = ctx.rbx();
  if (!t || !h) return;
  uintptr_t buckets = Load<uintptr_t>(h + g_map->hmap_buckets);
  uint32_t b = Load<uint8_t>(h + g_map->hmap_b);
  uint32_t bucket_size = Load<uint16_t>(t + g_map->maptype_bucketsize);
  uint64_t count = Load<uint64_t>(h + g_map->hmap_count);
  uint64_t size = BucketArrayBytes(b, bucket_size);
  uint64_t new_size = BucketArrayBytes(b + (GrowthDoubles(*g_map, count, b) ? 1 : 0), bucket_size);
  if (!buckets) return;
  MapArrays::NoteGrowthBegan(buckets, size, new_size, EventAt(ctx, h, t));
  Retention::Request();  // pointers C kept into the array now point at relocated memory
}

// mapclear(t *maptype, h *hmap): the array is zeroed and reused; an old one is dropped.
void OnMapClear(const HookContext& ctx) {
  uintptr_t t = ctx.rax(), h = ctx.rbx();
  if (!t || !h || Load<uint64_t>(h + g_map->hmap_count) == 0) return;
  uintptr_t buckets = Load<uintptr_t>(h + g_map->hmap_buckets);
  uint64_t size = BucketArrayBytes(Load<uint8_t>(h + g_map->hmap_b),
                                   Load<uint16_t>(t + g_map->maptype_bucketsize));
  if (!buckets) return;
  MapArrays::NoteCleared(buckets, size, EventAt(ctx, h, t));
  Retention::Request();
}

// The group array of a Swiss table (receiver in RAX, *SwissMapType in RBX).
bool SwissGroups(const HookContext& ctx, uintptr_t* base, uint64_t* size) {
  uintptr_t table = ctx.rax(), typ = ctx.rbx();
  if (!table || !typ || Load<uint16_t>(table + g_map->table_capacity) == 0) return false;
  *base = Load<uintptr_t>(table + g_map->table_groups_data);
  uint64_t groups = Load<uint64_t>(table + g_map->table_length_mask) + 1;
  uint64_t bytes = groups * Load<uint64_t>(typ + g_map->swiss_group_size);
  if (bytes > MapArrays::kMaxSmallObject)
    bytes = (bytes + kGoPageSize - 1) / kGoPageSize * kGoPageSize;
  *size = bytes;
  return *base != 0;
}

// (*table).grow(typ, m, newCapacity) and (*table).split(typ, m): every entry is copied into
// new tables before they return, and the old groups are dropped.
void OnTableRelocate(const HookContext& ctx) {
  uintptr_t base;
  uint64_t size;
  if (!SwissGroups(ctx, &base, &size)) return;
  MapArrays::NoteRelocated(base, size, EventAt(ctx, ctx.rcx(), ctx.rbx()));
  Retention::Request();
}

// (*table).Clear(typ): the groups are zeroed and reused.
void OnTableClear(const HookContext& ctx) {
  uintptr_t base;
  uint64_t size;
  if (!SwissGroups(ctx, &base, &size)) return;
  MapArrays::NoteCleared(base, size, EventAt(ctx, 0, ctx.rbx()));
  Retention::Request();
}

// sysFaultOS(v unsafe.Pointer, n uintptr), Go 1.23+.
// Each fault splits a mapping: the mapping count is watched here too (from 1.23 on these
// frees no longer pass through the runtime's mmap hook).
void OnSysFault(const HookContext& ctx) {
  MappingLimit::OnRuntimeMmap();
  GoMemoryHooks::NoteEfenceFree(ctx.rax(), ctx.rbx());
}

void OnGcMarkTermination(const HookContext&) { GoHeap::NoteGcCycleDone(); }

struct HookSpec {
  GoFunctionQuery query;  // the function, by its pclntab name
  HookCallback callback;
  HookFilter filter;  // width 0: none; else traps only when it holds (falls back to int3)
};

const char* ShortName(const char* function) {
  const char* dot = strrchr(function, '.');
  const char* paren = strrchr(function, ')');
  if (paren && dot && paren + 1 == dot) return strrchr(function, '(');
  return dot ? dot + 1 : function;
}

int InstallHooks(TextBuffer* out);

}  // namespace

int GoMemoryHooks::Attach() {
  TextBuffer describe(g_describe, sizeof(g_describe));
  return InstallHooks(&describe);
}

namespace {

int InstallHooks(TextBuffer* out) {
  if (GetOptions().go_hooks == 0) {
    out->Append("runtime hooks off (go_hooks=0)");
    return 0;
  }
  // A debugger stops at every int3, and gdb cannot hand those traps on to the program
  // (`handle SIGTRAP pass` kills it: tested with gdb 13): off unless asked for explicitly.
  if (TracerAttached() && !GetOptions().Given("go_hooks")) {
    g_off_for_tracer = true;
    out->Append("runtime hooks off (a debugger is attached; go_hooks=1 forces them)");
    return 0;
  }
  const GoBinaryInfo& bin = GoRuntime::Binary();
  if (!GoRuntime::Layout() || !GoRuntime::Table()) {
    out->Append("runtime hooks off (Go features off)");
    return 0;
  }
  const char* why = nullptr;
  if (!HookEngine::Init(&why)) {
    out->Append("runtime hooks off (").Append(why ? why : "hook engine").Append(")");
    return 0;
  }
  MapArrays::Init(1 << 16);
  int minor = bin.go_minor;
  bool swiss = minor >= 24 && !strstr(bin.goexperiment, "noswissmap");
  g_map = FindGoMapLayout(minor, swiss);

  enum { kGrow, kClear, kSplit, kSysFault, kGcDone, kCount };
  HookSpec specs[kCount] = {};
  if (g_map && !swiss) {
    // Filters: the map callbacks only act on arrays above 32 KiB, and a trap costs ~10 us, so
    // the hooks trap only from the smallest B at which ANY map type's array can be large,
    // which is the largest bucket's: tophash[8] + 8 keys + 8 elems of 128 bytes (bigger ones
    // are stored indirectly: abi.OldMapMaxKeyBytes/MaxElemBytes in reflectdata's
    // MapBucketType; sizes are multiples of alignments <= 8, so no padding) + the overflow
    // pointer = 2064 bytes, whose array exceeds 32 KiB from B = 4 ((16 + 1) * 2064 = 35088
    // bytes). So hashGrow, which drops the array at B and allocates one at B + 1, traps from
    // B = 3; mapclear, which reuses the one at B, from B = 4. (The smallest bucket, 16 bytes
    // for map[struct{}]struct{}, would allow B = 10, but would filter out e.g. map[int]int,
    // whose 144-byte buckets make a large array from B = 8.)
    constexpr uint32_t kLargestBucket = 8 + 8 * 128 + 8 * 128 + 8;
    uint32_t large_b = 0;
    while (!Large(BucketArrayBytes(large_b, kLargestBucket))) ++large_b;
    const int32_t b_offset = static_cast<int32_t>(g_map->hmap_b);
    specs[kGrow] = {{g_map->grow_function}, OnHashGrow, {REG_RBX, b_offset, 1, large_b - 1}};
    specs[kClear] = {{g_map->clear_function}, OnMapClear, {REG_RBX, b_offset, 1, large_b}};
  } else if (g_map) {
    // The largest Swiss group: 8 control bytes + 8 slots of a 128-byte key and a 128-byte
    // elem (bigger ones are stored indirectly: abi.SwissMapMaxKeyBytes/MaxElemBytes, checked
    // by reflectdata.SwissMapGroupType; sizes are multiples of alignments <= 8, so a slot
    // has no padding past 256) = 2056 bytes. A table of capacity c has c/8 groups: more than
    // 32 KiB only from capacity 128 (16 * 2056 = 32896 bytes). grow, split and Clear all
    // act on the receiver's current groups.
    constexpr uint64_t kLargestGroup = 8 + 8 * (128 + 128);
    uint64_t large_capacity = 8;
    while (!Large(large_capacity / 8 * kLargestGroup)) large_capacity *= 2;
    const HookFilter capacity = {REG_RAX, static_cast<int32_t>(g_map->table_capacity), 2,
                                 large_capacity};
    specs[kGrow] = {{g_map->grow_function}, OnTableRelocate, capacity};
    specs[kClear] = {{g_map->clear_function}, OnTableClear, capacity};
    specs[kSplit] = {{g_map->split_function}, OnTableRelocate, capacity};
  }
  // Up to 1.22 efence frees reach the runtime/cgo mmap hook; from 1.23 on they don't.
  // sysFaultOS also runs with every signal blocked (a locked thread's exit frees its signal
  // stack), where an int3 would kill the process: only ever behind a mask check.
  if (minor >= 23) {
    specs[kSysFault] = {{"runtime.sysFaultOS"}, OnSysFault, {kFilterSigtrapUnblocked, 0, 1, 0}};
  }
  specs[kGcDone] = {{"runtime.gcMarkTermination"}, OnGcMarkTermination};
  GoFunctionQuery queries[kCount];
  for (int k = 0; k < kCount; ++k) queries[k] = specs[k].query;
  FindGoFunctions(*GoRuntime::Table(), queries, kCount);

  int installed = 0;
  bool grow_installed = false;
  out->Append("runtime hooks:");
  if (!g_map) out->Append(" maps off (no map layout for this Go version)");
  for (int k = 0; k < kCount; ++k) {
    const GoFunctionQuery& q = queries[k];
    if (!q.name) continue;
    out->Char(' ').Append(ShortName(q.name));
    // A missing clear or split function is fine: the linker dropped it, nothing calls it.
    if (!q.found) {
      out->Append(" (not linked)");
      continue;
    }
    // The growth hook is what makes map records: without it the others would describe
    // arrays of maps whose growth was never seen.
    if ((k == kClear || k == kSplit) && !grow_installed) {
      out->Append(" (off: no growth hook)");
      continue;
    }
    bool ok = false;
    if (specs[k].filter.width) {
      ok = HookEngine::InstallFiltered(q.func.entry, q.name, specs[k].filter, specs[k].callback,
                                       nullptr, &why);
      if (ok) {
        out->Append(" (filtered)");
      } else if (specs[k].filter.greg == kFilterSigtrapUnblocked) {
        out->Append(" (off: ").Append(why ? why : "refused").Char(')');
        continue;
      } else {
        // Unfiltered it still works, at a trap per call.
        out->Append(" (unfiltered: ").Append(why ? why : "refused").Char(')');
      }
    }
    if (!ok) ok = HookEngine::Install(q.func.entry, q.name, specs[k].callback, nullptr, &why);
    if (ok) {
      ++installed;
      if (k == kGrow) grow_installed = true;
    } else {
      out->Append(" (off: ").Append(why ? why : "refused").Char(')');
    }
  }
  return installed;
}

}  // namespace

const char* GoMemoryHooks::Describe() { return g_describe; }
bool GoMemoryHooks::OffForDebugger() { return g_off_for_tracer; }

void GoMemoryHooks::NoteEfenceFree(uintptr_t addr, size_t size) {
  GoFreedRange r;
  r.base = addr;
  r.size = size;
  r.gc_cycle = GoHeap::GcCycles();
  r.freed_ns = NowNs();
  if (GoHeap::InArena(addr)) {
    r.kind = GoFreedKind::kHeap;
  } else {
    // efence stacks have mappings of their own. A stack freed while its goroutine is in
    // newstack's copy was moved; the goroutine's frames say where it grew.
    r.kind = GoFreedKind::kStack;
    uintptr_t g = GoStack::CurrentGoroutine();
    if (g && GoStack::IsCopyingStack(g)) {
      r.stack_moved = true;
      r.goroutine = GoStack::GoroutineId(g);
      uintptr_t pcs[kHookStackDepth];
      r.stack = StackDepot::Put(pcs, GoStack::CaptureSaved(g, pcs, kHookStackDepth));
    }
  }
  GoHeap::NoteFreed(r);
  Retention::Request();  // a Go pointer C kept into the range is now dangling
}

}  // namespace cgosan
