// ReportWriter: turns a Finding into the text report (stderr, ASan shape) and the JSON
// finding file (schema cgosan.report/1), and publishes the file atomically.
// Async-signal-safe: output is built in static buffers and written with write(2); callers
// serialize reports (one at a time, see preload's report lock).
#pragma once

#include "report/finding.h"
#include "shadow/base/text_buffer.h"

namespace cgosan {

struct ProcessInfo {
  pid_t pid = 0;
  const char* exe = nullptr;       // readlink(/proc/self/exe)
  const char* exe_name = nullptr;  // basename of exe
  const char* build_id = nullptr;  // hex, or nullptr
  int argc = 0;
  const char* const* argv = nullptr;
};

// Collected once at attach time (not from a signal handler) and refreshed after fork.
const ProcessInfo& CurrentProcessInfo();
void CollectProcessInfo();

// Fills tid, name (from /proc/thread-self/comm) for the calling thread. Async-signal-safe.
void CurrentThreadInfo(ThreadInfo* out);

// "kind:f1:f2:f3" from the top 3 frames of the access stack (or the first stack) that are
// not cgosan, allocator, libc, Go runtime or cgo glue frames.
void FormatSignature(const Finding& f, TextBuffer* out);

// The ASan-shaped text, every line prefixed with "==PID==cgosan: ".
void FormatTextReport(const Finding& f, TextBuffer* out);

// One JSON object (schema cgosan.report/1) with a trailing newline.
void FormatJsonReport(const Finding& f, const ProcessInfo& process, TextBuffer* out);

// Writes the text report to stderr and, when log_path is set, the JSON file
// DIR/cgosan.<exe name>.<pid>.<unique>.json (0600, never replacing an existing file).
// Problems with log_path become one warning line on stderr; the text report is never lost.
void WriteReport(const Finding& f);

// Prints one line "==PID==cgosan: <msg>\n" on stderr.
void PrintLine(const char* msg);

}  // namespace cgosan
