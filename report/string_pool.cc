// SymbolStringPool: 2 MiB of .bss; untouched pages cost nothing, and one report (six stacks
// of 128 frames, a few hundred module paths) needs far less.
#include "report/string_pool.h"

#include <cstring>

namespace cgosan {
namespace {

constexpr size_t kPoolSize = 2 << 20;
char g_pool[kPoolSize];
size_t g_used = 0;

}  // namespace

void SymbolStringPool::Reset() { g_used = 0; }

const char* SymbolStringPool::Copy(const char* s, size_t n) {
  if (s == nullptr || n >= kPoolSize - g_used) return nullptr;
  char* out = g_pool + g_used;
  memcpy(out, s, n);
  out[n] = '\0';
  g_used += n + 1;
  return out;
}

const char* SymbolStringPool::Copy(const char* s) {
  return s == nullptr ? nullptr : Copy(s, strlen(s));
}

}  // namespace cgosan
