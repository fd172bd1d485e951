// The context a finding carries for bug reports (issue 6): the environment (kernel, libc,
// an allow-list of environment variables), the /proc/self/maps lines around the address,
// the Go test that was running, and the command that reproduces the run. JSON members of
// the finding, formatted by FormatJsonReport through the calls below.
#pragma once

#include "report/finding.h"
#include "report/report_writer.h"
#include "shadow/base/text_buffer.h"

namespace cgosan {

// Reads what does not change (uname, libc version, the allow-listed environment, cwd,
// -test.run, CGOSAN_GO_PACKAGE) into static storage. Called from CollectProcessInfo at
// attach and after fork; never from a signal handler.
void CollectReportContext(const ProcessInfo& process);

// The context members, in order: "environment", "memory_map", "test", "reproduce".
int ReportContextMemberCount();
const char* ReportContextMemberKey(int i);
// Appends member i's value (JSON) to out. Async-signal-safe: static storage, raw read(2).
void FormatReportContextMember(int i, const Finding& f, const ProcessInfo& process,
                               TextBuffer* out);

// Exposed for the unit tests.
// The Go test a frame list names: a frame "pkg.TestXxx[.funcN]" called by testing.tRunner.
// Copies "TestXxx" into name (NUL-terminated) and returns true when found.
bool TestNameFromStack(const Stack& stack, char* name, size_t cap);
// The test name in a -test.run pattern: "^TestFoo$" and "TestFoo" give TestFoo; a pattern
// that is not one plain identifier (alternation, subtests) gives false.
bool TestNameFromRunPattern(const char* pattern, char* name, size_t cap);
// Appends `arg` quoted for a POSIX shell (unquoted when it only holds safe characters).
void AppendShellQuoted(const char* arg, TextBuffer* out);

}  // namespace cgosan
