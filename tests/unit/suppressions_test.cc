// SuppressionsTest: parsing of suppressions files (errors name the file and line) and
// matching against the frames of a finding.
#include "report/suppressions.h"

#include <gtest/gtest.h>

#include <cstring>

namespace cgosan {
namespace {

class SuppressionsTest : public ::testing::Test {
 protected:
  void SetUp() override { Suppressions::Clear(); }
  void TearDown() override { Suppressions::Clear(); }

  bool Parse(const char* text, std::string* error = nullptr) {
    static char storage[1024];
    TextBuffer err(storage, sizeof(storage));
    bool ok = Suppressions::Parse("test.supp", text, strlen(text), &err);
    if (error) *error = std::string(err.data(), err.size());
    return ok;
  }

  Finding* MakeFinding(FindingKind kind, const char* function, const char* file,
                       const char* module) {
    static Finding f;
    f.Reset(kind);
    Stack* s = f.AddStack("access");
    s->num_frames = 1;
    s->frames[0] = Frame();
    s->frames[0].function = function;
    s->frames[0].file = file;
    s->frames[0].module = module;
    return &f;
  }
};

TEST(GlobMatchTest, StarsAndQuestionMarks) {
  EXPECT_TRUE(GlobMatch("main.*", "main.main"));
  EXPECT_TRUE(GlobMatch("*test17537*", "misc/cgo/test.test17537"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_FALSE(GlobMatch("main.*", "xmain.main"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("*/libfoo.so*", "/usr/lib/libfoo.so.1"));
  EXPECT_FALSE(GlobMatch("*.go", "main.go.bak"));
}

TEST_F(SuppressionsTest, CommentsBlankLinesAndKinds) {
  ASSERT_TRUE(Parse("# comment\n\n  leak:main.fill  \nretained:*/kept.c\n"
                    "heap-use-after-free:libfoo*\n"));
  EXPECT_EQ(Suppressions::RuleCount(), 3);
  EXPECT_TRUE(Suppressions::Matches(*MakeFinding(FindingKind::kLeak, "main.fill", nullptr, "/x")));
  EXPECT_FALSE(Suppressions::Matches(*MakeFinding(FindingKind::kLeak, "main.other", "a.go", "/x")));
  EXPECT_TRUE(Suppressions::Matches(
      *MakeFinding(FindingKind::kGoPointerRetained, "keep", "/src/kept.c", "/x")));
  EXPECT_TRUE(Suppressions::Matches(
      *MakeFinding(FindingKind::kHeapUseAfterFree, "f", nullptr, "libfoo.so")));
  // A rule applies to its own kind only.
  EXPECT_FALSE(Suppressions::Matches(*MakeFinding(FindingKind::kDoubleFree, "main.fill", "", "")));
  EXPECT_EQ(Suppressions::SuppressedCount(), 3u);
}

TEST_F(SuppressionsTest, ErrorsNameFileAndLine) {
  std::string error;
  EXPECT_FALSE(Parse("leak:ok\nno colon here\n", &error));
  EXPECT_EQ(error, "test.supp:2: expected KIND:PATTERN");
  EXPECT_FALSE(Parse("leak:\n", &error));
  EXPECT_EQ(error, "test.supp:1: empty pattern");
  EXPECT_FALSE(Parse("\n\nuse-after-free:x\n", &error));
  EXPECT_EQ(error.rfind("test.supp:3: unknown finding kind 'use-after-free' (accepted: retained", 0),
            0u)
      << error;
  EXPECT_NE(error.find("go-pointer-retained"), std::string::npos);
}

TEST_F(SuppressionsTest, MissingFileIsAnError) {
  static char storage[512];
  TextBuffer err(storage, sizeof(storage));
  EXPECT_FALSE(Suppressions::Load("/nonexistent/cgosan.supp", &err));
  EXPECT_EQ(std::string(err.data(), err.size()),
            "/nonexistent/cgosan.supp: cannot read the suppressions file (no such file or "
            "directory)");
}

TEST_F(SuppressionsTest, ADirectoryIsNotASuppressionsFile) {
  static char storage[512];
  TextBuffer err(storage, sizeof(storage));
  EXPECT_FALSE(Suppressions::Load("/tmp", &err));
  EXPECT_EQ(std::string(err.data(), err.size()),
            "/tmp: cannot read the suppressions file (not a regular file)");
}

}  // namespace
}  // namespace cgosan
