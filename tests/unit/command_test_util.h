// Helpers for unit tests that run commands (readelf, go build): capture a command's output
// and own a temporary directory.
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <string>

namespace cgosan {
namespace testing_util {

// The command's standard output ("" when it cannot be started).
inline std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// A fresh directory under /tmp, removed with its contents at destruction.
class TempDir {
 public:
  explicit TempDir(const char* prefix) {
    std::string tmpl = std::string("/tmp/") + prefix + ".XXXXXX";
    if (mkdtemp(&tmpl[0]) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) RunCommand("rm -rf '" + path_ + "'");
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace testing_util
}  // namespace cgosan
