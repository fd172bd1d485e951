// The finding's context for bug reports: environment, memory-map excerpt, Go test, reproduce
// command (report_context.h). What never changes is read at attach into static storage;
// the report (often a signal handler) only formats it, and reads /proc/self/maps with raw
// read(2) into fixed buffers: no malloc, no stdio, no locks.
#include "report/report_context.h"

#include <fcntl.h>
#include <gnu/libc-version.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "report/json_out.h"
#include "report/report_internal.h"

extern char** environ;

namespace cgosan {
namespace {

// Only these environment variables are ever copied into a finding: values of any other
// variable may be secrets (tokens in CI), and a finding is meant to be pasted in public.
constexpr const char* kAllowedVariables[] = {"GODEBUG", "GOEXPERIMENT", "GOTRACEBACK",
                                             "CGOSAN_OPTIONS"};
constexpr int kNumVariables = sizeof(kAllowedVariables) / sizeof(kAllowedVariables[0]);
constexpr size_t kMaxValue = 2048;
constexpr size_t kMaxName = 256;
constexpr size_t kMaxPath = 4096;

struct ContextStorage {
  char kernel[2 * sizeof(utsname::release) + 2];  // "release version"
  char machine[sizeof(utsname::machine)];
  char libc[64];
  char values[kNumVariables][kMaxValue];
  bool set[kNumVariables];
  char cwd[kMaxPath];
  bool test_binary;
  char run_pattern[kMaxValue];  // -test.run, "" when not given
  char package[kMaxPath];       // CGOSAN_GO_PACKAGE (set by `cgosan test`), "" when unset
  char test_root[kMaxPath];     // CGOSAN_TEST_ROOT: where `cgosan test` ran, "" when unset
};
ContextStorage g_context = {};

void CopyString(char* dst, size_t cap, const char* src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

// getenv without the locale or any lock: a walk over environ.
const char* FindEnv(const char* name) {
  size_t n = strlen(name);
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  }
  return nullptr;
}

bool StartsWith(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

void CollectTestFlags(const ProcessInfo& p, ContextStorage* c) {
  c->test_binary = false;
  c->run_pattern[0] = '\0';
  if (p.exe_name != nullptr) {
    size_t n = strlen(p.exe_name);
    if (n > 5 && strcmp(p.exe_name + n - 5, ".test") == 0) c->test_binary = true;
  }
  for (int i = 1; i < p.argc && p.argv != nullptr && p.argv[i] != nullptr; ++i) {
    const char* a = p.argv[i];
    if (a[0] != '-') continue;
    if (StartsWith(a, "-test.") || StartsWith(a, "--test.")) c->test_binary = true;
    const char* flag = a[1] == '-' ? a + 2 : a + 1;
    if (StartsWith(flag, "test.run=")) {
      CopyString(c->run_pattern, sizeof(c->run_pattern), flag + strlen("test.run="));
    } else if (strcmp(flag, "test.run") == 0 && i + 1 < p.argc && p.argv[i + 1] != nullptr) {
      CopyString(c->run_pattern, sizeof(c->run_pattern), p.argv[i + 1]);
    }
  }
}

bool IsIdentifierChar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_';
}

// "TestXxx" (or Fuzz/Benchmark/Example) as the testing package accepts it.
bool IsTestFunctionName(const char* s, size_t n) {
  static const char* const kPrefixes[] = {"Test", "Fuzz", "Benchmark", "Example"};
  for (const char* p : kPrefixes) {
    size_t pn = strlen(p);
    if (n >= pn && strncmp(s, p, pn) == 0) {
      // The testing package: the rest must not start with a lower-case letter.
      return n == pn || !(s[pn] >= 'a' && s[pn] <= 'z');
    }
  }
  return false;
}

// The address the excerpt centres on: the access, else the object, else the holder.
bool ExcerptAddress(const Finding& f, uintptr_t* addr) {
  if (f.has_address) {
    *addr = f.address;
  } else if (f.has_object) {
    *addr = f.object_base;
  } else if (f.has_holder) {
    *addr = f.holder.base;
  } else {
    return false;
  }
  return true;
}

// --- /proc/self/maps excerpt ---------------------------------------------------------------

constexpr int kLinesBefore = 3;
constexpr int kLinesAfter = 3;
constexpr size_t kMaxLine = 512;  // longer lines (long paths) are cut

struct MapsExcerpt {
  char before[kLinesBefore][kMaxLine];  // ring of the lines that end at or below the address
  int num_before;                       // lines seen so far (the ring keeps the last 3)
  char containing[kMaxLine];
  bool has_containing;
  char after[kLinesAfter][kMaxLine];
  int num_after;
};
MapsExcerpt g_excerpt;
char g_maps_chunk[16 * 1024];
char g_line[kMaxLine];

uint64_t ParseHex(const char* s, const char** end) {
  uint64_t v = 0;
  for (;; ++s) {
    char ch = *s;
    int d;
    if (ch >= '0' && ch <= '9') {
      d = ch - '0';
    } else if (ch >= 'a' && ch <= 'f') {
      d = ch - 'a' + 10;
    } else {
      break;
    }
    v = v * 16 + static_cast<uint64_t>(d);
  }
  *end = s;
  return v;
}

// Files one complete line; returns false once the lines after the address are all in.
bool TakeLine(const char* line, uintptr_t addr, MapsExcerpt* x) {
  const char* p;
  uint64_t start = ParseHex(line, &p);
  if (*p != '-') return true;
  uint64_t end = ParseHex(p + 1, &p);
  if (end <= addr) {
    CopyString(x->before[x->num_before % kLinesBefore], kMaxLine, line);
    ++x->num_before;
  } else if (start <= addr) {
    CopyString(x->containing, kMaxLine, line);
    x->has_containing = true;
  } else {
    CopyString(x->after[x->num_after++], kMaxLine, line);
  }
  return x->num_after < kLinesAfter;
}

bool ReadMapsExcerpt(uintptr_t addr, MapsExcerpt* x) {
  // The interrupted code's errno survives the report (syscall(2) sets it on failure).
  const int saved_errno = errno;
  x->num_before = 0;
  x->has_containing = false;
  x->num_after = 0;
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (fd < 0) {
    errno = saved_errno;
    return false;
  }
  size_t line_len = 0;
  bool more = true;
  while (more) {
    long n = syscall(SYS_read, fd, g_maps_chunk, sizeof(g_maps_chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (long i = 0; i < n && more; ++i) {
      char ch = g_maps_chunk[i];
      if (ch != '\n') {
        if (line_len < kMaxLine - 1) g_line[line_len++] = ch;
        continue;
      }
      g_line[line_len] = '\0';
      line_len = 0;
      more = TakeLine(g_line, addr, x);
    }
  }
  syscall(SYS_close, fd);
  errno = saved_errno;
  return true;
}

void FormatMemoryMap(const Finding& f, TextBuffer* out) {
  uintptr_t addr;
  if (!ExcerptAddress(f, &addr) || !ReadMapsExcerpt(addr, &g_excerpt)) {
    out->Append("null");
    return;
  }
  const MapsExcerpt& x = g_excerpt;
  out->Char('{');
  JsonKey(out, "address");
  JsonHex(out, addr);
  out->Char(',');
  JsonKey(out, "lines");
  out->Char('[');
  int count = 0;
  int first = x.num_before > kLinesBefore ? x.num_before - kLinesBefore : 0;
  for (int i = first; i < x.num_before; ++i, ++count) {
    if (count > 0) out->Char(',');
    JsonString(out, x.before[i % kLinesBefore]);
  }
  int index = -1;
  if (x.has_containing) {
    if (count > 0) out->Char(',');
    index = count++;
    JsonString(out, x.containing);
  }
  for (int i = 0; i < x.num_after; ++i, ++count) {
    if (count > 0) out->Char(',');
    JsonString(out, x.after[i]);
  }
  out->Char(']');
  out->Char(',');
  // Which line holds the address; null when it is in no mapping (freed, never mapped).
  JsonKey(out, "index");
  if (index >= 0) {
    out->Dec(index);
  } else {
    out->Append("null");
  }
  out->Char('}');
}

// --- environment ---------------------------------------------------------------------------

void FormatEnvironment(TextBuffer* out) {
  const ContextStorage& c = g_context;
  out->Char('{');
  JsonKey(out, "kernel");
  JsonStringOrNull(out, c.kernel[0] ? c.kernel : nullptr);
  out->Char(',');
  JsonKey(out, "machine");
  JsonStringOrNull(out, c.machine[0] ? c.machine : nullptr);
  out->Char(',');
  JsonKey(out, "libc");
  JsonStringOrNull(out, c.libc[0] ? c.libc : nullptr);
  out->Char(',');
  JsonKey(out, "variables");
  out->Char('{');
  for (int i = 0; i < kNumVariables; ++i) {
    if (i > 0) out->Char(',');
    JsonKey(out, kAllowedVariables[i]);
    JsonStringOrNull(out, c.set[i] ? c.values[i] : nullptr);
  }
  out->Append("}}");
}

// --- the Go test ---------------------------------------------------------------------------

char g_test_name[kMaxName];

// The test the finding belongs to: from the stacks, else from -test.run. Returns the source
// ("stack", "test.run") or nullptr.
const char* FindTestName(const Finding& f, char* name, size_t cap) {
  const Stack* primary = PrimaryStack(f);
  if (primary != nullptr && TestNameFromStack(*primary, name, cap)) return "stack";
  for (int s = 0; s < f.num_stacks && s < kMaxStacks; ++s) {
    if (&f.stacks[s] != primary && TestNameFromStack(f.stacks[s], name, cap)) return "stack";
  }
  if (TestNameFromRunPattern(g_context.run_pattern, name, cap)) return "test.run";
  return nullptr;
}

void FormatTest(const Finding& f, TextBuffer* out) {
  const ContextStorage& c = g_context;
  if (!c.test_binary) {
    out->Append("null");
    return;
  }
  const char* source = FindTestName(f, g_test_name, sizeof(g_test_name));
  out->Char('{');
  JsonKey(out, "name");
  JsonStringOrNull(out, source ? g_test_name : nullptr);
  out->Char(',');
  JsonKey(out, "source");
  JsonStringOrNull(out, source);
  out->Char(',');
  JsonKey(out, "run");
  JsonStringOrNull(out, c.run_pattern[0] ? c.run_pattern : nullptr);
  out->Char(',');
  JsonKey(out, "package");
  JsonStringOrNull(out, c.package[0] ? c.package : nullptr);
  out->Char('}');
}

// --- reproduce -----------------------------------------------------------------------------

char g_command_storage[kMaxJsonStringInput + 1];

// The command, or false when it does not fit (a JSON string is cut at kMaxJsonStringInput,
// and a cut command would run something else).
bool BuildCommand(const Finding& f, const ProcessInfo& p, TextBuffer* cmd) {
  const ContextStorage& c = g_context;
  if (c.test_binary) {
    cmd->Append("cgosan test");
    const char* source = FindTestName(f, g_test_name, sizeof(g_test_name));
    if (source != nullptr) {
      cmd->Append(" -run '^").Append(g_test_name).Append("$'");
    } else if (c.run_pattern[0] != '\0') {
      cmd->Append(" -run ");
      AppendShellQuoted(c.run_pattern, cmd);
    }
    cmd->Char(' ');
    // Without the package (not run by `cgosan test`) the test binary's directory is the
    // package's: "." there.
    AppendShellQuoted(c.package[0] ? c.package : ".", cmd);
  } else {
    cmd->Append("cgosan run");
    for (int i = 0; i < p.argc && p.argv != nullptr && p.argv[i] != nullptr; ++i) {
      cmd->Char(' ');
      AppendShellQuoted(p.argv[i], cmd);
    }
  }
  return !cmd->Truncated();
}

void FormatReproduce(const Finding& f, const ProcessInfo& p, TextBuffer* out) {
  TextBuffer cmd(g_command_storage, sizeof(g_command_storage));
  bool ok = BuildCommand(f, p, &cmd);
  out->Char('{');
  JsonKey(out, "command");
  if (ok) {
    JsonString(out, cmd.data(), cmd.size());
  } else {
    out->Append("null");
  }
  out->Char(',');
  // Where to run it: relative argv and packages are relative to this directory (for a test
  // binary run by `cgosan test`, where that ran; the binary itself runs in the package).
  const ContextStorage& c = g_context;
  const char* dir = c.test_binary && c.package[0] && c.test_root[0] ? c.test_root : c.cwd;
  JsonKey(out, "directory");
  JsonStringOrNull(out, dir[0] ? dir : nullptr);
  out->Char('}');
}

constexpr const char* kMemberKeys[] = {"environment", "memory_map", "test", "reproduce"};

}  // namespace

void CollectReportContext(const ProcessInfo& process) {
  ContextStorage* c = &g_context;
  utsname u;
  c->kernel[0] = c->machine[0] = '\0';
  if (syscall(SYS_uname, &u) == 0) {
    InlineTextBuffer<sizeof(c->kernel)> k;
    k.Append(u.release).Char(' ').Append(u.version);
    CopyString(c->kernel, sizeof(c->kernel), k.data());
    CopyString(c->machine, sizeof(c->machine), u.machine);
  }
  InlineTextBuffer<sizeof(c->libc)> libc;
  libc.Append("glibc ").Append(gnu_get_libc_version());
  CopyString(c->libc, sizeof(c->libc), libc.data());
  for (int i = 0; i < kNumVariables; ++i) {
    const char* v = FindEnv(kAllowedVariables[i]);
    c->set[i] = v != nullptr;
    CopyString(c->values[i], kMaxValue, v ? v : "");
  }
  const char* package = FindEnv("CGOSAN_GO_PACKAGE");
  CopyString(c->package, sizeof(c->package), package ? package : "");
  const char* root = FindEnv("CGOSAN_TEST_ROOT");
  CopyString(c->test_root, sizeof(c->test_root), root ? root : "");
  if (syscall(SYS_getcwd, c->cwd, sizeof(c->cwd)) <= 0) c->cwd[0] = '\0';
  CollectTestFlags(process, c);
}

int ReportContextMemberCount() { return sizeof(kMemberKeys) / sizeof(kMemberKeys[0]); }

const char* ReportContextMemberKey(int i) { return kMemberKeys[i]; }

void FormatReportContextMember(int i, const Finding& f, const ProcessInfo& process,
                               TextBuffer* out) {
  switch (i) {
    case 0:
      FormatEnvironment(out);
      break;
    case 1:
      FormatMemoryMap(f, out);
      break;
    case 2:
      FormatTest(f, out);
      break;
    default:
      FormatReproduce(f, process, out);
      break;
  }
}

bool TestNameFromStack(const Stack& stack, char* name, size_t cap) {
  int n = stack.num_frames < kMaxFramesPerStack ? stack.num_frames : kMaxFramesPerStack;
  for (int i = 0; i + 1 < n; ++i) {
    const Frame& fr = stack.frames[i];
    const char* caller = stack.frames[i + 1].function;
    if (fr.lang != FrameLang::kGo || fr.function == nullptr || caller == nullptr ||
        strcmp(caller, "testing.tRunner") != 0) {
      continue;
    }
    // "example.com/m/pkg.TestXxx.func1": the package path ends at the last '/', the
    // package name at the next '.'; the test is the identifier after it.
    const char* s = strrchr(fr.function, '/');
    s = strchr(s ? s : fr.function, '.');
    if (s == nullptr) continue;
    ++s;
    size_t len = 0;
    while (IsIdentifierChar(s[len])) ++len;
    if (!IsTestFunctionName(s, len) || len + 1 > cap) continue;
    memcpy(name, s, len);
    name[len] = '\0';
    return true;
  }
  return false;
}

bool TestNameFromRunPattern(const char* pattern, char* name, size_t cap) {
  const char* s = pattern;
  if (*s == '^') ++s;
  size_t len = 0;
  while (IsIdentifierChar(s[len])) ++len;
  const char* rest = s + len;
  if (*rest == '$') ++rest;
  if (*rest != '\0' || !IsTestFunctionName(s, len) || len + 1 > cap) return false;
  memcpy(name, s, len);
  name[len] = '\0';
  return true;
}

void AppendShellQuoted(const char* arg, TextBuffer* out) {
  bool safe = arg[0] != '\0';
  for (const char* p = arg; *p && safe; ++p) {
    char ch = *p;
    safe = IsIdentifierChar(ch) || strchr("@%+=:,./-", ch) != nullptr;
  }
  if (safe) {
    out->Append(arg);
    return;
  }
  out->Char('\'');
  for (const char* p = arg; *p; ++p) {
    if (*p == '\'') {
      out->Append("'\\''");
    } else {
      out->Char(*p);
    }
  }
  out->Char('\'');
}

}  // namespace cgosan
