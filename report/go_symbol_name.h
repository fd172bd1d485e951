// LooksLikeGoFunction: whether a symbol name in a Go binary names Go code (frames get
// lang "go") rather than C compiled into the same binary (cgo preambles, runtime/cgo, gcc's
// clones). The module must be known to be Go first; this only looks at the name.
#pragma once

namespace cgosan {

bool LooksLikeGoFunction(const char* name);

}  // namespace cgosan
