// FilterTrampoline: the machine code of a filtered hook (HookEngine::InstallFiltered). A Go
// function's entry stack check is displaced by a `jmp rel32` to a trampoline that tests the
// filter and traps only when it holds, then re-creates the stack check and jumps back:
//
//   cmp $4096, %reg ; jb resume          a nil base (first page): the filter fails unread
//   cmp{b,w,l,q} $min, off(%reg) ; jb resume
//   trap: int3                            the engine maps this address to the hook
//   resume: cmp 0x10(%r14),%rsp ; jbe <the function's morestack tail>
//           jmp <the function, after the displaced stack check>
//
// With kFilterSigtrapUnblocked the two compares are replaced by an rt_sigprocmask query
// (registers the syscall touches saved below SP and restored) and a test of SIGTRAP's bit.
// The flags are dead at a Go function entry (its first instruction overwrites them), so the
// compares need no saving; nothing is pushed, so SP and every register are as at entry when
// the int3 traps. Pure encoding over bytes; the engine places and publishes it.
#pragma once

#include <cstdint>

#include "preload/hooks/hook_engine.h"

namespace cgosan {

// The stack check at a Go function entry: `cmp 0x10(%r14),%rsp` then `jbe rel8/rel32`.
struct StackCheckEntry {
  uint8_t len = 0;          // bytes displaced: 6 (jbe rel8) or 10 (jbe rel32)
  uintptr_t morestack = 0;  // the jbe's target
};

// Matches the entry at `code` (`pc` its address; `available` bytes readable). False with
// *why (static) for anything else.
bool DecodeStackCheckEntry(const uint8_t* code, int available, uintptr_t pc, StackCheckEntry* out,
                           const char** why);

// Whether the filter can be encoded: a supported register, width 1/2/4/8, min within the
// width, offset leaving room for the two-step 8-byte compare. False with *why (static).
bool ValidFilter(const HookFilter& filter, const char** why);

constexpr int kMaxFilterTrampoline = 128;  // bytes, the longest encoding with a far jump back

struct FilterTrampoline {
  int len = 0;            // bytes written
  int trap_offset = 0;    // the int3
  int resume_offset = 0;  // the re-created stack check
};

// Writes the trampoline for `filter` (valid) at buf, which will execute at address `at`, for
// the entry at pc. False with *why when the morestack tail is out of rel32 reach of `at`.
bool EncodeFilterTrampoline(const HookFilter& filter, const StackCheckEntry& entry, uintptr_t pc,
                            uintptr_t at, uint8_t* buf, FilterTrampoline* out, const char** why);

}  // namespace cgosan
