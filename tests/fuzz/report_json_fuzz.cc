// libFuzzer target for `cgosan report`'s reader and formatters (report/cli/): the input is a
// JSON finding file, read from a directory where it lies twice (so deduplication merges
// two findings), rendered in one of the four formats (chosen by the input's size, so every
// input size class meets every formatter). Any input must give an exit status of 0, 1 or 2
// and never a crash, an uncaught exception or an out-of-bounds access.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <streambuf>
#include <string>

#include "report/cli/report_command.h"

namespace {

class NullBuf : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

NullBuf g_null;
std::string g_dir;

void WriteFile(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char tmpl[] = "/tmp/cgosan-report-fuzz-XXXXXX";
  if (!mkdtemp(tmpl)) abort();
  g_dir = tmpl;
  std::cout.rdbuf(&g_null);  // the reports themselves are not looked at
  std::cerr.rdbuf(&g_null);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  WriteFile(g_dir + "/cgosan.a.1.x.json", data, size);
  WriteFile(g_dir + "/cgosan.b.2.y.json", data, size);
  static const char* const kFormats[] = {"--format=text", "--format=json",
                                         "--format=markdown", "--format=sarif"};
  std::string f = kFormats[size % 4], src = "--source-root=/src", dir = g_dir;
  char* argv[] = {&f[0], &src[0], &dir[0], nullptr};
  int status = cgosan::cli::RunReportCommand(3, argv);
  if (status < 0 || status > 2) abort();
  return 0;
}
