// CMemory: the memory C owns, as the audits scan it: the live C heap blocks (snapshot taken
// under the heap tables' locks, whole or in bounded steps) and the writable data of every loaded module (C globals),
// less what is not C's: the executable's Go data and bss, cgosan's own module and the
// libunwind it loaded privately.
#pragma once

#include <cstdint>

#include "shadow/base/internal_vector.h"
#include "shadow/heap_block.h"

namespace cgosan {

struct ModuleData {
  uintptr_t begin = 0, end = 0;
  char module[256] = {};  // path (the executable's own for the main program)
};

// The live blocks taken in bounded steps: the guarded pool under its lock, then
// kSlotsPerStep block records at a time, read without a lock. Blocks freed or allocated
// meanwhile may be in it or not, as with any snapshot of a running program; what is read
// from a block later must be checked (CHeap::StillLive) before it is believed.
class BlockSnapshot {
 public:
  static constexpr size_t kSlotsPerStep = 4096;
  void Begin(InternalVector<HeapBlock>* out, bool without_go_runtime);
  // One step. Returns false once the snapshot is complete (then sorted by base, without
  // duplicates); *held_ns is how long the step held a lock malloc/free need.
  bool Step(int64_t* held_ns);

 private:
  InternalVector<HeapBlock>* out_ = nullptr;
  bool without_go_runtime_ = true;
  bool pool_done_ = false;  // the guarded pool is the first step
  bool done_ = false;
  size_t cursor_ = 0;       // the next record id
};

class CMemory {
 public:
  // Live blocks, sorted by base. Blocks of the Go runtime's own C code (runtime/cgo) are
  // left out when without_go_runtime.
  static void SnapshotBlocks(InternalVector<HeapBlock>* out, bool without_go_runtime);
  // Writable segments of the loaded modules, minus the excluded ranges. A Go executable
  // whose Go data is unknown (no symbol table) contributes nothing.
  static void SnapshotModuleData(InternalVector<ModuleData>* out);
  // The name of the data symbol of `module` at runtime address addr (loaded at `bias`),
  // with the symbol's start and size; false when none is known.
  static bool DataSymbol(const char* module, uintptr_t bias, uintptr_t addr, char* name,
                         size_t cap, uintptr_t* start, uint64_t* size);
  // The load bias of the module containing addr (0 when unknown or not PIE).
  static uintptr_t ModuleBias(uintptr_t addr);
  // The block of a sorted snapshot containing addr, or nullptr.
  static const HeapBlock* FindBlock(const InternalVector<HeapBlock>& blocks, uintptr_t addr);
};

}  // namespace cgosan
