// Helpers for the report writer tests: hand-built frames and findings, stderr capture,
// and scratch directories.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "report/finding.h"

namespace cgosan {
namespace testing_util {

inline constexpr const char* kProg = "/tmp/prog";
inline constexpr const char* kLibc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
inline constexpr const char* kLdso = "/usr/lib64/ld-linux-x86-64.so.2";
inline constexpr const char* kCgosan = "/opt/cgosan/lib/libcgosan.so";

inline Frame MakeFrame(uintptr_t pc, const char* function, const char* file, int line,
                       const char* module, uintptr_t offset, FrameLang lang = FrameLang::kC,
                       bool glue = false, bool inlined = false) {
  Frame f;
  f.pc = pc;
  f.function = function;
  f.file = file;
  f.line = line;
  f.module = module;
  f.module_offset = offset;
  f.lang = lang;
  f.glue = glue;
  f.inlined = inlined;
  return f;
}

inline void AddFrames(Stack* s, const std::vector<Frame>& frames) {
  for (const Frame& f : frames) s->frames[s->num_frames++] = f;
}

// The use-after-free of the example: a 13-byte block read after free.
inline std::unique_ptr<Finding> MakeUseAfterFree() {
  auto f = std::make_unique<Finding>();
  f->kind = FindingKind::kHeapUseAfterFree;
  f->has_address = true;
  f->address = 0x7f3a1c001010;
  f->pc = 0x4a1b2c;
  f->access = AccessType::kRead;
  f->access_size = 1;
  f->has_object = true;
  f->region = Region::kCHeap;
  f->object_base = 0x7f3a1c001010;
  f->object_size = 13;
  f->object_offset = 0;
  f->thread.tid = getpid();
  strcpy(f->thread.name, "prog");
  Stack* access = f->AddStack("access");
  access->tid = getpid();
  AddFrames(access, {
                        MakeFrame(0x4a1b2c, "readkept", "main.c", 8, kProg, 0x1b2c),
                        MakeFrame(0x4a1c00, "main", "main.c", 20, kProg, 0x1c00),
                        MakeFrame(0x7f0000029d90, "__libc_start_call_main", nullptr, 0, kLibc,
                                  0x29d90),
                    });
  Stack* free_stack = f->AddStack("free");
  free_stack->tid = getpid();
  AddFrames(free_stack, {
                            MakeFrame(0x4a1b00, "dropkept", "main.c", 12, kProg, 0x1b00),
                            MakeFrame(0x4a1c10, "main", "main.c", 21, kProg, 0x1c10),
                        });
  Stack* alloc = f->AddStack("alloc");
  alloc->tid = 4242;
  AddFrames(alloc, {
                       MakeFrame(0x4a1a00, "keep", nullptr, 0, kProg, 0x1a00),
                       MakeFrame(0x4a1a80, nullptr, nullptr, 0, kProg, 0x1a80),
                   });
  return f;
}

// Redirects fd 2 into a memfd while alive; Take() returns what was written.
class StderrCapture {
 public:
  StderrCapture() {
    fd_ = memfd_create("stderr-capture", 0);
    saved_ = dup(2);
    dup2(fd_, 2);
  }
  ~StderrCapture() { Restore(); }
  std::string Take() {
    Restore();
    std::string s;
    char buf[4096];
    off_t off = 0;
    ssize_t n;
    while ((n = pread(fd_, buf, sizeof(buf), off)) > 0) {
      s.append(buf, static_cast<size_t>(n));
      off += n;
    }
    return s;
  }

 private:
  void Restore() {
    if (saved_ >= 0) {
      dup2(saved_, 2);
      close(saved_);
      saved_ = -1;
    }
  }
  int fd_ = -1;
  int saved_ = -1;
};

// A fresh directory under the test temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = std::filesystem::temp_directory_path().string() + "/cgosan-rep-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    path_ = mkdtemp(buf.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(s.substr(start));
      break;
    }
    lines.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

inline std::string Prefix() { return "==" + std::to_string(getpid()) + "==cgosan: "; }

}  // namespace testing_util
}  // namespace cgosan
