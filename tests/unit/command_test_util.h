// Helpers for unit tests that run commands (readelf, go build): capture a command's output,
// own a temporary directory, and list the Go toolchains to build with.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

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

// One Go toolchain: `env` is the prefix for its go command `go`; minor is 19 for go1.19.8.
struct GoToolchain {
  std::string label;
  std::string env;
  std::string go;
  int minor = 0;
};

// Debian's go, then the toolchains scripts/go-toolchains unpacked into the build tree
// ($CGOSAN_GO_TOOLCHAINS_DIR, else $CGOSAN_BUILD_DIR/go-toolchains, as the integration tests
// find them).
inline std::vector<GoToolchain> GoToolchains() {
  std::vector<GoToolchain> out;
  if (system("go version >/dev/null 2>&1") == 0)
    out.push_back({"default", "GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off ", "go"});
  const char* dir = getenv("CGOSAN_GO_TOOLCHAINS_DIR");
  const char* build = getenv("CGOSAN_BUILD_DIR");
  std::string base = dir ? dir : build ? std::string(build) + "/go-toolchains" : "";
  if (!base.empty()) {
    std::istringstream roots(RunCommand("ls -d '" + base + "'/usr/lib/go-1.* 2>/dev/null"));
    std::string root;
    while (std::getline(roots, root)) {
      if (root.empty() || access((root + "/bin/go").c_str(), X_OK) != 0) continue;
      out.push_back({root.substr(root.rfind('/') + 1),
                     "GOTOOLCHAIN=local GOPROXY=off GOROOT=" + root + " ", root + "/bin/go"});
    }
  }
  for (GoToolchain& tc : out) {
    std::string v = RunCommand(tc.env + tc.go + " env GOVERSION");  // "go1.22.12"
    if (v.rfind("go1.", 0) == 0) tc.minor = atoi(v.c_str() + 4);
  }
  return out;
}

}  // namespace testing_util
}  // namespace cgosan
