// `cgosan report [--format=text|markdown|sarif|json] [--symbolize] [--source-root=DIR]
// PATH...` (report_command.h): load, optionally symbolize, deduplicate, format. The exit
// status lets CI gate on it: 0 no findings, 1 findings, 2 usage error or nothing readable.
#include "report/cli/report_command.h"

#include <iostream>
#include <string>
#include <vector>

#include "report/cli/dedup.h"
#include "report/cli/finding_loader.h"
#include "report/cli/formatters.h"
#include "report/cli/symbolize.h"

namespace cgosan::cli {
namespace {

constexpr int kExitNoFindings = 0;
constexpr int kExitFindings = 1;
constexpr int kExitUsage = 2;

const char kUsage[] =
    "usage: cgosan report [--format=text|markdown|sarif|json] [--symbolize]\n"
    "                     [--source-root=DIR] PATH...\n"
    "  PATH: a JSON finding, or a directory searched recursively for *.json findings.\n"
    "  Findings are deduplicated by signature (kind + top 3 user frames).\n"
    "  --format=text      a table: count, first and last seen, summary (default)\n"
    "  --format=json      an array of {signature, kind, count, first_seen, last_seen,\n"
    "                     files, finding (the newest, as written)}\n"
    "  --format=markdown  one issue body per distinct finding\n"
    "  --format=sarif     SARIF 2.1.0, one result per distinct finding\n"
    "  --symbolize        add file:line to C frames from the DWARF of the recorded\n"
    "                     modules (addr2line; only files whose build id matches)\n"
    "  --source-root=DIR  SARIF: URIs of files under DIR relative to it (SRCROOT)\n"
    "Exit status: 0 no findings, 1 findings, 2 usage error or no input readable.\n";

int Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "cgosan report: " << problem << "\n";
  std::cerr << kUsage;
  return kExitUsage;
}

}  // namespace

int RunReportCommand(int argc, char** argv) {
  std::string format = "text";
  bool symbolize = false;
  FormatOptions options;
  std::vector<std::string> paths;
  bool only_paths = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (only_paths || a.empty() || a[0] != '-' || a == "-") {
      paths.push_back(a);
    } else if (a == "--") {
      only_paths = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return kExitNoFindings;
    } else if (a == "--symbolize") {
      symbolize = true;
    } else if (a.rfind("--format=", 0) == 0) {
      format = a.substr(9);
    } else if (a == "--format") {
      if (i + 1 == argc) return Usage("--format needs a value");
      format = argv[++i];
    } else if (a.rfind("--source-root=", 0) == 0) {
      options.source_root = a.substr(14);
      while (options.source_root.size() > 1 && options.source_root.back() == '/')
        options.source_root.pop_back();
    } else {
      return Usage("unknown option " + a);
    }
  }
  if (format != "text" && format != "json" && format != "markdown" && format != "sarif") {
    return Usage("unknown format " + format + " (text, markdown, sarif, json)");
  }
  if (paths.empty()) return Usage("no PATH given");

  LoadResult loaded = LoadFindings(paths, std::cerr);
  if (loaded.findings.empty() && loaded.errors > 0) {
    std::cerr << "cgosan report: no finding could be read\n";
    return kExitUsage;
  }
  std::vector<DistinctFinding> distinct;
  try {
    if (symbolize) Symbolize(&loaded.findings, std::cerr);
    distinct = Deduplicate(loaded.findings);
    if (format == "json") {
      WriteJson(distinct, std::cout);
    } else if (format == "markdown") {
      WriteMarkdown(distinct, std::cout);
    } else if (format == "sarif") {
      WriteSarif(distinct, options, std::cout);
    } else {
      WriteText(distinct, std::cout);
    }
  } catch (const nlohmann::json::exception& e) {
    // A member of an unexpected type in some file the loader accepted: say so rather than
    // abort; the formatters read members defensively, so this is a bug to report.
    std::cerr << "cgosan report: internal error on the input: " << e.what() << "\n";
    return kExitUsage;
  }
  std::cout.flush();
  return distinct.empty() ? kExitNoFindings : kExitFindings;
}

}  // namespace cgosan::cli
