// Symbolizer tests: libc (.dynsym), C++ demangling, build ids against readelf, pseudo
// mappings, corrupt and truncated ELF files (mapped into the process and read directly), and
// Go binaries (built with the Go toolchain when it is installed).
#include "report/symbolizer.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include "tests/unit/command_test_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "report/elf_reader.h"
#include "report/elf_symbols.h"
#include "report/go_symbol_name.h"

namespace cgosan_test_ns {
__attribute__((noinline)) int Frobnicate(int x) {
  static volatile int sink;
  sink = x;
  return sink * 3 + 1;
}
}  // namespace cgosan_test_ns

namespace cgosan {
namespace {

using testing_util::RunCommand;
using testing_util::TempDir;

std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

std::vector<char> ReadAll(const std::string& path) {
  std::vector<char> out;
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.insert(out.end(), buf, buf + n);
  fclose(f);
  return out;
}

bool WriteAll(const std::string& path, const char* data, size_t n) {
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = fwrite(data, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}

// A file mapped read-only into this process, so the symbolizer sees it in /proc/self/maps.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
      size_ = static_cast<size_t>(st.st_size);
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) base_ = static_cast<char*>(p);
    }
    close(fd);
  }
  ~MappedFile() {
    if (base_ != nullptr) munmap(base_, size_);
  }
  uintptr_t base() const { return reinterpret_cast<uintptr_t>(base_); }
  size_t size() const { return size_; }
  bool ok() const { return base_ != nullptr; }

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
};

uintptr_t FrobnicateAddress() {
  return reinterpret_cast<uintptr_t>(&cgosan_test_ns::Frobnicate);
}

TEST(SymbolizerTest, LibcFunctionFromDynsym) {
  void* getpid_addr = dlsym(RTLD_DEFAULT, "getpid");
  ASSERT_NE(getpid_addr, nullptr);
  Dl_info info;
  ASSERT_NE(dladdr(getpid_addr, &info), 0);
  const uintptr_t pc = reinterpret_cast<uintptr_t>(getpid_addr);

  Symbolizer::Refresh();
  Frame f;
  Symbolizer::Symbolize(pc, &f);
  EXPECT_EQ(f.pc, pc);
  ASSERT_NE(f.function, nullptr);
  // libc.so.6 has no .symtab; .dynsym holds getpid and its alias __getpid.
  EXPECT_STREQ(f.function, "getpid");
  ASSERT_NE(f.module, nullptr);
  EXPECT_NE(strstr(f.module, "libc.so.6"), nullptr) << f.module;
  // libc's first segment has vaddr 0: the ELF vaddr is the offset from the load base.
  EXPECT_EQ(f.module_offset, pc - reinterpret_cast<uintptr_t>(info.dli_fbase));
  EXPECT_EQ(f.lang, FrameLang::kC);
  EXPECT_EQ(f.file, nullptr);
  EXPECT_EQ(f.line, 0);

  // Inside the function, and as a return address (pc-1) of the next instruction.
  Frame inside;
  Symbolizer::Symbolize(pc + 1, &inside);
  ASSERT_NE(inside.function, nullptr);
  EXPECT_STREQ(inside.function, "getpid");

  uintptr_t offset = 0;
  const char* module = Symbolizer::ModuleOf(pc, &offset);
  ASSERT_NE(module, nullptr);
  EXPECT_STREQ(module, f.module);
  EXPECT_EQ(offset, f.module_offset);
}

TEST(SymbolizerTest, CppFunctionIsDemangled) {
  Symbolizer::Refresh();
  Frame f;
  Symbolizer::Symbolize(FrobnicateAddress() + 2, &f);
  ASSERT_NE(f.function, nullptr);
  EXPECT_STREQ(f.function, "cgosan_test_ns::Frobnicate(int)");
  ASSERT_NE(f.module, nullptr);
  EXPECT_EQ(std::string(f.module), SelfPath());
  EXPECT_EQ(f.lang, FrameLang::kC);

  // module_offset is the ELF virtual address: the file's own symbol table agrees.
  char raw[256];
  ASSERT_TRUE(LookupSymbolInFile(f.module, f.module_offset, raw, sizeof(raw)));
  EXPECT_STREQ(raw, "_ZN14cgosan_test_ns10FrobnicateEi");
}

TEST(SymbolizerTest, StackUsesPcMinusOneForReturnAddresses) {
  // A "return address" just past the end of getpid belongs to getpid (pc-1), unless the
  // frame is the exact faulting pc.
  void* getpid_addr = dlsym(RTLD_DEFAULT, "getpid");
  ASSERT_NE(getpid_addr, nullptr);
  uintptr_t pcs[2] = {reinterpret_cast<uintptr_t>(getpid_addr),
                      reinterpret_cast<uintptr_t>(getpid_addr) + 8 /* st_size of getpid */};
  Symbolizer::Refresh();
  static Stack stack;
  Symbolizer::SymbolizeStack(pcs, 2, /*first_is_exact=*/true, &stack);
  ASSERT_EQ(stack.num_frames, 2);
  ASSERT_NE(stack.frames[0].function, nullptr);
  EXPECT_STREQ(stack.frames[0].function, "getpid");
  ASSERT_NE(stack.frames[1].function, nullptr);
  EXPECT_STREQ(stack.frames[1].function, "getpid");
  EXPECT_EQ(stack.frames[1].pc, pcs[1]);  // the raw pc is kept

  // Looked up exactly, the pc at the first byte of a function is that function.
  uintptr_t frob[1] = {FrobnicateAddress()};
  Symbolizer::SymbolizeStack(frob, 1, /*first_is_exact=*/true, &stack);
  ASSERT_NE(stack.frames[0].function, nullptr);
  EXPECT_STREQ(stack.frames[0].function, "cgosan_test_ns::Frobnicate(int)");
  // As a return address it is the end of whatever precedes it: never Frobnicate.
  Symbolizer::SymbolizeStack(frob, 1, /*first_is_exact=*/false, &stack);
  if (stack.frames[0].function != nullptr) {
    EXPECT_STRNE(stack.frames[0].function, "cgosan_test_ns::Frobnicate(int)");
  }
}

TEST(SymbolizerTest, PseudoAndUnknownMappings) {
  Symbolizer::Refresh();
  int on_stack = 0;
  Frame f;
  Symbolizer::Symbolize(reinterpret_cast<uintptr_t>(&on_stack), &f);
  ASSERT_NE(f.module, nullptr);
  EXPECT_STREQ(f.module, "[stack]");
  EXPECT_EQ(f.function, nullptr);

  uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
  if (vdso != 0) {
    Frame v;
    Symbolizer::Symbolize(vdso + 16, &v);
    ASSERT_NE(v.module, nullptr);
    EXPECT_STREQ(v.module, "[vdso]");
    EXPECT_EQ(v.function, nullptr);
  }

  Frame unknown;
  Symbolizer::Symbolize(0x10, &unknown);
  EXPECT_EQ(unknown.module, nullptr);
  EXPECT_EQ(unknown.function, nullptr);
  uintptr_t offset = 1;
  EXPECT_EQ(Symbolizer::ModuleOf(0x10, &offset), nullptr);
  EXPECT_EQ(offset, 0u);
}

// Large enough that most of it lies in the unnamed anonymous mapping after the file's pages.
char g_big_bss[4 << 20];

TEST(SymbolizerTest, BssAndAnonymousMemory) {
  g_big_bss[0] = 1;
  Symbolizer::Refresh();
  uintptr_t first = 0, last = 0;
  const char* m1 = Symbolizer::ModuleOf(reinterpret_cast<uintptr_t>(&g_big_bss[0]), &first);
  const char* m2 =
      Symbolizer::ModuleOf(reinterpret_cast<uintptr_t>(&g_big_bss[sizeof(g_big_bss) - 1]), &last);
  ASSERT_NE(m1, nullptr);
  ASSERT_NE(m2, nullptr);
  EXPECT_EQ(std::string(m1), SelfPath());
  EXPECT_EQ(std::string(m2), SelfPath());
  EXPECT_EQ(last - first, sizeof(g_big_bss) - 1);

  // Anonymous memory that no module owns.
  void* anon = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(anon, MAP_FAILED);
  Symbolizer::Refresh();
  uintptr_t offset = 0;
  EXPECT_EQ(Symbolizer::ModuleOf(reinterpret_cast<uintptr_t>(anon) + 100, &offset), nullptr);
  Frame f;
  Symbolizer::Symbolize(reinterpret_cast<uintptr_t>(anon) + 100, &f);
  EXPECT_EQ(f.module, nullptr);
  EXPECT_EQ(f.function, nullptr);
  munmap(anon, 1 << 20);
}

TEST(SymbolizerTest, BuildIdAgreesWithReadelf) {
  char id[128];
  ASSERT_TRUE(Symbolizer::ReadBuildId("/proc/self/exe", id, sizeof(id)));
  EXPECT_EQ(strlen(id), 40u);
  for (const char* p = id; *p; ++p) EXPECT_TRUE(isxdigit(*p) && !isupper(*p)) << id;

  std::string out = RunCommand("readelf -n '" + SelfPath() + "' 2>/dev/null");
  size_t at = out.find("Build ID: ");
  if (at == std::string::npos) GTEST_SKIP() << "readelf not available";
  std::string expected = out.substr(at + 10, 40);
  EXPECT_EQ(std::string(id), expected);

  char small[40];  // one byte short of 40 digits + NUL
  EXPECT_FALSE(Symbolizer::ReadBuildId("/proc/self/exe", small, sizeof(small)));
  EXPECT_FALSE(Symbolizer::ReadBuildId("/nonexistent/file", id, sizeof(id)));
  EXPECT_FALSE(Symbolizer::ReadBuildId("/proc/self/maps", id, sizeof(id)));
}

// The ELF virtual address of Frobnicate in the test binary.
uint64_t FrobnicateVaddr() {
  Symbolizer::Refresh();
  uintptr_t offset = 0;
  Symbolizer::ModuleOf(FrobnicateAddress(), &offset);
  return offset;
}

TEST(SymbolizerTest, IntactCopyMappedFromFileIsSymbolized) {
  // Control for the corrupt-file tests: the same bytes, intact, give the name back.
  TempDir dir("cgosan_symbolizer_test");
  ASSERT_FALSE(dir.path().empty());
  std::vector<char> self = ReadAll(SelfPath());
  ASSERT_GT(self.size(), 4096u);
  std::string copy = dir.path() + "/intact";
  ASSERT_TRUE(WriteAll(copy, self.data(), self.size()));
  const uint64_t vaddr = FrobnicateVaddr();
  ASSERT_NE(vaddr, 0u);

  char raw[256];
  ASSERT_TRUE(LookupSymbolInFile(copy.c_str(), vaddr, raw, sizeof(raw)));
  EXPECT_STREQ(raw, "_ZN14cgosan_test_ns10FrobnicateEi");

  MappedFile mapped(copy);
  ASSERT_TRUE(mapped.ok());
  ASSERT_LT(vaddr, mapped.size());
  Symbolizer::Refresh();
  Frame f;
  // Mapped whole at offset 0, so the load bias is the mapping's start.
  Symbolizer::Symbolize(mapped.base() + vaddr, &f);
  ASSERT_NE(f.module, nullptr);
  EXPECT_EQ(std::string(f.module), copy);
  EXPECT_EQ(f.module_offset, vaddr);
  ASSERT_NE(f.function, nullptr);
  EXPECT_STREQ(f.function, "cgosan_test_ns::Frobnicate(int)");
}

TEST(SymbolizerTest, TruncatedCopiesYieldNoFunction) {
  TempDir dir("cgosan_symbolizer_test");
  ASSERT_FALSE(dir.path().empty());
  std::vector<char> self = ReadAll(SelfPath());
  ASSERT_GT(self.size(), 4096u);
  const uint64_t vaddr = FrobnicateVaddr();
  const size_t sizes[] = {1,    16,   63,   64,   65,   200,  1000,
                          4096, 8192, self.size() / 4, self.size() / 2, self.size() - 1};
  for (size_t size : sizes) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " bytes");
    std::string path = dir.path() + "/truncated_" + std::to_string(size);
    ASSERT_TRUE(WriteAll(path, self.data(), size));
    // The section headers are at the end of the file: gone, so no symbol table either.
    char raw[256];
    EXPECT_FALSE(LookupSymbolInFile(path.c_str(), vaddr, raw, sizeof(raw)));
    EXPECT_STREQ(raw, "");
    char id[128];
    Symbolizer::ReadBuildId(path.c_str(), id, sizeof(id));  // must not crash

    MappedFile mapped(path);
    ASSERT_TRUE(mapped.ok());
    Symbolizer::Refresh();
    uintptr_t pc = mapped.base() + (vaddr < mapped.size() ? vaddr : 0);
    Frame f;
    Symbolizer::Symbolize(pc, &f);
    ASSERT_NE(f.module, nullptr);
    EXPECT_EQ(std::string(f.module), path);
    EXPECT_EQ(f.function, nullptr);
  }
}

TEST(SymbolizerTest, RandomBytesYieldNoFunction) {
  TempDir dir("cgosan_symbolizer_test");
  ASSERT_FALSE(dir.path().empty());
  std::mt19937 rng(12345);
  std::vector<char> junk(64 * 1024);
  for (char& c : junk) c = static_cast<char>(rng());
  std::string path = dir.path() + "/random";
  ASSERT_TRUE(WriteAll(path, junk.data(), junk.size()));

  char raw[256];
  EXPECT_FALSE(LookupSymbolInFile(path.c_str(), 0x1000, raw, sizeof(raw)));
  char id[128];
  EXPECT_FALSE(Symbolizer::ReadBuildId(path.c_str(), id, sizeof(id)));

  MappedFile mapped(path);
  ASSERT_TRUE(mapped.ok());
  Symbolizer::Refresh();
  Frame f;
  Symbolizer::Symbolize(mapped.base() + 0x1234, &f);
  ASSERT_NE(f.module, nullptr);
  EXPECT_EQ(std::string(f.module), path);
  EXPECT_EQ(f.function, nullptr);
  // Not an ELF file: the offset is the file offset.
  EXPECT_EQ(f.module_offset, 0x1234u);
}

// Random damage to the headers, the section header table and the symbol tables of a real
// ELF file: whatever comes out, nothing may crash or read out of bounds.
TEST(SymbolizerTest, CorruptedHeadersNeverCrash) {
  TempDir dir("cgosan_symbolizer_test");
  ASSERT_FALSE(dir.path().empty());
  std::vector<char> self = ReadAll(SelfPath());
  ASSERT_GT(self.size(), 4096u);
  Elf64_Ehdr ehdr;
  memcpy(&ehdr, self.data(), sizeof(ehdr));
  const uint64_t vaddr = FrobnicateVaddr();
  std::string path = dir.path() + "/corrupt";
  ASSERT_TRUE(WriteAll(path, self.data(), self.size()));
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::mt19937_64 rng(777);
  const size_t shdr_begin = ehdr.e_shoff;
  const size_t shdr_len = size_t{ehdr.e_shnum} * sizeof(Elf64_Shdr);
  ASSERT_LE(shdr_begin + shdr_len, self.size());
  int named = 0;
  for (int round = 0; round < 400; ++round) {
    // Damage a few bytes in place, look up, then put the original bytes back.
    size_t edited[8];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t at;
      switch (rng() % 3) {
        case 0:  // ELF and program headers
          at = rng() % (sizeof(Elf64_Ehdr) + size_t{ehdr.e_phnum} * sizeof(Elf64_Phdr));
          break;
        case 1:  // section headers
          at = shdr_begin + rng() % shdr_len;
          break;
        default:  // anywhere
          at = rng() % self.size();
          break;
      }
      // Mostly extreme values: they are what breaks unchecked arithmetic.
      static const uint8_t kValues[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
      char value = static_cast<char>(rng() % 2 ? kValues[rng() % 5] : rng());
      ASSERT_EQ(pwrite(fd, &value, 1, static_cast<off_t>(at)), 1);
      edited[e] = at;
    }
    char raw[256];
    if (LookupSymbolInFile(path.c_str(), vaddr, raw, sizeof(raw))) ++named;
    char id[128];
    Symbolizer::ReadBuildId(path.c_str(), id, sizeof(id));
    for (int e = 0; e < edits; ++e) {
      ASSERT_EQ(pwrite(fd, &self[edited[e]], 1, static_cast<off_t>(edited[e])), 1);
    }
  }
  close(fd);
  // Most damage misses what the lookup needs, so the lookups did run to the end.
  EXPECT_GT(named, 0);

  // A header whose tables point far outside the file.
  std::vector<char> bytes = self;
  auto* h = reinterpret_cast<Elf64_Ehdr*>(bytes.data());
  h->e_shoff = ~uint64_t{0} - 10;
  h->e_phoff = ~uint64_t{0} - 10;
  ASSERT_TRUE(WriteAll(path, bytes.data(), bytes.size()));
  char raw[256];
  EXPECT_FALSE(LookupSymbolInFile(path.c_str(), vaddr, raw, sizeof(raw)));
}

TEST(GoSymbolNameTest, Heuristics) {
  EXPECT_TRUE(LooksLikeGoFunction("main.main"));
  EXPECT_TRUE(LooksLikeGoFunction("runtime.cgocall"));
  EXPECT_TRUE(LooksLikeGoFunction("main._Cfunc_free"));
  EXPECT_TRUE(LooksLikeGoFunction("example.com/pkg.(*T).Method"));
  EXPECT_FALSE(LooksLikeGoFunction("_cgo_0b49d6ed4a0b_Cfunc_free"));
  EXPECT_FALSE(LooksLikeGoFunction("x_cgo_mmap"));
  EXPECT_FALSE(LooksLikeGoFunction("crosscall2"));
  EXPECT_FALSE(LooksLikeGoFunction("_rt0_amd64_linux"));
  EXPECT_FALSE(LooksLikeGoFunction("free"));
  EXPECT_FALSE(LooksLikeGoFunction("helper.constprop.0"));
  EXPECT_FALSE(LooksLikeGoFunction("helper.cold"));
  EXPECT_FALSE(LooksLikeGoFunction(nullptr));
}

// Builds a small Go program; skips when no Go toolchain is installed.
class GoBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (dir_.path().empty()) GTEST_SKIP() << "no temp dir";
    std::string src = dir_.path() + "/main.go";
    const char kProgram[] = "package main\n\nfunc main() { println(\"hi\") }\n";
    ASSERT_TRUE(WriteAll(src, kProgram, sizeof(kProgram) - 1));
    binary_ = dir_.path() + "/gobin";
    std::string out = RunCommand("cd '" + dir_.path() + "' && GO111MODULE=off GOFLAGS= go build -o '" +
                                 binary_ + "' main.go 2>&1 && echo BUILD-OK");
    if (out.find("BUILD-OK") == std::string::npos) GTEST_SKIP() << "go build failed: " << out;
    std::string nm = RunCommand("nm '" + binary_ + "' 2>/dev/null | grep ' T main.main$'");
    main_vaddr_ = strtoull(nm.c_str(), nullptr, 16);
    ASSERT_NE(main_vaddr_, 0u) << nm;
  }

  TempDir dir_{"cgosan_symbolizer_test"};
  std::string binary_;
  uint64_t main_vaddr_ = 0;
};

TEST_F(GoBinaryTest, DetectedAndSymbolizedAsGo) {
  ElfReader elf;
  SymbolTableInfo table;
  ASSERT_TRUE(elf.Open(binary_.c_str()));
  ASSERT_TRUE(FindSymbolTable(elf, &table));
  EXPECT_TRUE(IsGoElf(elf, table));

  ElfReader self;
  SymbolTableInfo self_table;
  ASSERT_TRUE(self.Open(SelfPath().c_str()));
  ASSERT_TRUE(FindSymbolTable(self, &self_table));
  EXPECT_FALSE(IsGoElf(self, self_table));

  char raw[256];
  ASSERT_TRUE(LookupSymbolInFile(binary_.c_str(), main_vaddr_ + 1, raw, sizeof(raw)));
  EXPECT_STREQ(raw, "main.main");

  // Mapped whole at offset 0: a non-PIE executable linked at 0x400000 gets bias base-0x400000,
  // and its Go functions come out with lang go.
  Elf64_Phdr first_load = {};
  for (int i = 0; i < elf.num_phdrs(); ++i) {
    Elf64_Phdr ph;
    if (elf.Phdr(i, &ph) && ph.p_type == PT_LOAD) {
      first_load = ph;
      break;
    }
  }
  ASSERT_EQ(first_load.p_offset, 0u);
  MappedFile mapped(binary_);
  ASSERT_TRUE(mapped.ok());
  uint64_t rel = main_vaddr_ - (first_load.p_vaddr & ~uint64_t{4095});
  ASSERT_LT(rel, mapped.size());
  Symbolizer::Refresh();
  Frame f;
  Symbolizer::Symbolize(mapped.base() + rel, &f);
  ASSERT_NE(f.function, nullptr);
  EXPECT_STREQ(f.function, "main.main");
  EXPECT_EQ(f.lang, FrameLang::kGo);
  EXPECT_EQ(f.module_offset, main_vaddr_);
}

}  // namespace
}  // namespace cgosan
