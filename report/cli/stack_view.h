// Reading frames and stacks of a JSON finding the way the formatters show them: which
// frames are the user's (the preload's own rule, report/frame_filter.cc), frame text, and
// stacks with cgo glue folded into one line.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cgosan::cli {

using json = nlohmann::ordered_json;

// A string member or "" (absent, null or not a string).
std::string Str(const json& obj, const char* key);
// A boolean member, false unless it is true.
bool Flag(const json& obj, const char* key);

// The frame is the user's code (not cgosan, allocator, libc, Go runtime, cgo glue).
bool IsUserFrame(const json& frame);
// Frame i of a stack is the user's: IsUserFrame, or the innermost frame of the access
// stack when it is a cgo wrapper `_cgo_<hash>_Cfunc_f`: cgo compiles a static C function
// of the preamble into its wrapper, so the fault was in the user's f (as the preload's
// signature counts it, report/signature.cc).
bool IsUserFrameAt(const json& frames, size_t i, bool access_stack);

// "file:line", "file", or "(module+0xoffset)".
std::string FrameLocation(const json& frame);
// "function file:line" ("<unknown>" for a frame without a function).
std::string FrameText(const json& frame);

// The stack where the error happened: "access", else the first non-empty one as written.
// Returns its name in *name; nullptr when the finding has no frames at all.
const json* PrimaryStack(const json& finding, std::string* name = nullptr);
// Its first user frame, else nullptr.
const json* TopUserFrame(const json& finding);
// The function name a user frame goes by: the preamble function for a cgo wrapper frame.
std::string UserFunctionName(const json& finding, const json& frame);

struct StackLine {
  std::string index;  // "#4", or "#1..3" for a folded glue run
  std::string text;
};

// The stack from its first user frame on (frames above it, in cgosan, the allocator or
// libc, are summarised in *skipped), each run of glue frames as one line
// "C.read called from main.main main.go:22".
std::vector<StackLine> FoldedStack(const json& frames, bool access_stack, int* skipped);
// Every frame, one line each.
std::vector<StackLine> FullStack(const json& frames);

// Every stack of the finding in display order (access, alloc, free, then the others as
// written, then holder.stack as "holder"), skipping empty ones.
std::vector<std::pair<std::string, const json*>> Stacks(const json& finding);

}  // namespace cgosan::cli
