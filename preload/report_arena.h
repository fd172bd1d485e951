// ReportArena: where malloc is served from while this thread makes a report.
// A report may run in a signal handler that interrupted glibc's malloc with its locks held;
// the few allocations a report makes (the C++ demangler) come from this static arena
// instead and are never given back.
#pragma once

#include <cstddef>

namespace cgosan {

class ReportArena {
 public:
  static constexpr size_t kBytes = 4 << 20;
  static void* Allocate(size_t size, size_t alignment);
  // Inline: every free asks.
  static bool Owns(const void* p) {
    auto c = static_cast<const char*>(p);
    return c >= storage_ && c < storage_ + kBytes;
  }
  static void* Reallocate(void* p, size_t size);
  static size_t SizeOf(const void* p);

 private:
  alignas(64) static char storage_[kBytes];
};

}  // namespace cgosan
