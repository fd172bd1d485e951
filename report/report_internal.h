// Pieces shared by the report writers (text, JSON, log file) and exposed to the unit tests.
// Not part of the preload's API: other directories use report_writer.h.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "report/finding.h"
#include "shadow/base/text_buffer.h"

namespace cgosan {

// The last component of a path ("libc.so.6" of "/usr/lib/x86_64-linux-gnu/libc.so.6").
inline const char* Basename(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// The one rule for "a frame the user wrote": not cgosan's own, not the allocator, not libc
// or the dynamic loader, not the Go runtime, not cgo glue. The signature and the SUMMARY
// line both use it, so they always name the same frames.
bool IsUserFrame(const Frame& frame);

// Memory the Go runtime owns (heap, goroutine stacks, map arrays): the findings about it
// describe the object with Finding::go.
inline bool IsGoRegion(Region region) {
  return region == Region::kGoHeap || region == Region::kGoStack || region == Region::kMapBuckets;
}

// The first frame of `stack` the user wrote (IsUserFrame), or nullptr.
const Frame* FirstUserFrame(const Stack* stack);

// The Go frame that made the cgo call in progress in `stack` (the first frame that is not
// glue after the call's glue run), or -1.
int CgoCallerIndex(const Stack& stack);

// The stack that says where the error happened: "access", else the first one (or nullptr).
const Stack* PrimaryStack(const Finding& f);

// "SUMMARY: cgosan: <kind> <where> in <function>", no prefix and no newline. The JSON
// `summary` and the text report's last line are this same text.
void FormatSummary(const Finding& f, TextBuffer* out);

// "T0" for the main thread of `pid`, "T<tid>" otherwise, "T?" when tid is unknown (0).
void AppendThreadId(pid_t tid, pid_t pid, TextBuffer* out);

// RFC 3339 UTC with milliseconds ("2026-11-22T04:30:01.123Z"), converted by hand because
// gmtime_r is not async-signal-safe.
void FormatRfc3339Utc(int64_t seconds, int64_t nanoseconds, TextBuffer* out);

// Short reason for an errno in the log_path warning ("not a directory", "errno 123").
const char* LogPathErrorReason(int err, char* scratch, size_t scratch_len);

// Opens log_path as a directory (O_DIRECTORY|O_NOFOLLOW), creating it and its missing
// parents (0700) first. Returns the fd, or -errno; a symlink as the last component is
// -ELOOP whatever the kernel said.
int OpenLogDirectory(const char* log_path);

// Renames dirfd/from to dirfd/to without ever replacing an existing `to`: renameat2
// RENAME_NOREPLACE, or link + unlink where the kernel or file system lacks it. Returns 0
// or -errno (-EEXIST when `to` exists; `from` is then left in place).
int PublishNoReplace(int dirfd, const char* from, const char* to);

// Tests force the link + unlink path with this.
void SetRenameNoReplaceDisabledForTesting(bool disabled);
// The log_path warning is said once per process; tests reset it.
void ResetLogPathWarningForTesting();

// Writes `data` into a new file of log_path named cgosan.<exe_name>.<pid>.<unique>.json.
// On success returns 0 and the file's path (log_path/name) in *written; else -errno.
int WriteFindingFile(const char* log_path, const char* exe_name, pid_t pid, const char* data,
                     size_t len, TextBuffer* written);

}  // namespace cgosan
