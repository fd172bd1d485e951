// The output formats of `cgosan report`, one file each: text (format_text.cc), json
// (format_json.cc), markdown (format_markdown.cc), sarif (format_sarif.cc).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "report/cli/dedup.h"

namespace cgosan::cli {

struct FormatOptions {
  // SARIF: files under this directory get URIs relative to it (uriBaseId SRCROOT), as
  // GitHub code scanning wants them; "" keeps absolute file:// URIs.
  std::string source_root;
};

void WriteText(const std::vector<DistinctFinding>& findings, std::ostream& out);
void WriteJson(const std::vector<DistinctFinding>& findings, std::ostream& out);
void WriteMarkdown(const std::vector<DistinctFinding>& findings, std::ostream& out);
void WriteSarif(const std::vector<DistinctFinding>& findings, const FormatOptions& options,
                std::ostream& out);

// What each kind means, for SARIF rules and the markdown sentence ("use of freed C heap
// memory"); a kind this build does not know gets a generic text.
std::string KindDescription(const std::string& kind);
// SARIF level: "error" for memory errors, "warning" for what did not crash (retained
// pointers, leaks).
std::string KindLevel(const std::string& kind);

}  // namespace cgosan::cli
