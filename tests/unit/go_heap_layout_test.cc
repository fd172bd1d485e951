// GoHeapLayoutTest: the per-version heap layout table (report/go/heap_layout.cc) against the
// DWARF of a real cgo binary built with every installed Go toolchain (tests/tools/
// dwarf_offsets reads it), and the size of that binary's runtime.mheap_ symbol, which is what
// cgosan checks at attach.
#include "report/go/heap_layout.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tests/unit/command_test_util.h"

namespace cgosan {
namespace {

using testing_util::GoToolchains;
using testing_util::RunCommand;
using testing_util::TempDir;

constexpr const char* kProgram = R"(package main

// #include <stdlib.h>
import "C"

func main() { C.free(nil) }
)";

// "TYPE.FIELD" -> offset, "TYPE.FIELD#size" -> size, "TYPE" -> struct size.
std::map<std::string, long> ReadLayout(const std::string& text) {
  std::map<std::string, long> out;
  std::istringstream lines(text);
  std::string a, b;
  long x, y;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    in >> a >> b;
    if (b == "size") {
      in >> x;
      out[a] = x;
    } else {
      std::istringstream nums(b);
      nums >> x;
      in >> y;
      out[a] = x;
      out[a + "#size"] = y;
    }
  }
  return out;
}

TEST(GoHeapLayoutTest, TableMatchesTheDwarfOfEveryToolchain) {
  const char* src = CGOSAN_SOURCE_DIR;
  auto toolchains = GoToolchains();
  ASSERT_FALSE(toolchains.empty()) << "no Go toolchain";
  TempDir dir("cgosan-heap-layout");
  const std::string tool = dir.path() + "/dwarf_offsets";
  RunCommand("cd '" + std::string(src) + "/tests/tools/dwarf_offsets' && " + toolchains[0].env +
             toolchains[0].go + " build -o '" + tool + "' . 2>&1");
  ASSERT_EQ(access(tool.c_str(), X_OK), 0) << "building dwarf_offsets failed";
  std::ofstream(dir.path() + "/main.go") << kProgram;
  std::ofstream(dir.path() + "/go.mod") << "module heaplayout\n\ngo 1.19\n";
  int checked = 0;
  for (const auto& tc : toolchains) {
    SCOPED_TRACE(tc.label);
    const GoHeapLayout* l = FindGoHeapLayout(tc.minor);
    ASSERT_NE(l, nullptr) << "no heap layout for Go 1." << tc.minor;
    std::string bin = dir.path() + "/prog-" + tc.label;
    std::string log = RunCommand("cd '" + dir.path() + "' && " + tc.env + "CGO_ENABLED=1 " +
                                 tc.go + " build -o '" + bin + "' . 2>&1");
    ASSERT_EQ(access(bin.c_str(), X_OK), 0) << log;
    auto d = ReadLayout(RunCommand("'" + tool + "' '" + bin +
                                   "' runtime.mheap runtime.heapArena runtime.mspan runtime.g "
                                   "runtime.m"));
    EXPECT_EQ(d["runtime.mheap"], l->mheap_size);
    EXPECT_EQ(d["runtime.mheap.arenas"], l->mheap_arenas);
    EXPECT_EQ(d["runtime.mheap.arenas#size"], 8) << "[1]*[1<<22]*heapArena on linux/amd64";
    EXPECT_EQ(d["runtime.mheap.allspans"], l->mheap_allspans);
    EXPECT_EQ(d["runtime.heapArena.spans"], l->arena_spans);
    EXPECT_EQ(d["runtime.heapArena.spans#size"], static_cast<long>(kGoPagesPerArena * 8));
    EXPECT_EQ(d["runtime.mspan.startAddr"], l->span_start);
    EXPECT_EQ(d["runtime.mspan.npages"], l->span_npages);
    EXPECT_EQ(d["runtime.mspan.freeindex"], l->span_freeindex);
    EXPECT_EQ(d["runtime.mspan.freeindex#size"], l->index_bytes);
    EXPECT_EQ(d["runtime.mspan.nelems"], l->span_nelems);
    EXPECT_EQ(d["runtime.mspan.nelems#size"], l->index_bytes);
    EXPECT_EQ(d["runtime.mspan.allocBits"], l->span_alloc_bits);
    if (l->span_pinner_bits != 0) {
      EXPECT_EQ(d["runtime.mspan.pinnerBits"], l->span_pinner_bits);
    } else {
      EXPECT_EQ(d.count("runtime.mspan.pinnerBits"), 0u);
    }
    EXPECT_EQ(d["runtime.mspan.state"], l->span_state);
    EXPECT_EQ(d["runtime.mspan.elemsize"], l->span_elemsize);
    EXPECT_EQ(d["runtime.mspan.limit"], l->span_limit);
    EXPECT_EQ(d["runtime.g.atomicstatus"], l->g_atomicstatus);
    EXPECT_EQ(d["runtime.g.syscallsp"], l->g_syscallsp);
    EXPECT_EQ(d["runtime.m.alllink"], l->m_alllink);
    // What cgosan checks at attach: the size of the runtime.mheap_ symbol.
    std::string nm = RunCommand("nm -S '" + bin + "' | awk '$4 == \"runtime.mheap_\" {print $2}'");
    EXPECT_EQ(strtol(nm.c_str(), nullptr, 16), static_cast<long>(l->mheap_size));
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace cgosan
