// GoMemoryHooks implementation. Every callback runs in the SIGTRAP handler on the thread
// that hit the hook, with the Go function's register arguments (ABIInternal), so it only
// reads the runtime structures it was handed, through the per-version layouts.
#include "preload/go_memory_hooks.h"

#include <string.h>
#include <time.h>

#include <initializer_list>

#include "preload/hooks/hook_engine.h"
#include "preload/hooks/tracer.h"
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
  if (!buckets || (!Large(size) && !Large(new_size))) return;
  MapArrays::NoteGrowthBegan(buckets, size, new_size, EventAt(ctx, h, t));
}

// mapclear(t *maptype, h *hmap): the array is zeroed and reused; an old one is dropped.
void OnMapClear(const HookContext& ctx) {
  uintptr_t t = ctx.rax(), h = ctx.rbx();
  if (!t || !h || Load<uint64_t>(h + g_map->hmap_count) == 0) return;
  uintptr_t buckets = Load<uintptr_t>(h + g_map->hmap_buckets);
  uint64_t size =
      BucketArrayBytes(Load<uint8_t>(h + g_map->hmap_b), Load<uint16_t>(t + g_map->maptype_bucketsize));
  if (!buckets || !Large(size)) return;
  MapArrays::NoteCleared(buckets, size, EventAt(ctx, h, t));
}

// The group array of a Swiss table (receiver in RAX, *SwissMapType in RBX).
bool SwissGroups(const HookContext& ctx, uintptr_t* base, uint64_t* size) {
  uintptr_t table = ctx.rax(), typ = ctx.rbx();
  if (!table || !typ || Load<uint16_t>(table + g_map->table_capacity) == 0) return false;
  *base = Load<uintptr_t>(table + g_map->table_groups_data);
  uint64_t groups = Load<uint64_t>(table + g_map->table_length_mask) + 1;
  uint64_t bytes = groups * Load<uint64_t>(typ + g_map->swiss_group_size);
  if (bytes > MapArrays::kMaxSmallObject) bytes = (bytes + kGoPageSize - 1) / kGoPageSize * kGoPageSize;
  *size = bytes;
  return *base != 0 && Large(bytes);
}

// (*table).grow(typ, m, newCapacity) and (*table).split(typ, m): every entry is copied into
// new tables before they return, and the old groups are dropped.
void OnTableRelocate(const HookContext& ctx) {
  uintptr_t base;
  uint64_t size;
  if (!SwissGroups(ctx, &base, &size)) return;
  MapArrays::NoteRelocated(base, size, EventAt(ctx, ctx.rcx(), ctx.rbx()));
}

// (*table).Clear(typ): the groups are zeroed and reused.
void OnTableClear(const HookContext& ctx) {
  uintptr_t base;
  uint64_t size;
  if (!SwissGroups(ctx, &base, &size)) return;
  MapArrays::NoteCleared(base, size, EventAt(ctx, 0, ctx.rbx()));
}

// sysFaultOS(v unsafe.Pointer, n uintptr), Go 1.23+.
void OnSysFault(const HookContext& ctx) { GoMemoryHooks::NoteEfenceFree(ctx.rax(), ctx.rbx()); }

void OnGcMarkTermination(const HookContext&) { GoHeap::NoteGcCycleDone(); }

struct HookSpec {
  GoFunctionQuery query;  // the function, by its pclntab name
  HookCallback callback;
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
  if (g_map) {
    specs[kGrow] = {{g_map->grow_function}, swiss ? OnTableRelocate : OnHashGrow};
    specs[kClear] = {{g_map->clear_function}, swiss ? OnTableClear : OnMapClear};
    if (swiss) specs[kSplit] = {{g_map->split_function}, OnTableRelocate};
  }
  // Up to 1.22 efence frees reach the runtime/cgo mmap hook; from 1.23 on they don't.
  if (minor >= 23) specs[kSysFault] = {{"runtime.sysFaultOS"}, OnSysFault};
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
    if (HookEngine::Install(q.func.entry, q.name, specs[k].callback, nullptr, &why)) {
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
}

}  // namespace cgosan
