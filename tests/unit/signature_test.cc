// The signature and the SUMMARY line: the top user frames, skipping cgosan, allocator,
// libc, Go runtime and cgo glue frames by the one IsUserFrame rule.
#include <gtest/gtest.h>

#include <string>

#include "report/report_internal.h"
#include "report/report_writer.h"
#include "tests/unit/report_test_util.h"

namespace cgosan {
namespace {

using testing_util::AddFrames;
using testing_util::kCgosan;
using testing_util::kLdso;
using testing_util::kLibc;
using testing_util::kProg;
using testing_util::MakeFrame;

std::string Signature(const Finding& f) {
  InlineTextBuffer<4096> b;
  FormatSignature(f, &b);
  return b.data();
}

std::string Summary(const Finding& f) {
  InlineTextBuffer<4096> b;
  FormatSummary(f, &b);
  return b.data();
}

Frame Fn(const char* name, const char* module = kProg) {
  return MakeFrame(0x1000, name, nullptr, 0, module, 0x10);
}

TEST(SignatureTest, IsUserFrameRule) {
  EXPECT_TRUE(IsUserFrame(Fn("readkept")));
  EXPECT_TRUE(IsUserFrame(Fn("main.main")));
  EXPECT_TRUE(IsUserFrame(Fn("mylib::Thing::free_all()")));
  EXPECT_TRUE(IsUserFrame(Fn("freelist_pop")));
  EXPECT_TRUE(IsUserFrame(MakeFrame(1, nullptr, nullptr, 0, kProg, 2)));
  EXPECT_TRUE(IsUserFrame(MakeFrame(1, nullptr, nullptr, 0, nullptr, 0)));
  EXPECT_TRUE(IsUserFrame(Fn("runtimeish.main")));

  // cgosan, libc and the loader, whatever the function.
  EXPECT_FALSE(IsUserFrame(Fn("cgosan_free_hook", kCgosan)));
  EXPECT_FALSE(IsUserFrame(Fn("strlen", kLibc)));
  EXPECT_FALSE(IsUserFrame(Fn(nullptr, kLibc)));
  EXPECT_FALSE(IsUserFrame(Fn("_dl_start", kLdso)));
  // The allocator, in any module.
  for (const char* a : {"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
                        "aligned_alloc", "memalign", "valloc", "pvalloc", "malloc_usable_size",
                        "free@@GLIBC_2.2.5", "operator new(unsigned long)",
                        "operator delete(void*, unsigned long)", "operator new[](unsigned long)",
                        "_Znwm", "_ZdlPv", "_ZdaPv", "_Znam"}) {
    EXPECT_FALSE(IsUserFrame(Fn(a))) << a;
  }
  // The Go runtime.
  EXPECT_FALSE(IsUserFrame(Fn("runtime.cgocall")));
  EXPECT_FALSE(IsUserFrame(Fn("runtime.asmcgocall.abi0")));
  EXPECT_FALSE(IsUserFrame(Fn("runtime/cgo.(*Handle).Value")));
  // cgo glue, by flag or by name.
  Frame glue = Fn("whatever");
  glue.glue = true;
  EXPECT_FALSE(IsUserFrame(glue));
  for (const char* g : {"_cgo_0b49d6ed4a0b_Cfunc_free", "x_cgo_thread_start", "crosscall2",
                        "crosscall1", "main._Cfunc_free", "_Cfunc_GoString",
                        "_cgo_topofstack"}) {
    EXPECT_FALSE(IsUserFrame(Fn(g))) << g;
  }
}

TEST(SignatureTest, SkipsNoiseAndTakesTopThree) {
  Finding f;
  f.kind = FindingKind::kHeapUseAfterFree;
  Stack* s = f.AddStack("access");
  AddFrames(s, {
                   Fn("memcpy", kLibc),
                   Fn("cgosan_check", kCgosan),
                   Fn("free"),
                   Fn("readkept"),
                   Fn("_cgo_abc_Cfunc_readkept"),
                   Fn("runtime.asmcgocall"),
                   Fn("main._Cfunc_readkept"),
                   MakeFrame(0x401b2c, nullptr, nullptr, 0, "/opt/app/bin/prog", 0x1b2c),
                   Fn("main.main"),
                   Fn("main.after"),
               });
  EXPECT_EQ(Signature(f), "heap-use-after-free:readkept:prog+0x1b2c:main.main");
}

TEST(SignatureTest, FewerThanThreeAndNone) {
  Finding f;
  f.kind = FindingKind::kDoubleFree;
  EXPECT_EQ(Signature(f), "double-free");
  Stack* s = f.AddStack("access");
  AddFrames(s, {Fn("free"), Fn("main.only"), Fn("runtime.goexit")});
  EXPECT_EQ(Signature(f), "double-free:main.only");
  s->num_frames = 1;
  EXPECT_EQ(Signature(f), "double-free");
}

TEST(SignatureTest, UsesAccessStackElseFirst) {
  Finding f;
  f.kind = FindingKind::kInvalidFree;
  AddFrames(f.AddStack("alloc"), {Fn("allocator_site")});
  EXPECT_EQ(Signature(f), "invalid-free:allocator_site");
  AddFrames(f.AddStack("access"), {Fn("bad_free_site")});
  EXPECT_EQ(Signature(f), "invalid-free:bad_free_site");
}

// A static C function of the cgo preamble compiled into its _cgo_<hash>_Cfunc_ wrapper:
// the fault is in the user's code and is named as the user wrote it; elsewhere the wrapper
// is glue.
TEST(SignatureTest, FaultInsideACgoWrapperNamesTheCFunction) {
  Finding f;
  f.kind = FindingKind::kHeapUseAfterFree;
  Frame wrapper = Fn("_cgo_6fb0635e1d8d_Cfunc_read_first_byte");
  wrapper.glue = true;
  Frame go = MakeFrame(0x483f74, "main.main", "/src/main.go", 22, kProg, 0x83f74, FrameLang::kGo);
  AddFrames(f.AddStack("access"), {wrapper, go});
  EXPECT_EQ(Signature(f), "heap-use-after-free:read_first_byte:main.main");
  EXPECT_EQ(Summary(f), "SUMMARY: cgosan: heap-use-after-free (/tmp/prog+0x10) in read_first_byte");
  Finding g;
  g.kind = FindingKind::kDoubleFree;
  AddFrames(g.AddStack("free"), {wrapper, go});
  EXPECT_EQ(Signature(g), "double-free:main.main");
}

TEST(SignatureTest, SummaryUsesTheSameFrame) {
  Finding f;
  f.kind = FindingKind::kHeapUseAfterFree;
  Stack* s = f.AddStack("access");
  AddFrames(s, {Fn("memcpy", kLibc), MakeFrame(0x4a1b2c, "readkept", "main.c", 8, kProg, 0x1b2c)});
  EXPECT_EQ(Summary(f), "SUMMARY: cgosan: heap-use-after-free main.c:8 in readkept");
  s->frames[1].line = 0;
  EXPECT_EQ(Summary(f), "SUMMARY: cgosan: heap-use-after-free main.c in readkept");
  s->frames[1].file = nullptr;
  EXPECT_EQ(Summary(f), "SUMMARY: cgosan: heap-use-after-free (/tmp/prog+0x1b2c) in readkept");
  s->frames[1].function = nullptr;
  EXPECT_EQ(Summary(f), "SUMMARY: cgosan: heap-use-after-free (/tmp/prog+0x1b2c)");
  s->num_frames = 1;
  EXPECT_EQ(Summary(f), "SUMMARY: cgosan: heap-use-after-free");
}

}  // namespace
}  // namespace cgosan

namespace cgosan {
namespace {
using testing_util::MakeGoHeapUseAfterFree;
using testing_util::MakeGoStackUseAfterFree;
using testing_util::MakeMapRelocation;

// The Go kinds: the kind leads, then the access stack's user frames (the runtime frames of
// the relocation, alloc and free stacks never count), so the same code reaching different
// Go memory gives different signatures.
TEST(SignatureTest, GoKinds) {
  auto map = MakeMapRelocation();
  EXPECT_EQ(Signature(*map), "map-bucket-use-after-relocation:sum_buckets:main.main");
  EXPECT_EQ(Summary(*map),
            "SUMMARY: cgosan: map-bucket-use-after-relocation /src/map/sum.c:7 in sum_buckets");
  auto heap = MakeGoHeapUseAfterFree();
  EXPECT_EQ(Signature(*heap), "go-heap-use-after-free:fill_kept:main.main");
  auto stack = MakeGoStackUseAfterFree();
  EXPECT_EQ(Signature(*stack), "go-stack-use-after-free:read_saved:main.reader");
  EXPECT_EQ(Summary(*stack),
            "SUMMARY: cgosan: go-stack-use-after-free /src/stack/saved.c:14 in read_saved");

  // Same access stack, other kind: other signature.
  std::string as_heap = Signature(*heap);
  heap->kind = FindingKind::kMapBucketUseAfterRelocation;
  EXPECT_EQ(Signature(*heap), "map-bucket-use-after-relocation:fill_kept:main.main");
  EXPECT_NE(Signature(*heap), as_heap);

  // No access stack: the first stack, user frames only.
  map->stacks[0] = map->stacks[1];  // the relocation stack, named "relocation"
  map->num_stacks = 1;
  EXPECT_EQ(Signature(*map), "map-bucket-use-after-relocation:main.fill:main.main");
}

TEST(SignatureTest, FirstUserFrame) {
  auto map = MakeMapRelocation();
  const Frame* fr = FirstUserFrame(map->FindStack("relocation"));
  ASSERT_NE(fr, nullptr);
  EXPECT_STREQ(fr->function, "main.fill");
  EXPECT_EQ(FirstUserFrame(nullptr), nullptr);
  map->stacks[1].num_frames = 2;
  EXPECT_EQ(FirstUserFrame(&map->stacks[1]), nullptr);
}

}  // namespace
}  // namespace cgosan
