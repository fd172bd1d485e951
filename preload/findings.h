// Findings made by the preload: turning the C heap model's verdicts and the fault
// handler's explanations into reports, and ending the process the way the program would.
#pragma once

#include <signal.h>

#include <cstdint>

#include "report/finding.h"
#include "shadow/c_heap.h"
#include "shadow/guarded_pool.h"

namespace cgosan {

// A bad free()/realloc()/malloc_usable_size() argument. Returns only when a suppression
// matched: the caller then ignores the call and the program goes on.
void ReportBadFree(FreeVerdict verdict, const void* ptr, const HeapBlock& block,
                                bool block_known, uint64_t corrupt_offset);

// A fault explained by the guarded pool. Returns after the report has been written; the
// caller then chains to the program's handler or exits.
void ReportPoolFault(const PoolFaultInfo& info, int sig, siginfo_t* si, void* ucontext);

// A fault in freed or relocated Go memory (go_fault.h). Returns after the report has been
// written, like ReportPoolFault.
struct GoFaultExplanation;
void ReportGoFault(const GoFaultExplanation& explained, int sig, siginfo_t* si, void* ucontext);

// For the audits' findings (preload/audit/): the one Finding, begun on this thread, with
// the stacks and objects filled by the helpers below; Publish writes it unless a suppression
// matches (returns whether it was written). The caller holds the report lock.
Finding* BeginFinding(FindingKind kind);
void AddDepotStack(Finding* f, const char* name, StackId id, pid_t tid, int64_t goroutine = -1);
void SetObject(Finding* f, const HeapBlock& block, uintptr_t address);
const char* OriginName(BlockOrigin origin);
bool Publish(const Finding& f);
struct MapArrayRecord;
// Region map-buckets: the map, its type, the array's state and its event/alloc stacks.
void DescribeMapArray(Finding* f, const MapArrayRecord& m);

// Serializes reports. Acquire returns false when this very thread is already reporting
// (a fault inside cgosan's own report code). `finding`: the caller has a finding to report
// (a fault, a bad free), counted while it waits so that the report that ends the process
// can say it was not the only one.
bool AcquireReportLock(bool finding = false);
void ReleaseReportLock();
bool ThisThreadIsReporting();
// Called with the lock held by a report that ends the process: one line saying how many
// other threads were waiting with a finding (nothing when none was).
void SayOtherFindingsWaiting();

}  // namespace cgosan
