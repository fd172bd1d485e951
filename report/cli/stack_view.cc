// Frames and stacks of a JSON finding for display (stack_view.h). The user-frame rule is
// the preload's own IsUserFrame, applied to a Frame rebuilt from the JSON, so the report
// folds and skips exactly what the signature and the SUMMARY line skipped.
#include "report/cli/stack_view.h"

#include <cstring>

#include "report/go_symbol_name.h"
#include "report/report_internal.h"

namespace cgosan::cli {

std::string Str(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Flag(const json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

namespace {

const char* CStrOrNull(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get_ref<const std::string&>().c_str() : nullptr;
}

bool Glue(const json& frame) { return Flag(frame, "glue"); }

std::string GlueRunText(const json& frames, size_t begin, size_t end) {
  const char* callee = nullptr;
  bool callback = false;
  for (size_t i = begin; i < end; ++i) {
    const char* fn = CStrOrNull(frames[i], "function");
    if (fn == nullptr) continue;
    if (callee == nullptr) callee = CgoCalleeName(fn);
    if (strcmp(fn, "crosscall2") == 0 || strncmp(fn, "runtime.cgocallback", 19) == 0) {
      callback = true;
    }
  }
  std::string text =
      callback ? "callback into Go" : std::string("C.") + (callee ? callee : "<function>");
  text += " called from ";
  if (end < frames.size()) {
    text += FrameText(frames[end]);
  } else {
    text += callback ? "C" : "Go";
  }
  return text;
}

std::string Range(size_t begin, size_t end) {
  std::string s = "#" + std::to_string(begin);
  if (end - begin > 1) s += ".." + std::to_string(end - 1);
  return s;
}

}  // namespace

bool IsUserFrame(const json& frame) {
  if (!frame.is_object()) return false;
  Frame f;
  f.function = CStrOrNull(frame, "function");
  f.file = CStrOrNull(frame, "file");
  f.module = CStrOrNull(frame, "module");
  f.glue = Glue(frame);
  f.lang = Str(frame, "lang") == "go" ? FrameLang::kGo : FrameLang::kC;
  return cgosan::IsUserFrame(f);
}

namespace {

// The C function a frame stands for when it is the preamble function inlined into its cgo
// wrapper, else nullptr.
const char* InlinedCgoCallee(const json& frames, size_t i, bool access_stack) {
  if (!access_stack || i != 0 || !frames.is_array() || frames.empty()) return nullptr;
  const json& fr = frames[0];
  const char* fn = CStrOrNull(fr, "function");
  if (fn == nullptr || Str(fr, "lang") != "c" || strncmp(fn, "_cgo_", 5) != 0) return nullptr;
  return CgoCalleeName(fn);
}

}  // namespace

bool IsUserFrameAt(const json& frames, size_t i, bool access_stack) {
  return InlinedCgoCallee(frames, i, access_stack) != nullptr || IsUserFrame(frames[i]);
}

std::string FrameLocation(const json& frame) {
  std::string file = Str(frame, "file");
  if (!file.empty()) {
    auto line = frame.find("line");
    if (line != frame.end() && line->is_number_integer())
      file += ":" + std::to_string(line->get<long>());
    return file;
  }
  std::string module = Str(frame, "module");
  return "(" + (module.empty() ? std::string("<unknown module>") : module) + "+" +
         Str(frame, "module_offset") + ")";
}

std::string FrameText(const json& frame) {
  std::string fn = Str(frame, "function");
  std::string text = (fn.empty() ? "<unknown>" : fn) + " " + FrameLocation(frame);
  if (Flag(frame, "inlined")) text += " (inlined)";
  return text;
}

const json* PrimaryStack(const json& finding, std::string* name) {
  auto stacks = finding.find("stacks");
  if (stacks == finding.end() || !stacks->is_object()) return nullptr;
  // The preload's PrimaryStack: "access", else the first stack as written (the JSON keeps
  // the finding's order), so the top user frame here is the one the signature names.
  auto access = stacks->find("access");
  if (access != stacks->end() && access->is_array() && !access->empty()) {
    if (name) *name = "access";
    return &*access;
  }
  for (auto it = stacks->begin(); it != stacks->end(); ++it) {
    if (it->is_array() && !it->empty()) {
      if (name) *name = it.key();
      return &*it;
    }
  }
  return nullptr;
}

const json* TopUserFrame(const json& finding) {
  std::string name;
  const json* stack = PrimaryStack(finding, &name);
  if (stack == nullptr) return nullptr;
  for (size_t i = 0; i < stack->size(); ++i) {
    if (IsUserFrameAt(*stack, i, name == "access")) return &(*stack)[i];
  }
  return nullptr;
}

std::string UserFunctionName(const json& finding, const json& frame) {
  std::string name;
  const json* stack = PrimaryStack(finding, &name);
  if (stack != nullptr && !stack->empty() && &(*stack)[0] == &frame) {
    if (const char* callee = InlinedCgoCallee(*stack, 0, name == "access")) return callee;
  }
  return Str(frame, "function");
}

std::vector<StackLine> FoldedStack(const json& frames, bool access_stack, int* skipped) {
  std::vector<StackLine> out;
  size_t n = frames.size();
  size_t first = 0;
  while (first < n && !IsUserFrameAt(frames, first, access_stack)) ++first;
  if (first == n) first = 0;  // no user frame at all: show everything
  *skipped = static_cast<int>(first);
  for (size_t i = first; i < n;) {
    if (const char* callee = InlinedCgoCallee(frames, i, access_stack)) {
      out.push_back({Range(i, i + 1), std::string(callee) + " " + FrameLocation(frames[i]) +
                                          " (the preamble's C function, in its cgo wrapper " +
                                          Str(frames[i], "function") + ")"});
      ++i;
      continue;
    }
    if (Glue(frames[i])) {
      size_t end = i;
      while (end < n && Glue(frames[end])) ++end;
      out.push_back({Range(i, end), GlueRunText(frames, i, end)});
      i = end;
      continue;
    }
    out.push_back({Range(i, i + 1), FrameText(frames[i])});
    ++i;
  }
  return out;
}

std::vector<StackLine> FullStack(const json& frames) {
  std::vector<StackLine> out;
  for (size_t i = 0; i < frames.size(); ++i) {
    StackLine l{Range(i, i + 1), FrameText(frames[i])};
    if (Glue(frames[i])) l.text += " [glue]";
    out.push_back(l);
  }
  return out;
}

std::vector<std::pair<std::string, const json*>> Stacks(const json& finding) {
  std::vector<std::pair<std::string, const json*>> out;
  auto stacks = finding.find("stacks");
  if (stacks != finding.end() && stacks->is_object()) {
    for (const char* want : {"access", "alloc", "free"}) {
      auto it = stacks->find(want);
      if (it != stacks->end() && it->is_array() && !it->empty()) out.emplace_back(want, &*it);
    }
    for (auto it = stacks->begin(); it != stacks->end(); ++it) {
      const std::string& k = it.key();
      if (k == "access" || k == "alloc" || k == "free") continue;
      if (it->is_array() && !it->empty()) out.emplace_back(k, &*it);
    }
  }
  auto holder = finding.find("holder");
  if (holder != finding.end() && holder->is_object()) {
    auto st = holder->find("stack");
    if (st != holder->end() && st->is_array() && !st->empty()) out.emplace_back("holder", &*st);
  }
  return out;
}

}  // namespace cgosan::cli
