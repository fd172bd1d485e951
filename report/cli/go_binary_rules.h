// The wrapper's questions about a Go binary, answered from its bytes: is it one, the Go
// minor version that built it, and whether it was built with GOEXPERIMENT=cgocheck2. Each
// rule is the one scripts/cgosan applies with grep to the whole file when cgosan-tool is
// missing, so that both decide alike. `bytes` may be just the .go.buildinfo section: from
// Go 1.18 on it holds the version and the build settings inline (the other copy of the
// settings, runtime.modinfo in .rodata, says the same), and it spares searching megabytes.
// Not ParseGoBuildInfo (report/go/go_buildinfo.h): it parses the blob's structure, which
// the shell rules do not ask for (and it keeps 127 bytes of GOEXPERIMENT).
#pragma once

#include <string>
#include <string_view>

namespace cgosan {
namespace cli {

// Whether the build info magic ("\xff Go buildinf:", written by Go 1.13 on) occurs.
bool HasGoBuildInfo(std::string_view bytes);

// The minor version ("21" for go1.21.13) from the first build info magic followed, within
// 40 bytes holding no 'g' and no newline, by "go1.<digits>"; "" when there is none.
std::string GoMinorVersion(std::string_view bytes);

// Whether a "build\tGOEXPERIMENT=" setting lists cgocheck2 (first, or after a comma, before
// any whitespace).
bool WantsCgocheck2(std::string_view bytes);

}  // namespace cli
}  // namespace cgosan
