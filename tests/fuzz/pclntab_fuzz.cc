// libFuzzer target for the pclntab reader: the input is taken as a pcHeader-led table (with
// its magic forced to each supported layout in turn) and also as the go:func.* region, and
// every query is run over pcs across the table's text range. Any out-of-bounds read is a
// crash under -fsanitize=fuzzer,address.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "report/go/pclntab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cgosan::Pclntab;
  if (size < 8) return 0;
  // Own copy so the magic can be forced: most inputs would otherwise die at the header.
  uint8_t* buf = static_cast<uint8_t*>(malloc(size));
  memcpy(buf, data, size);
  for (uint32_t magic : {Pclntab::kMagic118, Pclntab::kMagic120}) {
    memcpy(buf, &magic, 4);
    buf[4] = buf[5] = 0;
    buf[6] = 1;
    buf[7] = 8;
    // Half the runs get header offsets rebuilt from single input bytes, in the linker's
    // order and inside the input, so the fuzzer reaches the functab and _func parsing.
    if (size > 80 && (data[4] & 1)) {
      uint64_t room = size - 72, off = 72, v[6];
      for (int k = 0; k < 5; k++) {
        off += room * data[8 + k] / 256 / 6;
        v[k] = off;
      }
      uint64_t nfunc = (size - v[4]) / 8 > 1 ? 1 + data[13] % ((size - v[4]) / 8 - 1) : 1;
      v[5] = nfunc;
      memcpy(buf + 8, &v[5], 8);
      for (int k = 0; k < 5; k++) memcpy(buf + 32 + 8 * k, &v[k], 8);
    }
    Pclntab::ComputeExtent(buf, size);
    Pclntab t;
    const uintptr_t text = 0x400000;
    if (!t.Init(buf, size, magic, text)) continue;
    t.SetFuncData(buf, size);
    for (uint64_t i = 0; i < t.nfunc() && i < 64; i++) {
      cgosan::GoFuncInfo f;
      if (t.FindFuncByIndex(i, &f)) t.FuncName(f);
    }
    for (uintptr_t pc = text; pc < text + 4096; pc += 7) {
      cgosan::GoFuncInfo f;
      if (t.FindFunc(pc, &f)) {
        const char* file;
        int line;
        t.FuncName(f);
        t.FileLine(f, pc, &file, &line);
        t.SpDelta(f, pc);
      }
      cgosan::GoFrame frames[8];
      t.ExpandInline(pc, frames, 8);
    }
  }
  free(buf);
  return 0;
}
