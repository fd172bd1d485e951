// Finds and parses the JSON findings named on the command line (finding_loader.h). A CI
// artifact directory holds whatever the jobs left: partial files of killed runs, other
// tools' JSON. Those are named and skipped, never fatal, so one bad file cannot hide the
// rest.
#include "report/cli/finding_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cgosan::cli {
namespace fs = std::filesystem;

namespace {

void Skip(std::ostream& err, const std::string& path, const std::string& why, LoadResult* r) {
  err << "cgosan report: " << path << ": skipped: " << why << "\n";
  ++r->errors;
}

// A finding is an object of a cgosan.report/N schema with the keys deduplication needs.
std::string WhyNotAFinding(const nlohmann::ordered_json& doc) {
  if (!doc.is_object()) return "not a JSON object";
  auto schema = doc.find("schema");
  if (schema == doc.end() || !schema->is_string() ||
      schema->get<std::string>().rfind("cgosan.report/", 0) != 0) {
    return "not a cgosan finding (no \"schema\": \"cgosan.report/...\")";
  }
  for (const char* key : {"kind", "signature"}) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) return std::string("no \"") + key + "\" string";
  }
  return "";
}

void LoadFile(const std::string& path, std::ostream& err, LoadResult* r) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Skip(err, path, "cannot be read", r);
    return;
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    // e.what() says where the text stops being JSON (a truncated file: at its end). Not
    // only parse_error: a number too large for a double (1e8920) is out_of_range.
    Skip(err, path, std::string("malformed JSON: ") + e.what(), r);
    return;
  }
  std::string why = WhyNotAFinding(doc);
  if (!why.empty()) {
    Skip(err, path, why, r);
    return;
  }
  r->findings.push_back({path, std::move(doc)});
}

}  // namespace

LoadResult LoadFindings(const std::vector<std::string>& paths, std::ostream& err) {
  LoadResult r;
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      Skip(err, path, "no such file or directory", &r);
      continue;
    }
    if (!fs::is_directory(st)) {
      LoadFile(path, err, &r);
      continue;
    }
    std::vector<std::string> files;
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;
      if (it->is_regular_file(type_ec) && it->path().extension() == ".json") {
        files.push_back(it->path().string());
      }
    }
    if (ec) Skip(err, path, "cannot be listed: " + ec.message(), &r);
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) LoadFile(f, err, &r);
  }
  return r;
}

}  // namespace cgosan::cli
