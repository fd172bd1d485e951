// GoFunctionFinder implementation. Return sites come from the SP-delta table rather than a
// disassembly: its run boundaries are instruction boundaries, and Go's epilogues (add $N,%rsp
// and/or pop %rbp) bring the delta back to 0 exactly at the ret, so no decoder is needed.
#include "report/go/go_function_finder.h"

#include <cstring>

namespace cgosan {

int FindGoFunctions(const Pclntab& table, GoFunctionQuery* queries, int n) {
  int found = 0;
  for (int k = 0; k < n; ++k) {
    if (queries[k].found) ++found;
  }
  GoFuncInfo f;
  for (uint64_t i = 0; i < table.nfunc() && found < n; ++i) {
    if (!table.FindFuncByIndex(i, &f)) continue;
    const char* name = table.FuncName(f);
    if (name == nullptr) continue;
    for (int k = 0; k < n; ++k) {
      GoFunctionQuery& q = queries[k];
      if (q.found || q.name == nullptr || q.name[0] != name[0] || strcmp(q.name, name) != 0) {
        continue;
      }
      q.func = f;
      q.found = true;
      ++found;
    }
  }
  return found;
}

int FindReturnSitesIn(const Pclntab& table, const GoFuncInfo& f, const uint8_t* code,
                      uintptr_t* out, int max) {
  int n = 0;
  PcValueRun run;
  int32_t previous = 0;
  // A corrupt table could describe runs without end; a function has fewer runs than bytes.
  for (uintptr_t guard = 0; n < max && guard <= f.end - f.entry; ++guard) {
    if (!table.NextSpRun(f, &run) || run.start >= f.end) break;
    if (run.value == 0 && previous != 0 && run.start >= f.entry &&
        code[run.start - f.entry] == 0xc3) {
      out[n++] = run.start;
    }
    previous = run.value;
  }
  return n;
}

int FindReturnSites(const Pclntab& table, const GoFuncInfo& f, uintptr_t* out, int max) {
  return FindReturnSitesIn(table, f, reinterpret_cast<const uint8_t*>(f.entry), out, max);
}

}  // namespace cgosan
