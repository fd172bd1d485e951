// The finding's identity: the dedup signature and the SUMMARY line, both built from the
// top user frames (IsUserFrame) so that they agree.
#include <cstring>

#include "report/go_symbol_name.h"
#include "report/report_internal.h"
#include "report/report_writer.h"

namespace cgosan {
namespace {

constexpr int kSignatureFrames = 3;

// cgo compiles a static C function of the preamble into its `_cgo_<hash>_Cfunc_<name>`
// wrapper: when the access happened right there, the user's code is that function, and it
// is named as the user wrote it.
const char* InlinedUserFunction(const Stack& stack, int i) {
  if (i != 0 || stack.name == nullptr || strcmp(stack.name, "access") != 0) return nullptr;
  const Frame& fr = stack.frames[0];
  if (fr.lang != FrameLang::kC || fr.function == nullptr || strncmp(fr.function, "_cgo_", 5) != 0) {
    return nullptr;
  }
  return CgoCalleeName(fr.function);
}

// The name a user frame goes by (nullptr: not a user frame).
bool UserFrameAt(const Stack& stack, int i, const char** name) {
  const Frame& fr = stack.frames[i];
  if (const char* inlined = InlinedUserFunction(stack, i)) {
    *name = inlined;
    return true;
  }
  *name = fr.function;
  return IsUserFrame(fr);
}

const Frame* TopUserFrame(const Stack* stack, const char** name) {
  if (stack == nullptr) return nullptr;
  for (int i = 0; i < stack->num_frames && i < kMaxFramesPerStack; ++i) {
    if (UserFrameAt(*stack, i, name)) return &stack->frames[i];
  }
  return nullptr;
}

}  // namespace

const Frame* FirstUserFrame(const Stack* stack) {
  const char* name;
  return TopUserFrame(stack, &name);
}

void FormatSignature(const Finding& f, TextBuffer* out) {
  out->Append(FindingKindName(f.kind));
  const Stack* stack = PrimaryStack(f);
  if (stack == nullptr) return;
  int taken = 0;
  for (int i = 0; i < stack->num_frames && i < kMaxFramesPerStack && taken < kSignatureFrames;
       ++i) {
    const Frame& fr = stack->frames[i];
    const char* name;
    if (!UserFrameAt(*stack, i, &name)) continue;
    out->Char(':');
    if (name != nullptr) {
      out->Append(name);
    } else if (fr.module != nullptr) {
      // Basename and offset: stable across ASLR and install locations.
      out->Append(Basename(fr.module)).Char('+').Hex(fr.module_offset);
    } else {
      out->Hex(fr.pc);
    }
    ++taken;
  }
}

void FormatSummary(const Finding& f, TextBuffer* out) {
  out->Append("SUMMARY: cgosan: ").Append(FindingKindName(f.kind));
  const char* name = nullptr;
  const Frame* fr = TopUserFrame(PrimaryStack(f), &name);
  if (fr == nullptr) return;
  out->Char(' ');
  if (fr->file != nullptr) {
    out->Append(fr->file);
    if (fr->line > 0) out->Char(':').Dec(fr->line);
  } else {
    out->Char('(').Append(fr->module ? fr->module : "<unknown module>").Char('+');
    out->Hex(fr->module_offset).Char(')');
  }
  if (name != nullptr) out->Append(" in ").Append(name);
}

}  // namespace cgosan
