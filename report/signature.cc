// The finding's identity: the dedup signature and the SUMMARY line, both built from the
// top user frames (IsUserFrame) so that they agree.
#include <cstring>

#include "report/report_internal.h"
#include "report/report_writer.h"

namespace cgosan {
namespace {

constexpr int kSignatureFrames = 3;

const char* Basename(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

const Frame* TopUserFrame(const Stack* stack) {
  if (stack == nullptr) return nullptr;
  for (int i = 0; i < stack->num_frames && i < kMaxFramesPerStack; ++i) {
    if (IsUserFrame(stack->frames[i])) return &stack->frames[i];
  }
  return nullptr;
}

}  // namespace

void FormatSignature(const Finding& f, TextBuffer* out) {
  out->Append(FindingKindName(f.kind));
  const Stack* stack = PrimaryStack(f);
  if (stack == nullptr) return;
  int taken = 0;
  for (int i = 0; i < stack->num_frames && i < kMaxFramesPerStack && taken < kSignatureFrames;
       ++i) {
    const Frame& fr = stack->frames[i];
    if (!IsUserFrame(fr)) continue;
    out->Char(':');
    if (fr.function != nullptr) {
      out->Append(fr.function);
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
  const Frame* fr = TopUserFrame(PrimaryStack(f));
  if (fr == nullptr) return;
  out->Char(' ');
  if (fr->file != nullptr) {
    out->Append(fr->file);
    if (fr->line > 0) out->Char(':').Dec(fr->line);
  } else {
    out->Char('(').Append(fr->module ? fr->module : "<unknown module>").Char('+');
    out->Hex(fr->module_offset).Char(')');
  }
  if (fr->function != nullptr) out->Append(" in ").Append(fr->function);
}

}  // namespace cgosan
