// Delivering a finding: the text report to stderr, and the JSON file into log_path,
// published so that it never replaces an existing file (PIDs repeat across runs and
// containers, findings must not) and never appears half-written. Direct system calls only:
// this runs in a signal handler and possibly before libc is fully set up.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "report/report_internal.h"
#include "report/report_writer.h"
#include "shadow/base/raw_io.h"
#include "shadow/options.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

namespace cgosan {
namespace {

constexpr size_t kMaxPath = 4096;
constexpr size_t kMaxExeNameInFileName = 64;
constexpr int kMaxNameAttempts = 64;
constexpr size_t kTextCapacity = 256 * 1024;
constexpr size_t kJsonCapacity = 512 * 1024;

// Static: reports are serialized by the caller, and none of this fits on a signal stack.
char g_text_storage[kTextCapacity];
char g_json_storage[kJsonCapacity];
char g_path_storage[kMaxPath + 256];
char g_message_storage[kMaxPath + 512];

std::atomic<uint64_t> g_unique_counter{0};
std::atomic<bool> g_rename_disabled_for_testing{false};
std::atomic<bool> g_log_path_warned{false};

int SysErr(long r) { return r < 0 ? errno : 0; }

bool IsSymlink(const char* path) {
  struct stat st;
  if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return S_ISLNK(st.st_mode);
}

// mkdir -p: creates each missing component of path (0700). Returns 0 or the errno of the
// first component that could not be created.
int MakeDirs(char* path) {
  size_t len = strlen(path);
  for (size_t i = 1; i <= len; ++i) {
    if (path[i] != '/' && path[i] != '\0') continue;
    if (path[i - 1] == '/') continue;  // "a//b"
    char saved = path[i];
    path[i] = '\0';
    int err = SysErr(syscall(SYS_mkdirat, AT_FDCWD, path, 0700));
    path[i] = saved;
    if (err != 0 && err != EEXIST) return err;
  }
  return 0;
}

int OpenDir(const char* path) {
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd >= 0 ? static_cast<int>(fd) : -errno;
}

// log_path without trailing slashes: "dir/" would follow a symlink named dir.
bool CopyLogPath(const char* log_path, char* out, size_t cap) {
  size_t len = strlen(log_path);
  while (len > 1 && log_path[len - 1] == '/') --len;
  if (len == 0 || len >= cap) return false;
  memcpy(out, log_path, len);
  out[len] = '\0';
  return true;
}

// The exe name as it goes into a file name: short, and nothing a shell glob or a log
// scraper would trip over.
void AppendSafeExeName(const char* exe_name, TextBuffer* out) {
  if (exe_name == nullptr || exe_name[0] == '\0') exe_name = "unknown";
  for (size_t i = 0; exe_name[i] != '\0' && i < kMaxExeNameInFileName; ++i) {
    char c = exe_name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+';
    out->Char(ok ? c : '_');
  }
}

uint64_t RealtimeNs() {
  timespec ts = {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Creates the temporary file (a name no reader takes for a finding). Returns fd or -errno.
int CreateTempFile(int dirfd, pid_t pid, TextBuffer* name) {
  for (int attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    name->Clear();
    name->Append(".cgosan.tmp.").Dec(pid).Char('.').Unsigned(g_unique_counter.fetch_add(1));
    long fd = syscall(SYS_openat, dirfd, name->data(),
                      O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EEXIST) return -errno;
  }
  return -EEXIST;
}

// test_report_delay_ms (testing only): a pause with half the file written, so that a test
// can kill the process in the middle of a report.
void TestDelay() {
  int64_t ms = GetOptions().test_report_delay_ms;
  if (ms <= 0) return;
  timespec ts = {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000};
  while (syscall(SYS_nanosleep, &ts, &ts) != 0 && errno == EINTR) {
  }
}

// Writes the whole file and makes it durable before anyone can see it under its final name.
int FillTempFile(int fd, const char* data, size_t len) {
  // The umask must not make a finding readable by others or unreadable by its owner.
  syscall(SYS_fchmod, fd, 0600);
  size_t half = GetOptions().test_report_delay_ms > 0 ? len / 2 : 0;
  if (half > 0) {
    if (!RawWriteAll(fd, data, half)) return errno != 0 ? errno : EIO;
    TestDelay();
  }
  if (!RawWriteAll(fd, data + half, len - half)) return errno != 0 ? errno : EIO;
  if (syscall(SYS_fsync, fd) != 0 && errno != EINVAL && errno != EROFS) return errno;
  return 0;
}

}  // namespace

const char* LogPathErrorReason(int err, char* scratch, size_t scratch_len) {
  switch (err) {
    case EACCES:
      return "permission denied";
    case EPERM:
      return "operation not permitted";
    case ENOTDIR:
      return "not a directory";
    case ELOOP:
      return "it is a symlink";
    case ENOENT:
      return "no such file or directory";
    case EROFS:
      return "read-only file system";
    case ENOSPC:
      return "no space left on device";
    case EDQUOT:
      return "disk quota exceeded";
    case ENAMETOOLONG:
      return "path too long";
    case EIO:
      return "I/O error";
  }
  TextBuffer buf(scratch, scratch_len);
  buf.Append("errno ").Dec(err);
  return buf.data();
}

int OpenLogDirectory(const char* log_path) {
  char path[kMaxPath];
  if (!CopyLogPath(log_path, path, sizeof(path))) {
    return log_path[0] == '\0' ? -ENOENT : -ENAMETOOLONG;
  }
  int fd = OpenDir(path);
  if (fd == -ENOENT) {
    int mkdir_err = MakeDirs(path);
    fd = OpenDir(path);
    // "no such file" hides the real cause (e.g. a parent we may not write to).
    if (fd == -ENOENT && mkdir_err != 0) fd = -mkdir_err;
  }
  // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR on Linux: say what it really is.
  if ((fd == -ENOTDIR || fd == -ELOOP) && IsSymlink(path)) fd = -ELOOP;
  return fd;
}

int PublishNoReplace(int dirfd, const char* from, const char* to) {
  if (!g_rename_disabled_for_testing.load(std::memory_order_relaxed)) {
    if (syscall(SYS_renameat2, dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0) return 0;
    // EINVAL: the file system lacks RENAME_NOREPLACE; ENOSYS: the kernel lacks renameat2.
    if (errno != EINVAL && errno != ENOSYS) return -errno;
  }
  // link fails with EEXIST rather than replacing: the same guarantee in two steps.
  if (syscall(SYS_linkat, dirfd, from, dirfd, to, 0) != 0) return -errno;
  syscall(SYS_unlinkat, dirfd, from, 0);
  return 0;
}

void SetRenameNoReplaceDisabledForTesting(bool disabled) {
  g_rename_disabled_for_testing.store(disabled);
}

void ResetLogPathWarningForTesting() { g_log_path_warned.store(false); }

int WriteFindingFile(const char* log_path, const char* exe_name, pid_t pid, const char* data,
                     size_t len, TextBuffer* written) {
  int dirfd = OpenLogDirectory(log_path);
  if (dirfd < 0) return dirfd;

  InlineTextBuffer<64> tmp;
  int fd = CreateTempFile(dirfd, pid, &tmp);
  if (fd < 0) {
    syscall(SYS_close, dirfd);
    return fd;
  }
  int err = FillTempFile(fd, data, len);
  syscall(SYS_close, fd);

  InlineTextBuffer<256> name;
  for (int attempt = 0; err == 0; ++attempt) {
    if (attempt == kMaxNameAttempts) {
      err = EEXIST;
      break;
    }
    name.Clear();
    name.Append("cgosan.");
    AppendSafeExeName(exe_name, &name);
    name.Char('.').Dec(pid).Char('.').HexDigits(RealtimeNs(), 1).Char('-');
    name.HexDigits(g_unique_counter.fetch_add(1), 1).Append(".json");
    int r = PublishNoReplace(dirfd, tmp.data(), name.data());
    if (r == 0) break;
    if (r != -EEXIST) err = -r;
  }
  if (err != 0) {
    syscall(SYS_unlinkat, dirfd, tmp.data(), 0);
  } else {
    syscall(SYS_fsync, dirfd);  // the new directory entry survives a crash too
    char path[kMaxPath];
    CopyLogPath(log_path, path, sizeof(path));
    written->Append(path);
    if (path[strlen(path) - 1] != '/') written->Char('/');
    written->Append(name.data(), name.size());
  }
  syscall(SYS_close, dirfd);
  return -err;
}

void WriteReport(const Finding& f) {
  int saved_errno = errno;
  const ProcessInfo& process = CurrentProcessInfo();

  TextBuffer text(g_text_storage, kTextCapacity);
  FormatTextReport(f, &text);
  RawWriteAll(2, text.data(), text.size());
  if (GetOptions().test_report_fault != 0) {
    // Testing only: a fault inside cgosan's own report code, as a bug in it would cause.
    static volatile uintptr_t bad_address = 16;
    *reinterpret_cast<volatile int*>(bad_address) = 0;
  }

  const Options& options = GetOptions();
  if (options.log_path[0] != '\0') {
    TextBuffer json(g_json_storage, kJsonCapacity);
    FormatJsonReport(f, process, &json);
    TextBuffer written(g_path_storage, sizeof(g_path_storage));
    int r = WriteFindingFile(options.log_path, process.exe_name, process.pid, json.data(),
                             json.size(), &written);
    TextBuffer msg(g_message_storage, sizeof(g_message_storage));
    if (r < 0 && !g_log_path_warned.exchange(true)) {
      // Once: every later finding fails the same way, and the text report has them all.
      char scratch[32];
      msg.Append("WARNING: log_path '").Append(options.log_path).Append("' cannot be used (");
      msg.Append(LogPathErrorReason(-r, scratch, sizeof(scratch)));
      msg.Append("); JSON findings not written (said once: the text reports have them all)");
      PrintLine(msg.data());
    } else if (r >= 0 && options.verbosity >= 1) {
      msg.Append("finding written to ").Append(written.data(), written.size());
      PrintLine(msg.data());
    }
  }
  errno = saved_errno;
}

}  // namespace cgosan
