// `cgosan report --format=json`: one array of distinct findings, each with its newest
// finding as written (formatters.h).
#include "report/cli/formatters.h"

namespace cgosan::cli {

void WriteJson(const std::vector<DistinctFinding>& findings, std::ostream& out) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  auto time_or_null = [](const std::string& t) {
    return t.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(t);
  };
  for (const DistinctFinding& d : findings) {
    arr.push_back({{"signature", d.signature},
                   {"kind", d.kind},
                   {"count", d.count},
                   {"first_seen", time_or_null(d.first_seen)},
                   {"last_seen", time_or_null(d.last_seen)},
                   {"files", d.files},
                   {"finding", *d.finding}});
  }
  out << arr.dump(2) << "\n";
}

}  // namespace cgosan::cli
