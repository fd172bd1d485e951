// Findings made by the preload: turning the C heap model's verdicts and the fault
// handler's explanations into reports, and ending the process the way the program would.
#pragma once

#include <signal.h>

#include <cstdint>

#include "report/finding.h"
#include "shadow/c_heap.h"
#include "shadow/guarded_pool.h"

namespace cgosan {

// The calling thread's stack as a depot id (malloc_context_size frames; 0 when off).
StackId CaptureStackId();

// A bad free()/realloc()/malloc_usable_size() argument. Never returns.
[[noreturn]] void ReportBadFree(FreeVerdict verdict, const void* ptr, const HeapBlock& block,
                                bool block_known, uint64_t corrupt_offset);

// A fault explained by the guarded pool. Returns after the report has been written; the
// caller then chains to the program's handler or exits.
void ReportPoolFault(const PoolFaultInfo& info, int sig, siginfo_t* si, void* ucontext);

// A fault in freed or relocated Go memory (go_fault.h). Returns after the report has been
// written, like ReportPoolFault.
struct GoFaultExplanation;
void ReportGoFault(const GoFaultExplanation& explained, int sig, siginfo_t* si, void* ucontext);

// Serializes reports. Acquire returns false when this very thread is already reporting
// (a fault inside cgosan's own report code).
bool AcquireReportLock();
void ReleaseReportLock();
bool ThisThreadIsReporting();

}  // namespace cgosan
