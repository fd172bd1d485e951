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

// A C function reading a relocated bucket array of a map[int]int through a cgo call; the
// Go insert that grew the map at main.go:33, the array's allocation at main.go:30.
inline std::unique_ptr<Finding> MakeMapRelocation() {
  auto f = std::make_unique<Finding>();
  f->kind = FindingKind::kMapBucketUseAfterRelocation;
  f->has_address = true;
  f->address = 0xc0000ea008;
  f->pc = 0x4a1b2c;
  f->access = AccessType::kRead;
  f->access_size = 8;
  f->has_object = true;
  f->region = Region::kMapBuckets;
  f->object_base = 0xc0000ea000;
  f->object_size = 40960;
  f->object_offset = 8;
  f->cgo_function = "sum_buckets";
  f->go.map_address = 0xc000048e58;
  strcpy(f->go.map_type, "map[int]int");
  f->go.array_kind = "bucket array";
  f->go.map_state = "relocated";
  f->thread.tid = getpid();
  f->thread.goroutine = 1;
  strcpy(f->thread.name, "prog");
  Stack* access = f->AddStack("access");
  access->tid = getpid();
  AddFrames(
      access,
      {
          MakeFrame(0x4a1b2c, "sum_buckets", "/src/map/sum.c", 7, kProg, 0x1b2c),
          MakeFrame(0x4840c2, "_cgo_6fb0635e1d8d_Cfunc_sum_buckets", nullptr, 0, kProg, 0x840c2,
                    FrameLang::kC, true),
          MakeFrame(0x45f6c4, "runtime.asmcgocall", nullptr, 0, kProg, 0x5f6c4, FrameLang::kGo,
                    true),
          MakeFrame(0x404f65, "runtime.cgocall", nullptr, 0, kProg, 0x4f65, FrameLang::kGo, true),
          MakeFrame(0x483ce8, "main._Cfunc_sum_buckets", nullptr, 0, kProg, 0x83ce8, FrameLang::kGo,
                    true),
          MakeFrame(0x483f74, "main.main", "/src/map/main.go", 40, kProg, 0x83f74, FrameLang::kGo),
      });
  Stack* reloc = f->AddStack("relocation");
  reloc->tid = getpid();
  reloc->goroutine = 1;
  AddFrames(
      reloc,
      {
          MakeFrame(0x40f0a0, "runtime.hashGrow", "/usr/lib/go/src/runtime/map.go", 1060, kProg,
                    0xf0a0, FrameLang::kGo),
          MakeFrame(0x40d1b0, "runtime.mapassign_fast64", "/usr/lib/go/src/runtime/map_fast64.go",
                    113, kProg, 0xd1b0, FrameLang::kGo),
          MakeFrame(0x483e10, "main.fill", "/src/map/main.go", 33, kProg, 0x83e10, FrameLang::kGo),
          MakeFrame(0x483f20, "main.main", "/src/map/main.go", 38, kProg, 0x83f20, FrameLang::kGo),
      });
  Stack* alloc = f->AddStack("alloc");
  AddFrames(
      alloc,
      {
          MakeFrame(0x40e000, "runtime.makeBucketArray", "/usr/lib/go/src/runtime/map.go", 347,
                    kProg, 0xe000, FrameLang::kGo),
          MakeFrame(0x483e90, "main.main", "/src/map/main.go", 30, kProg, 0x83e90, FrameLang::kGo),
      });
  return f;
}

// C writing into a 1 MiB Go heap range that the GC freed (efence) in its third cycle.
inline std::unique_ptr<Finding> MakeGoHeapUseAfterFree() {
  auto f = std::make_unique<Finding>();
  f->kind = FindingKind::kGoHeapUseAfterFree;
  f->has_address = true;
  f->address = 0xc000180010;
  f->pc = 0x4a1c40;
  f->access = AccessType::kWrite;
  f->access_size = 4;
  f->has_object = true;
  f->region = Region::kGoHeap;
  f->object_base = 0xc000180000;
  f->object_size = 1048576;
  f->object_offset = 16;
  f->go.gc_cycle = 3;
  f->go.freed_ms = 120;
  f->thread.tid = getpid();
  f->thread.goroutine = 1;
  Stack* access = f->AddStack("access");
  access->tid = getpid();
  AddFrames(access, {
                        MakeFrame(0x4a1c40, "fill_kept", "/src/heap/kept.c", 9, kProg, 0x1c40),
                        MakeFrame(0x483f74, "main.main", "/src/heap/main.go", 27, kProg, 0x83f74,
                                  FrameLang::kGo),
                    });
  return f;
}

// C reading a goroutine's old stack after the stack grew and was copied elsewhere.
inline std::unique_ptr<Finding> MakeGoStackUseAfterFree() {
  auto f = std::make_unique<Finding>();
  f->kind = FindingKind::kGoStackUseAfterFree;
  f->has_address = true;
  f->address = 0xc000117f80;
  f->pc = 0x4a1d00;
  f->access = AccessType::kRead;
  f->access_size = 8;
  f->has_object = true;
  f->region = Region::kGoStack;
  f->object_base = 0xc000110000;
  f->object_size = 32768;
  f->object_offset = 0x7f80;
  f->go.goroutine = 7;
  f->go.stack_moved = true;
  f->thread.tid = getpid() + 3;
  f->thread.goroutine = 9;
  Stack* access = f->AddStack("access");
  access->tid = getpid() + 3;
  AddFrames(access, {
                        MakeFrame(0x4a1d00, "read_saved", "/src/stack/saved.c", 14, kProg, 0x1d00),
                        MakeFrame(0x483f80, "main.reader", "/src/stack/main.go", 52, kProg, 0x83f80,
                                  FrameLang::kGo),
                    });
  Stack* freed = f->AddStack("free");
  freed->goroutine = 7;
  AddFrames(freed, {
                       MakeFrame(0x44a000, "runtime.stackfree", "/usr/lib/go/src/runtime/stack.go",
                                 500, kProg, 0x4a000, FrameLang::kGo),
                       MakeFrame(0x44b000, "runtime.copystack", "/usr/lib/go/src/runtime/stack.go",
                                 930, kProg, 0x4b000, FrameLang::kGo),
                       MakeFrame(0x483d00, "main.deep", "/src/stack/main.go", 44, kProg, 0x83d00,
                                 FrameLang::kGo),
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
