// Deduplication by signature (dedup.h). The signature is the one the preload wrote (kind +
// the top 3 user frames by function name, see report/signature.cc): it has no addresses,
// pids or paths, so it is already the same across binaries and runs.
#include "report/cli/dedup.h"

#include <algorithm>
#include <map>

namespace cgosan::cli {

std::vector<DistinctFinding> Deduplicate(const std::vector<LoadedFinding>& findings) {
  std::map<std::string, DistinctFinding> groups;
  for (const LoadedFinding& lf : findings) {
    const nlohmann::ordered_json& doc = lf.doc;
    std::string sig = doc.at("signature").get<std::string>();
    // RFC 3339 UTC with a fixed width (the preload's format): string order is time order.
    std::string time =
        doc.contains("time") && doc["time"].is_string() ? doc["time"].get<std::string>() : "";
    DistinctFinding& g = groups[sig];
    if (g.count == 0) {
      g.signature = sig;
      g.kind = doc.at("kind").get<std::string>();
      g.first_seen = g.last_seen = time;
      g.finding = &doc;
    } else {
      if (time < g.first_seen) g.first_seen = time;
      // ">=": of equal times the later file wins, so the choice does not depend on the map.
      if (time >= g.last_seen) {
        g.last_seen = time;
        g.finding = &doc;
      }
    }
    ++g.count;
    g.files.push_back(lf.path);
  }
  std::vector<DistinctFinding> out;
  for (auto& [sig, g] : groups) out.push_back(std::move(g));
  std::stable_sort(out.begin(), out.end(), [](const DistinctFinding& a, const DistinctFinding& b) {
    if (a.first_seen != b.first_seen) return a.first_seen < b.first_seen;
    return a.signature < b.signature;
  });
  return out;
}

int TotalCount(const std::vector<DistinctFinding>& distinct) {
  int n = 0;
  for (const DistinctFinding& d : distinct) n += d.count;
  return n;
}

}  // namespace cgosan::cli
