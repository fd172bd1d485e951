// JSON output primitives over TextBuffer: string escaping that always yields valid JSON
// (whatever bytes a symbol name or argv holds), hex strings, null-or-value helpers.
// Async-signal-safe: no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shadow/base/text_buffer.h"

namespace cgosan {

// Input bytes of one string beyond this are cut: keeps any single value small enough that
// a report can always be closed as valid JSON.
constexpr size_t kMaxJsonStringInput = 4096;

// Appends `s` (n bytes) as a quoted JSON string. Quotes, backslashes and control bytes are
// escaped; valid UTF-8 is passed through; every byte of an invalid sequence becomes
// \ufffd (the replacement character).
void JsonString(TextBuffer* out, const char* s, size_t n);
void JsonString(TextBuffer* out, const char* s);  // NUL-terminated
// The string, or null when s is nullptr.
void JsonStringOrNull(TextBuffer* out, const char* s);
// "0x..." as a JSON string (addresses, pcs and offsets are hex strings in the contract).
void JsonHex(TextBuffer* out, uint64_t v);
// `"key":` (keys are cgosan's own ASCII names; escaped anyway).
void JsonKey(TextBuffer* out, const char* key);
inline void JsonBool(TextBuffer* out, bool v) { out->Append(v ? "true" : "false"); }

}  // namespace cgosan
