// StackDepot: every distinct stack trace stored once, named by a 32-bit id.
// Allocation and free records keep only the id, so a trace costs a hash lookup, not a copy.
// Lock-free (insert by CAS on the bucket head) because it is used from malloc on every
// thread, and read from signal handlers; storage is one NORESERVE mapping, never freed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

using StackId = uint32_t;  // 0: no stack

class StackDepot {
 public:
  // Stores pcs[0..n) (n <= kMaxDepth) and returns its id; 0 when n == 0 or the depot is full.
  static StackId Put(const uintptr_t* pcs, int n);
  // The frames of id; returns their number (0 for id 0 or an unknown id).
  static int Get(StackId id, const uintptr_t** pcs);

  static constexpr int kMaxDepth = 64;
};

}  // namespace cgosan
