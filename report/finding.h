// Finding: one error cgosan found, as the detectors describe it, and the symbolized frames
// the writers print. Plain data with fixed capacities: a finding is built and written from
// a signal handler, so nothing here owns heap memory.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace cgosan {

enum class FindingKind {
  kHeapUseAfterFree,
  kHeapBufferOverflow,
  kDoubleFree,
  kInvalidFree,
  kGoHeapUseAfterFree,           // "go-heap-use-after-free": a Go heap range freed by the GC
  kGoStackUseAfterFree,          // "go-stack-use-after-free": a freed or moved goroutine stack
  kMapBucketUseAfterRelocation,  // "map-bucket-use-after-relocation"
  kGoPointerRetained,            // "go-pointer-retained": C memory kept a Go pointer
  kLeak,                         // "leak": C memory allocated for/under Go, unreachable at exit
};
const char* FindingKindName(FindingKind kind);  // "heap-use-after-free", ...

enum class AccessType { kRead, kWrite, kFree, kUnknown };
const char* AccessTypeName(AccessType type);  // "read", "write", "free", "unknown"

enum class Region { kCHeap, kGoHeap, kGoStack, kMapBuckets, kGlobal, kUnknown };
const char* RegionName(Region region);  // "c-heap", "go-heap", ...

enum class FrameLang { kC, kGo };

// One symbolized frame. Strings point into storage owned by the Symbolizer (valid until
// its next Reset()) or are nullptr when unknown.
struct Frame {
  uintptr_t pc = 0;
  const char* function = nullptr;  // as the language names it (demangled for C++)
  const char* file = nullptr;
  int line = 0;                  // 0: unknown
  const char* module = nullptr;  // path of the ELF object
  uintptr_t module_offset = 0;
  FrameLang lang = FrameLang::kC;
  bool glue = false;     // cgo glue frame (set by Go-aware symbolization)
  bool inlined = false;  // an inlined Go frame
};

constexpr int kMaxFramesPerStack = 128;
constexpr int kMaxStacks = 6;

struct Stack {
  // "access", "alloc", "free", and for map arrays "relocation" (the Go stack whose insert
  // grew the map) or "clear" (whose clear reused the array).
  const char* name = nullptr;
  pid_t tid = 0;           // thread that made it (0: unknown)
  int64_t goroutine = -1;  // goroutine that made it (-1: unknown or none)
  int num_frames = 0;
  Frame frames[kMaxFramesPerStack];
};

struct ThreadInfo {
  pid_t tid = 0;
  char name[32] = {};
  int64_t goroutine = -1;  // -1: none / not a Go thread
};

// What cgosan knows about the Go memory a finding is about (regions kGoHeap, kGoStack,
// kMapBuckets). Unknown fields keep their defaults and are printed as unknown (JSON null).
struct GoObject {
  // When the range was freed (efence faulted it): the GC cycles completed by then
  // (0: unknown) and milliseconds since the process started (-1: unknown).
  uint64_t gc_cycle = 0;
  int64_t freed_ms = -1;
  // Goroutine stacks: the goroutine whose stack it was (-1: unknown) and whether it was
  // freed because the stack grew and was copied elsewhere (moved) rather than released.
  int64_t goroutine = -1;
  bool stack_moved = false;
  // Map arrays (region kMapBuckets).
  uintptr_t map_address = 0;
  char map_type[128] = {};           // as Go prints it, "map[int]int"; "" when unknown
  const char* array_kind = nullptr;  // "bucket array" (hmap) or "group array" (Swiss map)
  const char* map_state = nullptr;   // "relocated", "cleared", "relocating", "live"
};

// Where a retained Go pointer was found: a C heap block (its allocation stack is the
// finding's stack named "holder") or a global of a loaded module.
struct Holder {
  Region region = Region::kUnknown;  // kCHeap or kGlobal
  uintptr_t base = 0;                // the block, or the symbol (else the writable segment)
  uint64_t size = 0;
  int64_t offset = 0;                // of the pointer inside it
  const char* origin = nullptr;      // C heap: "for-go", "under-go", "c"
  char symbol[128] = {};             // global: its symbol name ("" unknown)
  char module[256] = {};             // global: the module's path
};

struct Finding {
  FindingKind kind = FindingKind::kHeapUseAfterFree;
  bool has_address = false;
  uintptr_t address = 0;
  uintptr_t pc = 0;  // faulting pc, or 0

  AccessType access = AccessType::kUnknown;
  int64_t access_size = -1;  // -1: unknown

  bool has_object = false;
  Region region = Region::kUnknown;
  uintptr_t object_base = 0;
  uint64_t object_size = 0;
  int64_t object_offset = 0;  // address - object_base; may be negative

  // Where the object came from, for C heap blocks: "for-go" (C.CString, C.CBytes, C.malloc),
  // "under-go" (by C code during a cgo call), "c"; nullptr when unknown.
  const char* object_origin = nullptr;

  // Extra sentence for the text report, e.g. why a free was invalid.
  const char* detail = nullptr;

  // The C function of the cgo call in progress on the thread ("free"), or nullptr, and its
  // argument frame on the goroutine stack (size 0: unknown).
  const char* cgo_function = nullptr;
  uintptr_t cgo_frame = 0;
  uint32_t cgo_frame_size = 0;
  int num_cgo_go_pointers = 0;  // Go pointers among the call's arguments
  uintptr_t cgo_go_pointers[4] = {};

  GoObject go;  // Go memory details; meaningful for the Go regions only

  bool has_holder = false;  // go-pointer-retained
  Holder holder;
  // leak: the group of unreachable blocks that share one allocation stack.
  bool has_leak = false;
  uint64_t leak_blocks = 0;
  uint64_t leak_bytes = 0;

  ThreadInfo thread;
  int num_stacks = 0;
  Stack stacks[kMaxStacks];

  // Back to a fresh finding of `kind`, in place: a Finding is far too big for a temporary
  // on a signal stack (Go's is 32 KiB).
  void Reset(FindingKind new_kind) {
    kind = new_kind;
    has_address = false;
    address = 0;
    pc = 0;
    access = AccessType::kUnknown;
    access_size = -1;
    has_object = false;
    region = Region::kUnknown;
    object_base = 0;
    object_size = 0;
    object_offset = 0;
    object_origin = nullptr;
    detail = nullptr;
    cgo_function = nullptr;
    cgo_frame = 0;
    cgo_frame_size = 0;
    num_cgo_go_pointers = 0;
    go = GoObject();
    has_holder = false;
    holder = Holder();
    has_leak = false;
    leak_blocks = 0;
    leak_bytes = 0;
    thread = ThreadInfo();
    num_stacks = 0;
  }

  Stack* AddStack(const char* name) {
    if (num_stacks >= kMaxStacks) return nullptr;
    Stack* s = &stacks[num_stacks++];
    s->name = name;
    s->tid = 0;
    s->goroutine = -1;
    s->num_frames = 0;
    return s;
  }
  const Stack* FindStack(const char* name) const;
};

}  // namespace cgosan
