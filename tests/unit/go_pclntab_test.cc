// Go binary reading tests: Go programs (cgo and pure Go; exe, PIE, stripped) are built with
// each installed toolchain during the test, then located with LoadGoBinaryFromFile and
// checked against their own .symtab and source: names, file:line, inlined frames, SP deltas.
// Also corrupts and truncates a real table (behind a guard page) to show queries stay inside.
#include <elf.h>
#include <gtest/gtest.h>

#include "tests/unit/command_test_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "report/go/go_binary.h"
#include "report/go/go_buildinfo.h"
#include "report/go/pclntab.h"

namespace cgosan {
namespace {

using testing_util::RunCommand;
using testing_util::TempDir;

bool WriteFile(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  fputs(text.c_str(), f);
  return fclose(f) == 0;
}

// main.work's `func` line is 10 and the inlined call of main.add is on line 13.
const char kCgoMain[] =
    "package main\n"
    "\n"
    "// #include <stdlib.h>\n"
    "import \"C\"\n"
    "import \"fmt\"\n"
    "\n"
    "func add(a, b int) int { return a + b }\n"
    "\n"
    "//go:noinline\n"
    "func work(n int) int {\n"
    "\ts := 0\n"
    "\tfor i := 0; i < n; i++ {\n"
    "\t\ts = add(s, i)\n"
    "\t}\n"
    "\treturn s\n"
    "}\n"
    "\n"
    "func main() {\n"
    "\tp := C.malloc(10)\n"
    "\tC.free(p)\n"
    "\tfmt.Println(work(10))\n"
    "}\n";

const char kPureMain[] =
    "package main\n"
    "\n"
    "import \"fmt\"\n"
    "\n"
    "func add(a, b int) int { return a + b }\n"
    "\n"
    "//go:noinline\n"
    "func pad() {}\n"
    "\n"
    "//go:noinline\n"
    "func work(n int) int {\n"
    "\ts := 0\n"
    "\tfor i := 0; i < n; i++ {\n"
    "\t\ts = add(s, i)\n"
    "\t}\n"
    "\treturn s\n"
    "}\n"
    "\n"
    "func main() { pad(); fmt.Println(work(10)) }\n";

using Toolchain = testing_util::GoToolchain;

// Builds `source` as module example.com/t; returns the binary path or "".
std::string Build(const Toolchain& tc, const std::string& dir, const char* source,
                  const std::string& flags, const std::string& name) {
  RunCommand("mkdir -p '" + dir + "'");
  if (!WriteFile(dir + "/main.go", source) ||
      !WriteFile(dir + "/go.mod", "module example.com/t\n\ngo 1.19\n"))
    return "";
  std::string out = dir + "/" + name;
  // A persistent build cache (the build tree's) keeps reruns fast: Go 1.21+ ship no
  // prebuilt standard library.
  const char* build_dir = getenv("CGOSAN_BUILD_DIR");
  std::string cache = build_dir ? std::string(build_dir) + "/.gocache" : dir + "/../gocache";
  std::string log = RunCommand("cd '" + dir + "' && " + tc.env + "GOCACHE='" + cache + "' " +
                               tc.go + " build " + flags + " -o '" + out + "' . 2>&1");
  if (access(out.c_str(), X_OK) != 0) {
    ADD_FAILURE() << "go build failed: " << log;
    return "";
  }
  return out;
}

struct Sym {
  std::string name;
  uint64_t value;
};

// STT_FUNC symbols of .symtab, straight from the file (independent of the code under test).
std::vector<Sym> FuncSymbols(const std::string& path) {
  std::vector<Sym> out;
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  std::vector<char> d;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) d.insert(d.end(), buf, buf + n);
  fclose(f);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(d.data());
  const auto* sh = reinterpret_cast<const Elf64_Shdr*>(d.data() + eh->e_shoff);
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB) continue;
    const char* str = d.data() + sh[sh[i].sh_link].sh_offset;
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(d.data() + sh[i].sh_offset);
    for (size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
      if (ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC || syms[k].st_shndx == SHN_UNDEF) continue;
      out.push_back({str + syms[k].st_name, syms[k].st_value});
    }
  }
  return out;
}

bool LooksGo(const std::string& n) {
  if (n.find('.') == std::string::npos) return false;
  // Section markers that alias the first/after-last function, not functions of their own.
  if (n == "runtime.text" || n == "runtime.etext") return false;
  for (const char* p : {"_cgo_", "x_cgo", "type:", "type.", "go:", "go."})
    if (n.rfind(p, 0) == 0) return false;
  return true;
}

std::string StripAbi(std::string n) {
  for (const char* s : {".abi0", ".abiinternal"}) {
    size_t l = strlen(s);
    if (n.size() > l && n.compare(n.size() - l, l, s) == 0) n.resize(n.size() - l);
  }
  return n;
}

bool EndsWith(const char* s, const char* suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

// Finds a function by name through the table alone (stripped binaries).
bool FindByName(const Pclntab& t, const char* name, GoFuncInfo* f) {
  for (uint64_t i = 0; i < t.nfunc(); i++) {
    if (!t.FindFuncByIndex(i, f)) continue;
    const char* n = t.FuncName(*f);
    if (n != nullptr && strcmp(n, name) == 0) return true;
  }
  return false;
}

void CheckAgainstSymtab(const std::string& path, const Pclntab& t) {
  std::vector<Sym> syms = FuncSymbols(path);
  int checked = 0, same = 0, plausible = 0;
  std::string first_bad;
  for (const Sym& s : syms) {
    if (!LooksGo(s.name)) continue;
    checked++;
    GoFuncInfo f;
    if (!t.FindFunc(s.value, &f)) {
      if (first_bad.empty()) first_bad = s.name + " (not found)";
      continue;
    }
    const char* n = t.FuncName(f);
    if (n != nullptr && StripAbi(s.name) == n && f.entry == s.value) {
      same++;
    } else if (first_bad.empty()) {
      first_bad = s.name + " -> " + (n ? n : "(null)");
    }
    const char* file;
    int line;
    if (t.FileLine(f, s.value, &file, &line) && line > 0 &&
        (EndsWith(file, ".go") || EndsWith(file, ".s")))
      plausible++;
    EXPECT_EQ(t.SpDelta(f, f.entry), 0) << s.name;
  }
  ASSERT_GT(checked, 500);
  EXPECT_EQ(same, checked) << "first mismatch: " << first_bad;
  EXPECT_GE(plausible * 100, checked * 95) << plausible << " of " << checked;
}

void CheckWorkAndInline(const Pclntab& t, int func_line, int call_line) {
  GoFuncInfo f;
  ASSERT_TRUE(FindByName(t, "main.work", &f));
  const char* file;
  int line;
  ASSERT_TRUE(t.FileLine(f, f.entry, &file, &line));
  EXPECT_TRUE(EndsWith(file, "/main.go")) << file;
  // 1.20+ records the `func` line (startLine); 1.22+ attributes the entry instruction to the
  // first statement, so only 1.19's entry line is the declaration.
  if (t.magic() == Pclntab::kMagic120)
    EXPECT_EQ(f.start_line, func_line);
  else
    EXPECT_NEAR(line, func_line, 1);
  EXPECT_EQ(t.SpDelta(f, f.entry), 0);
  bool inlined_seen = false;
  for (uintptr_t pc = f.entry; pc < f.end && !inlined_seen; pc++) {
    GoFrame frames[8];
    int n = t.ExpandInline(pc, frames, 8);
    ASSERT_GE(n, 1);
    EXPECT_STREQ(frames[n - 1].function, "main.work");
    EXPECT_FALSE(frames[n - 1].inlined);
    if (n == 2 && frames[0].function != nullptr && strcmp(frames[0].function, "main.add") == 0) {
      inlined_seen = true;
      EXPECT_TRUE(frames[0].inlined);
      EXPECT_TRUE(EndsWith(frames[0].file, "/main.go"));
      EXPECT_EQ(frames[1].line, call_line);
    }
  }
  EXPECT_TRUE(inlined_seen) << "no pc of main.work expands to [main.add, main.work]";
}

class GoPclntabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    toolchains_ = testing_util::GoToolchains();
    if (toolchains_.empty()) GTEST_SKIP() << "no Go toolchain installed";
    if (toolchains_.size() == 1)
      printf("[   INFO   ] only the default toolchain; no Go 1.21+ under "
             "$CGOSAN_BUILD_DIR/go-toolchains (run scripts/go-toolchains)\n");
  }
  std::vector<Toolchain> toolchains_;
  TempDir tmp_{"cgosan_go_pclntab_test"};
};

TEST_F(GoPclntabTest, ParseGoVersion) {
  int a, b;
  ASSERT_TRUE(ParseGoVersion("go1.19.8", &a, &b));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 19);
  ASSERT_TRUE(ParseGoVersion("go1.24rc1", &a, &b));
  EXPECT_EQ(b, 24);
  EXPECT_FALSE(ParseGoVersion("gox", &a, &b));
}

TEST_F(GoPclntabTest, EveryVariantOfEveryToolchain) {
  struct Variant {
    const char* name;
    const char* source;
    const char* flags;
    bool stripped;
    int work_line, call_line;
  } variants[] = {
      {"cgo-exe", kCgoMain, "", false, 10, 13},
      {"cgo-pie", kCgoMain, "-buildmode=pie", false, 10, 13},
      {"cgo-stripped-pie", kCgoMain, "-buildmode=pie -ldflags='-s -w'", true, 10, 13},
      {"cgo-stripped-exe", kCgoMain, "-ldflags='-s -w'", true, 10, 13},
      {"pure-exe", kPureMain, "", false, 11, 14},
      {"pure-stripped", kPureMain, "-ldflags='-s -w'", true, 11, 14},
  };
  for (const Toolchain& tc : toolchains_) {
    std::string want = RunCommand(tc.env + tc.go + " env GOVERSION");
    while (!want.empty() && (want.back() == '\n' || want.back() == ' ')) want.pop_back();
    for (const Variant& v : variants) {
      SCOPED_TRACE(tc.label + " " + v.name);
      std::string dir = tmp_.path() + "/" + tc.label + "-" + v.name;
      std::string bin = Build(tc, dir, v.source, v.flags, "prog");
      if (bin.empty()) continue;
      GoBinaryInfo info;
      ASSERT_TRUE(LoadGoBinaryFromFile(bin.c_str(), 0, &info));
      printf("[   INFO   ] %s %s: %s minor %d magic %#x pclntab via %s, %zu bytes%s%s\n",
             tc.label.c_str(), v.name, info.version, info.go_minor, info.magic,
             info.pclntab_source, info.pclntab_size, info.gofunc ? ", go:func found" : "",
             info.goexperiment[0] ? info.goexperiment : "");
      EXPECT_EQ(want, info.version);
      EXPECT_EQ(info.has_symtab, !v.stripped);
      EXPECT_EQ(info.magic, info.go_minor >= 20 ? Pclntab::kMagic120 : Pclntab::kMagic118);
      Pclntab t;
      ASSERT_TRUE(InitPclntab(info, &t));
      if (!v.stripped) CheckAgainstSymtab(bin, t);
      GoFuncInfo f;
      ASSERT_TRUE(FindByName(t, "main.main", &f));
      GoFuncInfo g;
      ASSERT_TRUE(t.FindFunc(f.entry + 1, &g));
      EXPECT_STREQ(t.FuncName(g), "main.main");
      CheckWorkAndInline(t, v.work_line, v.call_line);
      UnloadGoBinaryFile(&info);
    }
  }
}

// The table behind a PROT_NONE page: any read past the end faults.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t n) {
    size_t page = 4096, pages = (n + page - 1) / page + 1;
    total_ = pages * page;
    base_ = static_cast<uint8_t*>(
        mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    mprotect(base_ + total_ - page, page, PROT_NONE);
    data_ = base_ + total_ - page - n;
  }
  ~GuardedBuffer() { munmap(base_, total_); }
  uint8_t* data() { return data_; }

 private:
  uint8_t* base_;
  uint8_t* data_;
  size_t total_;
};

TEST_F(GoPclntabTest, CorruptAndTruncatedTablesNeverCrash) {
  const Toolchain& tc = toolchains_[0];
  std::string bin = Build(tc, tmp_.path() + "/corrupt", kPureMain, "", "prog");
  ASSERT_FALSE(bin.empty());
  GoBinaryInfo info;
  ASSERT_TRUE(LoadGoBinaryFromFile(bin.c_str(), 0, &info));
  ASSERT_NE(info.gofunc, 0u);
  const uint8_t* orig = reinterpret_cast<const uint8_t*>(info.pclntab);
  const uint8_t* orig_gofunc = reinterpret_cast<const uint8_t*>(info.gofunc);
  size_t gofunc_size = info.gofunc_size < (1u << 20) ? info.gofunc_size : (1u << 20);
  std::mt19937_64 rng(12345);
  Pclntab good;
  ASSERT_TRUE(InitPclntab(info, &good));
  GoFuncInfo last;
  ASSERT_TRUE(good.FindFuncByIndex(good.nfunc() - 1, &last));
  uintptr_t text_end = last.end;
  int inits = 0, answers = 0;
  for (int iter = 0; iter < 300; iter++) {
    size_t size = iter < 100 ? rng() % info.pclntab_size : info.pclntab_size;
    GuardedBuffer buf(size), gbuf(gofunc_size);
    memcpy(buf.data(), orig, size);
    memcpy(gbuf.data(), orig_gofunc, gofunc_size);
    int flips = iter < 100 ? 0 : 1 + static_cast<int>(rng() % 64);
    for (int k = 0; k < flips && size > 0; k++) {
      // Mostly the header and the functab/_func area, where damage matters most.
      size_t at = (k % 4 == 0) ? rng() % (size < 80 ? size : 80) : rng() % size;
      buf.data()[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      if (gofunc_size) gbuf.data()[rng() % gofunc_size] ^= static_cast<uint8_t>(rng());
    }
    Pclntab t;
    if (!t.Init(buf.data(), size, info.magic, info.text_start)) continue;
    t.SetFuncData(gbuf.data(), gofunc_size);
    inits++;
    for (int q = 0; q < 2000; q++) {
      uintptr_t pc = info.text_start + rng() % (text_end - info.text_start + 64);
      GoFuncInfo f;
      if (t.FindFunc(pc, &f)) {
        answers++;
        const char* file;
        int line;
        t.FuncName(f);
        t.FileLine(f, pc, &file, &line);
        t.SpDelta(f, pc);
      }
      GoFrame frames[16];
      int n = t.ExpandInline(pc, frames, 16);
      EXPECT_LE(n, 16);
    }
    Pclntab::ComputeExtent(buf.data(), size);
  }
  printf("[   INFO   ] %d corrupt tables accepted by Init, %d lookups answered\n", inits, answers);
  UnloadGoBinaryFile(&info);
}

}  // namespace
}  // namespace cgosan
