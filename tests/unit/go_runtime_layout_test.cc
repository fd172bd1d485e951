// The per-version runtime layout table and its cross-check against asmcgocall's code, with
// the instruction bytes Go 1.19 and 1.21+ emit (exe and PIE forms).
#include "report/go/runtime_layout.h"

#include <gtest/gtest.h>

#include <vector>

namespace cgosan {
namespace {

// runtime.asmcgocall's first instructions (objdump of real binaries).
std::vector<uint8_t> Asmcgocall(bool frame, bool pie, uint8_t g_m = 0x30, uint8_t gsignal = 0x50) {
  std::vector<uint8_t> code;
  auto add = [&](std::initializer_list<uint8_t> b) { code.insert(code.end(), b); };
  if (frame) add({0x55, 0x48, 0x89, 0xe5});                       // push %rbp; mov %rsp,%rbp
  add({0x48, 0x8b, 0x44, 0x24, 0x10, 0x48, 0x8b, 0x5c, 0x24, 0x18});  // fn, arg
  add({0x48, 0x89, 0xe2});                                        // mov %rsp,%rdx
  if (pie) {
    add({0x48, 0xc7, 0xc1, 0xf8, 0xff, 0xff, 0xff, 0x64, 0x48, 0x8b, 0x39});
  } else {
    add({0x64, 0x48, 0x8b, 0x3c, 0x25, 0xf8, 0xff, 0xff, 0xff});
  }
  add({0x48, 0x83, 0xff, 0x00, 0x74, 0x67});                      // cmp $0,%rdi; je
  add({0x4c, 0x8b, 0x47, g_m, 0x49, 0x8b, 0x70, gsignal});        // g.m, m.gsignal
  add({0x48, 0x39, 0xf7, 0x74, 0x5b, 0x49, 0x8b, 0x30});          // cmp; je; m.g0
  return code;
}

TEST(GoRuntimeLayoutTest, KnownVersionsOnly) {
  for (int minor : {19, 21, 22, 23, 24}) EXPECT_NE(FindGoRuntimeLayout(minor), nullptr) << minor;
  for (int minor : {0, 18, 20, 25}) EXPECT_EQ(FindGoRuntimeLayout(minor), nullptr) << minor;
  EXPECT_EQ(FindGoRuntimeLayout(22)->g_goid, 152u);
  EXPECT_EQ(FindGoRuntimeLayout(23)->g_goid, 160u);
  EXPECT_EQ(FindGoRuntimeLayout(19)->cgocall_return_slot, 0u);
  EXPECT_EQ(FindGoRuntimeLayout(21)->cgocall_return_slot, 8u);
}

TEST(GoRuntimeLayoutTest, AsmcgocallCheckAcceptsExeAndPieForms) {
  const GoRuntimeLayout& l19 = *FindGoRuntimeLayout(19);
  const GoRuntimeLayout& l24 = *FindGoRuntimeLayout(24);
  for (bool pie : {false, true}) {
    auto c19 = Asmcgocall(false, pie);
    auto c24 = Asmcgocall(true, pie);
    EXPECT_TRUE(AsmcgocallMatchesLayout(c19.data(), c19.size(), l19)) << pie;
    EXPECT_TRUE(AsmcgocallMatchesLayout(c24.data(), c24.size(), l24)) << pie;
    // A 1.21+ prologue is not 1.19's, and the reverse.
    EXPECT_FALSE(AsmcgocallMatchesLayout(c24.data(), c24.size(), l19)) << pie;
    EXPECT_FALSE(AsmcgocallMatchesLayout(c19.data(), c19.size(), l24)) << pie;
  }
}

TEST(GoRuntimeLayoutTest, AsmcgocallCheckRejectsOtherOffsets) {
  const GoRuntimeLayout& l = *FindGoRuntimeLayout(21);
  auto moved_m = Asmcgocall(true, false, 0x38);
  auto moved_gsignal = Asmcgocall(true, false, 0x30, 0x58);
  EXPECT_FALSE(AsmcgocallMatchesLayout(moved_m.data(), moved_m.size(), l));
  EXPECT_FALSE(AsmcgocallMatchesLayout(moved_gsignal.data(), moved_gsignal.size(), l));
  auto truncated = Asmcgocall(true, false);
  EXPECT_FALSE(AsmcgocallMatchesLayout(truncated.data(), 12, l));
}

}  // namespace
}  // namespace cgosan
