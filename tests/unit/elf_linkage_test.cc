// inspect's ELF rules (report/cli/elf_linkage.*) on small programs and libraries linked
// during the test: static, static-pie, dynamic, a musl interpreter, sanitizer runtimes by
// DT_NEEDED and by symbol. Each is also given to the wrapper's own shell checks (file,
// readelf | grep), which must agree: they are what `cgosan run` uses without cgosan-tool.
#include "report/cli/elf_linkage.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "tests/unit/command_test_util.h"
#include "tests/unit/wrapper_shell_checks.h"

namespace cgosan {
namespace cli {
namespace {

using testing_util::RunCommand;
using testing_util::ShellCheck;
using testing_util::ShellReply;
using testing_util::TempDir;

struct Expected {
  bool is_static = false;
  bool musl = false;
  const char* sanitizer = "";
};

class ElfLinkageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(Write("main.c", "int main(void) { return 0; }\n"));
    ASSERT_TRUE(Write("lib.c", "int f(void) { return 1; }\n"));
  }

  bool Write(const std::string& name, const std::string& text) {
    return RunCommand("printf '%s' '" + text + "' > '" + dir_.path() + "/" + name +
                      "' && echo ok") == "ok\n";
  }

  // Links `sources` (relative to the directory) with `flags` into `name`; "" on failure.
  std::string Link(const std::string& name, const std::string& sources, const std::string& flags) {
    std::string out = dir_.path() + "/" + name;
    std::string cmd = "cd '" + dir_.path() + "' && cc " + flags + " -o '" + out + "' " + sources +
                      " >/dev/null 2>&1 && echo ok";
    return RunCommand(cmd) == "ok\n" ? out : "";
  }

  void Check(const std::string& path, const Expected& want) {
    SCOPED_TRACE(path);
    ElfReader elf;
    ASSERT_TRUE(elf.Open(path.c_str()));
    ElfLinkage got;
    ASSERT_TRUE(ReadElfLinkage(elf, &got));
    EXPECT_EQ(got.is_static, want.is_static);
    EXPECT_EQ(got.musl, want.musl);
    EXPECT_STREQ(got.sanitizer ? got.sanitizer : "", want.sanitizer);

    EXPECT_EQ(ShellCheck("is_static_elf", path), want.is_static ? "rc=0\n" : "rc=1\n");
    EXPECT_EQ(ShellReply("unsupported_elf_reason", path),
              want.musl ? "REPLY=linked against musl libc\nrc=0\n" : "REPLY=\nrc=0\n");
    EXPECT_EQ(ShellReply("sanitizer_runtime", path),
              "REPLY=" + std::string(want.sanitizer) + "\nrc=0\n");
  }

  TempDir dir_{"cgosan-elf-linkage"};
};

TEST_F(ElfLinkageTest, DynamicExecutable) {
  std::string exe = Link("dynamic", "main.c", "");
  ASSERT_FALSE(exe.empty());
  Check(exe, {});
}

TEST_F(ElfLinkageTest, StaticExecutable) {
  std::string exe = Link("static", "main.c", "-static");
  if (exe.empty()) GTEST_SKIP() << "cannot link statically (libc.a missing?)";
  Check(exe, {true});
}

TEST_F(ElfLinkageTest, StaticPieExecutable) {
  std::string exe = Link("static-pie", "main.c", "-static-pie");
  if (exe.empty()) GTEST_SKIP() << "cannot link -static-pie";
  Check(exe, {true});
}

// file(1) calls a PT_DYNAMIC without libraries or interpreter "static-pie" only when it has
// DT_FLAGS_1 (-z nodelete sets one); a PT_INTERP counts as a library.
TEST_F(ElfLinkageTest, WhatFileCallsStaticPie) {
  std::string plain = Link("plain.so", "lib.c", "-shared -fPIC -nostdlib");
  std::string flagged = Link("flagged.so", "lib.c", "-shared -fPIC -nostdlib -Wl,-z,nodelete");
  std::string interp = Link("interp", "main.c",
                            "-pie -fPIC -nostdlib -Wl,-e,main -Wl,-z,now "
                            "-Wl,--dynamic-linker=/lib64/ld-linux-x86-64.so.2");
  ASSERT_FALSE(plain.empty());
  ASSERT_FALSE(flagged.empty());
  ASSERT_FALSE(interp.empty());
  Check(plain, {false});
  Check(flagged, {true});
  Check(interp, {false});
}

TEST_F(ElfLinkageTest, MuslInterpreter) {
  std::string musl = Link("musl", "main.c", "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1");
  // readelf prints "[Requesting program interpreter: PATH]": a ']' before the name hides it.
  std::string bracket = Link("bracket", "main.c", "-Wl,--dynamic-linker=/x]/ld-musl-x86_64.so.1");
  ASSERT_FALSE(musl.empty());
  ASSERT_FALSE(bracket.empty());
  Check(musl, {false, true});
  Check(bracket, {false, false});
}

TEST_F(ElfLinkageTest, SanitizerRuntimeByNeededLibrary) {
  // A stand-in libtsan.so: only its name matters.
  ASSERT_FALSE(Link("libtsan.so", "lib.c", "-shared -fPIC -Wl,-soname,libtsan.so.2").empty());
  std::string exe = Link("needs_tsan", "main.c", "-L. -Wl,--no-as-needed -ltsan");
  ASSERT_FALSE(exe.empty());
  Check(exe, {false, false, "ThreadSanitizer"});
}

TEST_F(ElfLinkageTest, SanitizerRuntimeByInitSymbol) {
  ASSERT_TRUE(Write("msan.c", "void __msan_init(void) {}\n"));
  ASSERT_TRUE(Write("hwasan.c", "void __hwasan_init(void) {}\n"));
  ASSERT_TRUE(Write("versioned.c", "void __asan_init_v5(void) {}\n"));
  ASSERT_TRUE(Write("both.c", "void __tsan_init(void) {}\nvoid __asan_init(void) {}\n"));
  const std::string shared = "-shared -fPIC -nostdlib";
  std::string msan = Link("msan.so", "msan.c", shared);
  std::string hwasan = Link("hwasan.so", "hwasan.c", shared);
  std::string versioned = Link("versioned.so", "versioned.c", shared);
  std::string both = Link("both.so", "both.c", shared);
  ASSERT_FALSE(msan.empty() || hwasan.empty() || versioned.empty() || both.empty());
  Check(msan, {false, false, "MemorySanitizer"});
  Check(hwasan, {false, false, "HWAddressSanitizer"});
  // __asan_init_v5 is another name: the shell's \b does not match inside a word.
  Check(versioned, {false, false, ""});
  // asan is asked about first.
  Check(both, {false, false, "AddressSanitizer"});
}

TEST_F(ElfLinkageTest, AddressSanitizedProgram) {
  std::string exe = Link("asan", "main.c", "-fsanitize=address");
  if (exe.empty()) GTEST_SKIP() << "cannot link with -fsanitize=address";
  Check(exe, {false, false, "AddressSanitizer"});
}

}  // namespace
}  // namespace cli
}  // namespace cgosan
