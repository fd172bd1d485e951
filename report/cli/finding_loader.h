// Loading JSON findings (schema cgosan.report/1) from files and directory trees.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace cgosan::cli {

struct LoadedFinding {
  std::string path;
  nlohmann::ordered_json doc;  // the finding as written (--symbolize may add file:line)
};

struct LoadResult {
  std::vector<LoadedFinding> findings;
  int errors = 0;  // paths or files that could not be read or were not findings
};

// Reads every PATH: a file is read as a finding whatever its name; a directory is searched
// recursively for *.json files. Each problem is one line on `err` naming the file, and the
// file is skipped. Files come in a stable order (sorted paths within each directory tree).
LoadResult LoadFindings(const std::vector<std::string>& paths, std::ostream& err);

}  // namespace cgosan::cli
