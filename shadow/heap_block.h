// HeapBlock: what cgosan knows about one C heap block (live or freed), wherever it lives.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "shadow/stack_depot.h"

namespace cgosan {

enum class BlockState : uint8_t { kLive = 1, kFreed = 2 };

// Who asked for a block: Go itself (C.CString, C.CBytes, C.malloc: the objects that cross
// the boundary), C code running inside a cgo call, C code on its own, or the Go runtime's own
// C code (runtime/cgo).
enum class BlockOrigin : uint8_t { kUnknown = 0, kC = 1, kUnderGo = 2, kForGo = 3, kGoRuntime = 4 };

struct HeapBlock {
  uintptr_t base = 0;
  uint64_t size = 0;  // bytes requested
  StackId alloc_stack = 0;
  StackId free_stack = 0;
  pid_t alloc_tid = 0;
  pid_t free_tid = 0;
  uint32_t alignment = 0;
  BlockState state = BlockState::kLive;
  BlockOrigin origin = BlockOrigin::kUnknown;
  bool guarded = false;
  // An unguarded block's record: its id (block_records.h), or the address of its record in
  // place for a slab block (slab_blocks.h); 0 for guarded ones.
  uintptr_t record = 0;

  bool Contains(uintptr_t addr) const { return addr >= base && addr < base + (size ? size : 1); }
};

}  // namespace cgosan
