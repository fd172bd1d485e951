// Option parsing driven by options.inc. Hand-written (no strtol, no std::string): it runs in
// the preload's constructor, possibly before libc's locale is usable, and must not allocate.
#include "shadow/options.h"

#include <cstring>

namespace cgosan {
namespace {

enum class Kind { kInt, kString, kEnum };

struct OptionSpec {
  const char* name;
  Kind kind;
  const char* default_text;
  int64_t min, max;
  const char* values;  // enum: "a|b|c"
  const char* help;
  size_t offset;
};

#define STR_(x) #x
#define STR(x) STR_(x)
const OptionSpec kSpecs[] = {
#define CGOSAN_INT(name, def, lo, hi, help) \
  {#name, Kind::kInt, STR(def), lo, hi, nullptr, help, offsetof(Options, name)},
#define CGOSAN_STRING(name, def, help) \
  {#name, Kind::kString, def, 0, 0, nullptr, help, offsetof(Options, name)},
#define CGOSAN_ENUM(name, def, values, help) \
  {#name, Kind::kEnum, nullptr, def, 0, values, help, offsetof(Options, name)},
#include "shadow/options.inc"
#undef CGOSAN_INT
#undef CGOSAN_STRING
#undef CGOSAN_ENUM
};
#undef STR
#undef STR_
static_assert(sizeof(kSpecs) / sizeof(kSpecs[0]) <= 64, "Options::given has 64 bits");

bool IsSeparator(char c) { return c == ':' || c == ','; }

const OptionSpec* FindSpec(const char* name, size_t len) {
  for (const OptionSpec& s : kSpecs) {
    if (strlen(s.name) == len && memcmp(s.name, name, len) == 0) return &s;
  }
  return nullptr;
}

// Index of `value` among "a|b|c", or -1.
int EnumIndex(const char* values, const char* value, size_t len) {
  int index = 0;
  for (const char* p = values;; ++index) {
    const char* bar = strchr(p, '|');
    size_t n = bar ? static_cast<size_t>(bar - p) : strlen(p);
    if (n == len && memcmp(p, value, len) == 0) return index;
    if (!bar) return -1;
    p = bar + 1;
  }
}

// The enum value name at `index` appended to out.
void AppendEnumValue(const char* values, int index, TextBuffer* out) {
  const char* p = values;
  for (int i = 0; i < index && p; ++i) {
    p = strchr(p, '|');
    if (p) ++p;
  }
  if (!p) return;
  const char* bar = strchr(p, '|');
  out->Append(p, bar ? static_cast<size_t>(bar - p) : strlen(p));
}

void AppendAccepted(const OptionSpec& s, TextBuffer* out) {
  switch (s.kind) {
    case Kind::kInt:
      out->Append("an integer from ").Dec(s.min).Append(" to ").Dec(s.max);
      break;
    case Kind::kString:
      out->Append("a non-empty string");
      break;
    case Kind::kEnum:
      out->Append("one of ").Append(s.values);
      break;
  }
}

bool ParseInt(const char* v, size_t len, int64_t* out) {
  if (len == 0 || len > 18) return false;
  int64_t result = 0;
  for (size_t i = 0; i < len; ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    result = result * 10 + (v[i] - '0');
  }
  *out = result;
  return true;
}

void Fail(const OptionSpec& s, const char* value, size_t len, TextBuffer* error) {
  error->Clear();
  error->Append("invalid value '").Append(value, len > 200 ? 200 : len);
  if (len > 200) error->Append("...");
  error->Append("' for option ").Append(s.name).Append(": expected ");
  AppendAccepted(s, error);
}

bool SetOption(const OptionSpec& s, const char* value, size_t len, Options* out,
               TextBuffer* error) {
  char* field = reinterpret_cast<char*>(out) + s.offset;
  switch (s.kind) {
    case Kind::kInt: {
      int64_t v;
      if (!ParseInt(value, len, &v) || v < s.min || v > s.max) {
        Fail(s, value, len, error);
        return false;
      }
      memcpy(field, &v, sizeof(v));
      return true;
    }
    case Kind::kString: {
      if (len == 0 || len >= sizeof(Options::log_path)) {
        Fail(s, value, len, error);
        return false;
      }
      memcpy(field, value, len);
      field[len] = '\0';
      return true;
    }
    case Kind::kEnum: {
      int index = EnumIndex(s.values, value, len);
      if (index < 0) {
        Fail(s, value, len, error);
        return false;
      }
      memcpy(field, &index, sizeof(index));
      return true;
    }
  }
  return false;
}

void AppendKnownNames(TextBuffer* out) {
  bool first = true;
  for (const OptionSpec& s : kSpecs) {
    if (!first) out->Append(", ");
    out->Append(s.name);
    first = false;
  }
}

}  // namespace

bool ParseOptions(const char* text, Options* out, TextBuffer* error) {
  if (!text) return true;
  const char* p = text;
  while (*p) {
    if (IsSeparator(*p)) {
      ++p;
      continue;
    }
    const char* key = p;
    while (*p && *p != '=' && !IsSeparator(*p)) ++p;
    size_t key_len = static_cast<size_t>(p - key);
    const OptionSpec* spec = FindSpec(key, key_len);
    if (!spec) {
      error->Clear();
      error->Append("unknown option '").Append(key, key_len > 200 ? 200 : key_len);
      error->Append("': known options are ");
      AppendKnownNames(error);
      return false;
    }
    if (*p != '=') {
      error->Clear();
      error->Append("option ").Append(spec->name).Append(" needs a value: ");
      error->Append(spec->name).Append("=<");
      AppendAccepted(*spec, error);
      error->Append(">");
      return false;
    }
    const char* value = ++p;
    while (*p && !IsSeparator(*p)) ++p;
    if (!SetOption(*spec, value, static_cast<size_t>(p - value), out, error)) return false;
    out->given |= uint64_t{1} << (spec - kSpecs);
  }
  return true;
}

bool Options::Given(const char* name) const {
  const OptionSpec* spec = FindSpec(name, strlen(name));
  return spec && (given & (uint64_t{1} << (spec - kSpecs)));
}

void FormatOptionsHelp(TextBuffer* out) {
  out->Append("cgosan options (CGOSAN_OPTIONS=\"key=value:key=value\", ',' also separates):\n");
  for (const OptionSpec& s : kSpecs) {
    out->Append("  ").Append(s.name).Append("=");
    switch (s.kind) {
      case Kind::kInt:
      case Kind::kString:
        out->Append(s.default_text[0] ? s.default_text : "(unset)");
        break;
      case Kind::kEnum:
        AppendEnumValue(s.values, static_cast<int>(s.min), out);
        break;
    }
    out->Append("  [");
    AppendAccepted(s, out);
    out->Append("]\n      ").Append(s.help).Append("\n");
  }
}

Options g_options;

}  // namespace cgosan
