// memmem, not std::search: a file without the build info (any C program) is searched to its
// end, and glibc's memmem is several times faster on megabytes.
#include "report/cli/go_binary_rules.h"

#include <string.h>

#include "report/go/go_buildinfo.h"

namespace cgosan {
namespace cli {
namespace {

constexpr std::string_view kMagic(kGoBuildInfoMagic, kGoBuildInfoMagicLen);

// Offset of the first `needle` at or after `from`, or npos.
size_t Find(std::string_view file, std::string_view needle, size_t from) {
  if (from > file.size()) return std::string_view::npos;
  const void* hit = memmem(file.data() + from, file.size() - from, needle.data(), needle.size());
  return hit ? static_cast<const char*>(hit) - file.data() : std::string_view::npos;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// grep's [[:space:]] in the C locale.
bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

bool HasGoBuildInfo(std::string_view file) {
  return Find(file, kMagic, 0) != std::string_view::npos;
}

std::string GoMinorVersion(std::string_view file) {
  constexpr size_t kMaxGap = 40;
  constexpr std::string_view kPrefix = "go1.";
  for (size_t at = Find(file, kMagic, 0); at != std::string_view::npos;
       at = Find(file, kMagic, at + 1)) {
    size_t gap_start = at + kMagic.size();
    size_t i = gap_start;
    // The gap cannot hold a 'g', so the first 'g' must begin "go1.".
    while (i < file.size() && i - gap_start < kMaxGap && file[i] != 'g' && file[i] != '\n') ++i;
    if (file.substr(i, kPrefix.size()) != kPrefix) continue;
    size_t digits = i + kPrefix.size();
    size_t end = digits;
    while (end < file.size() && IsDigit(file[end])) ++end;
    if (end > digits) return std::string(file.substr(digits, end - digits));
  }
  return "";
}

bool WantsCgocheck2(std::string_view file) {
  constexpr std::string_view kSetting = "build\tGOEXPERIMENT=";
  constexpr std::string_view kName = "cgocheck2";
  for (size_t at = Find(file, kSetting, 0); at != std::string_view::npos;
       at = Find(file, kSetting, at + 1)) {
    size_t start = at + kSetting.size();
    size_t end = start;
    while (end < file.size() && !IsSpace(file[end])) ++end;
    std::string_view value = file.substr(start, end - start);
    if (value.substr(0, kName.size()) == kName) return true;
    if (value.find(",cgocheck2") != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace cli
}  // namespace cgosan
