// Suppressions implementation: a fixed table of rules in static storage.
#include "report/suppressions.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "report/report_internal.h"
#include "shadow/base/raw_io.h"

namespace cgosan {
namespace {

constexpr int kMaxRules = 512;
constexpr size_t kMaxPattern = 256;
constexpr size_t kMaxFileBytes = 256 * 1024;

struct Rule {
  FindingKind kind;
  char pattern[kMaxPattern];
};

Rule g_rules[kMaxRules];
int g_num_rules = 0;
std::atomic<uint64_t> g_suppressed{0};
char g_file[kMaxFileBytes];

constexpr FindingKind kAllKinds[] = {
    FindingKind::kHeapUseAfterFree,   FindingKind::kHeapBufferOverflow,
    FindingKind::kDoubleFree,         FindingKind::kInvalidFree,
    FindingKind::kGoHeapUseAfterFree, FindingKind::kGoStackUseAfterFree,
    FindingKind::kMapBucketUseAfterRelocation, FindingKind::kGoPointerRetained,
    FindingKind::kLeak};

bool KindByName(const char* name, size_t len, FindingKind* out) {
  if (len == 8 && memcmp(name, "retained", 8) == 0) {
    *out = FindingKind::kGoPointerRetained;
    return true;
  }
  for (FindingKind k : kAllKinds) {
    const char* n = FindingKindName(k);
    if (strlen(n) == len && memcmp(n, name, len) == 0) {
      *out = k;
      return true;
    }
  }
  return false;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool FrameMatches(const Frame& fr, const char* pattern) {
  return (fr.function && GlobMatch(pattern, fr.function)) ||
         (fr.file && GlobMatch(pattern, fr.file)) || (fr.module && GlobMatch(pattern, fr.module));
}

}  // namespace

bool GlobMatch(const char* p, const char* t) {
  const char* star = nullptr;
  const char* resume = nullptr;
  while (*t) {
    if (*p == '*') {
      star = p++;
      resume = t;
    } else if (*p == '?' || *p == *t) {
      ++p;
      ++t;
    } else if (star) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (*p == '*') ++p;
  return *p == '\0';
}

bool Suppressions::Parse(const char* name, const char* text, size_t len, TextBuffer* error) {
  int line_no = 0;
  for (size_t at = 0; at < len;) {
    size_t end = at;
    while (end < len && text[end] != '\n') ++end;
    ++line_no;
    size_t b = at, e = end;
    at = end + 1;
    while (b < e && IsSpace(text[b])) ++b;
    while (e > b && IsSpace(text[e - 1])) --e;
    if (b == e || text[b] == '#') continue;
    const char* line = text + b;
    size_t n = e - b;
    const char* colon = static_cast<const char*>(memchr(line, ':', n));
    auto fail = [&](const char* why) {
      error->Append(name).Char(':').Dec(line_no).Append(": ").Append(why);
      return false;
    };
    if (!colon) return fail("expected KIND:PATTERN");
    FindingKind kind;
    if (!KindByName(line, static_cast<size_t>(colon - line), &kind)) {
      error->Append(name).Char(':').Dec(line_no).Append(": unknown finding kind '");
      error->Append(line, static_cast<size_t>(colon - line)).Append("' (accepted: retained");
      for (FindingKind k : kAllKinds) error->Append(", ").Append(FindingKindName(k));
      error->Char(')');
      return false;
    }
    size_t plen = n - static_cast<size_t>(colon + 1 - line);
    if (plen == 0) return fail("empty pattern");
    if (plen >= kMaxPattern) return fail("pattern longer than 255 bytes");
    if (g_num_rules == kMaxRules) return fail("more than 512 rules");
    Rule& r = g_rules[g_num_rules++];
    r.kind = kind;
    memcpy(r.pattern, colon + 1, plen);
    r.pattern[plen] = '\0';
  }
  return true;
}

bool Suppressions::Load(const char* path, TextBuffer* error) {
  // A directory opens and reads as nothing: it would silently suppress nothing.
  struct stat st;
  int err = syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) != 0 ? errno
            : S_ISREG(st.st_mode)                               ? 0
                                                                : EISDIR;
  ssize_t n = err == 0 ? RawReadFile(path, g_file, sizeof(g_file)) : -1;
  if (n < 0) {
    if (err == 0) err = errno;
    char scratch[32];
    error->Append(path).Append(": cannot read the suppressions file (");
    error->Append(err == EISDIR ? "not a regular file" : LogPathErrorReason(err, scratch, sizeof(scratch)));
    error->Char(')');
    return false;
  }
  if (static_cast<size_t>(n) == sizeof(g_file)) {
    error->Append(path).Append(": suppressions file larger than 256 KiB");
    return false;
  }
  return Parse(path, g_file, static_cast<size_t>(n), error);
}

void Suppressions::Clear() {
  g_num_rules = 0;
  g_suppressed.store(0);
}

int Suppressions::RuleCount() { return g_num_rules; }

bool Suppressions::Matches(const Finding& f) {
  for (int r = 0; r < g_num_rules; ++r) {
    if (g_rules[r].kind != f.kind) continue;
    for (int s = 0; s < f.num_stacks && s < kMaxStacks; ++s) {
      const Stack& st = f.stacks[s];
      for (int i = 0; i < st.num_frames && i < kMaxFramesPerStack; ++i) {
        if (FrameMatches(st.frames[i], g_rules[r].pattern)) {
          g_suppressed.fetch_add(1);
          return true;
        }
      }
    }
  }
  return false;
}

uint64_t Suppressions::SuppressedCount() { return g_suppressed.load(); }

}  // namespace cgosan
