// The finding's bug-report context (report/report_context.cc): the Go test named by the
// stack or -test.run, shell quoting of the reproduce command, and the JSON members.
#include "report/report_context.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace cgosan {
namespace {

Frame GoFrame(const char* fn) {
  Frame f;
  f.function = fn;
  f.lang = FrameLang::kGo;
  return f;
}

TEST(ReportContextTest, TestNameFromTRunnerCaller) {
  Stack s;
  s.frames[0] = GoFrame("example.com/m/pkg.helper");
  s.frames[1] = GoFrame("example.com/m/pkg.TestMapKeep.func1");
  s.frames[2] = GoFrame("testing.tRunner");
  s.frames[3] = GoFrame("runtime.goexit");
  s.num_frames = 4;
  char name[64];
  ASSERT_TRUE(TestNameFromStack(s, name, sizeof(name)));
  EXPECT_STREQ(name, "TestMapKeep");
}

TEST(ReportContextTest, NoTestWithoutTRunnerOrTestName) {
  Stack s;
  s.frames[0] = GoFrame("main.TestLooksLikeOne");  // not called by testing.tRunner
  s.frames[1] = GoFrame("main.main");
  s.frames[2] = GoFrame("main.Testify");  // lower case after Test: not a test
  s.frames[3] = GoFrame("testing.tRunner");
  s.num_frames = 4;
  char name[64];
  EXPECT_FALSE(TestNameFromStack(s, name, sizeof(name)));
}

TEST(ReportContextTest, TestNameFromRunPattern) {
  char name[64];
  ASSERT_TRUE(TestNameFromRunPattern("^TestFoo$", name, sizeof(name)));
  EXPECT_STREQ(name, "TestFoo");
  ASSERT_TRUE(TestNameFromRunPattern("TestBar", name, sizeof(name)));
  EXPECT_STREQ(name, "TestBar");
  EXPECT_FALSE(TestNameFromRunPattern("TestA|TestB", name, sizeof(name)));
  EXPECT_FALSE(TestNameFromRunPattern("", name, sizeof(name)));
  EXPECT_FALSE(TestNameFromRunPattern("Foo", name, sizeof(name)));
}

TEST(ReportContextTest, ShellQuoting) {
  InlineTextBuffer<256> out;
  AppendShellQuoted("./prog", &out);
  out.Char(' ');
  AppendShellQuoted("a b", &out);
  out.Char(' ');
  AppendShellQuoted("it's", &out);
  out.Char(' ');
  AppendShellQuoted("", &out);
  EXPECT_STREQ(out.data(), "./prog 'a b' 'it'\\''s' ''");
}

TEST(ReportContextTest, MembersAreJsonAndEnvironmentIsAllowListed) {
  setenv("GODEBUG", "efence=1", 1);
  setenv("CGOSAN_UNIT_SECRET", "hunter2", 1);
  static const char* argv[] = {"/bin/prog", "x y", nullptr};
  ProcessInfo p;
  p.exe = "/bin/prog";
  p.exe_name = "prog";
  p.argc = 2;
  p.argv = argv;
  CollectReportContext(p);
  static Finding f;
  f.Reset(FindingKind::kHeapUseAfterFree);
  f.has_address = true;
  f.address = reinterpret_cast<uintptr_t>(&f);  // in the bss: a mapping exists
  ASSERT_EQ(ReportContextMemberCount(), 4);
  std::string all;
  for (int i = 0; i < ReportContextMemberCount(); ++i) {
    static char storage[64 * 1024];
    TextBuffer out(storage, sizeof(storage));
    FormatReportContextMember(i, f, p, &out);
    auto v = nlohmann::json::parse(std::string(out.data(), out.size()));
    all += out.data();
    std::string key = ReportContextMemberKey(i);
    if (key == "environment") {
      EXPECT_EQ(v["variables"]["GODEBUG"], "efence=1");
      EXPECT_EQ(v["variables"].size(), 4u);
      EXPECT_EQ(v["libc"].get<std::string>().rfind("glibc ", 0), 0u);
    } else if (key == "memory_map") {
      ASSERT_TRUE(v["index"].is_number()) << v.dump();
      auto line = v["lines"][v["index"].get<int>()].get<std::string>();
      auto dash = line.find('-');
      uint64_t start = std::stoull(line.substr(0, dash), nullptr, 16);
      uint64_t end = std::stoull(line.substr(dash + 1), nullptr, 16);
      EXPECT_LE(start, f.address);
      EXPECT_GT(end, f.address);
      EXPECT_LE(v["lines"].size(), 7u);
    } else if (key == "test") {
      EXPECT_TRUE(v.is_null());
    } else {
      EXPECT_EQ(v["command"], "cgosan run /bin/prog 'x y'");
    }
  }
  EXPECT_EQ(all.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace cgosan
