// WriteReport and the JSON file: one 0600 file per finding with the contract's name,
// never replacing anything, a missing directory created, and an unusable log_path turned
// into one warning line while the text report still reaches stderr.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "report/report_internal.h"
#include "report/report_writer.h"
#include "shadow/options.h"
#include "tests/unit/report_test_util.h"

namespace cgosan {
namespace {

namespace fs = std::filesystem;
using testing_util::MakeUseAfterFree;
using testing_util::Prefix;
using testing_util::ScratchDir;
using testing_util::StderrCapture;

class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = MutableOptions();
    CollectProcessInfo();
  }
  void TearDown() override {
    MutableOptions() = saved_;
    SetRenameNoReplaceDisabledForTesting(false);
  }

  void SetLogPath(const std::string& path, int verbosity = 0) {
    ASSERT_LT(path.size(), sizeof(MutableOptions().log_path));
    strcpy(MutableOptions().log_path, path.c_str());
    MutableOptions().verbosity = verbosity;
  }

  // Runs WriteReport on the example finding; returns what it printed on stderr.
  std::string Report() {
    ResetLogPathWarningForTesting();
    auto f = MakeUseAfterFree();
    StderrCapture capture;
    WriteReport(*f);
    return capture.Take();
  }

  static std::vector<std::string> Entries(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  static std::regex FindingName() {
    std::string exe = fs::read_symlink("/proc/self/exe").filename();
    return std::regex("cgosan\\." + exe + "\\." + std::to_string(getpid()) +
                      "\\.[0-9a-f]+-[0-9a-f]+\\.json");
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  Options saved_;
};

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST_F(LogFileTest, WithoutLogPathOnlyTheTextReport) {
  SetLogPath("");
  std::string err = Report();
  EXPECT_EQ(err.rfind(Prefix() + "ERROR: heap-use-after-free on address 0x7f3a1c001010", 0), 0u);
  EXPECT_TRUE(HasLine(err, Prefix() + "SUMMARY: cgosan: heap-use-after-free main.c:8 in readkept"));
  EXPECT_EQ(err.find("WARNING"), std::string::npos);
}

TEST_F(LogFileTest, WritesExactlyOneFile0600WithTheContractName) {
  ScratchDir dir;
  SetLogPath(dir.path());
  std::string err = Report();
  EXPECT_EQ(err.find("WARNING"), std::string::npos) << err;
  EXPECT_EQ(err.find("finding written"), std::string::npos) << "quiet at verbosity 0";
  std::vector<std::string> names = Entries(dir.path());
  ASSERT_EQ(names.size(), 1u);
  EXPECT_TRUE(std::regex_match(names[0], FindingName())) << names[0];
  struct stat st;
  ASSERT_EQ(stat((dir.path() + "/" + names[0]).c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  nlohmann::json j = nlohmann::json::parse(Slurp(dir.path() + "/" + names[0]), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["schema"], "cgosan.report/1");
  EXPECT_EQ(j["kind"], "heap-use-after-free");
  EXPECT_EQ(j["process"]["pid"], getpid());
  EXPECT_EQ(j["signature"], "heap-use-after-free:readkept:main");
}

TEST_F(LogFileTest, VerbosityOneSaysWhereTheFindingWent) {
  ScratchDir dir;
  SetLogPath(dir.path() + "/", 1);  // a trailing slash is fine for a real directory
  std::string err = Report();
  std::vector<std::string> names = Entries(dir.path());
  ASSERT_EQ(names.size(), 1u);
  EXPECT_TRUE(HasLine(err, Prefix() + "finding written to " + dir.path() + "/" + names[0])) << err;
}

TEST_F(LogFileTest, EveryReportGetsItsOwnFile) {
  ScratchDir dir;
  SetLogPath(dir.path());
  Report();
  Report();
  Report();
  std::vector<std::string> names = Entries(dir.path());
  ASSERT_EQ(names.size(), 3u);
  for (const std::string& n : names) EXPECT_TRUE(std::regex_match(n, FindingName())) << n;
}

TEST_F(LogFileTest, ExistingFilesAreNeverTouched) {
  ScratchDir dir;
  std::string pid = std::to_string(getpid());
  std::string exe = fs::read_symlink("/proc/self/exe").filename();
  std::vector<std::string> existing = {
      "cgosan." + exe + "." + pid + ".0-0.json",
      "cgosan." + exe + "." + pid + ".1-1.json",
      ".cgosan.tmp." + pid + ".0",
      ".cgosan.tmp." + pid + ".1",
  };
  for (const std::string& n : existing) std::ofstream(dir.path() + "/" + n) << "old " << n;
  SetLogPath(dir.path());
  Report();
  for (const std::string& n : existing) EXPECT_EQ(Slurp(dir.path() + "/" + n), "old " + n);
  EXPECT_EQ(Entries(dir.path()).size(), existing.size() + 1);
}

TEST_F(LogFileTest, PublishNeverReplaces) {
  for (bool link_fallback : {false, true}) {
    SCOPED_TRACE(link_fallback);
    SetRenameNoReplaceDisabledForTesting(link_fallback);
    ScratchDir dir;
    std::ofstream(dir.path() + "/from") << "new";
    std::ofstream(dir.path() + "/to") << "old";
    int dirfd = open(dir.path().c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(dirfd, 0);
    EXPECT_EQ(PublishNoReplace(dirfd, "from", "to"), -EEXIST);
    EXPECT_EQ(Slurp(dir.path() + "/to"), "old");
    EXPECT_EQ(Slurp(dir.path() + "/from"), "new");
    EXPECT_EQ(PublishNoReplace(dirfd, "from", "fresh"), 0);
    EXPECT_EQ(Slurp(dir.path() + "/fresh"), "new");
    EXPECT_FALSE(fs::exists(dir.path() + "/from"));
    close(dirfd);
  }
}

TEST_F(LogFileTest, LinkFallbackPublishesAndLeavesNoTempFile) {
  SetRenameNoReplaceDisabledForTesting(true);
  ScratchDir dir;
  SetLogPath(dir.path());
  Report();
  Report();
  std::vector<std::string> names = Entries(dir.path());
  ASSERT_EQ(names.size(), 2u);
  for (const std::string& n : names) EXPECT_TRUE(std::regex_match(n, FindingName())) << n;
}

TEST_F(LogFileTest, MissingNestedDirectoryIsCreated0700) {
  ScratchDir dir;
  std::string nested = dir.path() + "/a/b//c";
  SetLogPath(nested);
  std::string err = Report();
  EXPECT_EQ(err.find("WARNING"), std::string::npos) << err;
  ASSERT_EQ(Entries(dir.path() + "/a/b/c").size(), 1u);
  for (const char* sub : {"/a", "/a/b", "/a/b/c"}) {
    struct stat st;
    ASSERT_EQ(stat((dir.path() + sub).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u) << sub;
  }
}

TEST_F(LogFileTest, SymlinkedLogPathIsRefused) {
  ScratchDir dir;
  std::string real = dir.path() + "/real";
  std::string link = dir.path() + "/link";
  ASSERT_EQ(mkdir(real.c_str(), 0700), 0);
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  for (const std::string& path : {link, link + "/", link + "//"}) {
    SetLogPath(path);
    std::string err = Report();
    EXPECT_TRUE(HasLine(err, Prefix() + "WARNING: log_path '" + path +
                                 "' cannot be used (it is a symlink); JSON findings not written (said once: the "
                                 "text reports have them all)"))
        << err;
    EXPECT_TRUE(HasLine(err, Prefix() + "SUMMARY: cgosan: heap-use-after-free main.c:8 in readkept"));
    EXPECT_TRUE(Entries(real).empty());
  }
  // A dangling symlink is not "missing": nothing is created behind it.
  std::string dangling = dir.path() + "/dangling";
  ASSERT_EQ(symlink((dir.path() + "/nowhere").c_str(), dangling.c_str()), 0);
  SetLogPath(dangling);
  std::string err = Report();
  EXPECT_NE(err.find("(it is a symlink)"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir.path() + "/nowhere"));
}

TEST_F(LogFileTest, PathUnderARegularFileIsNotADirectory) {
  ScratchDir dir;
  std::string file = dir.path() + "/regular_file";
  std::ofstream(file) << "x";
  for (const std::string& path : {file, file + "/sub", file + "/sub/deeper"}) {
    SetLogPath(path);
    std::string err = Report();
    EXPECT_TRUE(HasLine(err, Prefix() + "WARNING: log_path '" + path +
                                 "' cannot be used (not a directory); JSON findings not written (said once: "
                                 "the text reports have them all)"))
        << err;
    EXPECT_EQ(err.rfind(Prefix() + "ERROR: heap-use-after-free", 0), 0u);
  }
  EXPECT_EQ(Slurp(file), "x");
  EXPECT_EQ(Entries(dir.path()).size(), 1u);
}

TEST_F(LogFileTest, ErrorReasons) {
  char scratch[32];
  EXPECT_STREQ(LogPathErrorReason(EACCES, scratch, sizeof(scratch)), "permission denied");
  EXPECT_STREQ(LogPathErrorReason(ENOTDIR, scratch, sizeof(scratch)), "not a directory");
  EXPECT_STREQ(LogPathErrorReason(ELOOP, scratch, sizeof(scratch)), "it is a symlink");
  EXPECT_STREQ(LogPathErrorReason(ENOENT, scratch, sizeof(scratch)), "no such file or directory");
  EXPECT_STREQ(LogPathErrorReason(EROFS, scratch, sizeof(scratch)), "read-only file system");
  EXPECT_STREQ(LogPathErrorReason(ENOSPC, scratch, sizeof(scratch)), "no space left on device");
  EXPECT_STREQ(LogPathErrorReason(EXDEV, scratch, sizeof(scratch)), "errno 18");
}

TEST_F(LogFileTest, ReadOnlyFileSystemIsReported) {
  // /proc is mounted read-only for new entries: mkdir fails there even for root.
  SetLogPath("/proc/self/cgosan-findings");
  std::string err = Report();
  EXPECT_NE(err.find("WARNING: log_path '/proc/self/cgosan-findings' cannot be used ("),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("); JSON findings not written"), std::string::npos);
}

TEST_F(LogFileTest, AnUnusableLogPathIsSaidOnce) {
  ScratchDir dir;
  std::ofstream(dir.path() + "/regular") << "x";
  SetLogPath(dir.path() + "/regular");
  std::string first = Report();  // resets the once-flag first
  auto f = MakeUseAfterFree();
  StderrCapture capture;
  WriteReport(*f);
  std::string second = capture.Take();
  EXPECT_NE(first.find("WARNING: log_path"), std::string::npos) << first;
  EXPECT_EQ(second.find("WARNING"), std::string::npos) << second;
  EXPECT_NE(second.find("SUMMARY: cgosan: heap-use-after-free"), std::string::npos) << second;
}

TEST_F(LogFileTest, TestDelaySplitsTheWriteButTheFileIsWhole) {
  ScratchDir dir;
  SetLogPath(dir.path());
  MutableOptions().test_report_delay_ms = 50;
  auto start = std::chrono::steady_clock::now();
  Report();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  EXPECT_GE(ms, 50);
  std::vector<std::string> names = Entries(dir.path());
  ASSERT_EQ(names.size(), 1u);
  auto doc = nlohmann::json::parse(Slurp(dir.path() + "/" + names[0]));
  EXPECT_EQ(doc["kind"], "heap-use-after-free");
}

TEST_F(LogFileTest, ErrnoIsPreserved) {
  ScratchDir dir;
  std::ofstream(dir.path() + "/regular") << "x";
  SetLogPath(dir.path() + "/regular");  // fails: errno is used inside
  auto f = MakeUseAfterFree();
  StderrCapture capture;
  errno = 4242;
  WriteReport(*f);
  int after = errno;
  capture.Take();
  EXPECT_EQ(after, 4242);
}

}  // namespace
}  // namespace cgosan
