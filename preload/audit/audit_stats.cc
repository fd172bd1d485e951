// AuditStats implementation: the counters and the exit line.
#include "preload/audit/audit_stats.h"

#include <time.h>

#include "report/report_writer.h"
#include "shadow/base/text_buffer.h"
#include "shadow/options.h"

namespace cgosan {
namespace {

AuditStats g_stats;

// "12.3 ms"
void Millis(TextBuffer& line, int64_t ns) {
  if (ns < 0) ns = 0;
  line.Unsigned(static_cast<uint64_t>(ns / 1000000)).Char('.');
  line.Unsigned(static_cast<uint64_t>(ns / 100000 % 10)).Append(" ms");
}

void Megabytes(TextBuffer& line, uint64_t bytes) {
  line.Unsigned(bytes >> 20).Char('.').Unsigned(((bytes & ((1u << 20) - 1)) * 10) >> 20);
  line.Append(" MB");
}

}  // namespace

AuditStats& GetAuditStats() { return g_stats; }

int64_t AuditClockNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void SayAuditStats() {
  const AuditStats& s = g_stats;
  if (GetOptions().verbosity < 1 || (s.passes == 0 && s.exit_pass_ns == 0)) return;
  InlineTextBuffer<512> line;
  line.Append("retention audits: ").Unsigned(s.passes).Append(" passes, ");
  Megabytes(line, s.bytes);
  line.Append(" scanned in ").Unsigned(s.slices).Append(" slices");
  if (s.passes > 0) {
    line.Append(", longest pass ");
    Millis(line, s.longest_pass_ns);
    line.Append(" (mean ");
    Millis(line, s.total_pass_ns / static_cast<int64_t>(s.passes));
    line.Append(")");
  }
  line.Append(", longest slice ");
  Millis(line, s.longest_slice_ns);
  line.Append(", longest lock hold ");
  Millis(line, s.longest_lock_ns);
  if (s.abandoned) line.Append(", ").Unsigned(s.abandoned).Append(" abandoned at exit");
  line.Append(", exit audit ");
  Millis(line, s.exit_pass_ns);
  line.Append(" (");
  Megabytes(line, s.exit_bytes);
  line.Append(")");
  PrintLine(line.data());
}

}  // namespace cgosan
