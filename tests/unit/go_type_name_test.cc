// Go type names decoded from real processes: for each installed toolchain a cgo program
// (exe, PIE, and for Go 1.24 also the classic maps of GOEXPERIMENT=noswissmap) prints the
// type word of several values and what %T says, then waits. The test reads the running
// process's firstmoduledata and type data through /proc/<pid>/mem, checks the per-version
// moduledata.types offset against the binary's runtime.types/etypes symbols, and decodes
// every type word from a copy placed against a guard page. Synthetic descriptors cover the
// bounds checks and the cut of long names.
#include "report/go/go_type_name.h"

#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "report/go/go_runtime.h"
#include "report/go/runtime_layout.h"
#include "tests/unit/command_test_util.h"

namespace cgosan {
namespace {

using testing_util::RunCommand;
using testing_util::TempDir;

// Every line "<hex type word> <%T>", then READY; exits when stdin closes.
const char kProgram[] =
    "package main\n"
    "\n"
    "// #include <stdlib.h>\n"
    "import \"C\"\n"
    "\n"
    "import (\n"
    "\t\"fmt\"\n"
    "\t\"os\"\n"
    "\t\"unsafe\"\n"
    ")\n"
    "\n"
    "type T struct{ a, b int }\n"
    "type K [2]int16\n"
    "type Named map[string]*T\n"
    "\n"
    "type Long = [4]struct {\n"
    "\tAlpha, Beta, Gamma, Delta, Epsilon, Zeta, Eta, Theta, Iota, Kappa int\n"
    "\tLambda, Mu, Nu, Xi, Omicron, Pi, Rho, Sigma, Tau, Upsilon  string\n"
    "}\n"
    "\n"
    "func typeWord(v any) uintptr { return uintptr((*[2]unsafe.Pointer)(unsafe.Pointer(&v))[0]) }\n"
    "\n"
    "func main() {\n"
    "\tC.free(C.malloc(1))\n"
    "\tvalues := []any{\n"
    "\t\tmap[int]int{}, map[string][]byte{}, map[int][256]byte{}, &T{}, T{},\n"
    "\t\tmap[K]*T{}, Named{}, map[string]struct{}{}, []string{}, make(chan int),\n"
    "\t\tfunc(int) error { return nil }, map[Long]int{},\n"
    "\t\tmap[struct {\n"
    "\t\t\tA int `json:\"a\"`\n"
    "\t\t}]int{},\n"
    "\t}\n"
    "\tfor _, v := range values {\n"
    "\t\tfmt.Printf(\"%x %T\\n\", typeWord(v), v)\n"
    "\t}\n"
    "\tfmt.Println(\"READY\")\n"
    "\tos.Stdin.Read(make([]byte, 1))\n"
    "}\n";

bool WriteFile(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  fputs(text.c_str(), f);
  return fclose(f) == 0;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

using Toolchain = testing_util::GoToolchain;

std::string Build(const Toolchain& tc, const std::string& dir, const std::string& flags,
                  const std::string& extra_env) {
  RunCommand("mkdir -p '" + dir + "'");
  if (!WriteFile(dir + "/main.go", kProgram) ||
      !WriteFile(dir + "/go.mod", "module example.com/t\n\ngo 1.19\n"))
    return "";
  std::string out = dir + "/prog";
  const char* build_dir = getenv("CGOSAN_BUILD_DIR");
  std::string cache = build_dir ? std::string(build_dir) + "/.gocache" : dir + "/../gocache";
  std::string log = RunCommand("cd '" + dir + "' && " + tc.env + extra_env + " GOCACHE='" + cache +
                               "' " + tc.go + " build " + flags + " -o '" + out + "' . 2>&1");
  if (access(out.c_str(), X_OK) != 0) {
    ADD_FAILURE() << "go build failed: " << log;
    return "";
  }
  return out;
}

// Symbol values from .symtab by readelf: independent of the code under test.
std::map<std::string, uint64_t> Symbols(const std::string& path) {
  std::map<std::string, uint64_t> out;
  std::istringstream lines(RunCommand("readelf -sW '" + path + "'"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string num, value, size, type, bind, vis, ndx, name;
    if (!(f >> num >> value >> size >> type >> bind >> vis >> ndx >> name)) continue;
    if (name == "go.func.*") name = "go:func.*";  // 1.19's spelling
    if (name == "runtime.types" || name == "runtime.etypes" || name == "runtime.firstmoduledata" ||
        name == "runtime.pclntab" || name == "go:func.*")
      out[name] = strtoull(value.c_str(), nullptr, 16);
  }
  return out;
}

bool IsPie(const std::string& path) {
  Elf64_Ehdr eh = {};
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  bool ok = fread(&eh, sizeof(eh), 1, f) == 1;
  fclose(f);
  return ok && eh.e_type == ET_DYN;
}

// The program, started with pipes on stdin and stdout; killed and reaped at destruction.
class Child {
 public:
  explicit Child(const std::string& path) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = fdopen(out[0], "r");
  }
  ~Child() {
    if (stdin_ >= 0) close(stdin_);
    if (stdout_ != nullptr) fclose(stdout_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Lines up to READY (excluded); false at EOF before it.
  bool ReadUntilReady(std::vector<std::string>* lines) {
    char buf[4096];
    while (stdout_ != nullptr && fgets(buf, sizeof(buf), stdout_) != nullptr) {
      std::string l = Trim(buf);
      if (l == "READY") return true;
      lines->push_back(l);
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  FILE* stdout_ = nullptr;
};

bool ReadMemory(pid_t pid, uint64_t addr, void* out, size_t n) {
  int fd = open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < n) {
    ssize_t r =
        pread(fd, static_cast<char*>(out) + done, n - done, static_cast<off_t>(addr + done));
    if (r <= 0) break;
    done += static_cast<size_t>(r);
  }
  close(fd);
  return done == n;
}

// Where the executable's first mapping starts (the load bias of a Go PIE, linked at 0).
uint64_t FirstMapping(pid_t pid, const std::string& path) {
  std::istringstream maps(RunCommand("cat /proc/" + std::to_string(pid) + "/maps"));
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < path.size() || line.compare(line.size() - path.size(), path.size(), path))
      continue;
    return strtoull(line.c_str(), nullptr, 16);
  }
  return 0;
}

// n bytes ending right before a PROT_NONE page: a read past the end faults.
class GuardedCopy {
 public:
  explicit GuardedCopy(size_t n) : n_(n) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    total_ = (n + page - 1) / page * page + page;
    void* m = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    base_ = static_cast<uint8_t*>(m);
    mprotect(base_ + total_ - page, page, PROT_NONE);
  }
  ~GuardedCopy() {
    if (base_ != nullptr) munmap(base_, total_);
  }
  uint8_t* data() { return base_ == nullptr ? nullptr : base_ + total_ - page() - n_; }

 private:
  size_t page() const { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }
  size_t n_, total_ = 0;
  uint8_t* base_ = nullptr;
};

std::string Decode(const GoTypeData& d, uintptr_t addr, size_t size = 128) {
  std::vector<char> out(size, 'x');
  if (!DecodeGoTypeName(d, addr, out.data(), out.size())) {
    EXPECT_EQ(out[0], '\0');
    return "<false>";
  }
  return out.data();
}

// One binary: its process's type data, and every printed type word decoded.
void CheckProcess(const Toolchain& tc, const std::string& bin) {
  std::map<std::string, uint64_t> sym = Symbols(bin);
  ASSERT_EQ(sym.size(), 5u) << "runtime.types/etypes/firstmoduledata/pclntab, go:func.*";
  Child child(bin);
  ASSERT_GT(child.pid(), 0);
  std::vector<std::string> lines;
  ASSERT_TRUE(child.ReadUntilReady(&lines));
  ASSERT_EQ(lines.size(), 13u);
  const bool pie = IsPie(bin);
  uint64_t bias = pie ? FirstMapping(child.pid(), bin) : 0;
  ASSERT_EQ(pie, bias != 0);

  uint8_t md[512];
  ASSERT_TRUE(ReadMemory(child.pid(), sym["runtime.firstmoduledata"] + bias, md, sizeof(md)))
      << "cannot read /proc/" << child.pid() << "/mem";
  uint64_t pc_header;
  memcpy(&pc_header, md, 8);
  ASSERT_EQ(pc_header, sym["runtime.pclntab"] + bias) << "wrong bias or moduledata";
  uintptr_t types = 0, etypes = 0;
  ASSERT_TRUE(GoTypesFromModuledata(md, sizeof(md), tc.minor, &types, &etypes));
  EXPECT_EQ(types, sym["runtime.types"] + bias);
  EXPECT_EQ(etypes, sym["runtime.etypes"] + bias);
  // Attach's cross-check of the offset: gofunc right after types, etypes and rodata.
  uint64_t gofunc;
  memcpy(&gofunc, md + ModuledataTypesOffset(tc.minor) + 24, 8);
  EXPECT_EQ(gofunc, sym["go:func.*"] + bias);

  GuardedCopy copy(etypes - types);
  ASSERT_NE(copy.data(), nullptr);
  ASSERT_TRUE(ReadMemory(child.pid(), types, copy.data(), etypes - types));
  GoTypeData d{types, etypes, copy.data()};

  for (const std::string& l : lines) {
    size_t sp = l.find(' ');
    ASSERT_NE(sp, std::string::npos) << l;
    uintptr_t word = strtoull(l.substr(0, sp).c_str(), nullptr, 16);
    std::string want = l.substr(sp + 1);
    SCOPED_TRACE(want);
    EXPECT_GE(word, types);
    EXPECT_LT(word, etypes);
    if (want.size() < 128) {
      EXPECT_EQ(Decode(d, word), want);
    } else {
      // map[[4]struct {...}]int: cut with "..." after 124 bytes of the name.
      EXPECT_EQ(Decode(d, word), want.substr(0, 124) + "...");
      EXPECT_EQ(Decode(d, word, want.size() + 1), want);
    }
  }
  // Pointers that are not type descriptors of this module.
  for (uintptr_t bad :
       {uintptr_t{0}, types - 8, etypes - 47, etypes, uintptr_t{~0ull}, uintptr_t{0xc000010000}}) {
    EXPECT_EQ(Decode(d, bad), "<false>") << std::hex << bad;
  }
  // Any address inside: never a read outside the copy (the guard page would fault), and a
  // name when it says so.
  std::mt19937_64 rng(tc.minor);
  int names = 0;
  for (int i = 0; i < 200000; ++i) {
    uintptr_t a = types + rng() % (etypes - types);
    char out[64];
    if (DecodeGoTypeName(d, a, out, sizeof(out))) {
      EXPECT_GT(strlen(out), 0u);
      ++names;
    }
  }
  printf(
      "[   INFO   ] %s %s: types [%#lx,%#lx), %zu type words decoded, %d of 200000 random "
      "addresses decode\n",
      tc.label.c_str(), bin.substr(bin.rfind('/', bin.size() - 6) + 1).c_str(),
      static_cast<unsigned long>(types), static_cast<unsigned long>(etypes), lines.size(), names);
}

TEST(GoTypeNameTest, RealProcessesOfEveryToolchain) {
  std::vector<Toolchain> toolchains = testing_util::GoToolchains();
  if (toolchains.empty()) GTEST_SKIP() << "no Go toolchain installed";
  TempDir tmp("cgosan_go_type_name_test");
  struct Variant {
    const char* name;
    const char* flags;
    const char* env;
    int min_minor;
  } variants[] = {
      {"exe", "", "", 0},
      {"pie", "-buildmode=pie", "", 0},
      {"noswissmap", "", "GOEXPERIMENT=noswissmap", 24},
  };
  for (const Toolchain& tc : toolchains) {
    ASSERT_NE(ModuledataTypesOffset(tc.minor), 0u) << tc.label << " minor " << tc.minor;
    for (const Variant& v : variants) {
      if (tc.minor < v.min_minor) continue;
      SCOPED_TRACE(tc.label + " " + v.name);
      std::string bin = Build(tc, tmp.path() + "/" + tc.label + "-" + v.name, v.flags, v.env);
      if (!bin.empty()) CheckProcess(tc, bin);
    }
  }
}

TEST(GoTypeNameTest, ModuledataTypesOffsetIsKnownOnlyForCheckedVersions) {
  EXPECT_EQ(ModuledataTypesOffset(19), 280u);
  for (int minor : {21, 22, 23, 24}) EXPECT_EQ(ModuledataTypesOffset(minor), 296u) << minor;
  for (int minor : {0, 18, 20, 25}) EXPECT_EQ(ModuledataTypesOffset(minor), 0u) << minor;
  uint8_t md[320] = {};
  uintptr_t types, etypes;
  EXPECT_FALSE(GoTypesFromModuledata(md, sizeof(md), 25, &types, &etypes));
  EXPECT_FALSE(GoTypesFromModuledata(md, sizeof(md), 22, &types, &etypes));  // empty range
  uint64_t t = 0x497020, e = 0x4e36d8;
  memcpy(md + 296, &t, 8);
  memcpy(md + 304, &e, 8);
  EXPECT_FALSE(GoTypesFromModuledata(md, 311, 22, &types, &etypes));  // too short
  ASSERT_TRUE(GoTypesFromModuledata(md, sizeof(md), 22, &types, &etypes));
  EXPECT_EQ(types, t);
  EXPECT_EQ(etypes, e);
}

// A hand-made module: descriptors at 0x100 and 0x200, names from 0x400.
class GoTypeNameSyntheticTest : public ::testing::Test {
 protected:
  static constexpr uintptr_t kTypes = 0x500000;

  void SetUp() override { bytes_.assign(0x800, 0); }
  void Descriptor(size_t at, uint8_t tflag, int32_t str) {
    bytes_[at + 20] = tflag;
    memcpy(&bytes_[at + 40], &str, 4);
  }
  // A name with a one- or two-byte varint length.
  void Name(size_t at, const std::string& s, uint8_t flags = 0) {
    bytes_[at] = flags;
    size_t n = s.size(), p = at + 1;
    if (n >= 128) {
      bytes_[p++] = static_cast<uint8_t>(0x80 | (n & 0x7f));
      n >>= 7;
    }
    bytes_[p++] = static_cast<uint8_t>(n);
    memcpy(&bytes_[p], s.data(), s.size());
  }
  GoTypeData Data(size_t n = 0) const {
    return GoTypeData{kTypes, kTypes + (n ? n : bytes_.size()), bytes_.data()};
  }
  std::vector<uint8_t> bytes_;
};

TEST_F(GoTypeNameSyntheticTest, ExtraStarAndPlainNames) {
  Name(0x400, "*map[int]int");
  Descriptor(0x100, 2, 0x400);  // tflagExtraStar: the '*' is dropped
  Descriptor(0x200, 0, 0x400);  // the pointer type shares the string
  EXPECT_EQ(Decode(Data(), kTypes + 0x100), "map[int]int");
  EXPECT_EQ(Decode(Data(), kTypes + 0x200), "*map[int]int");
  Name(0x400, "map[int]int");  // extra star without a '*': not a name
  EXPECT_EQ(Decode(Data(), kTypes + 0x100), "<false>");
}

TEST_F(GoTypeNameSyntheticTest, MalformedDescriptorsAndNames) {
  Name(0x400, "*main.T");
  Descriptor(0x100, 2, 0);  // no name
  EXPECT_EQ(Decode(Data(), kTypes + 0x100), "<false>");
  Descriptor(0x100, 2, -8);
  EXPECT_EQ(Decode(Data(), kTypes + 0x100), "<false>");
  Descriptor(0x100, 2, 0x7fffffff);  // beyond etypes
  EXPECT_EQ(Decode(Data(), kTypes + 0x100), "<false>");
  Descriptor(0x100, 2, 0x400);
  EXPECT_EQ(Decode(Data(), kTypes + 0x100), "main.T");
  EXPECT_EQ(Decode(Data(0x406), kTypes + 0x100), "<false>");  // name bytes past etypes
  EXPECT_EQ(Decode(Data(0x12f), kTypes + 0x100), "<false>");  // descriptor past etypes
  bytes_[0x400] = 0x40;                                       // not a name's flag byte
  EXPECT_EQ(Decode(Data(), kTypes + 0x100), "<false>");
  bytes_[0x400] = 0;
  memset(&bytes_[0x401], 0xff, 4);  // a varint that does not end
  EXPECT_EQ(Decode(Data(), kTypes + 0x100), "<false>");
  EXPECT_EQ(Decode(GoTypeData{}, kTypes + 0x100), "<false>");
  char out[4] = "abc";
  EXPECT_FALSE(DecodeGoTypeName(Data(), kTypes + 0x100, out, 0));
  EXPECT_STREQ(out, "abc");  // size 0: nothing written
}

TEST_F(GoTypeNameSyntheticTest, LongNamesAreCutAtACharacter) {
  std::string name = "*map[string]" + std::string(150, 'x');
  Name(0x400, name);
  Descriptor(0x100, 2, 0x400);
  EXPECT_EQ(Decode(Data(), kTypes + 0x100, 512), name.substr(1));
  EXPECT_EQ(Decode(Data(), kTypes + 0x100, 16), "map[string]x...");
  EXPECT_EQ(Decode(Data(), kTypes + 0x100, 4), "map");
  EXPECT_EQ(Decode(Data(), kTypes + 0x100, 1), "");
  // "é" (2 bytes) straddling the cut is dropped whole.
  Name(0x400, "*map[string]éééééééééé");
  EXPECT_EQ(Decode(Data(), kTypes + 0x100, 17), "map[string]é...");
  EXPECT_EQ(Decode(Data(), kTypes + 0x100, 16), "map[string]...");
}

TEST(GoTypeNameTest, NothingBeforeAttach) {
  if (GoRuntime::TypesBase() != 0) GTEST_SKIP() << "attached";
  char out[16] = "x";
  EXPECT_FALSE(GoTypeName(0x4a6920, out, sizeof(out)));
  EXPECT_STREQ(out, "");
}

}  // namespace
}  // namespace cgosan
