// Pclntab parsing. Layouts from Go's runtime/symtab.go (1.19) and internal/abi (1.20+):
//   pcHeader: magic@0 pad@4,5 minLC@6 ptrSize@7 nfunc@8 nfiles@16 textStart@24
//             funcnameOffset@32 cuOffset@40 filetabOffset@48 pctabOffset@56 pclnOffset@64
//   functab (at pclnOffset): nfunc+1 pairs {entryoff, funcoff} (uint32, funcoff relative to
//             the functab start); the last pair's entryoff is the end of text.
//   _func:    entryOff@0 nameOff@4 args@8 deferreturn@12 pcsp@16 pcfile@20 pcln@24
//             npcdata@28 cuOffset@32, then 1.19: funcID@36 flag@37 nfuncdata@39 (40 bytes);
//             1.20+: startLine@36 funcID@40 flag@41 nfuncdata@43 (44 bytes); followed by
//             npcdata uint32 pctab offsets and nfuncdata uint32 go:func.* offsets.
//   inlinedCall (1.19, 20 bytes): parent@0 funcID@2 file@4 line@8 nameOff@12 parentPc@16;
//               (1.20+, 16 bytes): funcID@0 nameOff@4 parentPc@8 startLine@12.
// All offsets are 64-bit and checked before use, so nothing a corrupt table holds can make
// a read leave [base, base+size).
#include "report/go/pclntab.h"

#include <cstring>

namespace cgosan {
namespace {

constexpr uint32_t kPcdataInlTreeIndex = 2;  // PCDATA_InlTreeIndex
constexpr uint32_t kFuncdataInlTree = 3;     // FUNCDATA_InlTree
constexpr uint64_t kHeaderSize = 72;
constexpr int kMaxInlineDepth = 64;  // guards against cycles in a corrupt inline tree

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}
uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

struct Header {
  uint32_t magic;
  uint64_t nfunc, text_start, funcname, cu, file, pc, functab;
};

bool ReadHeader(const uint8_t* b, uint64_t size, Header* h) {
  if (b == nullptr || size < kHeaderSize) return false;
  h->magic = Load32(b);
  if (h->magic != Pclntab::kMagic118 && h->magic != Pclntab::kMagic120) return false;
  if (b[4] != 0 || b[5] != 0 || b[6] != 1 || b[7] != 8) return false;
  h->nfunc = Load64(b + 8);
  h->text_start = Load64(b + 24);
  h->funcname = Load64(b + 32);
  h->cu = Load64(b + 40);
  h->file = Load64(b + 48);
  h->pc = Load64(b + 56);
  h->functab = Load64(b + 64);
  // The linker writes the pieces in this order; requiring it rejects most garbage.
  if (h->funcname < kHeaderSize || h->cu < h->funcname || h->file < h->cu || h->pc < h->file ||
      h->functab < h->pc || h->functab > size)
    return false;
  // nfunc+1 functab pairs must fit.
  if (h->nfunc == 0 || h->nfunc + 1 > (size - h->functab) / 8) return false;
  return true;
}

}  // namespace

bool Pclntab::PlausibleHeader(const void* base, size_t size) {
  Header h;
  return ReadHeader(static_cast<const uint8_t*>(base), size, &h);
}

bool Pclntab::Init(const void* base, size_t size, uint32_t magic, uintptr_t text_start) {
  valid_ = false;
  Header h;
  if (!ReadHeader(static_cast<const uint8_t*>(base), size, &h) || h.magic != magic) return false;
  base_ = static_cast<const uint8_t*>(base);
  size_ = size;
  magic_ = magic;
  text_start_ = text_start;
  nfunc_ = h.nfunc;
  funcname_off_ = h.funcname;
  cu_off_ = h.cu;
  file_off_ = h.file;
  pc_off_ = h.pc;
  functab_off_ = h.functab;
  func_size_ = magic == kMagic118 ? 40 : 44;
  inl_size_ = magic == kMagic118 ? 20 : 16;
  valid_ = true;
  return true;
}

void Pclntab::SetFuncData(const void* gofunc, size_t size) {
  gofunc_ = static_cast<const uint8_t*>(gofunc);
  gofunc_size_ = gofunc_ != nullptr ? size : 0;
}

size_t Pclntab::ComputeExtent(const void* base, size_t size) {
  Header h;
  const uint8_t* b = static_cast<const uint8_t*>(base);
  if (!ReadHeader(b, size, &h)) return 0;
  uint64_t fixed = h.magic == kMagic118 ? 40 : 44;
  uint64_t end = h.functab + (h.nfunc + 1) * 8;
  for (uint64_t i = 0; i < h.nfunc; i++) {
    uint64_t f = h.functab + uint64_t{Load32(b + h.functab + i * 8 + 4)};
    if (f + fixed > size) return 0;
    uint64_t npcdata = Load32(b + f + 28);
    uint64_t nfuncdata = b[f + fixed - 1];
    uint64_t e = f + fixed + 4 * (npcdata + nfuncdata);
    if (e > size) return 0;
    if (e > end) end = e;
  }
  return end;
}

bool Pclntab::Read32(uint64_t off, uint32_t* v) const {
  if (off > size_ || size_ - off < 4) return false;
  *v = Load32(base_ + off);
  return true;
}

bool Pclntab::Read64(uint64_t off, uint64_t* v) const {
  if (off > size_ || size_ - off < 8) return false;
  *v = Load64(base_ + off);
  return true;
}

const char* Pclntab::StringAt(uint64_t off) const {
  if (off >= size_) return nullptr;
  const void* nul = memchr(base_ + off, 0, size_ - off);
  return nul != nullptr ? reinterpret_cast<const char*>(base_ + off) : nullptr;
}

bool Pclntab::FillFunc(uint64_t i, GoFuncInfo* out) const {
  if (!valid_ || i >= nfunc_) return false;
  uint32_t entryoff, funcoff, next;
  if (!Read32(functab_off_ + i * 8, &entryoff) || !Read32(functab_off_ + i * 8 + 4, &funcoff) ||
      !Read32(functab_off_ + (i + 1) * 8, &next))
    return false;
  uint64_t f = functab_off_ + funcoff;
  if (f > size_ || size_ - f < func_size_) return false;
  const uint8_t* p = base_ + f;
  if (Load32(p) != entryoff) return false;  // the record must describe this entry
  out->entry = text_start_ + entryoff;
  out->end = text_start_ + (next > entryoff ? next : entryoff);
  out->func_off = f;
  uint32_t name;
  memcpy(&name, p + 4, 4);
  out->name_off = static_cast<int32_t>(name);
  memcpy(&out->args, p + 8, 4);
  out->deferreturn = Load32(p + 12);
  out->pcsp = Load32(p + 16);
  out->pcfile = Load32(p + 20);
  out->pcln = Load32(p + 24);
  out->npcdata = Load32(p + 28);
  out->cu_offset = Load32(p + 32);
  if (magic_ == kMagic118) {
    out->start_line = 0;
    out->func_id = p[36];
    out->flag = p[37];
    out->nfuncdata = p[39];
  } else {
    memcpy(&out->start_line, p + 36, 4);
    out->func_id = p[40];
    out->flag = p[41];
    out->nfuncdata = p[43];
  }
  return true;
}

bool Pclntab::FindFuncByIndex(uint64_t index, GoFuncInfo* out) const {
  return FillFunc(index, out);
}

bool Pclntab::FindFunc(uintptr_t pc, GoFuncInfo* out) const {
  if (!valid_ || pc < text_start_) return false;
  uint64_t off = pc - text_start_;
  if (off > 0xffffffffu) return false;
  uint32_t last;
  if (!Read32(functab_off_ + nfunc_ * 8, &last) || off >= last) return false;
  // Largest i with entryoff(i) <= off. A corrupt, unsorted table only gives a wrong answer,
  // which FillFunc's consistency checks and the range check below mostly catch.
  uint64_t lo = 0, hi = nfunc_;  // invariant: answer in [lo, hi)
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    uint32_t e;
    if (!Read32(functab_off_ + mid * 8, &e)) return false;
    if (e <= off)
      lo = mid;
    else
      hi = mid;
  }
  if (!FillFunc(lo, out)) return false;
  return pc >= out->entry && pc < out->end;
}

const char* Pclntab::FuncName(const GoFuncInfo& f) const {
  if (!valid_ || f.name_off < 0) return nullptr;
  return StringAt(funcname_off_ + static_cast<uint64_t>(f.name_off));
}

// value + the zig-zag decoded delta uv, wrapping as Go's int32 arithmetic does (a corrupt
// table must not make it undefined behaviour).
static int32_t AddZigZag(int32_t value, uint32_t uv) {
  uint32_t delta = (0u - (uv & 1)) ^ (uv >> 1);
  return static_cast<int32_t>(static_cast<uint32_t>(value) + delta);
}

// Go's pcvalue: a sequence of (zig-zag value delta, pc delta) varint pairs starting at the
// entry with value -1; the value at target is the one in force when pc first exceeds it.
int32_t Pclntab::PcValue(const GoFuncInfo& f, uint32_t table, uintptr_t target) const {
  if (!valid_ || table == 0 || target < f.entry) return -1;
  uint64_t p = pc_off_ + table;
  uintptr_t pc = f.entry;
  int32_t val = -1;
  bool first = true;
  for (;;) {
    uint32_t uv = 0, pcd = 0;
    // Value delta.
    for (int shift = 0;; shift += 7) {
      if (p >= size_ || shift > 28) return -1;
      uint8_t b = base_[p++];
      uv |= uint32_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) break;
    }
    if (uv == 0 && !first) return -1;  // end of table: target is past the function
    first = false;
    val = AddZigZag(val, uv);
    for (int shift = 0;; shift += 7) {
      if (p >= size_ || shift > 28) return -1;
      uint8_t b = base_[p++];
      pcd |= uint32_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) break;
    }
    pc += pcd;  // PCQuantum is 1 on amd64
    if (target < pc) return val;
  }
}

// The same encoding as PcValue, one (value delta, pc delta) pair per call.
bool Pclntab::NextPcValueRun(const GoFuncInfo& f, uint32_t table, PcValueRun* run) const {
  if (!valid_ || table == 0) return false;
  bool first = run->cursor == 0;
  uint64_t p = first ? pc_off_ + table : run->cursor;
  uintptr_t pc = first ? f.entry : run->end;
  int32_t val = first ? -1 : run->value;
  uint32_t uv = 0, pcd = 0;
  for (int shift = 0;; shift += 7) {
    if (p >= size_ || shift > 28) return false;
    uint8_t b = base_[p++];
    uv |= uint32_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) break;
  }
  if (uv == 0 && !first) return false;  // end of table
  val = AddZigZag(val, uv);
  for (int shift = 0;; shift += 7) {
    if (p >= size_ || shift > 28) return false;
    uint8_t b = base_[p++];
    pcd |= uint32_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) break;
  }
  run->start = pc;
  run->end = pc + pcd;
  run->value = val;
  run->cursor = p;
  return true;
}

bool Pclntab::NextSpRun(const GoFuncInfo& f, PcValueRun* run) const {
  return NextPcValueRun(f, f.pcsp, run);
}

bool Pclntab::FileLine(const GoFuncInfo& f, uintptr_t pc, const char** file, int* line) const {
  *file = nullptr;
  *line = 0;
  int32_t fileno = PcValue(f, f.pcfile, pc);
  int32_t ln = PcValue(f, f.pcln, pc);
  if (fileno < 0 || ln < 0) return false;
  uint32_t fileoff;
  if (!Read32(cu_off_ + 4 * (uint64_t{f.cu_offset} + static_cast<uint64_t>(fileno)), &fileoff) ||
      fileoff == 0xffffffffu)
    return false;
  const char* name = StringAt(file_off_ + fileoff);
  if (name == nullptr) return false;
  *file = name;
  *line = ln;
  return true;
}

int32_t Pclntab::SpDelta(const GoFuncInfo& f, uintptr_t pc) const {
  int32_t v = PcValue(f, f.pcsp, pc);
  return v < 0 ? kSpDeltaUnknown : v;
}

int32_t Pclntab::PcData(const GoFuncInfo& f, uint32_t table, uintptr_t pc) const {
  if (table >= f.npcdata) return -1;
  uint32_t off;
  if (!Read32(f.func_off + func_size_ + 4 * uint64_t{table}, &off)) return -1;
  return PcValue(f, off, pc);
}

bool Pclntab::FuncDataOffset(const GoFuncInfo& f, uint32_t index, uint32_t* off) const {
  if (index >= f.nfuncdata) return false;
  if (!Read32(f.func_off + func_size_ + 4 * (uint64_t{f.npcdata} + index), off)) return false;
  return *off != 0xffffffffu;
}

int Pclntab::ExpandInline(uintptr_t pc, GoFrame* out, int max) const {
  GoFuncInfo f;
  if (max <= 0 || !FindFunc(pc, &f)) return 0;
  int n = 0;
  uint32_t tree;
  if (gofunc_ != nullptr && FuncDataOffset(f, kFuncdataInlTree, &tree)) {
    // Go's traceback: the inline index at pc names the innermost inlined call; its parentPc
    // is an instruction whose position is the call site in the caller. Repeat until the
    // index is -1: pc is then in the physical function's own code.
    for (int depth = 0; depth < kMaxInlineDepth && n < max - 1; depth++) {
      int32_t ix = PcData(f, kPcdataInlTreeIndex, pc);
      if (ix < 0) break;
      uint64_t rec = uint64_t{tree} + static_cast<uint64_t>(ix) * inl_size_;
      if (rec > gofunc_size_ || gofunc_size_ - rec < inl_size_) break;
      const uint8_t* ic = gofunc_ + rec;
      int32_t name_off, parent_pc;
      if (magic_ == kMagic118) {
        memcpy(&name_off, ic + 12, 4);
        memcpy(&parent_pc, ic + 16, 4);
      } else {
        memcpy(&name_off, ic + 4, 4);
        memcpy(&parent_pc, ic + 8, 4);
      }
      GoFrame& fr = out[n++];
      fr.function =
          name_off >= 0 ? StringAt(funcname_off_ + static_cast<uint64_t>(name_off)) : nullptr;
      fr.inlined = true;
      FileLine(f, pc, &fr.file, &fr.line);
      if (parent_pc < 0) break;
      uintptr_t next = f.entry + static_cast<uint32_t>(parent_pc);
      if (next >= f.end) break;
      pc = next;
    }
  }
  GoFrame& phys = out[n++];
  phys.function = FuncName(f);
  phys.inlined = false;
  FileLine(f, pc, &phys.file, &phys.line);
  return n;
}

}  // namespace cgosan
