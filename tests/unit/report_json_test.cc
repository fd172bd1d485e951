// The JSON finding: every contract key of cgosan.report/1 with the right type and value,
// escaping that always yields valid JSON, and truncation that keeps it valid.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "report/json_out.h"
#include "report/report_internal.h"
#include "report/report_writer.h"
#include "tests/unit/report_test_util.h"

namespace cgosan {
namespace {

using nlohmann::json;
using testing_util::AddFrames;
using testing_util::kProg;
using testing_util::MakeFrame;
using testing_util::MakeUseAfterFree;

ProcessInfo FakeProcess(std::vector<const char*>* argv) {
  ProcessInfo p;
  p.pid = 4321;
  p.exe = "/tmp/prog";
  p.exe_name = "prog";
  p.build_id = "0123456789abcdef0123456789abcdef01234567";
  p.argc = static_cast<int>(argv->size());
  argv->push_back(nullptr);
  p.argv = argv->data();
  return p;
}

std::string JsonText(const Finding& f, const ProcessInfo& p, size_t capacity = 512 * 1024) {
  std::vector<char> storage(capacity);
  TextBuffer out(storage.data(), storage.size());
  FormatJsonReport(f, p, &out);
  return std::string(out.data(), out.size());
}

json Parse(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "invalid JSON: " << text.substr(0, 2000);
  return j;
}

TEST(ReportJsonTest, UseAfterFreeHasEveryContractKey) {
  auto f = MakeUseAfterFree();
  std::vector<const char*> argv = {"/tmp/prog", "--flag", "x y"};
  ProcessInfo p = FakeProcess(&argv);
  std::string text = JsonText(*f, p);
  ASSERT_EQ(text.back(), '\n');
  json j = Parse(text);
  ASSERT_TRUE(j.is_object());

  EXPECT_EQ(j["schema"], "cgosan.report/1");
  EXPECT_TRUE(j["cgosan_version"].is_string());
  EXPECT_FALSE(j["cgosan_version"].get<std::string>().empty());
  ASSERT_TRUE(j["time"].is_string());
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << j["time"];
  EXPECT_EQ(j["kind"], "heap-use-after-free");
  EXPECT_EQ(j["summary"], "SUMMARY: cgosan: heap-use-after-free main.c:8 in readkept");
  EXPECT_EQ(j["address"], "0x7f3a1c001010");
  EXPECT_EQ(j["access"], json({{"type", "read"}, {"size", 1}}));
  EXPECT_EQ(j["object"],
            json({{"region", "c-heap"}, {"base", "0x7f3a1c001010"}, {"size", 13}, {"offset", 0}}));
  EXPECT_EQ(j["thread"], json({{"tid", getpid()}, {"name", "prog"}, {"goroutine", nullptr}}));
  EXPECT_EQ(j["process"], json({{"pid", 4321},
                                {"argv", {"/tmp/prog", "--flag", "x y"}},
                                {"exe", "/tmp/prog"},
                                {"build_id", "0123456789abcdef0123456789abcdef01234567"},
                                {"go", nullptr}}));
  EXPECT_EQ(j["signature"], "heap-use-after-free:readkept:main");
  EXPECT_FALSE(j.contains("truncated"));

  ASSERT_TRUE(j["stacks"].is_object());
  EXPECT_EQ(j["stacks"].size(), 3u);
  ASSERT_EQ(j["stacks"]["access"].size(), 3u);
  EXPECT_EQ(j["stacks"]["free"].size(), 2u);
  EXPECT_EQ(j["stacks"]["alloc"].size(), 2u);
  EXPECT_EQ(j["stacks"]["access"][0], json({{"pc", "0x4a1b2c"},
                                            {"function", "readkept"},
                                            {"file", "main.c"},
                                            {"line", 8},
                                            {"module", "/tmp/prog"},
                                            {"module_offset", "0x1b2c"},
                                            {"lang", "c"},
                                            {"glue", false},
                                            {"inlined", false}}));
  // Unknown function, file and line are null.
  EXPECT_EQ(j["stacks"]["alloc"][1], json({{"pc", "0x4a1a80"},
                                           {"function", nullptr},
                                           {"file", nullptr},
                                           {"line", nullptr},
                                           {"module", "/tmp/prog"},
                                           {"module_offset", "0x1a80"},
                                           {"lang", "c"},
                                           {"glue", false},
                                           {"inlined", false}}));
}

TEST(ReportJsonTest, NullsForUnknowns) {
  Finding f;
  f.kind = FindingKind::kInvalidFree;
  f.access = AccessType::kFree;
  f.thread.tid = 77;
  f.thread.goroutine = 12;
  Stack* s = f.AddStack("access");
  AddFrames(s, {MakeFrame(0x401000, "main.main", "/src/main.go", 5, kProg, 0x1000, FrameLang::kGo,
                          false, true),
                MakeFrame(0x402000, "main._Cfunc_free", nullptr, 0, kProg, 0x2000, FrameLang::kGo,
                          true, false)});
  ProcessInfo p;
  p.pid = 1;
  json j = Parse(JsonText(f, p));
  EXPECT_TRUE(j["address"].is_null());
  EXPECT_EQ(j["access"], json({{"type", "free"}, {"size", nullptr}}));
  EXPECT_TRUE(j["object"].is_null());
  EXPECT_EQ(j["thread"], json({{"tid", 77}, {"name", ""}, {"goroutine", 12}}));
  EXPECT_EQ(j["process"], json({{"pid", 1},
                                {"argv", json::array()},
                                {"exe", nullptr},
                                {"build_id", nullptr},
                                {"go", nullptr}}));
  EXPECT_EQ(j["stacks"]["access"][0]["lang"], "go");
  EXPECT_EQ(j["stacks"]["access"][0]["inlined"], true);
  EXPECT_EQ(j["stacks"]["access"][1]["glue"], true);
  EXPECT_EQ(j["signature"], "invalid-free:main.main");
  EXPECT_EQ(j["summary"], "SUMMARY: cgosan: invalid-free /src/main.go:5 in main.main");
}

TEST(ReportJsonTest, NegativeOffsetIsANumber) {
  auto f = MakeUseAfterFree();
  f->kind = FindingKind::kHeapBufferOverflow;
  f->object_offset = -16;
  f->address = f->object_base - 16;
  ProcessInfo p;
  json j = Parse(JsonText(*f, p));
  EXPECT_EQ(j["object"]["offset"], -16);
  EXPECT_EQ(j["address"], "0x7f3a1c001000");
}

std::string Escaped(const std::string& in) {
  InlineTextBuffer<1024> out;
  JsonString(&out, in.data(), in.size());
  return std::string(out.data(), out.size());
}

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Escaped("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Escaped("l1\nl2\r\t\b\f"), R"("l1\nl2\r\t\b\f")");
  EXPECT_EQ(Escaped(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\x7f\"");
  EXPECT_EQ(Escaped(std::string("a\0b", 3)), R"("a\u0000b")");
}

TEST(JsonEscapeTest, ValidUtf8PassesInvalidBecomesReplacement) {
  EXPECT_EQ(Escaped("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"),
            "\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(Escaped("\xff"), R"("\ufffd")");
  EXPECT_EQ(Escaped("\xe2\x82"), R"("\ufffd\ufffd")");                      // cut sequence
  EXPECT_EQ(Escaped("\xc0\xaf"), R"("\ufffd\ufffd")");                      // overlong '/'
  EXPECT_EQ(Escaped("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // surrogate
  EXPECT_EQ(Escaped("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
}

TEST(JsonEscapeTest, NastyStringsRoundTripThroughAParser) {
  const std::string nasty[] = {
      "quote\" back\\slash /slash",
      "new\nline\r\ttab",
      std::string("ctl\x01\x02\x1b\x7f", 7),
      "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
  };
  for (const std::string& s : nasty) {
    json j = Parse("{\"v\":" + Escaped(s) + "}");
    EXPECT_EQ(j["v"].get<std::string>(), s);
  }
  json j = Parse("{\"v\":" + Escaped("bad\xff\xfe end\xc3") + "}");
  EXPECT_EQ(j["v"].get<std::string>(), "bad\xef\xbf\xbd\xef\xbf\xbd end\xef\xbf\xbd");
}

TEST(ReportJsonTest, NastyStringsInEveryFieldStayValid) {
  const char* nasty = "f\"un\\c\n\x01\xff\xc3(";
  Finding f;
  f.kind = FindingKind::kHeapUseAfterFree;
  f.thread.tid = 1;
  memcpy(f.thread.name, "t\"\n\xfe", 5);
  f.detail = nasty;
  Stack* s = f.AddStack("access");
  AddFrames(s, {MakeFrame(1, nasty, nasty, 3, nasty, 2)});
  std::vector<const char*> argv = {nasty, "", "\t"};
  ProcessInfo p = FakeProcess(&argv);
  p.exe = nasty;
  json j = Parse(JsonText(f, p));
  const std::string want = "f\"un\\c\n\x01\xef\xbf\xbd\xef\xbf\xbd(";
  EXPECT_EQ(j["stacks"]["access"][0]["function"], want);
  EXPECT_EQ(j["stacks"]["access"][0]["file"], want);
  EXPECT_EQ(j["stacks"]["access"][0]["module"], want);
  EXPECT_EQ(j["process"]["argv"][0], want);
  EXPECT_EQ(j["process"]["argv"][2], "\t");
  EXPECT_EQ(j["process"]["exe"], want);
  EXPECT_EQ(j["thread"]["name"], "t\"\n\xef\xbf\xbd");
  EXPECT_EQ(j["signature"], "heap-use-after-free:" + want);
}

std::unique_ptr<Finding> MakeSixFullStacks(size_t name_len) {
  auto f = MakeUseAfterFree();
  f->num_stacks = 0;
  static std::string names[kMaxFramesPerStack];
  const char* stack_names[] = {"access", "free", "alloc", "relocation", "holder_alloc", "call"};
  for (const char* stack_name : stack_names) {
    Stack* s = f->AddStack(stack_name);
    for (int i = 0; i < kMaxFramesPerStack; ++i) {
      names[i] = "fn" + std::to_string(i) + std::string(name_len, 'n');
      s->frames[s->num_frames++] =
          MakeFrame(0x400000 + i, names[i].c_str(), "/src/file.c", i + 1, kProg, i);
    }
  }
  return f;
}

TEST(ReportJsonTest, FullReportFitsTheWritersBuffer) {
  auto f = MakeSixFullStacks(40);
  ProcessInfo p;
  json j = Parse(JsonText(*f, p));
  EXPECT_FALSE(j.contains("truncated"));
  for (auto& [name, frames] : j["stacks"].items()) EXPECT_EQ(frames.size(), 128u) << name;
}

TEST(ReportJsonTest, TruncatedReportIsValidAndDropsFrames) {
  auto f = MakeSixFullStacks(200);
  std::vector<const char*> argv = {"/tmp/prog"};
  ProcessInfo p = FakeProcess(&argv);
  for (size_t capacity : {size_t{64 * 1024}, size_t{16 * 1024}, size_t{4 * 1024}}) {
    SCOPED_TRACE(capacity);
    std::string text = JsonText(*f, p, capacity);
    ASSERT_LT(text.size(), capacity);
    json j = Parse(text);
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["truncated"], true);
    EXPECT_EQ(j["schema"], "cgosan.report/1");
    EXPECT_EQ(j["kind"], "heap-use-after-free");
    EXPECT_TRUE(j["signature"].is_string());
    ASSERT_TRUE(j["stacks"].is_object());
    for (auto& [name, frames] : j["stacks"].items()) {
      EXPECT_LT(frames.size(), 128u) << name;
      // Innermost frames are the ones kept, in order.
      for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i]["line"], i + 1);
    }
  }
}

TEST(ReportJsonTest, TinyBufferStillValid) {
  auto f = MakeSixFullStacks(200);
  ProcessInfo p;
  std::string text = JsonText(*f, p, 512);
  json j = Parse(text);
  EXPECT_TRUE(j.is_object());
  EXPECT_EQ(j["truncated"], true);
}

TEST(ReportJsonTest, Rfc3339) {
  auto fmt = [](int64_t s, int64_t ns) {
    InlineTextBuffer<64> b;
    FormatRfc3339Utc(s, ns, &b);
    return std::string(b.data());
  };
  EXPECT_EQ(fmt(0, 0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(fmt(1700000000, 123456789), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(fmt(1709164800, 999999999), "2024-02-29T00:00:00.999Z");
  EXPECT_EQ(fmt(951868799, 5000000), "2000-02-29T23:59:59.005Z");
  EXPECT_EQ(fmt(1795321801, 123000000), "2026-11-22T04:30:01.123Z");
  EXPECT_EQ(fmt(4102444800, 0), "2100-01-01T00:00:00.000Z");
}

TEST(ReportJsonTest, RandomBytesAndCapacitiesAlwaysGiveValidJson) {
  std::mt19937 rng(12345);
  auto random_string = [&](size_t max_len) {
    std::string s(rng() % max_len, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());  // C strings
    return s;
  };
  std::vector<std::string> pool;
  for (int i = 0; i < 64; ++i) pool.push_back(random_string(i < 8 ? 6000 : 80));
  auto pick = [&]() { return pool[rng() % pool.size()].c_str(); };
  for (int round = 0; round < 60; ++round) {
    auto f = MakeUseAfterFree();
    f->num_stacks = 0;
    int stacks = 1 + static_cast<int>(rng() % kMaxStacks);
    for (int s = 0; s < stacks; ++s) {
      Stack* st = f->AddStack(pick());
      int n = static_cast<int>(rng() % (kMaxFramesPerStack + 1));
      for (int i = 0; i < n; ++i) {
        st->frames[st->num_frames++] =
            MakeFrame(rng(), rng() % 4 ? pick() : nullptr, rng() % 2 ? pick() : nullptr,
                      static_cast<int>(rng() % 100), pick(), rng());
      }
    }
    std::vector<const char*> argv;
    for (int i = 0; i < 5; ++i) argv.push_back(pick());
    ProcessInfo p = FakeProcess(&argv);
    p.exe = pick();
    size_t capacity = 300 + rng() % (600 * 1024);
    SCOPED_TRACE(capacity);
    std::string text = JsonText(*f, p, capacity);
    ASSERT_LT(text.size(), capacity);
    json j = Parse(text);
    ASSERT_TRUE(j.is_object());
  }
}

}  // namespace
}  // namespace cgosan

namespace cgosan {
namespace {

// Keys added after the foundation: each module of the stacks once, with its build id (null
// when the file has none or is gone); the cgo call; the detail sentence.
TEST(ReportJsonTest, ModulesCgoCallAndDetail) {
  auto f = MakeUseAfterFree();
  Stack* access = &f->stacks[0];
  // The test binary itself: a real file with a build id.
  access->frames[0].module = "/proc/self/exe";
  f->cgo_function = "read_first_byte";
  f->detail = "the address is 5 bytes inside of a 13-byte block";
  std::vector<const char*> argv = {"/tmp/prog"};
  json j = Parse(JsonText(*f, FakeProcess(&argv)));
  ASSERT_TRUE(j["modules"].is_array());
  std::set<std::string> paths;
  for (const auto& m : j["modules"]) {
    EXPECT_TRUE(paths.insert(m["path"].get<std::string>()).second) << "listed twice";
    if (m["path"] == "/proc/self/exe") {
      ASSERT_TRUE(m["build_id"].is_string());
      EXPECT_EQ(m["build_id"].get<std::string>().size(), 40u);
    } else if (m["path"] == "/tmp/prog") {
      EXPECT_TRUE(m["build_id"].is_null());
    }
  }
  EXPECT_TRUE(paths.count("/proc/self/exe"));
  EXPECT_TRUE(paths.count("/tmp/prog"));
  EXPECT_EQ(j["cgo_call"]["function"], "read_first_byte");
  EXPECT_EQ(j["detail"], "the address is 5 bytes inside of a 13-byte block");
  f->cgo_function = nullptr;
  f->detail = nullptr;
  j = Parse(JsonText(*f, FakeProcess(&argv)));
  EXPECT_TRUE(j["cgo_call"].is_null());
  EXPECT_TRUE(j["detail"].is_null());
}

}  // namespace
}  // namespace cgosan

namespace cgosan {
namespace {
using nlohmann::json;
using namespace testing_util;

json GoJson(const Finding& f) {
  std::vector<const char*> argv = {"/tmp/prog"};
  return Parse(JsonText(f, FakeProcess(&argv)));
}

// The object of a Go finding says what the memory was: "map", "freed", "goroutine", and
// for a goroutine stack "stack_moved"; unknowns are null.
TEST(ReportJsonGoTest, MapBucketUseAfterRelocation) {
  auto f = MakeMapRelocation();
  json j = GoJson(*f);
  EXPECT_EQ(j["kind"], "map-bucket-use-after-relocation");
  EXPECT_EQ(j["summary"],
            "SUMMARY: cgosan: map-bucket-use-after-relocation /src/map/sum.c:7 in sum_buckets");
  EXPECT_EQ(j["signature"], "map-bucket-use-after-relocation:sum_buckets:main.main");
  EXPECT_EQ(j["address"], "0xc0000ea008");
  EXPECT_EQ(j["object"], json({{"region", "map-buckets"},
                               {"base", "0xc0000ea000"},
                               {"size", 40960},
                               {"offset", 8},
                               {"map",
                                {{"address", "0xc000048e58"},
                                 {"type", "map[int]int"},
                                 {"array", "bucket array"},
                                 {"state", "relocated"}}},
                               {"freed", nullptr},
                               {"goroutine", nullptr}}));
  ASSERT_TRUE(j["stacks"].is_object());
  EXPECT_EQ(j["stacks"].size(), 3u);
  EXPECT_EQ(j["stacks"]["access"].size(), 6u);
  EXPECT_EQ(j["stacks"]["relocation"].size(), 4u);
  EXPECT_EQ(j["stacks"]["relocation"][2]["function"], "main.fill");
  EXPECT_EQ(j["stacks"]["relocation"][2]["line"], 33);
  EXPECT_EQ(j["stacks"]["alloc"].size(), 2u);
  EXPECT_EQ(j["thread"]["goroutine"], 1);
  EXPECT_EQ(j["cgo_call"]["function"], "sum_buckets");

  // Unknown map facts are null; a free that was seen is told.
  f->go = GoObject();
  f->go.freed_ms = 250;
  j = GoJson(*f);
  EXPECT_EQ(
      j["object"]["map"],
      json({{"address", nullptr}, {"type", nullptr}, {"array", nullptr}, {"state", nullptr}}));
  EXPECT_EQ(j["object"]["freed"], json({{"gc_cycle", nullptr}, {"ms", 250}}));
  EXPECT_FALSE(j["object"].contains("stack_moved"));
  // The clear of a Swiss map.
  f = MakeMapRelocation();
  f->go.array_kind = "group array";
  f->go.map_state = "cleared";
  f->stacks[1].name = "clear";
  j = GoJson(*f);
  EXPECT_EQ(j["object"]["map"]["array"], "group array");
  EXPECT_EQ(j["object"]["map"]["state"], "cleared");
  EXPECT_TRUE(j["stacks"].contains("clear"));
  EXPECT_FALSE(j["stacks"].contains("relocation"));
}

TEST(ReportJsonGoTest, GoHeapUseAfterFree) {
  auto f = MakeGoHeapUseAfterFree();
  json j = GoJson(*f);
  EXPECT_EQ(j["kind"], "go-heap-use-after-free");
  EXPECT_EQ(j["summary"],
            "SUMMARY: cgosan: go-heap-use-after-free /src/heap/kept.c:9 in fill_kept");
  EXPECT_EQ(j["signature"], "go-heap-use-after-free:fill_kept:main.main");
  EXPECT_EQ(j["access"], json({{"type", "write"}, {"size", 4}}));
  EXPECT_EQ(j["object"], json({{"region", "go-heap"},
                               {"base", "0xc000180000"},
                               {"size", 1048576},
                               {"offset", 16},
                               {"map", nullptr},
                               {"freed", {{"gc_cycle", 3}, {"ms", 120}}},
                               {"goroutine", nullptr}}));
  // Freed by its kind even when nothing is known about when.
  f->go = GoObject();
  j = GoJson(*f);
  EXPECT_EQ(j["object"]["freed"], json({{"gc_cycle", nullptr}, {"ms", nullptr}}));
}

TEST(ReportJsonGoTest, GoStackUseAfterFree) {
  auto f = MakeGoStackUseAfterFree();
  json j = GoJson(*f);
  EXPECT_EQ(j["kind"], "go-stack-use-after-free");
  EXPECT_EQ(j["signature"], "go-stack-use-after-free:read_saved:main.reader");
  EXPECT_EQ(j["object"], json({{"region", "go-stack"},
                               {"base", "0xc000110000"},
                               {"size", 32768},
                               {"offset", 32640},
                               {"map", nullptr},
                               {"freed", {{"gc_cycle", nullptr}, {"ms", nullptr}}},
                               {"goroutine", 7},
                               {"stack_moved", true}}));
  EXPECT_EQ(j["thread"]["goroutine"], 9);
  EXPECT_EQ(j["stacks"]["free"].size(), 3u);
  f->go.goroutine = -1;
  f->go.stack_moved = false;
  j = GoJson(*f);
  EXPECT_TRUE(j["object"]["goroutine"].is_null());
  EXPECT_EQ(j["object"]["stack_moved"], false);
}

// A map type name is the program's text: whatever bytes it holds, the JSON stays valid.
TEST(ReportJsonGoTest, MapTypeIsEscaped) {
  auto f = MakeMapRelocation();
  memset(f->go.map_type, 'z', sizeof(f->go.map_type));  // not NUL-terminated
  f->go.map_type[3] = '"';
  f->go.map_type[4] = '\x01';
  json j = GoJson(*f);
  std::string want(sizeof(f->go.map_type), 'z');
  want[3] = '"';
  want[4] = '\x01';
  EXPECT_EQ(j["object"]["map"]["type"], want);
}

}  // namespace
}  // namespace cgosan
