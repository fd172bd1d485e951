// `cgosan report --format=markdown`: one section per distinct finding, ready to paste into
// a GitHub or GitLab issue (formatters.h). Title, one sentence, the stacks from the first
// user frame with glue folded (full stacks in <details>), whatever of object/holder/leak/
// cgo_call/detail the finding has, the environment, the memory map around the address, and
// the command that reproduces it. Generic over kinds: only members present and non-null
// are shown, so new kinds render without changes here.
#include <sstream>

#include "report/cli/formatters.h"
#include "report/cli/stack_view.h"

namespace cgosan::cli {
namespace {

// `text` as an inline code span (backticks inside get a longer fence); table-safe.
std::string Code(const std::string& text) {
  std::string t;
  for (char ch : text) {
    if (ch == '|') {
      t += "\\|";
    } else if (ch == '\n') {
      t += ' ';
    } else {
      t += ch;
    }
  }
  if (t.empty()) return "` `";
  if (t.find('`') == std::string::npos) return "`" + t + "`";
  return "`` " + t + " ``";
}

// A fenced block whose fence no line of the content can close.
void CodeBlock(const std::vector<std::string>& lines, std::ostream& out, const char* lang = "") {
  std::string fence = "```";
  for (const std::string& l : lines) {
    while (l.find(fence) != std::string::npos) fence += '`';
  }
  out << fence << lang << "\n";
  for (const std::string& l : lines) out << l << "\n";
  out << fence << "\n";
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A number member, or 0 when absent or not a number (a hand-edited or foreign file).
long Num(const json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<long>() : 0;
}

bool Present(const json& f, const char* key) {
  auto it = f.find(key);
  return it != f.end() && !it->is_null();
}

std::string ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "null";
  return v.dump();
}

bool LooksLikeFrame(const json& v) {
  return v.is_object() && v.contains("pc") && v.contains("module_offset");
}

// key/value rows of an object, nested objects as "a.b", frames as one line, lists joined.
void FlattenRows(const json& obj, const std::string& prefix,
                 std::vector<std::pair<std::string, std::string>>* rows) {
  if (!obj.is_object()) return;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    std::string key = prefix + it.key();
    const json& v = *it;
    if (key == "stack" && v.is_array()) continue;  // holder.stack is shown with the stacks
    if (LooksLikeFrame(v)) {
      rows->emplace_back(key, FrameText(v));
    } else if (v.is_object()) {
      FlattenRows(v, key + ".", rows);
    } else if (v.is_array()) {
      std::string joined;
      for (const json& e : v)
        joined += (joined.empty() ? "" : ", ") + (LooksLikeFrame(e) ? FrameText(e) : ScalarText(e));
      rows->emplace_back(key, joined.empty() ? "[]" : joined);
    } else {
      rows->emplace_back(key, ScalarText(v));
    }
  }
}

void Table(const std::vector<std::pair<std::string, std::string>>& rows, std::ostream& out) {
  out << "| | |\n|---|---|\n";
  for (const auto& [k, v] : rows) out << "| " << k << " | " << Code(v) << " |\n";
}

std::string ShellQuote(const std::string& s) {
  bool safe = !s.empty();
  for (char ch : s) {
    if (!(isalnum(static_cast<unsigned char>(ch)) ||
          std::string("@%+=:,./-_").find(ch) != std::string::npos))
      safe = false;
  }
  if (safe) return s;
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

std::string Title(const DistinctFinding& d) {
  const json* top = TopUserFrame(*d.finding);
  std::string title = d.kind;
  if (top != nullptr) {
    std::string fn = UserFunctionName(*d.finding, *top);
    if (!fn.empty()) title += " in " + fn;
    std::string file = Str(*top, "file");
    if (!file.empty()) {
      title += " at " + Basename(file);
      if (Num(*top, "line") > 0) title += ":" + std::to_string(Num(*top, "line"));
    }
  }
  return title;
}

std::string RegionWords(const std::string& region) {
  if (region == "c-heap") return "C heap block";
  if (region == "go-heap") return "Go heap object";
  if (region == "go-stack") return "goroutine stack";
  if (region == "map-buckets") return "Go map array";
  if (region == "global") return "global";
  return region.empty() ? "memory" : region + " memory";
}

// "72 bytes inside a 81920-byte Go map array at 0xc0000d6000"
std::string ObjectWords(const json& obj) {
  long offset = Num(obj, "offset");
  long size = Num(obj, "size");
  std::string where;
  if (offset < 0) {
    where = std::to_string(-offset) + " bytes before";
  } else if (size > 0 && offset >= size) {
    where = std::to_string(offset - size) + " bytes after the end of";
  } else {
    where = std::to_string(offset) + " bytes inside";
  }
  return where + " a " + std::to_string(size) + "-byte " + RegionWords(Str(obj, "region")) +
         " at " + Str(obj, "base");
}

// One sentence: what happened, to what, where.
std::string Sentence(const json& f, const std::string& kind) {
  std::ostringstream s;
  s << KindDescription(kind);
  const json& access = f.contains("access") ? f["access"] : json();
  std::string type = Str(access, "type");
  if (Present(f, "leak")) {
    s << ": " << Num(f["leak"], "bytes") << " bytes in " << Num(f["leak"], "blocks") << " blocks";
  } else if (Present(f, "holder") && Present(f, "object")) {
    s << ": " << ObjectWords(f["object"]) << " is held at offset " << Num(f["holder"], "offset")
      << " of a " << Num(f["holder"], "size") << "-byte "
      << RegionWords(Str(f["holder"], "region"));
    std::string symbol = Str(f["holder"], "symbol");
    if (!symbol.empty()) s << " (" << symbol << ")";
  } else if (!type.empty() && type != "unknown" && Present(f, "address")) {
    s << ": a " << type;
    if (access.contains("size") && access["size"].is_number())
      s << " of " << access["size"].get<long>() << " bytes";
    s << " at " << Str(f, "address");
    if (Present(f, "object")) s << ", " << ObjectWords(f["object"]);
  } else if (Present(f, "object")) {
    s << ": " << ObjectWords(f["object"]);
  }
  const json* top = TopUserFrame(f);
  if (top != nullptr) s << ", in " << UserFunctionName(f, *top) << " " << FrameLocation(*top);
  s << ".";
  return s.str();
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + ShellQuote(w);
  return out;
}

void WriteStacks(const json& f, std::ostream& out) {
  auto stacks = Stacks(f);
  if (stacks.empty()) return;
  out << "### Stacks\n\n";
  for (const auto& [name, frames] : stacks) {
    int skipped = 0;
    std::vector<StackLine> lines = FoldedStack(*frames, name == "access", &skipped);
    out << "**" << name << "**";
    if (name == "access" && f.contains("thread") && f["thread"].is_object()) {
      const json& t = f["thread"];
      out << " (thread " << Num(t, "tid");
      if (!Str(t, "name").empty()) out << " " << Code(Str(t, "name"));
      if (t.contains("goroutine") && t["goroutine"].is_number())
        out << ", goroutine " << t["goroutine"].get<long>();
      out << ")";
    }
    if (skipped > 0)
      out << ", from the first user frame (" << skipped
          << " frames above it in cgosan, the allocator, libc or the Go runtime)";
    out << "\n\n";
    std::vector<std::string> text;
    for (const StackLine& l : lines) text.push_back(l.index + " " + l.text);
    CodeBlock(text, out);
    out << "\n";
  }
  out << "<details><summary>Full stacks</summary>\n\n";
  for (const auto& [name, frames] : stacks) {
    out << "**" << name << "**\n\n";
    std::vector<std::string> text;
    for (const StackLine& l : FullStack(*frames)) text.push_back(l.index + " " + l.text);
    CodeBlock(text, out);
    out << "\n";
  }
  out << "</details>\n\n";
}

void WriteDetails(const json& f, std::ostream& out) {
  static const char* const kMembers[] = {"object", "holder", "leak", "cgo_call", "detail"};
  bool any = false;
  for (const char* key : kMembers) any = any || Present(f, key);
  if (!any) return;
  out << "### Object\n\n";
  for (const char* key : kMembers) {
    if (!Present(f, key)) continue;
    const json& v = f[key];
    if (!v.is_object()) {
      out << "**" << key << "**: " << ScalarText(v) << "\n\n";
      continue;
    }
    std::vector<std::pair<std::string, std::string>> rows;
    FlattenRows(v, "", &rows);
    out << "**" << key << "**\n\n";
    Table(rows, out);
    out << "\n";
  }
}

void WriteEnvironment(const json& f, std::ostream& out) {
  std::vector<std::pair<std::string, std::string>> rows;
  auto add = [&](const std::string& k, const std::string& v) {
    rows.emplace_back(k, v.empty() ? "unknown" : v);
  };
  add("cgosan", Str(f, "cgosan_version"));
  const json& p = f.contains("process") ? f["process"] : json();
  if (Present(p, "go")) {
    std::string go = Str(p["go"], "version");
    std::string exp = Str(p["go"], "goexperiment");
    add("Go (binary)", go + (exp.empty() ? "" : " GOEXPERIMENT=" + exp));
  } else {
    add("Go (binary)", "not a Go binary");
  }
  const json& env = f.contains("environment") ? f["environment"] : json();
  if (env.is_object() && env.contains("variables") && env["variables"].is_object()) {
    for (auto it = env["variables"].begin(); it != env["variables"].end(); ++it) {
      rows.emplace_back(it.key(), it->is_string() ? it->get<std::string>() : "unset");
    }
  }
  add("executable", Str(p, "exe"));
  add("build id", Str(p, "build_id"));
  if (p.contains("argv") && p["argv"].is_array()) {
    std::vector<std::string> argv;
    for (const json& a : p["argv"]) argv.push_back(ScalarText(a));
    add("argv", Join(argv));
  }
  std::string kernel = Str(env, "kernel");
  if (!Str(env, "machine").empty()) kernel += " (" + Str(env, "machine") + ")";
  add("kernel", kernel);
  add("libc", Str(env, "libc"));
  out << "### Environment\n\n";
  Table(rows, out);
  out << "\n";
}

void WriteMemoryMap(const json& f, std::ostream& out) {
  if (!Present(f, "memory_map")) return;
  const json& m = f["memory_map"];
  out << "### Memory map around " << Code(Str(m, "address")) << "\n\n";
  int index = m.contains("index") && m["index"].is_number() ? m["index"].get<int>() : -1;
  if (index < 0) out << "The address is in no mapping (it falls between the lines below).\n\n";
  std::vector<std::string> lines;
  if (m.contains("lines") && m["lines"].is_array()) {
    int i = 0;
    for (const json& l : m["lines"])
      lines.push_back((i++ == index ? "=> " : "   ") + ScalarText(l));
  }
  CodeBlock(lines, out);
  out << "\n";
}

void WriteReproduce(const json& f, std::ostream& out) {
  if (Present(f, "test")) {
    const json& t = f["test"];
    out << "### Test\n\n";
    std::vector<std::pair<std::string, std::string>> rows;
    FlattenRows(t, "", &rows);
    Table(rows, out);
    out << "\n";
  }
  if (!Present(f, "reproduce")) return;
  const json& r = f["reproduce"];
  out << "### Reproduce\n\n";
  std::vector<std::string> lines;
  if (!Str(r, "directory").empty()) lines.push_back("cd " + ShellQuote(Str(r, "directory")));
  std::string cmd = Str(r, "command");
  lines.push_back(cmd.empty() ? "# the command line was too long to record; see argv above" : cmd);
  CodeBlock(lines, out, "sh");
  out << "\n";
}

void WriteOne(const DistinctFinding& d, std::ostream& out) {
  const json& f = *d.finding;
  out << "## " << Title(d) << "\n\n";
  out << Sentence(f, d.kind) << "\n\n";
  std::vector<std::string> summary = {Str(f, "summary")};
  CodeBlock(summary, out);
  out << "\nSeen " << d.count << (d.count == 1 ? " time" : " times") << " in " << d.files.size()
      << (d.files.size() == 1 ? " file" : " files");
  if (!d.first_seen.empty()) out << ", first " << d.first_seen << ", last " << d.last_seen;
  out << ". Signature: " << Code(d.signature) << "\n\n";
  WriteStacks(f, out);
  WriteDetails(f, out);
  WriteEnvironment(f, out);
  WriteMemoryMap(f, out);
  WriteReproduce(f, out);
}

}  // namespace

void WriteMarkdown(const std::vector<DistinctFinding>& findings, std::ostream& out) {
  if (findings.empty()) {
    out << "No findings.\n";
    return;
  }
  bool first = true;
  for (const DistinctFinding& d : findings) {
    if (!first) out << "---\n\n";
    first = false;
    WriteOne(d, out);
  }
}

}  // namespace cgosan::cli
