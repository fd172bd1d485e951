// Decoding a Go type descriptor's name (runtime/type.go, internal/abi/type.go of Go
// 1.19-1.24; the same layout in each): the descriptor's `str` nameOff is an offset from
// moduledata.types to an encoded name (a flag byte, a varint length, the bytes), and with
// tflagExtraStar the stored string carries a '*' that the type's own name drops.
#include "report/go/go_type_name.h"

#include <cstring>

#include "report/go/go_runtime.h"
#include "report/go/runtime_layout.h"

namespace cgosan {
namespace {

// _type / abi.Type: size 0, ptrdata 8, hash 16, tflag 20, align 21, fieldAlign 22, kind 23,
// equal 24, gcdata 32, str 40 (int32 nameOff), ptrToThis 44.
constexpr uintptr_t kTypeTflag = 20;
constexpr uintptr_t kTypeStr = 40;
constexpr uintptr_t kTypeHeaderSize = 48;
constexpr uint8_t kTflagExtraStar = 1 << 1;
// Name flag bits: exported, tag follows, pkgPath follows, embedded. Anything above is not
// a name.
constexpr uint8_t kNameFlagMask = 0x0f;
// Type strings are far shorter than 2^28: more varint bytes than this is not a name.
constexpr int kMaxVarintBytes = 4;

// The n bytes at runtime address addr, when all of them are inside the type data.
const uint8_t* At(const GoTypeData& d, uintptr_t addr, size_t n) {
  if (addr < d.types || addr >= d.etypes || d.etypes - addr < n) return nullptr;
  return d.bytes + (addr - d.types);
}

}  // namespace

bool GoTypesFromModuledata(const uint8_t* moduledata, size_t size, int go_minor, uintptr_t* types,
                           uintptr_t* etypes) {
  uint32_t off = ModuledataTypesOffset(go_minor);
  if (off == 0 || moduledata == nullptr || size < off + 16) return false;
  memcpy(types, moduledata + off, sizeof(*types));
  memcpy(etypes, moduledata + off + 8, sizeof(*etypes));
  return *types != 0 && *etypes > *types;
}

bool DecodeGoTypeName(const GoTypeData& data, uintptr_t type_addr, char* out, size_t size) {
  if (out == nullptr || size == 0) return false;
  out[0] = '\0';
  if (!data.Valid()) return false;
  const uint8_t* header = At(data, type_addr, kTypeHeaderSize);
  if (header == nullptr) return false;
  const uint8_t tflag = header[kTypeTflag];
  int32_t str;
  memcpy(&str, header + kTypeStr, sizeof(str));
  if (str <= 0) return false;  // 0: no name; negative: not an offset into this module

  uintptr_t name = data.types + static_cast<uint32_t>(str);
  const uint8_t* flags = At(data, name, 1);
  if (flags == nullptr || (*flags & ~kNameFlagMask) != 0) return false;
  uint64_t len = 0;
  int n = 0;
  for (;; ++n) {
    if (n == kMaxVarintBytes) return false;
    const uint8_t* b = At(data, name + 1 + n, 1);
    if (b == nullptr) return false;
    len |= static_cast<uint64_t>(*b & 0x7f) << (7 * n);
    if ((*b & 0x80) == 0) break;
  }
  const char* s = reinterpret_cast<const char*>(At(data, name + 2 + n, len));
  if (s == nullptr) return false;
  if (tflag & kTflagExtraStar) {
    if (len == 0 || s[0] != '*') return false;
    ++s;
    --len;
  }
  if (len == 0) return false;
  // The compiler quotes struct tags (strconv.Quote): a type string has no control bytes.
  for (uint64_t i = 0; i < len; ++i) {
    if (static_cast<uint8_t>(s[i]) < 0x20 || s[i] == 0x7f) return false;
  }

  if (len < size) {
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
  }
  // Cut, without splitting a UTF-8 sequence, and say so.
  constexpr char kEllipsis[] = "...";
  size_t keep = size > sizeof(kEllipsis) ? size - sizeof(kEllipsis) : size - 1;
  while (keep > 0 && (static_cast<uint8_t>(s[keep]) & 0xc0) == 0x80) --keep;
  memcpy(out, s, keep);
  if (size > sizeof(kEllipsis)) {
    memcpy(out + keep, kEllipsis, sizeof(kEllipsis));
  } else {
    out[keep] = '\0';
  }
  return true;
}

bool GoTypeName(uintptr_t type_addr, char* out, size_t size) {
  return DecodeGoTypeName(GoRuntime::Types(), type_addr, out, size);
}

}  // namespace cgosan
