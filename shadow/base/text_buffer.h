// TextBuffer: formatting into caller-owned memory without malloc or stdio.
// Everything cgosan prints, including from signal handlers, is built with this. Output
// that does not fit is truncated (and Truncated() says so) rather than allocated.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

class TextBuffer {
 public:
  TextBuffer(char* storage, size_t capacity) : data_(storage), cap_(capacity) { Terminate(); }

  TextBuffer& Append(const char* s);
  TextBuffer& Append(const char* s, size_t n);
  TextBuffer& Char(char c);
  TextBuffer& Dec(int64_t v);
  TextBuffer& Unsigned(uint64_t v);
  // "0x" followed by lowercase hex digits, no padding.
  TextBuffer& Hex(uint64_t v);
  // Lowercase hex digits padded with zeros to `width`, no prefix.
  TextBuffer& HexDigits(uint64_t v, int width);
  // Appends `v` with at most `width` digits, zero padded (for timestamps).
  TextBuffer& DecPadded(uint64_t v, int width);

  const char* data() const { return data_; }
  size_t size() const { return len_; }
  size_t capacity() const { return cap_; }
  bool Truncated() const { return truncated_; }
  void Clear() {
    len_ = 0;
    truncated_ = false;
    Terminate();
  }
  // Shrinks the content to `n` bytes (n <= size()).
  void Resize(size_t n) {
    if (n < len_) len_ = n;
    Terminate();
  }

 private:
  void Terminate() {
    if (cap_ > 0) data_[len_ < cap_ ? len_ : cap_ - 1] = '\0';
  }

  char* data_;
  size_t cap_;
  size_t len_ = 0;
  bool truncated_ = false;
};

// A TextBuffer with its storage inline; keep N small when it lives on a signal stack.
template <size_t N>
class InlineTextBuffer : public TextBuffer {
 public:
  InlineTextBuffer() : TextBuffer(storage_, N) {}

 private:
  char storage_[N];
};

}  // namespace cgosan
