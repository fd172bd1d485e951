// CMemory implementation: dl_iterate_phdr for module segments, CHeap::ForEachLive for blocks.
#include "preload/audit/c_memory.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>

#include <algorithm>

#include "preload/audit/go_heap_view.h"
#include "preload/process_state.h"
#include "report/elf_reader.h"
#include "report/elf_symbols.h"
#include "report/report_writer.h"
#include "preload/audit/audit_stats.h"
#include "shadow/c_heap.h"
#include "shadow/guarded_pool.h"

namespace cgosan {
namespace {

struct BlockCollect {
  InternalVector<HeapBlock>* out;
  bool without_go_runtime;
};

void CollectBlock(const HeapBlock& b, void* ctx) {
  auto* c = static_cast<BlockCollect*>(ctx);
  if (c->without_go_runtime && b.origin == BlockOrigin::kGoRuntime) return;
  c->out->Push(b);
}

// Where cgosan itself is loaded: its data holds addresses of everything it tracks.
uintptr_t SelfBase() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&SelfBase), &info) == 0) return 0;
  return reinterpret_cast<uintptr_t>(info.dli_fbase);
}

// Adds [begin, end) minus the Go data ranges.
void AddExcludingGoData(uintptr_t begin, uintptr_t end, const char* module,
                        InternalVector<ModuleData>* out) {
  const GoDataRange* go;
  int n = GoHeapView::GoData(&go);
  for (uintptr_t at = begin; at < end;) {
    const GoDataRange* next = nullptr;  // the first Go range still ahead
    for (int i = 0; i < n; ++i) {
      if (go[i].end > at && go[i].begin < end && (!next || go[i].begin < next->begin)) {
        next = &go[i];
      }
    }
    uintptr_t stop = next ? std::max(next->begin, at) : end;
    if (stop > at) {
      ModuleData d;
      d.begin = at;
      d.end = stop;
      strncpy(d.module, module, sizeof(d.module) - 1);
      out->Push(d);
    }
    if (!next) break;
    at = next->end;
  }
}

// Modules whose writable data is not the program's: the libunwind cgosan loaded for itself,
// and the C library and loader, whose own state (thread lists, TLS bookkeeping) points at
// stacks the Go runtime handed to threads.
bool PrivateModule(const char* name) {
  static const char* const kSystem[] = {"ld-linux", "libc.so", "libpthread.so", "libdl.so",
                                        "librt.so", "libm.so", "libresolv.so", "libnss_",
                                        "libgcc_s.so", "libutil.so", "libunwind"};
  const char* slash = strrchr(name, '/');
  const char* base = slash ? slash + 1 : name;
  for (const char* prefix : kSystem) {
    if (strncmp(base, prefix, strlen(prefix)) == 0) return true;
  }
  return false;
}

// Adds [begin, end) of a module (less the Go data of a Go executable).
void AddPiece(uintptr_t begin, uintptr_t end, bool go_exe, const char* name,
              InternalVector<ModuleData>* out) {
  if (end <= begin) return;
  if (go_exe) {
    AddExcludingGoData(begin, end, name, out);
    return;
  }
  ModuleData d;
  d.begin = begin;
  d.end = end;
  strncpy(d.module, name, sizeof(d.module) - 1);
  out->Push(d);
}

struct ModuleScan {
  InternalVector<ModuleData>* out;
  uintptr_t self;
};

int VisitModule(struct dl_phdr_info* info, size_t, void* ctx) {
  auto* scan = static_cast<ModuleScan*>(ctx);
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  bool main_program = name[0] == '\0';
  if (main_program) name = CurrentProcessInfo().exe ? CurrentProcessInfo().exe : "";
  if (strncmp(name, "linux-vdso", 10) == 0) return 0;
  if (PrivateModule(name)) return 0;
  bool self = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && info->dlpi_addr + ph.p_vaddr <= scan->self &&
        scan->self < info->dlpi_addr + ph.p_vaddr + ph.p_memsz) {
      self = true;
    }
  }
  if (self) return 0;
  const GoDataRange* go;
  bool go_exe = main_program && IsGoProcess();
  if (go_exe && GoHeapView::GoData(&go) == 0) return 0;  // Go globals cannot be told apart
  // RELRO is read-only once relocated: C cannot have stored anything there (a PIE Go
  // binary keeps its read-only Go tables in it).
  uintptr_t relro_begin = 0, relro_end = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_GNU_RELRO) {
      relro_begin = info->dlpi_addr + ph.p_vaddr;
      relro_end = (relro_begin + ph.p_memsz + 4095) & ~uintptr_t{4095};
    }
  }
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W) || ph.p_memsz == 0) continue;
    uintptr_t begin = (info->dlpi_addr + ph.p_vaddr) & ~uintptr_t{7};
    uintptr_t end = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
    if (relro_end > begin && relro_begin < end) {
      AddPiece(begin, std::min(end, relro_begin), go_exe, name, scan->out);
      AddPiece(std::max(begin, relro_end), end, go_exe, name, scan->out);
    } else {
      AddPiece(begin, end, go_exe, name, scan->out);
    }
  }
  return 0;
}

struct SymbolSearch {
  uint64_t vaddr;
  bool found = false;
  uint64_t value = 0, size = 0;
  char* name;
  size_t cap;
};

bool VisitDataSymbol(const Elf64_Sym& s, const char* name, void* ctx) {
  auto* q = static_cast<SymbolSearch*>(ctx);
  if (ELF64_ST_TYPE(s.st_info) != STT_OBJECT || s.st_size == 0) return true;
  if (q->vaddr < s.st_value || q->vaddr - s.st_value >= s.st_size) return true;
  q->found = true;
  q->value = s.st_value;
  q->size = s.st_size;
  strncpy(q->name, name, q->cap - 1);
  q->name[q->cap - 1] = '\0';
  return false;
}

struct BiasSearch {
  uintptr_t addr;
  uintptr_t bias = 0;
};

int VisitForBias(struct dl_phdr_info* info, size_t, void* ctx) {
  auto* q = static_cast<BiasSearch*>(ctx);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && q->addr >= begin && q->addr < begin + ph.p_memsz) {
      q->bias = info->dlpi_addr;
      return 1;
    }
  }
  return 0;
}

}  // namespace

void CMemory::SnapshotBlocks(InternalVector<HeapBlock>* out, bool without_go_runtime) {
  out->Clear();
  BlockCollect c{out, without_go_runtime};
  CHeap::ForEachLive(CollectBlock, &c);
  std::sort(out->begin(), out->end(),
            [](const HeapBlock& a, const HeapBlock& b) { return a.base < b.base; });
}

void BlockSnapshot::Begin(InternalVector<HeapBlock>* out, bool without_go_runtime) {
  out_ = out;
  out_->Clear();
  without_go_runtime_ = without_go_runtime;
  pool_done_ = false;
  done_ = false;
  cursor_ = 0;
}

bool BlockSnapshot::Step(int64_t* held_ns) {
  *held_ns = 0;
  if (done_) return false;
  BlockCollect c{out_, without_go_runtime_};
  // Room for everything this step can add, so that no push maps memory under the lock.
  out_->Reserve(out_->size() + (!pool_done_ ? 4 * kSlotsPerStep : kSlotsPerStep));
  if (!pool_done_) {
    int64_t start = AuditClockNs();
    GuardedPool::ForEachLive(CollectBlock, &c);  // bounded by max_live_slots
    *held_ns = AuditClockNs() - start;
    pool_done_ = true;
    return true;
  }
  // The records are read without a lock: nothing the program waits for is held here.
  if (CHeap::ForEachLiveUnguardedStep(&cursor_, kSlotsPerStep, CollectBlock, &c)) return true;
  done_ = true;
  std::sort(out_->begin(), out_->end(),
            [](const HeapBlock& a, const HeapBlock& b) { return a.base < b.base; });
  // A block freed and made again between two steps can have been seen twice.
  size_t kept = 0;
  for (size_t i = 0; i < out_->size(); ++i) {
    if (kept == 0 || (*out_)[i].base != (*out_)[kept - 1].base) (*out_)[kept++] = (*out_)[i];
  }
  out_->Truncate(kept);
  return false;
}

void CMemory::SnapshotModuleData(InternalVector<ModuleData>* out) {
  out->Clear();
  ModuleScan scan{out, SelfBase()};
  dl_iterate_phdr(VisitModule, &scan);
}

bool CMemory::DataSymbol(const char* module, uintptr_t bias, uintptr_t addr, char* name,
                         size_t cap, uintptr_t* start, uint64_t* size) {
  ElfReader elf;
  SymbolTableInfo table;
  if (!elf.Open(module) || !FindSymbolTable(elf, &table)) return false;
  SymbolSearch q;
  q.vaddr = addr - bias;
  q.name = name;
  q.cap = cap;
  ForEachSymbol(elf, table, VisitDataSymbol, &q);
  if (!q.found) return false;
  *start = q.value + bias;
  *size = q.size;
  return true;
}

uintptr_t CMemory::ModuleBias(uintptr_t addr) {
  BiasSearch q{addr};
  dl_iterate_phdr(VisitForBias, &q);
  return q.bias;
}

const HeapBlock* CMemory::FindBlock(const InternalVector<HeapBlock>& blocks, uintptr_t addr) {
  // The last block starting at or below addr is the only one that can contain it.
  const HeapBlock* after = std::upper_bound(
      blocks.data(), blocks.data() + blocks.size(), addr,
      [](uintptr_t a, const HeapBlock& b) { return a < b.base; });
  if (after == blocks.data()) return nullptr;
  const HeapBlock& b = after[-1];
  return addr < b.base + (b.size ? b.size : 1) ? &b : nullptr;
}

}  // namespace cgosan
