// HookEngine: int3 hooks. The table of hooks is append-only: a record is filled, then
// published by the count (release), and only then is its int3 written, so the SIGTRAP
// handler (any thread, any number at once) finds every planted hook with a plain scan and
// no lock. Records never change after publication; the only per-hit writes are the relaxed
// hit counters. The out-of-line copy of each displaced instruction sits on a page of its own
// near the text, read+execute from the moment the int3 can be hit; so does each filtered
// hook's trampoline, whose int3 (not the hooked pc) is what the handler looks up.
#include "preload/hooks/hook_engine.h"

#include <sys/syscall.h>

#include <atomic>
#include <cstring>

#include "preload/hooks/code_memory.h"
#include "preload/hooks/filter_trampoline.h"
#include "preload/hooks/site_decoder.h"
#include "preload/signal_table.h"
#include "preload/trap_handler.h"
#include "shadow/base/spin_lock.h"

namespace cgosan {
namespace {

constexpr int kMaxHooks = 64;
constexpr int kMaxInstruction = 15;

// What a hook is: written once, before publication.
struct HookFields {
  uintptr_t pc;           // the hooked instruction: what callbacks see as pc()
  uintptr_t trap;         // the int3: pc, or in a filtered hook's trampoline
  uintptr_t out_of_line;  // Resume::kOutOfLine: the copy of the instruction
  uintptr_t target;       // branches: their target; kFiltered: the trampoline's resume
  HookCallback callback;
  void* user;
  const char* name;
  Resume how;
  uint8_t len;
  uint8_t condition;
};

struct alignas(64) HookRecord : HookFields {
  std::atomic<bool> planted;  // false once its int3 or jump could not be written
  std::atomic<uint64_t> hits;
};

HookRecord g_hooks[kMaxHooks];
std::atomic<int> g_published{0};
std::atomic<int> g_planted{0};
std::atomic<bool> g_initialized{false};
SpinLock g_install_lock;  // Install and Init only: never taken by the handler

HookRecord* FindHook(uintptr_t pc) {
  int n = g_published.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    if (g_hooks[i].pc == pc && g_hooks[i].planted.load(std::memory_order_relaxed))
      return &g_hooks[i];
  }
  return nullptr;
}

HookRecord* FindTrap(uintptr_t trap) {
  int n = g_published.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    if (g_hooks[i].trap == trap && g_hooks[i].planted.load(std::memory_order_relaxed))
      return &g_hooks[i];
  }
  return nullptr;
}

bool Published(uintptr_t pc) {
  int n = g_published.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    if (g_hooks[i].pc == pc) return true;
  }
  return false;
}

// How many bytes from pc can be read: to the end of its page, or 15 when the next page is
// mapped too (mincore fails with ENOMEM on unmapped memory).
int ReadableBytes(uintptr_t pc) {
  uintptr_t page_end = (pc | 4095) + 1;
  if (page_end - pc >= kMaxInstruction) return kMaxInstruction;
  unsigned char vec;
  if (syscall(SYS_mincore, page_end, 4096, &vec) == 0) return kMaxInstruction;
  return static_cast<int>(page_end - pc);
}

// [instruction][jump back to pc+len], on a page near pc.
uintptr_t EmitOutOfLine(uintptr_t pc, int len, const char** why) {
  uintptr_t page = OpenNearPage(pc, why);
  if (!page) return 0;
  uint8_t* code = reinterpret_cast<uint8_t*>(page);
  memcpy(code, reinterpret_cast<const void*>(pc), static_cast<size_t>(len));
  EncodeJump(page + len, pc + len, code + len);
  if (!SealNearPage(page, why)) return 0;
  return page;
}

uint64_t Get(const ucontext_t* uc, int r) {
  return static_cast<uint64_t>(uc->uc_mcontext.gregs[r]);
}
void Set(ucontext_t* uc, int r, uint64_t v) { uc->uc_mcontext.gregs[r] = static_cast<greg_t>(v); }

void Push(ucontext_t* uc, uint64_t value) {
  uint64_t sp = Get(uc, REG_RSP) - 8;
  *reinterpret_cast<uint64_t*>(sp) = value;
  Set(uc, REG_RSP, sp);
}

// Sets the context so that returning from the handler continues as if the displaced
// instruction had executed (or is about to, out of line).
void ResumeAfter(const HookRecord& h, ucontext_t* uc) {
  uintptr_t next = h.pc + h.len;
  switch (h.how) {
    case Resume::kOutOfLine:
      next = h.out_of_line;
      break;
    case Resume::kPushRbp:
      Push(uc, Get(uc, REG_RBP));
      break;
    case Resume::kRet: {
      uint64_t sp = Get(uc, REG_RSP);
      next = *reinterpret_cast<const uint64_t*>(sp);
      Set(uc, REG_RSP, sp + 8);
      break;
    }
    case Resume::kCall:
      Push(uc, h.pc + h.len);
      next = h.target;
      break;
    case Resume::kJmp:
    case Resume::kFiltered:
      next = h.target;
      break;
    case Resume::kJcc:
      if (ConditionHolds(h.condition, Get(uc, REG_EFL))) next = h.target;
      break;
  }
  Set(uc, REG_RIP, next);
}

}  // namespace

bool HookEngine::Init(const char** why) {
  SpinLockGuard guard(g_install_lock);
  if (g_initialized.load(std::memory_order_relaxed)) return true;
  if (!SignalTable::InstallHandler(SIGTRAP, OnTrapSignal)) {
    *why = "sigaction(SIGTRAP) failed";
    return false;
  }
  g_initialized.store(true, std::memory_order_release);
  return true;
}

namespace {

// The checks every installation makes first; the index of the free record, or -1 with *why.
// The caller holds g_install_lock.
int FreeRecordFor(uintptr_t pc, HookCallback callback, const char** why) {
  if (!g_initialized.load(std::memory_order_relaxed)) {
    *why = "hook engine not initialised";
    return -1;
  }
  if (pc == 0 || callback == nullptr) {
    *why = "no address or no callback";
    return -1;
  }
  if (Published(pc)) {
    *why = "already hooked";
    return -1;
  }
  int index = g_published.load(std::memory_order_relaxed);
  if (index == kMaxHooks) {
    *why = "too many hooks";
    return -1;
  }
  return index;
}

// Fills and publishes the record, then writes `patch` at pc (an int3 or a jump): no thread
// can reach the trap before the handler can find its record.
bool Publish(int index, const HookFields& fields, const uint8_t* patch, int patch_len,
             const char** why) {
  HookRecord& h = g_hooks[index];
  static_cast<HookFields&>(h) = fields;
  h.planted.store(true, std::memory_order_relaxed);
  h.hits.store(0, std::memory_order_relaxed);
  g_published.store(index + 1, std::memory_order_release);
  if (!PatchText(fields.pc, patch, patch_len, why)) {
    // The slot stays published (readers may hold it) but never matches a trap again.
    h.planted.store(false, std::memory_order_relaxed);
    return false;
  }
  g_planted.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

bool HookEngine::Install(uintptr_t pc, const char* name, HookCallback callback, void* user,
                         const char** why) {
  SpinLockGuard guard(g_install_lock);
  int index = FreeRecordFor(pc, callback, why);
  if (index < 0) return false;
  SiteInstruction site;
  if (!DecodeSite(reinterpret_cast<const uint8_t*>(pc), ReadableBytes(pc), pc, &site, why)) {
    return false;
  }
  uintptr_t out_of_line = 0;
  if (site.how == Resume::kOutOfLine) {
    out_of_line = EmitOutOfLine(pc, site.len, why);
    if (!out_of_line) return false;
  }
  HookFields fields;
  fields.pc = pc;
  fields.trap = pc;
  fields.out_of_line = out_of_line;
  fields.target = site.target;
  fields.callback = callback;
  fields.user = user;
  fields.name = name;
  fields.how = site.how;
  fields.len = site.len;
  fields.condition = site.condition;
  static const uint8_t kInt3 = 0xcc;
  return Publish(index, fields, &kInt3, 1, why);
}

bool HookEngine::InstallFiltered(uintptr_t pc, const char* name, const HookFilter& filter,
                                 HookCallback callback, void* user, const char** why) {
  SpinLockGuard guard(g_install_lock);
  int index = FreeRecordFor(pc, callback, why);
  if (index < 0) return false;
  if (!ValidFilter(filter, why)) return false;
  StackCheckEntry entry;
  if (!DecodeStackCheckEntry(reinterpret_cast<const uint8_t*>(pc), ReadableBytes(pc), pc, &entry,
                             why)) {
    return false;
  }
  uintptr_t page = OpenNearPage(pc, why);
  if (!page) return false;
  FilterTrampoline tramp;
  if (!EncodeFilterTrampoline(filter, entry, pc, page, reinterpret_cast<uint8_t*>(page), &tramp,
                              why) ||
      !SealNearPage(page, why)) {
    return false;
  }
  // The jump, then int3s over the rest of the displaced bytes: nothing should run them.
  uint8_t patch[14];  // room for EncodeJump's far form, refused below
  memset(patch, 0xcc, sizeof(patch));
  if (EncodeJump(pc, page, patch) != 5) {
    *why = "the trampoline page is out of rel32 reach";
    return false;
  }
  HookFields fields;
  fields.pc = pc;
  fields.trap = page + static_cast<uintptr_t>(tramp.trap_offset);
  fields.out_of_line = 0;
  fields.target = page + static_cast<uintptr_t>(tramp.resume_offset);
  fields.callback = callback;
  fields.user = user;
  fields.name = name;
  fields.how = Resume::kFiltered;
  fields.len = entry.len;
  fields.condition = 0;
  return Publish(index, fields, patch, entry.len, why);
}

bool HookEngine::OnTrap(siginfo_t* info, ucontext_t* uc) {
  // An int3 reports SI_KERNEL with the pc after it; kill/raise, single steps and hardware
  // breakpoints have other codes.
  if (info == nullptr || uc == nullptr || info->si_code != SI_KERNEL) return false;
  HookRecord* h = FindTrap(Get(uc, REG_RIP) - 1);
  if (h == nullptr) return false;
  h->hits.fetch_add(1, std::memory_order_relaxed);
  Set(uc, REG_RIP, h->pc);  // the callback sees the hooked instruction's address
  h->callback(HookContext(uc, h->user));
  ResumeAfter(*h, uc);
  return true;
}

int HookEngine::Installed() { return g_planted.load(std::memory_order_relaxed); }

uint64_t HookEngine::TotalHits() {
  uint64_t total = 0;
  int n = g_published.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) total += g_hooks[i].hits.load(std::memory_order_relaxed);
  return total;
}

uint64_t HookEngine::Hits(uintptr_t pc) {
  HookRecord* h = FindHook(pc);
  return h ? h->hits.load(std::memory_order_relaxed) : 0;
}

bool HookEngine::HookAt(int index, const char** name, uintptr_t* pc, uint64_t* hits) {
  int n = g_published.load(std::memory_order_acquire);
  for (int i = 0, seen = 0; i < n; ++i) {
    if (!g_hooks[i].planted.load(std::memory_order_relaxed)) continue;
    if (seen++ != index) continue;
    *name = g_hooks[i].name;
    *pc = g_hooks[i].pc;
    *hits = g_hooks[i].hits.load(std::memory_order_relaxed);
    return true;
  }
  return false;
}

}  // namespace cgosan
