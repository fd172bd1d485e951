// --symbolize (symbolize.h): addr2line over the modules findings name. The build id is
// checked first because CI artifacts outlive the binaries: a rebuilt file at the same path
// would give plausible but wrong lines.
#include "report/cli/symbolize.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "report/cli/stack_view.h"
#include "report/symbolizer.h"

namespace cgosan::cli {
namespace {

struct FrameRef {
  json* frame;
  uint64_t lookup;  // ELF virtual address addr2line is asked about
};

// The frames of a finding, with whether each is the exact faulting pc (the top of the
// access stack) or a return address (looked up one byte earlier, inside the call).
void CollectFrames(json& finding, std::map<std::string, std::vector<FrameRef>>* by_module) {
  auto add_stack = [&](json& frames, bool first_exact) {
    if (!frames.is_array()) return;
    for (size_t i = 0; i < frames.size(); ++i) {
      json& fr = frames[i];
      if (!fr.is_object() || Str(fr, "lang") != "c" || !Str(fr, "file").empty()) continue;
      std::string module = Str(fr, "module"), off = Str(fr, "module_offset");
      if (module.empty() || off.empty()) continue;
      uint64_t v = strtoull(off.c_str(), nullptr, 16);
      if (!(i == 0 && first_exact) && v > 0) --v;
      (*by_module)[module].push_back({&fr, v});
    }
  };
  if (finding.contains("stacks") && finding["stacks"].is_object()) {
    for (auto it = finding["stacks"].begin(); it != finding["stacks"].end(); ++it) {
      add_stack(*it, it.key() == "access");
    }
  }
  if (finding.contains("holder") && finding["holder"].is_object() &&
      finding["holder"].contains("stack")) {
    add_stack(finding["holder"]["stack"], false);
  }
}

// Runs addr2line -e module -a ... ; returns its stdout or "" on failure.
std::string RunAddr2line(const std::string& module, const std::vector<uint64_t>& addrs) {
  std::vector<std::string> args = {"addr2line", "-e", module, "-a"};
  char buf[32];
  for (uint64_t a : addrs) {
    snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(a));
    args.push_back(buf);
  }
  int fds[2];
  if (pipe(fds) != 0) return "";
  pid_t pid = fork();
  if (pid < 0) return "";
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("addr2line", argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char chunk[4096];
  ssize_t n;
  while ((n = read(fds[0], chunk, sizeof(chunk))) > 0) out.append(chunk, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : "";
}

// addr2line -a prints per address "0xADDR" then "file:line" ("??:0" when unknown, maybe
// followed by " (discriminator N)").
std::map<uint64_t, std::pair<std::string, long>> ParseAddr2line(const std::string& text) {
  std::map<uint64_t, std::pair<std::string, long>> out;
  std::istringstream in(text);
  std::string line;
  uint64_t addr = 0;
  bool have_addr = false;
  while (std::getline(in, line)) {
    if (line.rfind("0x", 0) == 0) {
      addr = strtoull(line.c_str(), nullptr, 16);
      have_addr = true;
      continue;
    }
    if (!have_addr) continue;
    have_addr = false;
    size_t cut = line.find(" (discriminator");
    if (cut != std::string::npos) line.resize(cut);
    size_t colon = line.rfind(':');
    if (colon == std::string::npos) continue;
    std::string file = line.substr(0, colon);
    long l = atol(line.c_str() + colon + 1);
    if (file.empty() || file == "??" || l <= 0) continue;
    out[addr] = {file, l};
  }
  return out;
}

}  // namespace

void Symbolize(std::vector<LoadedFinding>* findings, std::ostream& notes) {
  // Per module path: the build ids the findings recorded, and the frames to fill.
  std::map<std::string, std::map<std::string, std::vector<FrameRef>>> work;  // path -> id -> frames
  for (LoadedFinding& lf : *findings) {
    std::map<std::string, std::string> ids;
    if (lf.doc.contains("modules") && lf.doc["modules"].is_array()) {
      for (const json& m : lf.doc["modules"]) ids[Str(m, "path")] = Str(m, "build_id");
    }
    std::map<std::string, std::vector<FrameRef>> by_module;
    CollectFrames(lf.doc, &by_module);
    for (auto& [module, refs] : by_module) {
      auto& dst = work[module][ids.count(module) ? ids[module] : ""];
      dst.insert(dst.end(), refs.begin(), refs.end());
    }
  }
  std::set<std::string> noted;
  auto note = [&](const std::string& text) {
    if (noted.insert(text).second) notes << "cgosan report: --symbolize: " << text << "\n";
  };
  for (auto& [module, by_id] : work) {
    if (access(module.c_str(), R_OK) != 0) {
      note(module + ": not on this machine, frames left as they are");
      continue;
    }
    char disk_id[130];
    bool has_id = Symbolizer::ReadBuildId(module.c_str(), disk_id, sizeof(disk_id));
    for (auto& [recorded, refs] : by_id) {
      if (recorded.empty() || !has_id || recorded != disk_id) {
        note(module + ": build id " + (has_id ? std::string(disk_id) : "none") +
             " on disk is not the recorded " + (recorded.empty() ? "none" : recorded) +
             ", frames left as they are");
        continue;
      }
      std::set<uint64_t> unique;
      for (const FrameRef& r : refs) unique.insert(r.lookup);
      std::string out = RunAddr2line(module, std::vector<uint64_t>(unique.begin(), unique.end()));
      if (out.empty()) {
        note(module + ": addr2line failed (is binutils installed?)");
        continue;
      }
      auto lines = ParseAddr2line(out);
      for (const FrameRef& r : refs) {
        auto it = lines.find(r.lookup);
        if (it == lines.end()) continue;
        (*r.frame)["file"] = it->second.first;
        (*r.frame)["line"] = it->second.second;
      }
    }
  }
}

}  // namespace cgosan::cli
