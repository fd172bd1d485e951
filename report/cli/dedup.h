// Distinct findings: the loaded findings grouped by their `signature`.
#pragma once

#include <string>
#include <vector>

#include "report/cli/finding_loader.h"

namespace cgosan::cli {

struct DistinctFinding {
  std::string signature;
  std::string kind;
  int count = 0;
  std::string first_seen;  // `time` of the oldest, "" when none had one
  std::string last_seen;   // `time` of the newest
  std::vector<std::string> files;
  const nlohmann::ordered_json* finding = nullptr;  // the newest one, as written
};

// Groups by signature (the same bug from two test binaries or two runs is one group).
// Sorted by first_seen, then signature, so that output is stable.
std::vector<DistinctFinding> Deduplicate(const std::vector<LoadedFinding>& findings);

// Total number of findings behind the distinct ones.
int TotalCount(const std::vector<DistinctFinding>& distinct);

}  // namespace cgosan::cli
