// GoFunctionFinder tests on real Go binaries built with every installed toolchain (and Go
// 1.24 with GOEXPERIMENT=noswissmap): the hook targets are found by name at their .symtab
// addresses, their return sites are exactly objdump's `ret`s, and the first instruction of
// every hook target (and runtime.exit's three) is one the hook engine accepts.
#include "report/go/go_function_finder.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "preload/hooks/site_decoder.h"
#include "report/go/go_binary.h"
#include "report/go/pclntab.h"
#include "tests/unit/command_test_util.h"

namespace cgosan {
namespace {

using testing_util::RunCommand;
using testing_util::TempDir;

// Grows a map past B=8 and clears it; os.Exit goes through runtime.exit.
const char kMapProgram[] =
    "package main\n"
    "\n"
    "// #include <stdlib.h>\n"
    "import \"C\"\n"
    "import (\n"
    "\t\"fmt\"\n"
    "\t\"os\"\n"
    "\t\"runtime\"\n"
    ")\n"
    "\n"
    "func main() {\n"
    "\tC.free(C.malloc(8))\n"
    "\tm := map[int]int{}\n"
    "\tfor i := 0; i < 5000; i++ {\n"
    "\t\tm[i] = i\n"
    "\t}\n"
    "\tfor k := range m {\n"
    "\t\tdelete(m, k)\n"
    "\t}\n"
    "\truntime.GC()\n"
    "\tfmt.Println(len(m))\n"
    "\tos.Exit(0)\n"
    "}\n";

using Toolchain = testing_util::GoToolchain;

bool WriteFile(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  fputs(text.c_str(), f);
  return fclose(f) == 0;
}

std::string Build(const Toolchain& tc, const std::string& dir, const std::string& extra_env) {
  RunCommand("mkdir -p '" + dir + "'");
  if (!WriteFile(dir + "/main.go", kMapProgram) ||
      !WriteFile(dir + "/go.mod", "module example.com/t\n\ngo 1.19\n"))
    return "";
  const char* build_dir = getenv("CGOSAN_BUILD_DIR");
  std::string cache = build_dir ? std::string(build_dir) + "/.gocache" : dir + "/../gocache";
  std::string out = dir + "/prog";
  std::string log = RunCommand("cd '" + dir + "' && " + tc.env + extra_env + "GOCACHE='" + cache +
                               "' " + tc.go + " build -o '" + out + "' . 2>&1");
  if (access(out.c_str(), X_OK) != 0) {
    ADD_FAILURE() << "go build failed: " << log;
    return "";
  }
  return out;
}

// Where the bytes of virtual address vaddr are in the file mapping (PT_LOAD lookup).
const uint8_t* FileBytes(const GoBinaryInfo& info, uintptr_t vaddr) {
  const uint8_t* base = static_cast<const uint8_t*>(info.file_map);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(base + eh->e_phoff);
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_LOAD && vaddr >= ph[i].p_vaddr && vaddr < ph[i].p_vaddr + ph[i].p_filesz)
      return base + ph[i].p_offset + (vaddr - ph[i].p_vaddr);
  }
  return nullptr;
}

// name -> value of the STT_FUNC symbols of .symtab, read independently of the code under test.
std::map<std::string, uint64_t> FuncSymbols(const GoBinaryInfo& info) {
  std::map<std::string, uint64_t> out;
  const uint8_t* base = static_cast<const uint8_t*>(info.file_map);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
  for (int i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != SHT_SYMTAB) continue;
    const char* str = reinterpret_cast<const char*>(base + sh[sh[i].sh_link].sh_offset);
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
    for (size_t k = 0; k < sh[i].sh_size / sizeof(Elf64_Sym); k++) {
      if (ELF64_ST_TYPE(syms[k].st_info) == STT_FUNC && syms[k].st_shndx != SHN_UNDEF)
        out[str + syms[k].st_name] = syms[k].st_value;
    }
  }
  return out;
}

// The addresses of objdump's `ret` instructions in [start, end).
std::set<uintptr_t> ObjdumpRets(const std::string& bin, uintptr_t start, uintptr_t end) {
  char range[96];
  snprintf(range, sizeof(range), " --start-address=%#lx --stop-address=%#lx ",
           static_cast<unsigned long>(start), static_cast<unsigned long>(end));
  std::string dis = RunCommand("objdump -d --no-show-raw-insn" + std::string(range) + "'" + bin +
                               "' 2>/dev/null");
  std::set<uintptr_t> rets;
  size_t pos = 0;
  while (pos < dis.size()) {
    size_t nl = dis.find('\n', pos);
    if (nl == std::string::npos) nl = dis.size();
    std::string line = dis.substr(pos, nl - pos);
    pos = nl + 1;
    size_t colon = line.find(':');
    if (colon == std::string::npos || line.find("\tret") == std::string::npos) continue;
    rets.insert(strtoull(line.c_str(), nullptr, 16));
  }
  return rets;
}

std::string Hex(uintptr_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%#lx", static_cast<unsigned long>(v));
  return buf;
}

class GoFunctionFinderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    toolchains_ = testing_util::GoToolchains();
    if (toolchains_.empty()) GTEST_SKIP() << "no Go toolchain installed";
    if (system("objdump --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no objdump";
  }
  std::vector<Toolchain> toolchains_;
  TempDir tmp_{"cgosan_go_function_finder_test"};
};

TEST_F(GoFunctionFinderTest, HookTargetsAndReturnSitesOnEveryToolchain) {
  struct Variant {
    const char* label;
    const char* env;
  };
  int swiss_checked = 0, classic_checked = 0;
  for (const Toolchain& tc : toolchains_) {
    for (const Variant& v :
         {Variant{"default", ""}, Variant{"noswissmap", "GOEXPERIMENT=noswissmap "}}) {
      std::string minor = RunCommand(tc.env + tc.go + " env GOVERSION");
      bool go124 = minor.find("go1.24") == 0 || minor.find("go1.25") == 0;
      if (std::string(v.label) == "noswissmap" && !go124) continue;
      SCOPED_TRACE(tc.label + " " + v.label);
      std::string bin = Build(tc, tmp_.path() + "/" + tc.label + "-" + v.label, v.env);
      if (bin.empty()) continue;
      GoBinaryInfo info;
      ASSERT_TRUE(LoadGoBinaryFromFile(bin.c_str(), 0, &info));
      Pclntab table;
      ASSERT_TRUE(InitPclntab(info, &table));
      bool swiss = info.go_minor >= 24 && !strstr(info.goexperiment, "noswissmap");
      std::vector<std::string> names = {"runtime.mapclear", "runtime.gcMarkTermination",
                                        "runtime.exit", "runtime.noSuchFunction"};
      std::vector<std::string> with_returns;
      if (swiss) {
        for (const char* n :
             {"internal/runtime/maps.(*table).grow", "internal/runtime/maps.(*table).split",
              "internal/runtime/maps.(*table).reset", "internal/runtime/maps.(*table).rehash",
              "internal/runtime/maps.(*table).Clear", "internal/runtime/maps.(*Map).growToTable",
              "internal/runtime/maps.(*Map).growToSmall", "internal/runtime/maps.newarray"})
          names.push_back(n);
        with_returns = {"internal/runtime/maps.(*table).grow",
                        "internal/runtime/maps.(*table).split", "internal/runtime/maps.newarray"};
        ++swiss_checked;
      } else {
        names.push_back("runtime.makeBucketArray");
        names.push_back("runtime.hashGrow");
        with_returns = {"runtime.makeBucketArray", "runtime.hashGrow"};
        ++classic_checked;
      }
      if (info.go_minor >= 23) names.push_back("runtime.sysFaultOS");
      std::vector<GoFunctionQuery> queries(names.size());
      for (size_t i = 0; i < names.size(); ++i) queries[i].name = names[i].c_str();
      int found = FindGoFunctions(table, queries.data(), static_cast<int>(queries.size()));
      EXPECT_EQ(found, static_cast<int>(names.size()) - 1);
      std::map<std::string, uint64_t> symbols = FuncSymbols(info);
      std::map<std::string, GoFuncInfo> funcs;
      for (const GoFunctionQuery& q : queries) {
        std::string name = q.name;
        if (name == "runtime.noSuchFunction") {
          EXPECT_FALSE(q.found);
          continue;
        }
        EXPECT_TRUE(q.found) << name;
        if (!q.found) continue;
        funcs[name] = q.func;
        std::string symbol = name == "runtime.exit" ? "runtime.exit.abi0" : name;
        ASSERT_TRUE(symbols.count(symbol)) << symbol;
        EXPECT_EQ(q.func.entry, symbols[symbol]) << name;
        const uint8_t* code = FileBytes(info, q.func.entry);
        ASSERT_NE(code, nullptr) << name;
        if (name == "runtime.exit") {
          const uint8_t exit_bytes[] = {0x8b, 0x7c, 0x24, 0x08, 0xb8, 0xe7,
                                        0x00, 0x00, 0x00, 0x0f, 0x05};
          EXPECT_EQ(memcmp(code, exit_bytes, sizeof(exit_bytes)), 0) << "runtime.exit's entry";
          continue;
        }
        SiteInstruction site;
        const char* why = nullptr;
        EXPECT_TRUE(DecodeSite(code, 15, q.func.entry, &site, &why))
            << name << ": " << (why ? why : "");
        printf("[   INFO   ] %s %s: %s entry: %s\n", tc.label.c_str(), v.label, name.c_str(),
               site.what);
      }
      for (const std::string& name : with_returns) {
        if (!funcs.count(name)) continue;
        const GoFuncInfo& f = funcs[name];
        const uint8_t* code = FileBytes(info, f.entry);
        ASSERT_NE(code, nullptr);
        uintptr_t sites[16];
        int n = FindReturnSitesIn(table, f, code, sites, 16);
        EXPECT_GE(n, 1) << name;
        std::set<uintptr_t> got;
        for (int i = 0; i < n; ++i) {
          EXPECT_EQ(code[sites[i] - f.entry], 0xc3) << name << " at " << Hex(sites[i]);
          SiteInstruction site;
          const char* why = nullptr;
          EXPECT_TRUE(DecodeSite(code + (sites[i] - f.entry), 1, sites[i], &site, &why));
          got.insert(sites[i]);
        }
        std::set<uintptr_t> want = ObjdumpRets(bin, f.entry, f.end);
        EXPECT_EQ(got, want) << name;
        printf("[   INFO   ] %s %s: %s has %d return site(s)\n", tc.label.c_str(), v.label,
               name.c_str(), n);
        // max bounds what is written.
        if (n >= 1) {
          uintptr_t one[1] = {0};
          EXPECT_EQ(FindReturnSitesIn(table, f, code, one, 1), 1);
          EXPECT_EQ(one[0], sites[0]);
        }
      }
      UnloadGoBinaryFile(&info);
    }
  }
  EXPECT_GE(classic_checked, 1);
  printf("[   INFO   ] %d classic-map and %d Swiss-map binaries checked\n", classic_checked,
         swiss_checked);
}

// The run iterator agrees with SpDelta at every pc of a real function.
TEST_F(GoFunctionFinderTest, SpRunsAgreeWithSpDelta) {
  const Toolchain& tc = toolchains_[0];
  std::string bin = Build(tc, tmp_.path() + "/runs", "");
  ASSERT_FALSE(bin.empty());
  GoBinaryInfo info;
  ASSERT_TRUE(LoadGoBinaryFromFile(bin.c_str(), 0, &info));
  Pclntab table;
  ASSERT_TRUE(InitPclntab(info, &table));
  int checked = 0;
  for (uint64_t i = 0; i < table.nfunc(); i += 7) {
    GoFuncInfo f;
    if (!table.FindFuncByIndex(i, &f)) continue;
    PcValueRun run;
    uintptr_t expected_start = f.entry;
    while (table.NextSpRun(f, &run) && run.start < f.end) {
      ASSERT_EQ(run.start, expected_start) << table.FuncName(f);
      for (uintptr_t pc = run.start; pc < run.end && pc < f.end; ++pc)
        ASSERT_EQ(table.SpDelta(f, pc), run.value) << table.FuncName(f) << " " << Hex(pc);
      expected_start = run.end;
    }
    // The table covers the code; only the padding before the next function may be left out.
    EXPECT_GT(expected_start, f.entry) << table.FuncName(f);
    EXPECT_LE(f.end - expected_start, 63u) << table.FuncName(f);
    ++checked;
  }
  EXPECT_GT(checked, 100);
  UnloadGoBinaryFile(&info);
}

}  // namespace
}  // namespace cgosan
