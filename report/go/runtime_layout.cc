// The per-version layout table and the instruction-byte cross-check.
#include "report/go/runtime_layout.h"

#include <cstring>

namespace cgosan {
namespace {

// g: stack.lo, stack.hi, m, sched.sp, sched.bp, goid; m: g0, gsignal, curg; then the
// cgocall return slot, asmcgocall's frame, crosscall2's frame; g.atomicstatus.
constexpr GoRuntimeLayout kLayouts[] = {
    {19, 0, 8, 48, 56, 104, 152, 0, 80, 192, 0, false, 0x48, 144},
    {21, 0, 8, 48, 56, 104, 152, 0, 80, 192, 8, true, 0x48, 144},
    {22, 0, 8, 48, 56, 104, 152, 0, 80, 192, 8, true, 0x50, 144},
    // 1.23 adds g.syscallbp: goid moves to 160.
    {23, 0, 8, 48, 56, 104, 160, 0, 80, 192, 8, true, 0x50, 152},
    {24, 0, 8, 48, 56, 104, 160, 0, 80, 192, 8, true, 0x50, 152},
};

bool Contains(const uint8_t* code, size_t size, const uint8_t* pattern, size_t n) {
  for (size_t i = 0; i + n <= size; ++i) {
    if (memcmp(code + i, pattern, n) == 0) return true;
  }
  return false;
}

}  // namespace

const GoRuntimeLayout* FindGoRuntimeLayout(int minor) {
  for (const GoRuntimeLayout& l : kLayouts) {
    if (l.minor == minor) return &l;
  }
  return nullptr;
}

uint32_t ModuledataTypesOffset(int minor) {
  // pcHeader, six slices, findfunctab, minpc/maxpc, then pairs of uintptr bounds up to
  // end/gcdata/gcbss; 1.20 inserted covctrs/ecovctrs before end. Only the versions checked
  // against real binaries (go_type_name_test.cc).
  if (minor == 19) return 280;
  if (minor >= 21 && minor <= 24) return 296;
  return 0;
}

bool AsmcgocallMatchesLayout(const uint8_t* code, size_t size, const GoRuntimeLayout& layout) {
  static const uint8_t kPushFrame[] = {0x55, 0x48, 0x89, 0xe5};  // push %rbp; mov %rsp,%rbp
  bool has_frame = size >= 4 && memcmp(code, kPushFrame, 4) == 0;
  if (has_frame != layout.asmcgocall_has_frame) return false;
  // The current g from %fs:-8: `mov %fs:-8,%rdi` (exe), or in PIE
  // `mov $-8,%rcx; mov %fs:(%rcx),%rdi`.
  static const uint8_t kLoadG[] = {0x64, 0x48, 0x8b, 0x3c, 0x25, 0xf8, 0xff, 0xff, 0xff};
  static const uint8_t kLoadGPie[] = {0x48, 0xc7, 0xc1, 0xf8, 0xff, 0xff,
                                      0xff, 0x64, 0x48, 0x8b, 0x39};
  // mov g_m(%rdi),%r8 ; mov m_gsignal(%r8),%rsi ; mov m_g0(%r8),%rsi (disp8 forms).
  if (layout.g_m > 127 || layout.m_gsignal > 127 || layout.m_g0 != 0) return false;
  const uint8_t load_m[] = {0x4c, 0x8b, 0x47, static_cast<uint8_t>(layout.g_m)};
  const uint8_t load_gsignal[] = {0x49, 0x8b, 0x70, static_cast<uint8_t>(layout.m_gsignal)};
  const uint8_t load_g0[] = {0x49, 0x8b, 0x30};
  return (Contains(code, size, kLoadG, sizeof(kLoadG)) ||
          Contains(code, size, kLoadGPie, sizeof(kLoadGPie))) &&
         Contains(code, size, load_m, sizeof(load_m)) &&
         Contains(code, size, load_gsignal, sizeof(load_gsignal)) &&
         Contains(code, size, load_g0, sizeof(load_g0));
}

}  // namespace cgosan
