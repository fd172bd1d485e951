// Options parsing: defaults, both separators, and one clear error per kind of bad input.
#include "shadow/options.h"

#include <gtest/gtest.h>

#include <string>

namespace cgosan {
namespace {

struct ParseResult {
  bool ok;
  Options options;
  std::string error;
};

ParseResult Parse(const char* text) {
  ParseResult r;
  char storage[1024];
  TextBuffer error(storage, sizeof(storage));
  r.ok = ParseOptions(text, &r.options, &error);
  r.error = error.data();
  return r;
}

TEST(OptionsTest, DefaultsMatchTheSpec) {
  Options o;
  EXPECT_STREQ(o.log_path, "");
  EXPECT_EQ(o.verbosity, 0);
  EXPECT_EQ(o.guard_mode(), GuardMode::kAll);
  EXPECT_EQ(o.guard_left, 0);
  EXPECT_EQ(o.sample_rate, 1000);
  EXPECT_EQ(o.quarantine_mb, 64);
  EXPECT_EQ(o.guard_pool_mb, 1024);
  EXPECT_EQ(o.malloc_context_size, 16);
  EXPECT_EQ(o.exitcode, 66);
}

TEST(OptionsTest, ParsesColonAndCommaSeparatedPairs) {
  ParseResult r = Parse("log_path=/tmp/x:verbosity=2,guard=sampled:sample_rate=7,exitcode=3");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_STREQ(r.options.log_path, "/tmp/x");
  EXPECT_EQ(r.options.verbosity, 2);
  EXPECT_EQ(r.options.guard_mode(), GuardMode::kSampled);
  EXPECT_EQ(r.options.sample_rate, 7);
  EXPECT_EQ(r.options.exitcode, 3);
}

TEST(OptionsTest, RemembersWhichOptionsWereGiven) {
  ParseResult r = Parse("guard=cgo:verbosity=1");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.options.guard_mode(), GuardMode::kCgo);
  EXPECT_TRUE(r.options.Given("guard"));
  EXPECT_TRUE(r.options.Given("verbosity"));
  EXPECT_FALSE(r.options.Given("sample_rate"));
  EXPECT_FALSE(Parse("").options.Given("guard"));
}

TEST(OptionsTest, EmptyAndNullInputKeepDefaults) {
  EXPECT_TRUE(Parse("").ok);
  EXPECT_TRUE(Parse("::,").ok);
  Options o;
  char storage[64];
  TextBuffer error(storage, sizeof(storage));
  EXPECT_TRUE(ParseOptions(nullptr, &o, &error));
}

TEST(OptionsTest, UnknownKeyNamesItAndListsKnownOptions) {
  ParseResult r = Parse("bogus=1");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("unknown option 'bogus'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("guard_pool_mb"), std::string::npos) << r.error;
}

TEST(OptionsTest, BadEnumValueListsAcceptedValues) {
  ParseResult r = Parse("guard=sometimes");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "invalid value 'sometimes' for option guard: expected one of all|sampled|none|cgo");
}

TEST(OptionsTest, BadIntegersAreRejectedWithTheirRange) {
  for (const char* text : {"verbosity=x", "verbosity=9", "quarantine_mb=-1", "exitcode=256",
                           "sample_rate=0", "malloc_context_size=1e3",
                           "guard_pool_mb=99999999999999999999999"}) {
    ParseResult r = Parse(text);
    EXPECT_FALSE(r.ok) << text;
    EXPECT_NE(r.error.find("expected an integer from"), std::string::npos) << r.error;
  }
}

TEST(OptionsTest, EmptyOrMissingValueIsAnError) {
  ParseResult r = Parse("guard=");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("for option guard"), std::string::npos) << r.error;
  r = Parse("log_path");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("option log_path needs a value"), std::string::npos) << r.error;
}

TEST(OptionsTest, HugeValueIsCutInTheMessage) {
  std::string text = "log_path=" + std::string(5000, 'a');
  ParseResult r = Parse(text.c_str());
  EXPECT_FALSE(r.ok);
  EXPECT_LT(r.error.size(), 400u);
}

TEST(OptionsTest, HelpListsEveryOptionWithItsDefault) {
  char storage[16384];
  TextBuffer out(storage, sizeof(storage));
  FormatOptionsHelp(&out);
  std::string help = out.data();
  for (const char* expected : {"log_path=(unset)", "verbosity=0", "guard=all", "guard_left=0",
                               "sample_rate=1000", "quarantine_mb=64", "guard_pool_mb=1024",
                               "malloc_context_size=16", "exitcode=66"}) {
    EXPECT_NE(help.find(expected), std::string::npos) << expected;
  }
}

}  // namespace
}  // namespace cgosan
