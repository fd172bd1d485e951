// FilterTrampoline implementation: a hand encoder for the handful of instructions the
// trampoline uses. Every memory operand is disp32(%reg) (mod 10), which needs no SIB byte
// for the registers allowed; every branch inside the trampoline is rel32, so the layout
// does not depend on the filter's encoding length.
#include "preload/hooks/filter_trampoline.h"

#include <sys/ucontext.h>

#include <cstring>

#include "preload/hooks/code_memory.h"

namespace cgosan {
namespace {

constexpr uint8_t kStackCheck[] = {0x49, 0x3b, 0x66, 0x10};  // cmp 0x10(%r14),%rsp
// A base below this is nil plus a field offset: the filter fails without reading it.
constexpr int32_t kNilPage = 4096;

// The hardware number of a ucontext general register the filter may use, or -1. RSP, RBP,
// R12-R15 are left out: RSP/R12 need a SIB byte, R14 is g, and none carries a Go argument.
int HardwareRegister(int greg) {
  switch (greg) {
    case REG_RAX:
      return 0;
    case REG_RCX:
      return 1;
    case REG_RDX:
      return 2;
    case REG_RBX:
      return 3;
    case REG_RSI:
      return 6;
    case REG_RDI:
      return 7;
    case REG_R8:
      return 8;
    case REG_R9:
      return 9;
    case REG_R10:
      return 10;
    case REG_R11:
      return 11;
    default:
      return -1;
  }
}

int32_t Rel32(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

class Emitter {
 public:
  Emitter(uint8_t* buf, uintptr_t at) : buf_(buf), at_(at) {}

  void Byte(uint8_t b) { buf_[pos_++] = b; }
  void Imm(uint64_t v, int bytes) {
    memcpy(buf_ + pos_, &v, static_cast<size_t>(bytes));  // little-endian: the low bytes
    pos_ += bytes;
  }
  int pos() const { return pos_; }
  uintptr_t here() const { return at_ + static_cast<uintptr_t>(pos_); }

  // cmp $imm32, %reg (64-bit, imm sign-extended).
  void CmpRegImm(int reg, int32_t imm) {
    Byte(0x48 | (reg >> 3));
    Byte(0x81);
    Byte(0xc0 | (7 << 3) | (reg & 7));
    Imm(static_cast<uint32_t>(imm), 4);
  }
  // cmp{b,w,l,q} $imm, disp32(%reg); width 8 takes a sign-extended imm32.
  void CmpMemImm(int width, int reg, int32_t disp, uint64_t imm) {
    if (width == 2) Byte(0x66);
    uint8_t rex = (width == 8 ? 0x48 : 0) | (reg >> 3 ? 0x41 : 0);
    if (rex) Byte(rex);
    Byte(width == 1 ? 0x80 : 0x81);
    Byte(0x80 | (7 << 3) | (reg & 7));
    Imm(static_cast<uint32_t>(disp), 4);
    Imm(imm, width == 1 ? 1 : width == 2 ? 2 : 4);
  }
  // jcc rel32 to a label bound later; returns the fixup position.
  int JccForward(uint8_t cc) {
    Byte(0x0f);
    Byte(0x80 | cc);
    int fixup = pos_;
    Imm(0, 4);
    return fixup;
  }
  void Bind(int fixup, int label) {
    int32_t rel = static_cast<int32_t>(label - (fixup + 4));
    memcpy(buf_ + fixup, &rel, 4);
  }

 private:
  uint8_t* buf_;
  uintptr_t at_;
  int pos_ = 0;
};

constexpr uint8_t kBelow = 0x2, kAbove = 0x7, kBelowOrEqual = 0x6;

}  // namespace

bool DecodeStackCheckEntry(const uint8_t* code, int available, uintptr_t pc, StackCheckEntry* out,
                           const char** why) {
  *out = StackCheckEntry();
  if (available < 6 || memcmp(code, kStackCheck, sizeof(kStackCheck)) != 0) {
    *why = "the entry is not Go's stack check (cmp 0x10(%r14),%rsp)";
    return false;
  }
  if (code[4] == 0x76) {
    out->len = 6;
    out->morestack = pc + 6 + static_cast<int8_t>(code[5]);
    return true;
  }
  if (available >= 10 && code[4] == 0x0f && code[5] == 0x86) {
    out->len = 10;
    out->morestack = pc + 10 + static_cast<intptr_t>(Rel32(code + 6));
    return true;
  }
  *why = "the stack check is not followed by jbe rel8/rel32";
  return false;
}

bool ValidFilter(const HookFilter& filter, const char** why) {
  if (filter.greg == kFilterSigtrapUnblocked) return true;
  if (HardwareRegister(filter.greg) < 0) {
    *why = "unsupported filter register";
    return false;
  }
  if (filter.width != 1 && filter.width != 2 && filter.width != 4 && filter.width != 8) {
    *why = "filter width is not 1, 2, 4 or 8";
    return false;
  }
  if (filter.width < 8 && filter.min >> (8 * filter.width) != 0) {
    *why = "filter minimum does not fit the width";
    return false;
  }
  if (filter.width == 8 && filter.min > INT32_MAX && filter.offset > INT32_MAX - 4) {
    *why = "filter offset too large";
    return false;
  }
  return true;
}

namespace {

// Leaves ZF clear when SIGTRAP is blocked on this thread; every register but the flags as
// it was. The 8-byte mask slot and the saved registers take 64 bytes below SP.
void EmitSigtrapBlockedTest(Emitter& e) {
  static const uint8_t kCode[] = {
      0x48, 0x8d, 0x64, 0x24, 0xf8,        // lea -8(%rsp),%rsp: the old mask's slot
      0x50, 0x51, 0x52, 0x56, 0x57,        // push %rax, %rcx, %rdx, %rsi, %rdi
      0x41, 0x52, 0x41, 0x53,              // push %r10, %r11
      0xb8, 0x0e, 0x00, 0x00, 0x00,        // mov $14 (rt_sigprocmask),%eax
      0x31, 0xff,                          // xor %edi,%edi: how (unused without a set)
      0x31, 0xf6,                          // xor %esi,%esi: set = NULL
      0x48, 0x8d, 0x54, 0x24, 0x38,        // lea 56(%rsp),%rdx: oldset = the slot
      0x41, 0xba, 0x08, 0x00, 0x00, 0x00,  // mov $8,%r10d: sigsetsize
      0x0f, 0x05,                          // syscall
      0x41, 0x5b, 0x41, 0x5a,              // pop %r11, %r10
      0x5f, 0x5e, 0x5a, 0x59, 0x58,        // pop %rdi, %rsi, %rdx, %rcx, %rax
      0xf6, 0x04, 0x24, 0x10,              // testb $0x10,(%rsp): SIGTRAP (5) is bit 4
      0x48, 0x8d, 0x64, 0x24, 0x08,        // lea 8(%rsp),%rsp (keeps the flags)
  };
  for (uint8_t b : kCode) e.Byte(b);
}

constexpr uint8_t kNotEqual = 0x5;

bool FinishFilterTrampoline(Emitter& e, const StackCheckEntry& entry, uintptr_t pc, int to_trap,
                            const int* to_resume, int n, FilterTrampoline* out, const char** why);

}  // namespace

bool EncodeFilterTrampoline(const HookFilter& filter, const StackCheckEntry& entry, uintptr_t pc,
                            uintptr_t at, uint8_t* buf, FilterTrampoline* out, const char** why) {
  Emitter e(buf, at);
  int to_resume[3];
  int n = 0;
  if (filter.greg == kFilterSigtrapUnblocked) {
    EmitSigtrapBlockedTest(e);
    to_resume[n++] = e.JccForward(kNotEqual);
    return FinishFilterTrampoline(e, entry, pc, -1, to_resume, n, out, why);
  }
  const int reg = HardwareRegister(filter.greg);
  e.CmpRegImm(reg, kNilPage);
  to_resume[n++] = e.JccForward(kBelow);
  int to_trap = -1;
  if (filter.width == 8 && filter.min > INT32_MAX) {
    // Unsigned 64-bit >= without a scratch register: the high halves decide unless equal.
    e.CmpMemImm(4, reg, filter.offset + 4, filter.min >> 32);
    to_trap = e.JccForward(kAbove);
    to_resume[n++] = e.JccForward(kBelow);
    e.CmpMemImm(4, reg, filter.offset, filter.min & 0xffffffffu);
  } else {
    e.CmpMemImm(filter.width, reg, filter.offset, filter.min);
  }
  to_resume[n++] = e.JccForward(kBelow);
  return FinishFilterTrampoline(e, entry, pc, to_trap, to_resume, n, out, why);
}

namespace {

// The int3, then the re-created stack check and the jump back, shared by both kinds.
bool FinishFilterTrampoline(Emitter& e, const StackCheckEntry& entry, uintptr_t pc, int to_trap,
                            const int* to_resume, int n, FilterTrampoline* out, const char** why) {
  out->trap_offset = e.pos();
  if (to_trap >= 0) e.Bind(to_trap, e.pos());
  e.Byte(0xcc);
  out->resume_offset = e.pos();
  for (int i = 0; i < n; ++i) e.Bind(to_resume[i], e.pos());
  for (uint8_t b : kStackCheck) e.Byte(b);
  if (!InRel32Reach(e.here() + 6, entry.morestack)) {
    *why = "the morestack tail is out of rel32 reach of the trampoline";
    return false;
  }
  e.Byte(0x0f);
  e.Byte(0x80 | kBelowOrEqual);
  e.Imm(static_cast<uint32_t>(static_cast<int32_t>(entry.morestack - (e.here() + 4))), 4);
  uint8_t jump[14];
  int len = EncodeJump(e.here(), pc + entry.len, jump);
  for (int i = 0; i < len; ++i) e.Byte(jump[i]);
  out->len = e.pos();
  return true;
}

}  // namespace
}  // namespace cgosan
