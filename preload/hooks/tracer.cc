// TracerAttached implementation.
#include "preload/hooks/tracer.h"

#include <cstring>

#include "shadow/base/raw_io.h"

namespace cgosan {

bool TracerAttached() {
  char buf[4096];
  ssize_t n = RawReadFile("/proc/self/status", buf, sizeof(buf) - 1);
  if (n <= 0) return false;
  buf[n] = '\0';
  static const char kKey[] = "\nTracerPid:";
  const char* p = strstr(buf, kKey);
  if (p == nullptr) return false;
  p += sizeof(kKey) - 1;
  while (*p == ' ' || *p == '\t') ++p;
  return *p >= '1' && *p <= '9';
}

}  // namespace cgosan
