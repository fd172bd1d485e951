// libFuzzer target for the CGOSAN_OPTIONS parser (shadow/options.cc), which runs in the
// preload's constructor of every process: any input either parses or yields one error line,
// never a crash or an out-of-bounds access, and a successful parse leaves every option in
// the range options.inc declares (strings NUL-terminated, enums a valid index).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "shadow/options.h"

namespace {

int CountValues(const char* values) {
  int n = 1;
  for (const char* p = values; *p; ++p) n += *p == '|';
  return n;
}

void CheckRanges(const cgosan::Options& o) {
#define CGOSAN_INT(name, def, lo, hi, help) \
  if (o.name < (lo) || o.name > (hi)) abort();
#define CGOSAN_STRING(name, def, help) \
  if (memchr(o.name, 0, sizeof o.name) == nullptr) abort();
#define CGOSAN_ENUM(name, def, values, help) \
  if (o.name < 0 || o.name >= CountValues(values)) abort();
#include "shadow/options.inc"
#undef CGOSAN_INT
#undef CGOSAN_STRING
#undef CGOSAN_ENUM
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The environment gives a NUL-terminated string: the input up to its first NUL.
  char* text = static_cast<char*>(malloc(size + 1));
  memcpy(text, data, size);
  text[size] = 0;
  cgosan::Options opts;
  char err_storage[512];
  cgosan::TextBuffer err(err_storage, sizeof err_storage);
  bool ok = cgosan::ParseOptions(text, &opts, &err);
  if (ok) {
    CheckRanges(opts);
  } else if (err.size() == 0) {
    abort();  // a refused value must be explained
  }
  // A second parse over the result (defaults already set) must agree with the first.
  cgosan::Options again = opts;
  err.Clear();
  if (ok && !cgosan::ParseOptions(text, &again, &err)) abort();
  free(text);
  return 0;
}
