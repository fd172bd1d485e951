// Pclntab: pc -> function, name, file:line, SP delta and inlined frames, read straight out of
// a Go pclntab that is already in memory (the process's own mapped image, or a test buffer).
// Owns the knowledge of the table's layouts: Go 1.18-1.19 (magic 0xfffffff0) and 1.20+
// (0xfffffff1). Everything here is async-signal-safe: no allocation, no locks, no syscalls;
// every read is checked against the extent given to Init (and to SetFuncData for the inline
// trees, which live outside the pclntab in go:func.*), so a corrupt or truncated table makes
// a query fail ("unknown") instead of reading out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgosan {

// One function of the table (a copy of its _func fields; pointers stay in the table).
struct GoFuncInfo {
  uintptr_t entry = 0;    // runtime address of the first instruction
  uintptr_t end = 0;      // entry of the next function (exclusive end)
  uint64_t func_off = 0;  // offset of the _func record inside the table
  int32_t name_off = 0;
  int32_t args = 0;  // size of the argument frame (the `args` field)
  uint32_t deferreturn = 0;
  uint32_t pcsp = 0;
  uint32_t pcfile = 0;
  uint32_t pcln = 0;
  uint32_t npcdata = 0;
  uint32_t cu_offset = 0;
  int32_t start_line = 0;  // 1.20+ only (0 before)
  uint8_t func_id = 0;
  uint8_t flag = 0;
  uint8_t nfuncdata = 0;
};

// One run of a pc-value table (pcsp, pcfile, pcln): every pc in [start, end) has `value`.
// Runs come in pc order and their boundaries are instruction boundaries.
struct PcValueRun {
  uintptr_t start = 0;
  uintptr_t end = 0;
  int32_t value = -1;
  uint64_t cursor = 0;  // where the next entry is decoded; 0 before the first run
};

// One source-level frame: inlined callees first, the physical function last.
struct GoFrame {
  const char* function = nullptr;  // points into the table; nullptr when unknown
  const char* file = nullptr;      // idem
  int line = 0;                    // 0 when unknown
  bool inlined = false;
};

class Pclntab {
 public:
  static constexpr uint32_t kMagic118 = 0xfffffff0;  // Go 1.18, 1.19
  static constexpr uint32_t kMagic120 = 0xfffffff1;  // Go 1.20 and later
  static constexpr int32_t kSpDeltaUnknown = -1;

  // base: the pcHeader; size: the table's known extent; magic: the layout to use (must match
  // the header); text_start: runtime address of the module's text (pcHeader.textStart after
  // relocation: passed in because a file image of a PIE holds the unrelocated value).
  // False (and every query fails) when the header is not a plausible pclntab.
  bool Init(const void* base, size_t size, uint32_t magic, uintptr_t text_start);
  // The go:func.* region that funcdata offsets are relative to (inline trees). Without it,
  // ExpandInline returns the physical frame only.
  void SetFuncData(const void* gofunc, size_t size);

  bool valid() const { return valid_; }
  uint32_t magic() const { return magic_; }
  uint64_t nfunc() const { return nfunc_; }
  uintptr_t text_start() const { return text_start_; }

  // Header sanity check without initialising: magic, pads, minLC 1, ptrSize 8, offsets in
  // increasing order inside `size`, the functab inside too. Used by the stripped-binary scan.
  static bool PlausibleHeader(const void* base, size_t size);
  // Bytes actually used by the table (end of the last _func record and its pcdata/funcdata
  // offsets), at most `size`; 0 when the header is not plausible.
  static size_t ComputeExtent(const void* base, size_t size);

  // The function containing pc (binary search of the functab).
  bool FindFunc(uintptr_t pc, GoFuncInfo* out) const;
  bool FindFuncByIndex(uint64_t index, GoFuncInfo* out) const;
  // The NUL-terminated name, pointing into the table; nullptr when out of bounds.
  const char* FuncName(const GoFuncInfo& f) const;
  // Source position of pc inside f (the innermost inlined body's position, as Go's tables
  // store it). For a return address pass pc-1 so the call instruction is looked up.
  bool FileLine(const GoFuncInfo& f, uintptr_t pc, const char** file, int* line) const;
  // Bytes between the SP at pc and the SP at entry (0 at entry); kSpDeltaUnknown if unknown.
  int32_t SpDelta(const GoFuncInfo& f, uintptr_t pc) const;
  // Steps *run to the next run of f's SP-delta table, starting from a default-constructed
  // run (the first run begins at f.entry). False at the table's end or when it is corrupt.
  // Walks the table once for all runs, where SpDelta decodes from the start on every call.
  bool NextSpRun(const GoFuncInfo& f, PcValueRun* run) const;
  // Value of PCDATA table `table` at pc; -1 when absent.
  int32_t PcData(const GoFuncInfo& f, uint32_t table, uintptr_t pc) const;
  // Offset of FUNCDATA `index` relative to go:func.*; false when absent.
  bool FuncDataOffset(const GoFuncInfo& f, uint32_t index, uint32_t* off) const;

  // Frames at pc, innermost first, inlined ones expanded; the last one is the physical
  // function. Returns how many were written (0 when pc is not in the table).
  int ExpandInline(uintptr_t pc, GoFrame* out, int max) const;

 private:
  bool Read32(uint64_t off, uint32_t* v) const;
  bool Read64(uint64_t off, uint64_t* v) const;
  const char* StringAt(uint64_t off) const;
  bool FillFunc(uint64_t index, GoFuncInfo* out) const;
  int32_t PcValue(const GoFuncInfo& f, uint32_t off, uintptr_t target) const;
  bool NextPcValueRun(const GoFuncInfo& f, uint32_t table, PcValueRun* run) const;

  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t magic_ = 0;
  bool valid_ = false;
  uintptr_t text_start_ = 0;
  uint64_t nfunc_ = 0;
  uint64_t funcname_off_ = 0;
  uint64_t cu_off_ = 0;
  uint64_t file_off_ = 0;
  uint64_t pc_off_ = 0;
  uint64_t functab_off_ = 0;
  uint64_t func_size_ = 0;  // fixed part of _func: 40 (1.18-1.19) or 44 (1.20+)
  uint64_t inl_size_ = 0;   // inlinedCall: 20 (1.18-1.19) or 16 (1.20+)
  const uint8_t* gofunc_ = nullptr;
  uint64_t gofunc_size_ = 0;
};

}  // namespace cgosan
