// Go build information (.go.buildinfo, Go 1.18+ inline-string format): the toolchain
// version ("go1.19.8" -> minor 19) and the build settings recorded in the module info
// (GOEXPERIMENT=...). Parsing only; finding the blob is go_binary.cc's job. Not used at
// report time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

// "\xff Go buildinf:" followed by ptrSize and flags bytes: the 16-byte start of the blob.
constexpr char kGoBuildInfoMagic[] = "\xff Go buildinf:";
constexpr size_t kGoBuildInfoMagicLen = 14;

struct GoBuildInfo {
  char version[32] = {};
  int go_major = 0;
  int go_minor = 0;
  char goexperiment[128] = {};
};

// data: the blob starting at the magic, n: bytes available. False unless the magic and the
// inline-string flag (bit 1 of byte 15) are there and the version string parses.
bool ParseGoBuildInfo(const uint8_t* data, size_t n, GoBuildInfo* out);
// "go1.19.8" / "go1.21rc2" / "devel go1.22-..." -> major, minor. False when unparseable.
bool ParseGoVersion(const char* version, int* major, int* minor);

}  // namespace cgosan
