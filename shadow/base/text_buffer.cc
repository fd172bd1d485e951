// TextBuffer implementation: hand-written number formatting (no snprintf: not async-signal-safe).
#include "shadow/base/text_buffer.h"

#include <cstring>

namespace cgosan {

TextBuffer& TextBuffer::Append(const char* s, size_t n) {
  if (cap_ == 0) return *this;
  size_t room = cap_ - 1 - len_;
  if (n > room) {
    n = room;
    truncated_ = true;
  }
  memcpy(data_ + len_, s, n);
  len_ += n;
  Terminate();
  return *this;
}

TextBuffer& TextBuffer::Append(const char* s) {
  return s ? Append(s, strlen(s)) : Append("(null)");
}

TextBuffer& TextBuffer::Char(char c) { return Append(&c, 1); }

TextBuffer& TextBuffer::Unsigned(uint64_t v) {
  char tmp[24];
  int i = sizeof(tmp);
  do {
    tmp[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return Append(tmp + i, sizeof(tmp) - i);
}

TextBuffer& TextBuffer::Dec(int64_t v) {
  if (v < 0) {
    Char('-');
    return Unsigned(static_cast<uint64_t>(0) - static_cast<uint64_t>(v));
  }
  return Unsigned(static_cast<uint64_t>(v));
}

TextBuffer& TextBuffer::HexDigits(uint64_t v, int width) {
  static const char kDigits[] = "0123456789abcdef";
  char tmp[16];
  int i = sizeof(tmp);
  do {
    tmp[--i] = kDigits[v & 15];
    v >>= 4;
  } while (v != 0);
  while (static_cast<int>(sizeof(tmp)) - i < width && i > 0) tmp[--i] = '0';
  return Append(tmp + i, sizeof(tmp) - i);
}

TextBuffer& TextBuffer::Hex(uint64_t v) {
  Append("0x", 2);
  return HexDigits(v, 1);
}

TextBuffer& TextBuffer::DecPadded(uint64_t v, int width) {
  char tmp[24];
  int i = sizeof(tmp);
  do {
    tmp[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (static_cast<int>(sizeof(tmp)) - i < width && i > 0) tmp[--i] = '0';
  return Append(tmp + i, sizeof(tmp) - i);
}

}  // namespace cgosan
