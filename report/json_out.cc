// JSON string escaping: the one place that decides which bytes may appear raw in a report.
#include "report/json_out.h"

#include <cstring>

namespace cgosan {
namespace {

// Length of the valid UTF-8 sequence starting at s[0] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when it is not one.
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  auto cont = [&](size_t i, unsigned char lo, unsigned char hi) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1, 0x80, 0xbf) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2, 0x80, 0xbf) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2, 0x80, 0xbf) && cont(3, 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}

}  // namespace

void JsonString(TextBuffer* out, const char* s, size_t n) {
  if (n > kMaxJsonStringInput) n = kMaxJsonStringInput;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s);
  out->Char('"');
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    // Runs of plain ASCII are copied in one Append.
    size_t run = i;
    while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') ++run;
    if (run > i) {
      out->Append(s + i, run - i);
      i = run;
      continue;
    }
    if (c == '"' || c == '\\') {
      out->Char('\\').Char(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n':
          out->Append("\\n");
          break;
        case '\r':
          out->Append("\\r");
          break;
        case '\t':
          out->Append("\\t");
          break;
        case '\b':
          out->Append("\\b");
          break;
        case '\f':
          out->Append("\\f");
          break;
        default:
          out->Append("\\u00").HexDigits(c, 2);
          break;
      }
      ++i;
    } else {
      size_t len = Utf8SequenceLength(p + i, n - i);
      if (len == 0) {
        out->Append("\\ufffd");
        ++i;
      } else {
        out->Append(s + i, len);
        i += len;
      }
    }
  }
  out->Char('"');
}

void JsonString(TextBuffer* out, const char* s) { JsonString(out, s, strlen(s)); }

void JsonStringOrNull(TextBuffer* out, const char* s) {
  if (s == nullptr) {
    out->Append("null");
  } else {
    JsonString(out, s);
  }
}

void JsonHex(TextBuffer* out, uint64_t v) { out->Char('"').Hex(v).Char('"'); }

void JsonKey(TextBuffer* out, const char* key) {
  JsonString(out, key);
  out->Char(':');
}

}  // namespace cgosan
