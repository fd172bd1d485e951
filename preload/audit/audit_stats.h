// AuditStats: what the retention audits cost, for the line said at exit at verbosity 1
// ("retention audits: N passes, X MB scanned, longest pass ..., longest lock hold ...").
// Written only by the thread that holds the audit lock; read at exit under it.
#pragma once

#include <cstdint>

namespace cgosan {

struct AuditStats {
  uint64_t passes = 0;       // complete background passes
  uint64_t abandoned = 0;    // background passes given up for the exit audit
  uint64_t slices = 0;       // stretches of background work between two pauses
  uint64_t bytes = 0;        // C memory read by the background passes
  int64_t longest_pass_ns = 0;
  int64_t total_pass_ns = 0;
  int64_t longest_slice_ns = 0;  // the longest stretch without a pause
  int64_t longest_lock_ns = 0;   // the longest hold of a lock that malloc/free need
  uint64_t exit_bytes = 0;
  int64_t exit_pass_ns = 0;      // the audit at exit (not paced: the program is ending)
};

AuditStats& GetAuditStats();
int64_t AuditClockNs();  // CLOCK_MONOTONIC
// One line at verbosity >= 1 (nothing when no audit ran).
void SayAuditStats();

}  // namespace cgosan
