// `cgosan report` default output: one table row per distinct finding (formatters.h).
#include <iomanip>

#include "report/cli/formatters.h"
#include "report/cli/stack_view.h"

namespace cgosan::cli {

void WriteText(const std::vector<DistinctFinding>& findings, std::ostream& out) {
  if (findings.empty()) {
    out << "no findings\n";
    return;
  }
  int total = TotalCount(findings);
  out << findings.size() << " distinct finding" << (findings.size() == 1 ? "" : "s") << " ("
      << total << " in all)\n\n";
  // Times are fixed width (RFC 3339 with ms); "-" when a finding had none.
  constexpr int kTime = 24;
  out << std::left << std::setw(6) << "COUNT"
      << "  " << std::setw(kTime) << "FIRST SEEN"
      << "  " << std::setw(kTime) << "LAST SEEN"
      << "  SUMMARY\n";
  for (const DistinctFinding& d : findings) {
    std::string summary = Str(*d.finding, "summary");
    if (summary.empty()) summary = d.kind;
    out << std::right << std::setw(5) << d.count << "   " << std::left << std::setw(kTime)
        << (d.first_seen.empty() ? "-" : d.first_seen) << "  " << std::setw(kTime)
        << (d.last_seen.empty() ? "-" : d.last_seen) << "  " << summary << "\n";
  }
}

}  // namespace cgosan::cli
