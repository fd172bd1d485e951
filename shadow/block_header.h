// BlockHeader: the 16 bytes in front of every unguarded block cgosan tracks. glibc serves
// the block with room for them; they name the block's record (block_records.h), so malloc
// and free find it with no search and touch only the cache line the program's block
// already occupies. (Where glibc's own block starts follows from the record's alignment:
// see CHeap.)
//
// Telling a tracked block from glibc's own without a record: the word right before a
// pointer glibc returned is its chunk's size field, a multiple of 16 plus three flag bits,
// so its bit 3 is always clear; the header's last word always has it set. A pointer glibc
// never returned (an invalid free) may have anything there: a check word derived from the
// address and the header must match too, and the record must name the same address.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shadow/base/safe_read.h"

namespace cgosan {

using RecordId = uint32_t;  // 0: none

constexpr size_t kHeaderBytes = 16;

// meta: record id (bits 32-63), the tag (bit 3).
constexpr uint64_t kHeaderTag = 8;

inline uint64_t HeaderCheck(uintptr_t user, uint64_t meta) {
  uint64_t h = (user ^ meta) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29) ^ 0x63676f73616e6864ull;
}

// user: 16-byte aligned, at least kHeaderBytes into glibc's block.
inline void WriteHeader(uintptr_t user, RecordId id) {
  uint64_t meta = uint64_t{id} << 32 | kHeaderTag;
  auto* words = reinterpret_cast<uint64_t*>(user - kHeaderBytes);
  words[0] = HeaderCheck(user, meta);
  words[1] = meta;
}

// The cheap half of ReadHeader, for guard=sampled's free of glibc's blocks: false for every
// pointer glibc returned, without reading more than the one word glibc's free reads too.
inline bool MayHaveHeader(uintptr_t user) {
  if (user < 4096 || (user & 15) != 0) return false;
  if ((user & 4095) == 0) return true;  // the word is on another page: ReadHeader decides
  return (reinterpret_cast<const uint64_t*>(user)[-1] & 15) == kHeaderTag;
}

// Whether user carries a header cgosan wrote; if so, its record. Reads the
// 16 bytes before user, as glibc's free reads the 16 before its pointers; only where they lie
// on another page (user page-aligned) are they read with SafeRead, so that an invalid free
// of an address after an unmapped page is not a crash.
inline bool ReadHeader(uintptr_t user, RecordId* id) {
  if (!MayHaveHeader(user)) return false;  // glibc's block: the common answer
  uint64_t words[2];
  if ((user & 4095) == 0) {
    if (SafeRead(user - kHeaderBytes, words, sizeof(words)) != sizeof(words)) return false;
  } else {
    const auto* at = reinterpret_cast<const uint64_t*>(user - kHeaderBytes);
    words[0] = at[0];
    words[1] = at[1];
  }
  uint64_t meta = words[1];
  if ((meta & 15) != kHeaderTag || words[0] != HeaderCheck(user, meta)) return false;
  *id = static_cast<RecordId>(meta >> 32);
  return *id != 0;
}

}  // namespace cgosan
