// inspect's Go rules (report/cli/go_binary_rules.*) on hand-made bytes: each case states the
// expected answers, and the wrapper's own grep checks are run on the same bytes to show that
// `cgosan run` decides alike with and without cgosan-tool.
#include "report/cli/go_binary_rules.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <string>

#include "tests/unit/command_test_util.h"
#include "tests/unit/wrapper_shell_checks.h"

namespace cgosan {
namespace cli {
namespace {

using testing_util::ShellCheck;
using testing_util::ShellReply;
using testing_util::TempDir;

const std::string kMagic("\xff Go buildinf:", 14);

// The Go 1.18+ blob: magic, pointer size, flags (2: inline strings), padding to 32 bytes,
// then the version and the module info, each after its length.
std::string Blob(const std::string& version, const std::string& modinfo = "") {
  std::string out = kMagic + "\x08\x02" + std::string(16, '\0');
  out += static_cast<char>(version.size());
  out += version;
  out += static_cast<char>(modinfo.size());
  out += modinfo;
  return out;
}

// Some bytes of a binary around the blob (machine code, other strings).
std::string InBinary(const std::string& blob) {
  return std::string(
             "\x7f"
             "ELF\x02\x01\x01",
             7) +
         std::string(300, '\x90') + blob + std::string(100, '\0') + "trailing";
}

struct Case {
  const char* name;
  std::string bytes;
  bool go;
  const char* minor;
  bool cgocheck2;
};

class GoBinaryRulesTest : public ::testing::Test {
 protected:
  void Check(const Case& c) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(HasGoBuildInfo(c.bytes), c.go);
    EXPECT_EQ(GoMinorVersion(c.bytes), c.minor);
    EXPECT_EQ(WantsCgocheck2(c.bytes), c.cgocheck2);

    ASSERT_FALSE(dir_.path().empty());
    std::string path = dir_.path() + "/" + c.name;
    FILE* f = fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(fwrite(c.bytes.data(), 1, c.bytes.size(), f), c.bytes.size());
    ASSERT_EQ(fclose(f), 0);
    EXPECT_EQ(ShellCheck("is_go_binary", path), c.go ? "rc=0\n" : "rc=1\n");
    EXPECT_EQ(ShellReply("go_minor_version", path), "REPLY=" + std::string(c.minor) + "\nrc=0\n");
    EXPECT_EQ(ShellCheck("wants_cgocheck2", path), c.cgocheck2 ? "rc=0\n" : "rc=1\n");
  }
  TempDir dir_{"cgosan-go-rules"};
};

TEST_F(GoBinaryRulesTest, ReleaseVersions) {
  Check({"go1.21.13", InBinary(Blob("go1.21.13")), true, "21", false});
  Check({"go1.9", InBinary(Blob("go1.9")), true, "9", false});
  Check({"go1.22rc2", InBinary(Blob("go1.22rc2")), true, "22", false});
  // No 'g' before "go1.": the "devel " prefix is part of the gap.
  Check({"devel", InBinary(Blob("devel go1.23-abcdef Tue")), true, "23", false});
}

TEST_F(GoBinaryRulesTest, VersionMustFollowTheMagicClosely) {
  // 40 bytes between the magic and "go1." at most, none of them 'g' or a newline.
  Check({"gap40", InBinary(kMagic + std::string(40, '\0') + "go1.21"), true, "21", false});
  Check({"gap41", InBinary(kMagic + std::string(41, '\0') + "go1.21"), true, "", false});
  Check({"g_in_gap", InBinary(kMagic + "\x08g" + "go1.21"), true, "", false});
  Check({"newline_in_gap", InBinary(kMagic + "\x08\n" + "go1.21"), true, "", false});
  Check({"no_digits", InBinary(kMagic + "\x08go1.x"), true, "", false});
  // Before Go 1.18 the blob holds pointers, not the version: no version, still Go.
  Check({"pointers", InBinary(kMagic + "\x08" + std::string(30, '\x40')), true, "", false});
  // The first magic without a version does not hide a later one with it.
  Check({"second_magic", InBinary(kMagic + "\x08g" + Blob("go1.20.4")), true, "20", false});
}

TEST_F(GoBinaryRulesTest, NotGo) {
  Check({"c_program", InBinary("GCC: (Debian 12.2.0-14) 12.2.0 go1.21"), false, "", false});
  Check({"empty", "", false, "", false});
  // Part of the magic only.
  Check({"partial_magic", InBinary(kMagic.substr(0, 13) + "go1.21"), false, "", false});
}

TEST_F(GoBinaryRulesTest, Cgocheck2FromTheBuildSettings) {
  auto settings = [](const std::string& value) {
    return InBinary(Blob("go1.21.13", "path\tcmd\nbuild\t-compiler=gc\nbuild\tGOEXPERIMENT=" +
                                          value + "\nbuild\tGOOS=linux\n"));
  };
  Check({"only", settings("cgocheck2"), true, "21", true});
  Check({"after_comma", settings("arenas,cgocheck2"), true, "21", true});
  Check({"before_comma", settings("cgocheck2,arenas"), true, "21", true});
  Check({"prefix", settings("nocgocheck2"), true, "21", false});
  Check({"other", settings("arenas,loopvar"), true, "21", false});
  // Whitespace ends the value.
  Check({"after_space", InBinary(Blob("go1.21.13", "build\tGOEXPERIMENT=arenas cgocheck2")), true,
         "21", false});
  // The runtime's message naming the experiment has no "build<TAB>" before it.
  Check({"message", InBinary(Blob("go1.21.13") + "GOEXPERIMENT=cgocheck2 is set"), true, "21",
         false});
}

}  // namespace
}  // namespace cli
}  // namespace cgosan
