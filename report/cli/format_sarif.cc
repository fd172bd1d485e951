// `cgosan report --format=sarif`: SARIF 2.1.0, one result per distinct finding
// (formatters.h). The result's location is the top user frame, so code scanning (GitHub)
// shows it on that line; `stacks` carry every stack of both languages; the signature is the
// partial fingerprint, so the same bug keeps its alert across runs.
#include <map>

#include "report/cli/formatters.h"
#include "report/cli/stack_view.h"

namespace cgosan::cli {
namespace {

constexpr const char* kSrcRoot = "SRCROOT";

// "file:///a%20b/x.c" for an absolute path; relative to the source root when under it.
json ArtifactLocation(const std::string& file, const FormatOptions& options) {
  auto escape = [](const std::string& s) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char ch : s) {
      if (isalnum(ch) || std::string("/-._~").find(static_cast<char>(ch)) != std::string::npos) {
        out += static_cast<char>(ch);
      } else {
        out += '%';
        out += kHex[ch >> 4];
        out += kHex[ch & 15];
      }
    }
    return out;
  };
  const std::string& root = options.source_root;
  if (!root.empty() && file.size() > root.size() && file.compare(0, root.size(), root) == 0 &&
      file[root.size()] == '/') {
    return {{"uri", escape(file.substr(root.size() + 1))}, {"uriBaseId", kSrcRoot}};
  }
  if (!file.empty() && file[0] == '/') return {{"uri", "file://" + escape(file)}};
  return {{"uri", escape(file)}};
}

// A location for a frame: physical when it has a file, else only its name and module.
json FrameLocationJson(const json& frame, const FormatOptions& options) {
  json loc = json::object();
  std::string file = Str(frame, "file");
  if (!file.empty()) {
    json phys = {{"artifactLocation", ArtifactLocation(file, options)}};
    if (frame.contains("line") && frame["line"].is_number_integer() &&
        frame["line"].get<long>() >= 1) {
      phys["region"] = {{"startLine", frame["line"].get<long>()}};
    }
    loc["physicalLocation"] = phys;
  }
  std::string fn = Str(frame, "function");
  if (!fn.empty())
    loc["logicalLocations"] = json::array({{{"fullyQualifiedName", fn}, {"kind", "function"}}});
  loc["message"] = {{"text", FrameText(frame)}};
  return loc;
}

json StackJson(const std::string& name, const json& frames, const FormatOptions& options) {
  json out_frames = json::array();
  for (const json& fr : frames) {
    json f = {{"location", FrameLocationJson(fr, options)}};
    std::string module = Str(fr, "module");
    if (!module.empty()) f["module"] = module;
    json props = {{"lang", Str(fr, "lang")},
                  {"glue", Flag(fr, "glue")},
                  {"pc", Str(fr, "pc")},
                  {"module_offset", Str(fr, "module_offset")}};
    f["properties"] = props;
    out_frames.push_back(f);
  }
  return {{"message", {{"text", name}}}, {"frames", out_frames}};
}

// The top user frame with a file, else any frame with a file: what code scanning needs.
const json* LocationFrame(const json& finding) {
  const json* top = TopUserFrame(finding);
  if (top != nullptr && !Str(*top, "file").empty()) return top;
  const json* stack = PrimaryStack(finding);
  if (stack == nullptr) return nullptr;
  for (const json& fr : *stack) {
    if (IsUserFrame(fr) && !Str(fr, "file").empty()) return &fr;
  }
  return nullptr;
}

}  // namespace

void WriteSarif(const std::vector<DistinctFinding>& findings, const FormatOptions& options,
                std::ostream& out) {
  std::map<std::string, int> rule_index;
  json rules = json::array();
  json results = json::array();
  std::string version = "unknown";
  for (const DistinctFinding& d : findings) {
    const json& f = *d.finding;
    if (!Str(f, "cgosan_version").empty()) version = Str(f, "cgosan_version");
    if (!rule_index.count(d.kind)) {
      rule_index[d.kind] = static_cast<int>(rules.size());
      rules.push_back({{"id", d.kind},
                       {"shortDescription", {{"text", KindDescription(d.kind)}}},
                       {"defaultConfiguration", {{"level", KindLevel(d.kind)}}}});
    }
    std::string text = Str(f, "summary");
    if (!Str(f, "detail").empty()) text += ". " + Str(f, "detail");
    json result = {{"ruleId", d.kind},
                   {"ruleIndex", rule_index[d.kind]},
                   {"level", KindLevel(d.kind)},
                   {"message", {{"text", text.empty() ? d.kind : text}}}};
    if (const json* fr = LocationFrame(f))
      result["locations"] = json::array({FrameLocationJson(*fr, options)});
    result["occurrenceCount"] = d.count;  // duplicates folded into this result
    result["partialFingerprints"] = {{"cgosanSignature/v1", d.signature}};
    json stacks = json::array();
    for (const auto& [name, frames] : Stacks(f))
      stacks.push_back(StackJson(name, *frames, options));
    if (!stacks.empty()) result["stacks"] = stacks;
    result["properties"] = {{"signature", d.signature},
                            {"count", d.count},
                            {"first_seen", d.first_seen},
                            {"last_seen", d.last_seen},
                            {"files", d.files}};
    results.push_back(result);
  }
  json run = {{"tool", {{"driver", {{"name", "cgosan"}, {"version", version}, {"rules", rules}}}}},
              {"results", results}};
  if (!options.source_root.empty()) {
    std::string root = options.source_root;
    run["originalUriBaseIds"] = {{kSrcRoot, {{"uri", "file://" + root + "/"}}}};
  }
  json sarif = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                {"version", "2.1.0"},
                {"runs", json::array({run})}};
  out << sarif.dump(2) << "\n";
}

}  // namespace cgosan::cli
