// GoFunctionFinder: the hook sites of Go functions, from the pclntab alone: functions by
// exact name (all of them in one pass over the table) and the `ret` instructions of a
// function (where a return value can be read). Async-signal-safe, no allocation.
#pragma once

#include <cstdint>

#include "report/go/pclntab.h"

namespace cgosan {

struct GoFunctionQuery {
  const char* name = nullptr;  // exact pclntab name, e.g. "internal/runtime/maps.(*table).grow"
  bool found = false;
  GoFuncInfo func;
};

// Fills every query whose function is in the table; returns how many were found.
int FindGoFunctions(const Pclntab& table, GoFunctionQuery* queries, int n);

// The `ret` instructions (0xc3) of f, in pc order: the pcs where the SP delta comes back to 0
// after being non-zero. Returns how many were written (at most max). The code is read at
// f's own addresses (the process's mapped text).
int FindReturnSites(const Pclntab& table, const GoFuncInfo& f, uintptr_t* out, int max);
// The same with f's bytes read at `code` (a file image), for tools and tests.
int FindReturnSitesIn(const Pclntab& table, const GoFuncInfo& f, const uint8_t* code,
                      uintptr_t* out, int max);

}  // namespace cgosan
