// MappingLimit implementation: raw reads only (it runs inside the runtime's mmap hook, on
// the g0 stack), a 16 KiB static buffer, one warning per process.
#include "preload/mapping_limit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "report/report_writer.h"
#include "shadow/base/raw_io.h"
#include "shadow/base/text_buffer.h"

namespace cgosan {
namespace {

constexpr uint64_t kCheckEvery = 1024;  // runtime mmaps between counts
constexpr uint64_t kWarnPercent = 80;

uint64_t g_limit = 0;
std::atomic<uint64_t> g_calls{0};
std::atomic<bool> g_counting{false};
std::atomic<bool> g_warned{false};

uint64_t CountMappings() {
  static char buf[16384];
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (fd < 0) return 0;
  uint64_t lines = 0;
  for (;;) {
    ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
  }
  syscall(SYS_close, fd);
  return lines;
}

// Whether GODEBUG asks for efence (the runtime reads the last setting of a key).
bool EfenceRequested() {
  const char* godebug = getenv("GODEBUG");
  bool on = false;
  for (const char* p = godebug; p && *p;) {
    if (strncmp(p, "efence=", 7) == 0) on = p[7] != '0' && p[7] != ',' && p[7] != '\0';
    p = strchr(p, ',');
    if (p) ++p;
  }
  return on;
}

}  // namespace

void MappingLimit::Init() {
  if (!EfenceRequested()) return;  // without efence the runtime's mappings are few and large
  char text[32] = {};
  if (RawReadFile("/proc/sys/vm/max_map_count", text, sizeof(text) - 1) <= 0) return;
  uint64_t v = 0;
  for (const char* p = text; *p >= '0' && *p <= '9'; ++p) v = v * 10 + (*p - '0');
  g_limit = v;
}

void MappingLimit::OnRuntimeMmap() {
  if (g_limit == 0 || g_warned.load(std::memory_order_relaxed)) return;
  if (g_calls.fetch_add(1, std::memory_order_relaxed) % kCheckEvery != kCheckEvery - 1) return;
  if (g_counting.exchange(true)) return;  // one counting thread at a time is enough
  uint64_t n = CountMappings();
  if (n * 100 >= g_limit * kWarnPercent && !g_warned.exchange(true)) {
    InlineTextBuffer<512> line;
    line.Append("warning: the program has ")
        .Unsigned(n)
        .Append(" memory mappings of the ")
        .Unsigned(g_limit)
        .Append(
            " the kernel allows (vm.max_map_count); with GODEBUG=efence=1 every goroutine stack "
            "and freed large object is a mapping of its own, and the Go runtime dies when they "
            "run out: rerun with go_efence=0 (cgosan test --no-efence) or raise "
            "vm.max_map_count");
    PrintLine(line.data());
  }
  g_counting.store(false);
}

}  // namespace cgosan
