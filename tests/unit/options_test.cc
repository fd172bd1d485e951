// Options parsing: defaults, both separators, and one clear error per kind of bad input.
#include "shadow/options.h"

#include <gtest/gtest.h>

#include <cctype>
#include <climits>
#include <string>
#include <vector>

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

// Every option of options.inc, as the test sees the table (so a new option is covered the
// moment it is declared).
struct OptionCase {
  const char* name;
  char kind;  // 'i' int, 's' string, 'e' enum
  int64_t min, max;
  const char* values;
};

const OptionCase kEveryOption[] = {
#define CGOSAN_INT(name, def, lo, hi, help) {#name, 'i', lo, hi, nullptr},
#define CGOSAN_STRING(name, def, help) {#name, 's', 0, 0, nullptr},
#define CGOSAN_ENUM(name, def, values, help) {#name, 'e', 0, 0, values},
#include "shadow/options.inc"
#undef CGOSAN_INT
#undef CGOSAN_STRING
#undef CGOSAN_ENUM
};

std::vector<std::string> EnumValues(const char* values) {
  std::vector<std::string> out;
  std::string all = values, cur;
  for (char c : all) {
    if (c == '|') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// Bad values every option must reject with one line naming it, leaving the defaults alone.
std::vector<std::string> BadValues(const OptionCase& o) {
  std::vector<std::string> bad = {"", std::string(5000, '9')};
  if (o.kind == 'i') {
    for (const char* v : {"x", "1x", " 1", "1 ", "+1", "-", "0x10", "1e3", "1.5", "\xff",
                          "99999999999999999999999", "9223372036854775808"})
      bad.push_back(v);
    bad.push_back(std::to_string(o.max) + "0");  // past the range
    if (o.max < INT64_MAX / 10) bad.push_back(std::to_string(o.max + 1));
    bad.push_back(std::to_string(o.min - 1));  // "-1" for a minimum of 0
  } else if (o.kind == 'e') {
    for (const char* v : {"bogus", "ALL", " all", "all ", "0", "1", "a|b"}) bad.push_back(v);
    bad.push_back(std::string(o.values));  // the whole list is not one of its values
  } else {
    bad.pop_back();
    bad.push_back(std::string(5000, 'a'));  // longer than any path the field can hold
  }
  return bad;
}

TEST(OptionsTableTest, EveryOptionRejectsMalformedValuesWithOneLineNamingIt) {
  int cases = 0;
  for (const OptionCase& o : kEveryOption) {
    for (const std::string& value : BadValues(o)) {
      std::string text = std::string(o.name) + "=" + value;
      ParseResult r = Parse(text.c_str());
      ++cases;
      EXPECT_FALSE(r.ok) << text.substr(0, 80);
      EXPECT_NE(r.error.find(o.name), std::string::npos) << r.error;
      EXPECT_EQ(r.error.find('\n'), std::string::npos) << "one line: " << r.error;
      EXPECT_LT(r.error.size(), 400u) << "a huge value is cut: " << r.error.substr(0, 100);
      EXPECT_NE(r.error.find("expected"), std::string::npos) << r.error;
      EXPECT_FALSE(r.options.Given(o.name)) << text.substr(0, 80);
    }
    // Without '=' at all.
    ParseResult r = Parse(o.name);
    EXPECT_FALSE(r.ok) << o.name;
    EXPECT_NE(r.error.find(std::string("option ") + o.name + " needs a value"), std::string::npos)
        << r.error;
    // Misspelt key: unknown, and the known ones are listed.
    std::string misspelt = std::string(o.name) + "x=1";
    r = Parse(misspelt.c_str());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("unknown option '" + std::string(o.name) + "x'"), std::string::npos)
        << r.error;
    std::string upper = o.name;
    for (char& c : upper) c = static_cast<char>(toupper(c));
    upper += "=1";
    EXPECT_FALSE(Parse(upper.c_str()).ok) << "keys are case-sensitive: " << upper;
  }
  EXPECT_GT(cases, 200);
}

TEST(OptionsTableTest, EveryOptionAcceptsItsBoundsAndValues) {
  for (const OptionCase& o : kEveryOption) {
    std::vector<std::string> good;
    if (o.kind == 'i') {
      good = {std::to_string(o.min), std::to_string(o.max), "0" + std::to_string(o.min)};
    } else if (o.kind == 'e') {
      good = EnumValues(o.values);
    } else {
      good = {"x", std::string(4095, 'p')};
    }
    for (const std::string& value : good) {
      std::string text = std::string(o.name) + "=" + value;
      ParseResult r = Parse(text.c_str());
      EXPECT_TRUE(r.ok) << text.substr(0, 80) << ": " << r.error;
      EXPECT_TRUE(r.options.Given(o.name)) << o.name;
    }
  }
}

TEST(OptionsTableTest, ABadValueAfterGoodOnesNamesTheBadOne) {
  ParseResult r = Parse("verbosity=1:guard=all:exitcode=300:guard_left=1");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "invalid value '300' for option exitcode: expected an integer from 0 to 255");
}

TEST(OptionsTableTest, TheLastSettingOfAKeyWins) {
  ParseResult r = Parse("verbosity=1:verbosity=2");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.options.verbosity, 2);
}

TEST(OptionsTableTest, TestingOptionsAreOffByDefaultAndSaySo) {
  Options o;
  EXPECT_EQ(o.test_report_delay_ms, 0);
  EXPECT_EQ(o.test_report_fault, 0);
  EXPECT_EQ(o.test_fail_malloc_after, 0);
  EXPECT_EQ(o.test_secure, 0);
  char storage[16384];
  TextBuffer out(storage, sizeof(storage));
  FormatOptionsHelp(&out);
  std::string help = out.data();
  for (const char* name : {"test_report_delay_ms", "test_report_fault", "test_fail_malloc_after",
                           "test_secure"}) {
    size_t at = help.find(std::string("  ") + name + "=");
    ASSERT_NE(at, std::string::npos) << name;
    EXPECT_NE(help.find("Testing only:", at), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace cgosan
