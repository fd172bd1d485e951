// Go build information parsing. The 1.18+ layout (debug/buildinfo): a 32-byte header
// (magic, ptrSize@14, flags@15; flags bit 1 = strings stored inline), then two strings each
// prefixed by a uvarint length: the version, then the module info, whose lines include
// "build\tKEY=VALUE" settings.
#include "report/go/go_buildinfo.h"

#include <cstring>

namespace cgosan {
namespace {

constexpr size_t kHeaderLen = 32;

// Reads a uvarint-prefixed string at *pos; false when it does not fit.
bool ReadString(const uint8_t* d, size_t n, size_t* pos, const uint8_t** s, size_t* len) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    if (*pos >= n || shift > 63) return false;
    uint8_t b = d[(*pos)++];
    v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) break;
  }
  if (v > n - *pos) return false;
  *s = d + *pos;
  *len = v;
  *pos += v;
  return true;
}

void CopyTruncated(char* dst, size_t cap, const uint8_t* src, size_t len) {
  if (len >= cap) len = cap - 1;
  memcpy(dst, src, len);
  dst[len] = '\0';
}

}  // namespace

bool ParseGoVersion(const char* v, int* major, int* minor) {
  const char* p = strstr(v, "go");
  if (p == nullptr) return false;
  p += 2;
  if (*p < '0' || *p > '9') return false;
  int a = 0, b = 0;
  while (*p >= '0' && *p <= '9') a = a * 10 + (*p++ - '0');
  if (*p != '.') return false;
  p++;
  if (*p < '0' || *p > '9') return false;
  while (*p >= '0' && *p <= '9') b = b * 10 + (*p++ - '0');
  *major = a;
  *minor = b;
  return true;
}

bool ParseGoBuildInfo(const uint8_t* d, size_t n, GoBuildInfo* out) {
  if (n < kHeaderLen || memcmp(d, kGoBuildInfoMagic, kGoBuildInfoMagicLen) != 0) return false;
  if ((d[15] & 2) == 0) return false;  // pre-1.18 pointer format: not supported
  size_t pos = kHeaderLen;
  const uint8_t *ver, *mod;
  size_t ver_len, mod_len;
  if (!ReadString(d, n, &pos, &ver, &ver_len)) return false;
  CopyTruncated(out->version, sizeof(out->version), ver, ver_len);
  if (!ParseGoVersion(out->version, &out->go_major, &out->go_minor)) return false;
  out->goexperiment[0] = '\0';
  if (!ReadString(d, n, &pos, &mod, &mod_len)) return true;  // version alone is enough
  static const char kKey[] = "build\tGOEXPERIMENT=";
  const size_t key_len = sizeof(kKey) - 1;
  for (size_t i = 0; i + key_len <= mod_len; i++) {
    if ((i == 0 || mod[i - 1] == '\n') && memcmp(mod + i, kKey, key_len) == 0) {
      size_t s = i + key_len, e = s;
      while (e < mod_len && mod[e] != '\n') e++;
      CopyTruncated(out->goexperiment, sizeof(out->goexperiment), mod + s, e - s);
      break;
    }
  }
  return true;
}

}  // namespace cgosan
