// SymbolStringPool: the storage behind every string the symbolizer hands out (module paths,
// function names). A static bump area: no malloc, so it works in a signal handler; reset by
// Symbolizer::Refresh(), which is why returned strings live until the next Refresh().
#pragma once

#include <cstddef>

namespace cgosan {

class SymbolStringPool {
 public:
  static void Reset();
  // Copies s[0, n) plus a NUL; nullptr when the pool is full (the caller reports "unknown").
  static const char* Copy(const char* s, size_t n);
  static const char* Copy(const char* s);
};

}  // namespace cgosan
