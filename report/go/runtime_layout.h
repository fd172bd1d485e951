// GoRuntimeLayout: the Go runtime's internal layouts cgosan reads, one entry per Go
// version (../shared/go-runtime-facts.md, verified per version by the tests). A binary of a
// version without an entry gets no Go features; an entry is also cross-checked against the
// instruction bytes of the binary's runtime.asmcgocall before it is trusted.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

struct GoRuntimeLayout {
  int minor;  // Go 1.<minor>
  // runtime.g
  uint32_t g_stack_lo, g_stack_hi, g_m, g_sched_sp, g_sched_bp, g_goid;
  // runtime.m
  uint32_t m_g0, m_gsignal, m_curg;
  // Where runtime.cgocall's return address sits relative to the goroutine's saved SP
  // (1.19: at SP; 1.21+: above the frame pointer saved there).
  uint32_t cgocall_return_slot;
  // runtime.asmcgocall begins with `push %rbp; mov %rsp,%rbp` (1.21+).
  bool asmcgocall_has_frame;
  // crosscall2's frame at its call to runtime.cgocallback (1.22+ adds a frame pointer push);
  // the C caller's BP is saved in the last word below the return address either way.
  uint32_t crosscall2_frame;
  // runtime.g.atomicstatus (uint32); _Gcopystack while newstack/copystack moves a stack.
  uint32_t g_atomicstatus;
};

constexpr uint32_t kGoStatusCopystack = 8;

// The layout for Go 1.<minor>, or nullptr when cgosan does not know that version.
const GoRuntimeLayout* FindGoRuntimeLayout(int minor);

// Offset of runtime.moduledata.types (etypes follows it) in Go 1.<minor>, 0 when cgosan does
// not know that version: type names (go_type_name.h) are resolved against [types, etypes).
uint32_t ModuledataTypesOffset(int minor);

// Checks the first bytes of runtime.asmcgocall against the layout: the g load from %fs:-8
// and the g.m, m.gsignal and m.g0 offsets it uses. False means: do not trust the layout.
bool AsmcgocallMatchesLayout(const uint8_t* code, size_t size, const GoRuntimeLayout& layout);

}  // namespace cgosan
