// The wrapper's questions about a Go binary, answered from the file's bytes: is it one, the
// Go minor version that built it, and whether it was built with GOEXPERIMENT=cgocheck2.
// Each rule is the one scripts/cgosan applies with grep when cgosan-tool is missing, so both
// paths decide alike; the file is searched whole because grep searches it whole.
#pragma once

#include <string>
#include <string_view>

namespace cgosan {
namespace cli {

// Whether the build info magic ("\xff Go buildinf:", written by Go 1.13 on) occurs.
bool HasGoBuildInfo(std::string_view file);

// The minor version ("21" for go1.21.13) from the first build info magic followed, within
// 40 bytes holding no 'g' and no newline, by "go1.<digits>"; "" when there is none.
std::string GoMinorVersion(std::string_view file);

// Whether a "build\tGOEXPERIMENT=" setting lists cgocheck2 (first, or after a comma, before
// any whitespace).
bool WantsCgocheck2(std::string_view file);

}  // namespace cli
}  // namespace cgosan
