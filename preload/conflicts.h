// Why cgosan must stay out of this process, if it must: a set-user-ID program, or one that
// carries another sanitizer's runtime or a malloc of its own (two owners of the heap and of
// SIGSEGV corrupt each other). Decided at attach, before the heap is configured.
#pragma once

namespace cgosan {

// nullptr, or one sentence naming the conflict ("it carries AddressSanitizer (__asan_init)").
const char* ConflictingRuntime();

// True in a set-user-ID/set-group-ID (or file-capability) process: AT_SECURE in the auxv.
bool SecureExecution();

}  // namespace cgosan
