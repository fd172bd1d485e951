// CodeMemory: the hook engine's writes to code. Fresh executable pages placed within rel32
// reach of the text they serve (out-of-line copies jump back into it, the exit hook jumps
// out of it), each written once and then made read+execute for good, and the patching of
// the program's own text. Attach-time only (callers serialise); raw system calls, no malloc.
#pragma once

#include <cstdint>

namespace cgosan {

constexpr int kNearPageSize = 4096;

// A new writable page within +-2 GiB (minus a margin) of `near`, for code that jumps to or
// is jumped to from there; 0 with *why set when there is no room.
uintptr_t OpenNearPage(uintptr_t near, const char** why);
// Makes a page from OpenNearPage read+execute; it is never written again.
bool SealNearPage(uintptr_t page, const char** why);

// Encodes a jump placed at `from` to `to` into buf (room for 14 bytes): `jmp rel32` when in
// reach, else `jmp *0(%rip)` followed by the absolute target. Returns its length.
int EncodeJump(uintptr_t from, uintptr_t to, uint8_t* buf);

// Overwrites `len` bytes of text at addr (made writable for the write, read+execute after:
// text is mapped private, so only this process's copy changes). False with *why.
bool PatchText(uintptr_t addr, const uint8_t* bytes, int len, const char** why);

// Whether a rel32 branch at `from` (its end) can reach `to`.
inline bool InRel32Reach(uintptr_t from, uintptr_t to) {
  intptr_t d = static_cast<intptr_t>(to - from);
  return d >= INT32_MIN && d <= INT32_MAX;
}

}  // namespace cgosan
