// SiteDecoder: the instructions the hook engine can displace, and how a thread resumes
// after each. Recognition is by exact byte pattern (not a general decoder): what is not in
// the list is refused, so an unexpected toolchain change turns a hook off instead of
// corrupting the program. Pure functions over bytes; no state.
#pragma once

#include <cstdint>

namespace cgosan {

enum class Resume : uint8_t {
  kOutOfLine,  // position-independent: executed from a copy followed by a jump back
  kPushRbp,    // push %rbp, emulated
  kRet,        // ret, emulated: RIP = [RSP], RSP += 8
  kCall,       // call rel32, emulated so the return address is the real pc+5 (Go's unwinder
               // must never see an out-of-line address on the stack)
  kJmp,        // jmp rel32/rel8, emulated
  kJcc,        // jcc rel32/rel8, emulated from EFLAGS
  kFiltered,   // a filtered hook's trampoline: continues at its re-created stack check
};

struct SiteInstruction {
  Resume how = Resume::kOutOfLine;
  uint8_t len = 0;        // bytes of the instruction
  uint8_t condition = 0;  // kJcc: the condition code (low nibble of the opcode)
  uintptr_t target = 0;   // kCall/kJmp/kJcc: the branch target; kFiltered: where to resume
  const char* what = "";  // static mnemonic, for messages
};

// Matches the instruction at `code` (its bytes; `pc` is its address, for branch targets).
// `available` bytes may be read. False with *why (static) when it is not a known pattern.
bool DecodeSite(const uint8_t* code, int available, uintptr_t pc, SiteInstruction* out,
                const char** why);

// Whether condition code cc (0-15, as in jcc/setcc) holds for the flags in eflags.
bool ConditionHolds(int cc, uint64_t eflags);

}  // namespace cgosan
