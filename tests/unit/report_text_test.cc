// The text report: exact ASan-shaped lines for each kind, thread naming, object position
// wording, and truncation that keeps whole prefixed lines.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "report/report_internal.h"
#include "report/report_writer.h"
#include "tests/unit/report_test_util.h"

namespace cgosan {
namespace {

using testing_util::AddFrames;
using testing_util::kLibc;
using testing_util::kProg;
using testing_util::MakeFrame;
using testing_util::MakeUseAfterFree;
using testing_util::Prefix;
using testing_util::SplitLines;

std::vector<std::string> TextLines(const Finding& f, size_t capacity = 256 * 1024) {
  std::vector<char> storage(capacity);
  TextBuffer out(storage.data(), storage.size());
  FormatTextReport(f, &out);
  EXPECT_FALSE(out.Truncated());
  std::string text(out.data(), out.size());
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  return SplitLines(text);
}

std::vector<std::string> Prefixed(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const std::string& l : lines) out.push_back(Prefix() + l);
  return out;
}

TEST(ReportTextTest, UseAfterFreeHasTheAsanShape) {
  auto f = MakeUseAfterFree();
  EXPECT_EQ(TextLines(*f),
            Prefixed({
                "ERROR: heap-use-after-free on address 0x7f3a1c001010 at pc 0x4a1b2c thread T0",
                "READ of size 1 at 0x7f3a1c001010 thread T0 (prog)",
                "    #0 0x4a1b2c in readkept main.c:8 (/tmp/prog+0x1b2c)",
                "    #1 0x4a1c00 in main main.c:20 (/tmp/prog+0x1c00)",
                "    #2 0x7f0000029d90 in __libc_start_call_main "
                "(/usr/lib/x86_64-linux-gnu/libc.so.6+0x29d90)",
                "",
                "0x7f3a1c001010 is located 0 bytes inside of 13-byte region "
                "[0x7f3a1c001010,0x7f3a1c00101d)",
                "freed by thread T0 here:",
                "    #0 0x4a1b00 in dropkept main.c:12 (/tmp/prog+0x1b00)",
                "    #1 0x4a1c10 in main main.c:21 (/tmp/prog+0x1c10)",
                "",
                "previously allocated by thread T4242 here:",
                "    #0 0x4a1a00 in keep (/tmp/prog+0x1a00)",
                "    #1 0x4a1a80 in <unknown> (/tmp/prog+0x1a80)",
                "",
                "SUMMARY: cgosan: heap-use-after-free main.c:8 in readkept",
            }));
}

TEST(ReportTextTest, OverflowAfterTheBlockWriteOfUnknownSize) {
  auto f = MakeUseAfterFree();
  f->kind = FindingKind::kHeapBufferOverflow;
  f->access = AccessType::kWrite;
  f->access_size = -1;
  f->address = f->object_base + 20;
  f->object_offset = 20;
  f->thread.tid = getpid() + 7;
  f->num_stacks = 1;  // access only
  std::vector<std::string> lines = TextLines(*f);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], Prefix() + "ERROR: heap-buffer-overflow on address 0x7f3a1c001024 at pc "
                                 "0x4a1b2c thread T" + std::to_string(getpid() + 7));
  EXPECT_EQ(lines[1], Prefix() + "WRITE of unknown size at 0x7f3a1c001024 thread T" +
                          std::to_string(getpid() + 7) + " (prog)");
  EXPECT_EQ(lines[lines.size() - 3], Prefix() + "0x7f3a1c001024 is located 7 bytes after 13-byte "
                                                "region [0x7f3a1c001010,0x7f3a1c00101d)");
  EXPECT_EQ(lines[lines.size() - 2], Prefix());
  EXPECT_EQ(lines.back(), Prefix() + "SUMMARY: cgosan: heap-buffer-overflow main.c:8 in readkept");
}

TEST(ReportTextTest, ObjectPositionWording) {
  auto f = MakeUseAfterFree();
  f->num_stacks = 0;
  auto object_line = [&](int64_t offset) {
    f->object_offset = offset;
    f->address = f->object_base + offset;
    for (const std::string& l : TextLines(*f)) {
      if (l.find(" is located ") != std::string::npos) return l.substr(Prefix().size());
    }
    return std::string();
  };
  EXPECT_EQ(object_line(12), "0x7f3a1c00101c is located 12 bytes inside of 13-byte region "
                             "[0x7f3a1c001010,0x7f3a1c00101d)");
  EXPECT_EQ(object_line(13), "0x7f3a1c00101d is located 0 bytes after 13-byte region "
                             "[0x7f3a1c001010,0x7f3a1c00101d)");
  EXPECT_EQ(object_line(-5), "0x7f3a1c00100b is located 5 bytes before 13-byte region "
                             "[0x7f3a1c001010,0x7f3a1c00101d)");
}

TEST(ReportTextTest, DoubleFreeHasNoAccessLine) {
  auto f = MakeUseAfterFree();
  f->kind = FindingKind::kDoubleFree;
  f->access = AccessType::kFree;
  f->access_size = -1;
  std::vector<std::string> lines = TextLines(*f);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], Prefix() + "ERROR: attempting double-free on 0x7f3a1c001010 in thread T0:");
  EXPECT_EQ(lines[1], Prefix() + "    #0 0x4a1b2c in readkept main.c:8 (/tmp/prog+0x1b2c)");
  for (const std::string& l : lines) EXPECT_EQ(l.find("READ"), std::string::npos) << l;
  EXPECT_EQ(lines.back(), Prefix() + "SUMMARY: cgosan: double-free main.c:8 in readkept");
}

TEST(ReportTextTest, InvalidFreeWithDetail) {
  Finding f;
  f.kind = FindingKind::kInvalidFree;
  f.has_address = true;
  f.address = 0x602000000015;
  f.access = AccessType::kFree;
  f.thread.tid = getpid();
  f.detail = "the address is 5 bytes inside of a 13-byte block";
  Stack* s = f.AddStack("access");
  s->tid = getpid();
  AddFrames(s, {MakeFrame(0x7f0000012345, "free", nullptr, 0, kLibc, 0x12345),
                MakeFrame(0x401234, nullptr, nullptr, 0, kProg, 0x1234)});
  EXPECT_EQ(TextLines(f),
            Prefixed({
                "ERROR: invalid-free: attempting free on address which was not malloc()-ed: 0x602000000015 in "
                "thread T0",
                "the address is 5 bytes inside of a 13-byte block",
                "    #0 0x7f0000012345 in free (/usr/lib/x86_64-linux-gnu/libc.so.6+0x12345)",
                "    #1 0x401234 in <unknown> (/tmp/prog+0x1234)",
                "",
                "SUMMARY: cgosan: invalid-free (/tmp/prog+0x1234)",
            }));
}

TEST(ReportTextTest, OtherStacksAndEmptyStacks) {
  Finding f;
  f.kind = FindingKind::kHeapUseAfterFree;
  f.has_address = true;
  f.address = 0x1000;
  f.access = AccessType::kRead;
  f.access_size = 8;
  f.thread.tid = 99;
  f.AddStack("access")->tid = 99;
  Stack* reloc = f.AddStack("relocation");
  reloc->tid = 5;
  AddFrames(reloc, {MakeFrame(0x401000, "main.grow", "/src/main.go", 30, kProg, 0x1000,
                              FrameLang::kGo)});
  f.AddStack("free");  // tid unknown
  EXPECT_EQ(TextLines(f),
            Prefixed({
                "ERROR: heap-use-after-free on address 0x1000 thread T99",
                "READ of size 8 at 0x1000 thread T99",
                "    <empty stack>",
                "",
                "relocation stack of thread T5:",
                "    #0 0x401000 in main.grow /src/main.go:30 (/tmp/prog+0x1000)",
                "",
                "freed by thread T? here:",
                "    <empty stack>",
                "",
                "SUMMARY: cgosan: heap-use-after-free",
            }));
}

TEST(ReportTextTest, ControlBytesCannotBreakLines) {
  auto f = MakeUseAfterFree();
  f->stacks[0].frames[0].function = "evil\nname\x1b[2J";
  f->stacks[0].frames[0].file = "a\rb.c";
  strcpy(f->thread.name, "t\nx");
  f->detail = "two\nlines";
  std::vector<std::string> lines = TextLines(*f);
  for (const std::string& l : lines) EXPECT_EQ(l.rfind(Prefix(), 0), 0u) << l;
  EXPECT_EQ(lines[1], Prefix() + "two?lines");
  EXPECT_EQ(lines[2], Prefix() + "READ of size 1 at 0x7f3a1c001010 thread T0 (t?x)");
  EXPECT_EQ(lines[3], Prefix() + "    #0 0x4a1b2c in evil?name?[2J a?b.c:8 (/tmp/prog+0x1b2c)");
  EXPECT_EQ(lines.back(), Prefix() + "SUMMARY: cgosan: heap-use-after-free a?b.c:8 in evil?name?[2J");
}

TEST(ReportTextTest, ThreadIds) {
  InlineTextBuffer<32> b;
  AppendThreadId(1234, 1234, &b);
  EXPECT_STREQ(b.data(), "T0");
  b.Clear();
  AppendThreadId(1240, 1234, &b);
  EXPECT_STREQ(b.data(), "T1240");
  b.Clear();
  AppendThreadId(0, 1234, &b);
  EXPECT_STREQ(b.data(), "T?");
}

std::unique_ptr<Finding> MakeHugeFinding() {
  auto f = MakeUseAfterFree();
  f->num_stacks = 0;
  static std::string long_name(3000, 'x');
  const char* names[] = {"access", "free", "alloc", "relocation", "holder_alloc", "call"};
  for (const char* name : names) {
    Stack* s = f->AddStack(name);
    s->tid = getpid();
    for (int i = 0; i < kMaxFramesPerStack; ++i) {
      s->frames[s->num_frames++] =
          MakeFrame(0x400000 + i, long_name.c_str(), "/src/very/long/path/file.c", i + 1,
                    kProg, static_cast<uintptr_t>(i));
    }
  }
  return f;
}

TEST(ReportTextTest, TruncatedReportKeepsWholeLinesAndSummary) {
  auto f = MakeHugeFinding();
  std::vector<char> storage(256 * 1024);
  TextBuffer out(storage.data(), storage.size());
  FormatTextReport(*f, &out);
  std::string text(out.data(), out.size());
  ASSERT_EQ(text.back(), '\n');
  std::vector<std::string> lines = SplitLines(text);
  for (const std::string& l : lines) ASSERT_EQ(l.rfind(Prefix(), 0), 0u) << l;
  // Fewer frames per stack, said so, and the summary survives.
  EXPECT_NE(text.find("more frames not shown"), std::string::npos);
  EXPECT_EQ(lines.back().rfind(Prefix() + "SUMMARY: cgosan: heap-use-after-free", 0), 0u);
}

TEST(ReportTextTest, TinyBufferStillEndsWithACompleteLine) {
  auto f = MakeHugeFinding();
  std::vector<char> storage(2048);
  TextBuffer out(storage.data(), storage.size());
  FormatTextReport(*f, &out);
  std::string text(out.data(), out.size());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::vector<std::string> lines = SplitLines(text);
  for (const std::string& l : lines) EXPECT_EQ(l.rfind(Prefix(), 0), 0u) << l;
  EXPECT_EQ(lines.back(), Prefix() + "(report truncated)");
}

TEST(ReportTextTest, PrintLineWritesOnePrefixedLine) {
  testing_util::StderrCapture capture;
  PrintLine("hello there");
  PrintLine(std::string(10000, 'y').c_str());
  std::string got = capture.Take();
  EXPECT_EQ(got, Prefix() + "hello there\n" + Prefix() + std::string(10000, 'y') + "\n");
}

}  // namespace
}  // namespace cgosan

namespace cgosan {
namespace {
using namespace testing_util;

// cgo glue between C and Go is one line in text ("C.free called from main.main main.go:21"),
// except the innermost frame, which is where it happened; JSON keeps every frame.
TEST(ReportTextTest, CgoGlueIsFoldedIntoOneLine) {
  auto f = MakeUseAfterFree();
  Stack* access = &f->stacks[0];
  access->num_frames = 0;
  AddFrames(access, {
      MakeFrame(0x4840c2, "_cgo_6fb0635e1d8d_Cfunc_read_first_byte", nullptr, 0, kProg, 0x840c2,
                FrameLang::kC, true),
      MakeFrame(0x45f6c4, "runtime.asmcgocall", nullptr, 0, kProg, 0x5f6c4, FrameLang::kGo, true),
      MakeFrame(0x404f65, "runtime.cgocall", nullptr, 0, kProg, 0x4f65, FrameLang::kGo, true),
      MakeFrame(0x483ce8, "main._Cfunc_read_first_byte", nullptr, 0, kProg, 0x83ce8,
                FrameLang::kGo, true),
      MakeFrame(0x483f74, "main.main", "/src/main.go", 22, kProg, 0x83f74, FrameLang::kGo),
  });
  Stack* freed = f->AddStack("free");
  freed->num_frames = 0;
  AddFrames(freed, {
      MakeFrame(0x45f6c4, "runtime.asmcgocall", nullptr, 0, kProg, 0x5f6c4, FrameLang::kGo, true),
      MakeFrame(0x404f65, "runtime.cgocall", nullptr, 0, kProg, 0x4f65, FrameLang::kGo, true),
      MakeFrame(0x483c65, "main._Cfunc_free", nullptr, 0, kProg, 0x83c65, FrameLang::kGo, true),
      MakeFrame(0x483eb3, "main.main", "/src/main.go", 21, kProg, 0x83eb3, FrameLang::kGo),
  });
  std::vector<std::string> lines = TextLines(*f);
  auto has = [&](const std::string& want) {
    for (const std::string& l : lines) {
      if (l == Prefix() + want) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("    #0 0x4840c2 in _cgo_6fb0635e1d8d_Cfunc_read_first_byte (/tmp/prog+0x840c2)"));
  EXPECT_TRUE(has("    #1..3 C.read_first_byte called from main.main /src/main.go:22"));
  EXPECT_TRUE(has("    #4 0x483f74 in main.main /src/main.go:22 (/tmp/prog+0x83f74)"));
  EXPECT_TRUE(has("    #0..2 C.free called from main.main /src/main.go:21"));
  for (const std::string& l : lines) EXPECT_EQ(l.find("runtime.cgocall"), std::string::npos) << l;
}

}  // namespace
}  // namespace cgosan

namespace cgosan {
namespace {
using namespace testing_util;

std::vector<std::string> GoTextLines(const Finding& f) {
  std::vector<char> storage(256 * 1024);
  TextBuffer out(storage.data(), storage.size());
  FormatTextReport(f, &out);
  EXPECT_FALSE(out.Truncated());
  return SplitLines(std::string(out.data(), out.size()));
}

std::string ObjectLine(const Finding& f) {
  for (const std::string& l : GoTextLines(f)) {
    std::string body = l.substr(Prefix().size());
    if (body.rfind("0x", 0) == 0 && body.find(" is ") != std::string::npos) return body;
  }
  return "<no object line>";
}

// The Go kinds keep the ASan shape; the object line says what the Go memory was and the
// stack titles what happened to it.
TEST(ReportTextGoTest, MapBucketUseAfterRelocation) {
  auto f = MakeMapRelocation();
  std::vector<std::string> want = {
      "ERROR: map-bucket-use-after-relocation on address 0xc0000ea008 at pc 0x4a1b2c thread T0",
      "READ of size 8 at 0xc0000ea008 thread T0 (prog) goroutine 1",
      "during the cgo call C.sum_buckets made by main.main /src/map/main.go:40",
      "    #0 0x4a1b2c in sum_buckets /src/map/sum.c:7 (/tmp/prog+0x1b2c)",
      "    #1..4 C.sum_buckets called from main.main /src/map/main.go:40",
      "    #5 0x483f74 in main.main /src/map/main.go:40 (/tmp/prog+0x83f74)",
      "",
      "0xc0000ea008 is 8 bytes inside a 40960-byte bucket array of map[int]int (map at "
      "0xc000048e58), relocated by growth at main.go:33",
      "relocated by growth here (goroutine 1, thread T0):",
      "    #0 0x40f0a0 in runtime.hashGrow /usr/lib/go/src/runtime/map.go:1060 (/tmp/prog+0xf0a0)",
      "    #1 0x40d1b0 in runtime.mapassign_fast64 /usr/lib/go/src/runtime/map_fast64.go:113 "
      "(/tmp/prog+0xd1b0)",
      "    #2 0x483e10 in main.fill /src/map/main.go:33 (/tmp/prog+0x83e10)",
      "    #3 0x483f20 in main.main /src/map/main.go:38 (/tmp/prog+0x83f20)",
      "",
      "bucket array allocated here:",
      "    #0 0x40e000 in runtime.makeBucketArray /usr/lib/go/src/runtime/map.go:347 "
      "(/tmp/prog+0xe000)",
      "    #1 0x483e90 in main.main /src/map/main.go:30 (/tmp/prog+0x83e90)",
      "",
      "SUMMARY: cgosan: map-bucket-use-after-relocation /src/map/sum.c:7 in sum_buckets",
  };
  std::vector<std::string> prefixed;
  for (const std::string& l : want) prefixed.push_back(Prefix() + l);
  EXPECT_EQ(GoTextLines(*f), prefixed);
}

TEST(ReportTextGoTest, MapObjectLineVariants) {
  auto f = MakeMapRelocation();
  // A Swiss map's group array, cleared by `clear(m)` at main.go:35.
  f->go.array_kind = "group array";
  f->go.map_state = "cleared";
  f->stacks[1].name = "clear";
  f->stacks[1].frames[2].line = 35;
  EXPECT_EQ(ObjectLine(*f),
            "0xc0000ea008 is 8 bytes inside a 40960-byte group array of map[int]int (map at "
            "0xc000048e58), zeroed and reused by a clear of the map at main.go:35");
  std::vector<std::string> lines = GoTextLines(*f);
  EXPECT_NE(
      std::find(lines.begin(), lines.end(), Prefix() + "cleared here (goroutine 1, thread T0):"),
      lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), Prefix() + "group array allocated here:"),
            lines.end());

  // Nothing known about the map, and a relocation stack without a user frame: left out.
  f = MakeMapRelocation();
  f->go = GoObject();
  f->go.map_state = "relocated";
  f->stacks[1].num_frames = 2;  // runtime frames only
  EXPECT_EQ(ObjectLine(*f),
            "0xc0000ea008 is 8 bytes inside a 40960-byte array of a map, relocated by growth");
  // The user frame has no file: its function names the site. The free, when seen, is told.
  f->stacks[1].num_frames = 3;
  f->stacks[1].frames[2].file = nullptr;
  f->go.map_state = "relocating";
  f->go.gc_cycle = 4;
  EXPECT_EQ(ObjectLine(*f),
            "0xc0000ea008 is 8 bytes inside a 40960-byte array of a map, being relocated by "
            "growth in main.fill, freed by the GC (cycle 4)");
  f->go.map_state = "live";
  f->go.gc_cycle = 0;
  f->go.freed_ms = 7;
  EXPECT_EQ(ObjectLine(*f),
            "0xc0000ea008 is 8 bytes inside a 40960-byte array of a map, freed by the GC (7 ms "
            "after start)");
  // No relocation stack at all; an address past the array.
  f = MakeMapRelocation();
  f->num_stacks = 1;
  f->address = f->object_base + 40960 + 16;
  f->object_offset = 40960 + 16;
  EXPECT_EQ(ObjectLine(*f),
            "0xc0000f4010 is 16 bytes after a 40960-byte bucket array of map[int]int (map at "
            "0xc000048e58), relocated by growth");
}

TEST(ReportTextGoTest, GoHeapUseAfterFree) {
  auto f = MakeGoHeapUseAfterFree();
  std::vector<std::string> lines = GoTextLines(*f);
  std::vector<std::string> want = {
      "ERROR: go-heap-use-after-free on address 0xc000180010 at pc 0x4a1c40 thread T0",
      "WRITE of size 4 at 0xc000180010 thread T0 goroutine 1",
      "    #0 0x4a1c40 in fill_kept /src/heap/kept.c:9 (/tmp/prog+0x1c40)",
      "    #1 0x483f74 in main.main /src/heap/main.go:27 (/tmp/prog+0x83f74)",
      "",
      "0xc000180010 is 16 bytes inside a 1048576-byte Go heap range freed by the GC (cycle 3, "
      "120 ms after start)",
      "",
      "SUMMARY: cgosan: go-heap-use-after-free /src/heap/kept.c:9 in fill_kept",
  };
  std::vector<std::string> prefixed;
  for (const std::string& l : want) prefixed.push_back(Prefix() + l);
  EXPECT_EQ(lines, prefixed);
  f->go.gc_cycle = 0;
  EXPECT_EQ(ObjectLine(*f),
            "0xc000180010 is 16 bytes inside a 1048576-byte Go heap range freed "
            "by the GC (120 ms after start)");
  f->go.freed_ms = -1;
  EXPECT_EQ(ObjectLine(*f),
            "0xc000180010 is 16 bytes inside a 1048576-byte Go heap range freed by the GC");
  f->object_size = 0;  // size unknown
  EXPECT_EQ(ObjectLine(*f), "0xc000180010 is 16 bytes inside a Go heap range freed by the GC");
}

TEST(ReportTextGoTest, GoStackUseAfterFree) {
  auto f = MakeGoStackUseAfterFree();
  std::string t = "T" + std::to_string(getpid() + 3);
  std::vector<std::string> want = {
      "ERROR: go-stack-use-after-free on address 0xc000117f80 at pc 0x4a1d00 thread " + t,
      "READ of size 8 at 0xc000117f80 thread " + t + " goroutine 9",
      "    #0 0x4a1d00 in read_saved /src/stack/saved.c:14 (/tmp/prog+0x1d00)",
      "    #1 0x483f80 in main.reader /src/stack/main.go:52 (/tmp/prog+0x83f80)",
      "",
      "0xc000117f80 is 32640 bytes inside a 32768-byte goroutine stack of goroutine 7, freed "
      "when the stack grew and was moved",
      "freed here (goroutine 7):",
      "    #0 0x44a000 in runtime.stackfree /usr/lib/go/src/runtime/stack.go:500 "
      "(/tmp/prog+0x4a000)",
      "    #1 0x44b000 in runtime.copystack /usr/lib/go/src/runtime/stack.go:930 "
      "(/tmp/prog+0x4b000)",
      "    #2 0x483d00 in main.deep /src/stack/main.go:44 (/tmp/prog+0x83d00)",
      "",
      "SUMMARY: cgosan: go-stack-use-after-free /src/stack/saved.c:14 in read_saved",
  };
  std::vector<std::string> prefixed;
  for (const std::string& l : want) prefixed.push_back(Prefix() + l);
  EXPECT_EQ(GoTextLines(*f), prefixed);

  f->go.goroutine = -1;
  f->go.stack_moved = false;
  f->go.gc_cycle = 2;
  f->go.freed_ms = 15;
  EXPECT_EQ(ObjectLine(*f),
            "0xc000117f80 is 32640 bytes inside a 32768-byte goroutine stack of a "
            "goroutine, freed after the goroutine ended (GC cycle 2, 15 ms after "
            "start)");
  f->stacks[1].goroutine = -1;
  f->stacks[1].tid = getpid();
  std::vector<std::string> lines = GoTextLines(*f);
  EXPECT_NE(std::find(lines.begin(), lines.end(), Prefix() + "freed here (thread T0):"),
            lines.end());
  f->stacks[1].tid = 0;
  lines = GoTextLines(*f);
  EXPECT_NE(std::find(lines.begin(), lines.end(), Prefix() + "freed here:"), lines.end());
}

// A map type name is the program's text: a control byte in it cannot break the line.
TEST(ReportTextGoTest, ControlBytesInTheMapTypeCannotBreakLines) {
  auto f = MakeMapRelocation();
  strcpy(f->go.map_type, "map[int]\nint");
  EXPECT_EQ(ObjectLine(*f),
            "0xc0000ea008 is 8 bytes inside a 40960-byte bucket array of map[int]?int (map at "
            "0xc000048e58), relocated by growth at main.go:33");
}

}  // namespace
}  // namespace cgosan
