// SiteDecoder implementation. The patterns are the first instructions seen at Go function
// entries on every supported toolchain (objdump of 1.19-1.24 binaries: the stack check
// `cmp 0x10(%r14),%rsp`, the large-frame `lea -N(%rsp),%r12` + `cmp 0x10(%r14),%r12`, frame
// setup), runtime.exit's `mov 0x8(%rsp),%edi`, and the instructions at return sites and
// branches. `kAny` bytes are immediates or displacements copied as they are.
#include "preload/hooks/site_decoder.h"

#include <cstring>

namespace cgosan {
namespace {

constexpr int kAny = -1;

struct Pattern {
  int bytes[8];
  uint8_t len;
  const char* what;
};

// Executed out of line: none of these reads RIP, so the copy behaves like the original.
constexpr Pattern kOutOfLinePatterns[] = {
    {{0x49, 0x3b, 0x66, 0x10}, 4, "cmp 0x10(%r14),%rsp"},
    {{0x4d, 0x3b, 0x66, 0x10}, 4, "cmp 0x10(%r14),%r12"},
    {{0x4c, 0x8d, 0x64, 0x24, kAny}, 5, "lea disp8(%rsp),%r12"},
    {{0x4c, 0x8d, 0xa4, 0x24, kAny, kAny, kAny, kAny}, 8, "lea disp32(%rsp),%r12"},
    {{0x8b, 0x7c, 0x24, 0x08}, 4, "mov 0x8(%rsp),%edi"},
    {{0x48, 0x83, 0xec, kAny}, 4, "sub $imm8,%rsp"},
    {{0x48, 0x81, 0xec, kAny, kAny, kAny, kAny}, 7, "sub $imm32,%rsp"},
    {{0x48, 0x89, 0xe5}, 3, "mov %rsp,%rbp"},
};

bool Matches(const Pattern& p, const uint8_t* code, int available) {
  if (available < p.len) return false;
  for (int i = 0; i < p.len; ++i) {
    if (p.bytes[i] != kAny && code[i] != p.bytes[i]) return false;
  }
  return true;
}

int32_t Rel32(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

bool DecodeSite(const uint8_t* code, int available, uintptr_t pc, SiteInstruction* out,
                const char** why) {
  *out = SiteInstruction();
  if (available < 1) {
    *why = "no instruction bytes";
    return false;
  }
  for (const Pattern& p : kOutOfLinePatterns) {
    if (Matches(p, code, available)) {
      out->how = Resume::kOutOfLine;
      out->len = p.len;
      out->what = p.what;
      return true;
    }
  }
  uint8_t op = code[0];
  if (op == 0x55) {
    *out = {Resume::kPushRbp, 1, 0, 0, "push %rbp"};
    return true;
  }
  if (op == 0xc3) {
    *out = {Resume::kRet, 1, 0, 0, "ret"};
    return true;
  }
  if ((op == 0xe8 || op == 0xe9) && available >= 5) {
    uintptr_t target = pc + 5 + static_cast<intptr_t>(Rel32(code + 1));
    *out = {op == 0xe8 ? Resume::kCall : Resume::kJmp, 5, 0, target,
            op == 0xe8 ? "call rel32" : "jmp rel32"};
    return true;
  }
  if (op == 0xeb && available >= 2) {
    *out = {Resume::kJmp, 2, 0, pc + 2 + static_cast<int8_t>(code[1]), "jmp rel8"};
    return true;
  }
  if (op >= 0x70 && op <= 0x7f && available >= 2) {
    *out = {Resume::kJcc, 2, static_cast<uint8_t>(op & 0xf), pc + 2 + static_cast<int8_t>(code[1]),
            "jcc rel8"};
    return true;
  }
  if (op == 0x0f && available >= 6 && code[1] >= 0x80 && code[1] <= 0x8f) {
    *out = {Resume::kJcc, 6, static_cast<uint8_t>(code[1] & 0xf),
            pc + 6 + static_cast<intptr_t>(Rel32(code + 2)), "jcc rel32"};
    return true;
  }
  *why = op == 0xcc ? "an int3 is already there (a debugger breakpoint?)"
                    : "unsupported instruction at the hook site";
  return false;
}

bool ConditionHolds(int cc, uint64_t eflags) {
  const bool cf = eflags & 0x1, pf = eflags & 0x4, zf = eflags & 0x40, sf = eflags & 0x80,
             of = eflags & 0x800;
  bool holds;
  switch (cc >> 1) {
    case 0:
      holds = of;
      break;  // O / NO
    case 1:
      holds = cf;
      break;  // B / AE
    case 2:
      holds = zf;
      break;  // E / NE
    case 3:
      holds = cf || zf;
      break;  // BE / A
    case 4:
      holds = sf;
      break;  // S / NS
    case 5:
      holds = pf;
      break;  // P / NP
    case 6:
      holds = sf != of;
      break;  // L / GE
    default:
      holds = zf || sf != of;
      break;  // LE / G
  }
  return (cc & 1) ? !holds : holds;
}

}  // namespace cgosan
