// HeapBlock: what cgosan knows about one C heap block (live or freed), wherever it lives.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "shadow/stack_depot.h"

namespace cgosan {

enum class BlockState : uint8_t { kLive = 1, kFreed = 2 };

struct HeapBlock {
  uintptr_t base = 0;
  uint64_t size = 0;  // bytes requested
  StackId alloc_stack = 0;
  StackId free_stack = 0;
  pid_t alloc_tid = 0;
  pid_t free_tid = 0;
  uint32_t alignment = 0;
  BlockState state = BlockState::kLive;
  bool guarded = false;

  bool Contains(uintptr_t addr) const { return addr >= base && addr < base + (size ? size : 1); }
};

}  // namespace cgosan
