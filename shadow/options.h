// Options: cgosan's configuration, parsed from CGOSAN_OPTIONS ("k=v:k=v" or "k=v,k=v").
// Declared once in options.inc. Parsing never allocates: it runs before the program.
#pragma once

#include <cstdint>

#include "shadow/base/text_buffer.h"

namespace cgosan {

enum class GuardMode : int { kAll = 0, kSampled = 1, kNone = 2, kCgo = 3 };

struct Options {
#define CGOSAN_INT(name, def, lo, hi, help) int64_t name = def;
#define CGOSAN_STRING(name, def, help) char name[4096] = def;
#define CGOSAN_ENUM(name, def, values, help) int name = def;
#include "shadow/options.inc"
#undef CGOSAN_INT
#undef CGOSAN_STRING
#undef CGOSAN_ENUM

  GuardMode guard_mode() const { return static_cast<GuardMode>(guard); }

  // Bit i set: the i-th option of options.inc was given in CGOSAN_OPTIONS (so that a
  // default that depends on the process, like guard's, is only applied when it was not).
  uint64_t given = 0;
  bool Given(const char* name) const;
};

// Parses `text` over the defaults already in *out. On error writes one line naming the
// option and the accepted values into *error and returns false.
bool ParseOptions(const char* text, Options* out, TextBuffer* error);

// The help text: every option with its default, accepted values and description.
void FormatOptionsHelp(TextBuffer* out);

// The options of this process (defaults until the preload has parsed CGOSAN_OPTIONS).
// Constant-initialised, so usable before any constructor has run; inline accessors, because
// the allocator's fast path reads them on every call.
extern Options g_options;
inline Options& MutableOptions() { return g_options; }
inline const Options& GetOptions() { return g_options; }

}  // namespace cgosan
