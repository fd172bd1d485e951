// LooksLikeGoFunction: whether a symbol name in a Go binary names Go code (frames get
// lang "go") rather than C compiled into the same binary (cgo preambles, runtime/cgo, gcc's
// clones). The module must be known to be Go first; this only looks at the name.
#pragma once

namespace cgosan {

bool LooksLikeGoFunction(const char* name);

// Whether a function is cgo glue, the code between a Go caller and the C function it calls
// (or back): cgo's C wrappers `_cgo_<hash>_Cfunc_*`, Go stubs whose name contains `._Cfunc_`
// or `._cgo_`, runtime.cgocall, runtime.asmcgocall, crosscall2, runtime.cgocallback(g).
// Reports keep these frames in JSON (glue: true) and fold them into one line in text.
bool IsCgoGlueName(const char* name);

// For a glue frame that names the C function being called ("_cgo_ab12_Cfunc_free",
// "main._Cfunc_CString"), the C function's name as Go code writes it after "C."
// ("free", "CString"); nullptr when the name says nothing about it.
const char* CgoCalleeName(const char* glue_name);

}  // namespace cgosan
