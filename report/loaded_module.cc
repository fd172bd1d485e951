// LoadedModuleRange: dl_iterate_phdr gives each object's segments; the one containing the
// address is ours.
#include "report/loaded_module.h"

#include <link.h>

namespace cgosan {
namespace {

struct RangeQuery {
  uintptr_t addr;
  uintptr_t begin;
  uintptr_t end;
  bool found;
};

int VisitObject(struct dl_phdr_info* info, size_t, void* data) {
  auto* q = static_cast<RangeQuery*>(data);
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t seg_lo = info->dlpi_addr + ph.p_vaddr;
    uintptr_t seg_hi = seg_lo + ph.p_memsz;
    if (seg_lo < lo) lo = seg_lo;
    if (seg_hi > hi) hi = seg_hi;
  }
  // Match on containment rather than on dlpi_addr: for a non-PIE executable dlpi_addr is 0.
  if (lo <= q->addr && q->addr < hi) {
    q->begin = lo;
    q->end = hi;
    q->found = true;
    return 1;
  }
  return 0;
}

}  // namespace

bool LoadedModuleRange(const void* addr, uintptr_t* begin, uintptr_t* end) {
  RangeQuery q{reinterpret_cast<uintptr_t>(addr), 0, 0, false};
  dl_iterate_phdr(VisitObject, &q);
  if (!q.found) return false;
  *begin = q.begin;
  *end = q.end;
  return true;
}

}  // namespace cgosan
