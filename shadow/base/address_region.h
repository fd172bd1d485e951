// The 1 MiB region of address space an address lies in, hashed: the prefilter that answers
// "no block lies near this address" without a search (the leak check's bit set of regions
// holding a block).
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

constexpr int kAddressRegionShift = 20;

// The region of addr hashed into `bits` bits (Fibonacci hashing: neighbouring regions spread).
inline size_t AddressRegionHash(uintptr_t addr, int bits) {
  uint64_t h = (addr >> kAddressRegionShift) * 0x9e3779b97f4a7c15ull;
  return static_cast<size_t>(h >> (64 - bits));
}

}  // namespace cgosan
