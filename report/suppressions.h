// Suppressions: findings the user chose not to see, from the file named by the
// `suppressions` option. One rule a line, `KIND:PATTERN` (`#` starts a comment): KIND is a
// finding kind ("heap-use-after-free", ...; "retained" for go-pointer-retained), PATTERN a
// glob (`*`, `?`) matched against the function, the file and the module of every frame of
// every stack of the finding. Loaded once before the program runs; matching is
// async-signal-safe (it runs in the fault handler) and allocates nothing.
#pragma once

#include <cstdint>

#include "report/finding.h"
#include "shadow/base/text_buffer.h"

namespace cgosan {

class Suppressions {
 public:
  // Parses the file. On error writes "FILE:LINE: reason" (or why the file cannot be read)
  // into *error and returns false; the rules loaded before stay loaded.
  static bool Load(const char* path, TextBuffer* error);
  // Parses text (tests and Load). `name` is used in error messages.
  static bool Parse(const char* name, const char* text, size_t len, TextBuffer* error);
  static void Clear();
  static int RuleCount();

  // Whether a rule matches f (its stacks must be symbolized). Counts matches.
  static bool Matches(const Finding& f);
  static uint64_t SuppressedCount();
};

// `*` matches any run of characters, `?` one character; everything else itself.
bool GlobMatch(const char* pattern, const char* text);

}  // namespace cgosan
