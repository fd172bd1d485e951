// HookEngine: breakpoints on Go runtime code. An int3 is planted on an instruction whose
// bytes match a pattern the engine knows how to resume from; the SIGTRAP handler runs the
// hook's callback with the interrupted registers (Go ABIInternal: arguments in RAX, RBX,
// RCX, RDI, RSI, R8-R11; R14 = g), then resumes the thread: the displaced instruction runs
// out of line from a code page near the patched text (rel32 targets relocated), or is
// emulated (ret, push %rbp). R14, X15 and every other register are left as they were.
// Sites that may run with SIGTRAP blocked (runtime.exit: Go's fatal paths call it from
// inside its signal handlers) take a jump to a trampoline instead of an int3. A filtered hook
// also takes a jump, to a trampoline that traps only when a field the callback cares about
// passes a threshold, so calls the callback would ignore cost a few instructions, not a trap.
// Installation happens at attach, before the program has threads; hits are lock-free.
#pragma once

#include <signal.h>
#include <sys/ucontext.h>

#include <cstdint>

namespace cgosan {

// The registers at a hook site. Read-only for callbacks.
class HookContext {
 public:
  explicit HookContext(const ucontext_t* uc, void* user) : uc_(uc), user_(user) {}
  uint64_t reg(int greg) const { return static_cast<uint64_t>(uc_->uc_mcontext.gregs[greg]); }
  uintptr_t pc() const { return reg(REG_RIP); }  // the hooked instruction
  uintptr_t sp() const { return reg(REG_RSP); }
  uintptr_t bp() const { return reg(REG_RBP); }
  uint64_t rax() const { return reg(REG_RAX); }
  uint64_t rbx() const { return reg(REG_RBX); }
  uint64_t rcx() const { return reg(REG_RCX); }
  uint64_t rdi() const { return reg(REG_RDI); }
  uint64_t rsi() const { return reg(REG_RSI); }
  uint64_t r14() const { return reg(REG_R14); }  // the current g in Go ABIInternal code
  void* user() const { return user_; }
  const ucontext_t* ucontext() const { return uc_; }

 private:
  const ucontext_t* uc_;
  void* user_;
};

// A condition checked before trapping: the callback runs only when the unsigned integer of
// `width` (1, 2, 4 or 8) bytes at [register + offset] is >= min. greg is a ucontext REG_*
// index of a general register (REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RDI, REG_RSI,
// REG_R8..REG_R11). A register holding an address in the first page (nil plus an offset)
// fails the filter without being read. Any min is allowed: an 8-byte min above INT32_MAX is
// compared as two 4-byte halves (high first), so an 8-byte field written concurrently may be
// seen torn; callbacks re-read what they use anyway.
struct HookFilter {
  int greg;
  int32_t offset;
  uint8_t width;
  uint64_t min;
};

// A greg value for a filter of another kind: trap only when SIGTRAP is not blocked on the
// calling thread (an int3 hit with SIGTRAP blocked kills the process). For functions that
// can run inside Go's signal handlers or with signals blocked, such as runtime.sysFaultOS,
// which frees a locked thread's signal stack at thread exit with every signal blocked. The
// trampoline asks the kernel (rt_sigprocmask) using 64 bytes below the entry SP.
constexpr int kFilterSigtrapUnblocked = -2;

// Runs inside the SIGTRAP handler, on the thread's signal stack (Go's is 32 KiB): must be
// async-signal-safe and keep its frame small.
using HookCallback = void (*)(const HookContext& ctx);

// Runs on the exit hook's helper thread (a real stack, all signals blocked) while the
// exiting thread waits; `code` is the exit status being passed to runtime.exit, and the
// status returned is the one the process exits with.
using ExitCallback = int (*)(int code);

class HookEngine {
 public:
  // Installs the SIGTRAP handler (kept in front through SignalTable; SIGTRAPs that are not
  // the engine's go to the program's action). False (with a reason) when it cannot.
  static bool Init(const char** why);

  // Plants an int3 at pc, which must be the start of an instruction. The bytes there are
  // checked against the patterns the engine can resume from; anything else returns false
  // with *why set to a static message and leaves the code untouched. `name` (static) is
  // used in verbosity messages. Attach-time only (single-threaded).
  static bool Install(uintptr_t pc, const char* name, HookCallback callback, void* user,
                      const char** why);

  // Like Install, for a Go function entry whose first instructions are the stack check
  // `cmp 0x10(%r14),%rsp; jbe rel8/rel32` (anything else is refused with *why, untouched):
  // a 5-byte `jmp rel32` at pc leads to a trampoline on a near page that traps only when
  // `filter` holds. The callback sees pc() == pc and every register, SP and BP as at entry;
  // hits count only the calls that trapped. The morestack tail jumps back to pc, so the
  // filter is evaluated again after a stack growth (as an int3 at entry would fire again).
  // Nothing may jump into the displaced bytes (in Go code only the tail jumps, to pc itself).
  static bool InstallFiltered(uintptr_t pc, const char* name, const HookFilter& filter,
                              HookCallback callback, void* user, const char** why);

  // Patches a 5-byte jump at pc (the first instruction of runtime.exit: `mov 0x8(%rsp),%edi`
  // followed by `mov $231,%eax`) to a trampoline that hands `callback` to the helper thread,
  // waits for it, then runs the displaced instructions and continues. Attach-time only.
  static bool InstallExitHook(uintptr_t pc, ExitCallback callback, const char** why);

  // Entry of the preload's SIGTRAP handler: true when the trap was a hook's and was handled.
  static bool OnTrap(siginfo_t* info, ucontext_t* uc);

  static int Installed();       // number of hooks planted (int3 and filtered)
  static uint64_t TotalHits();  // traps so far, all hooks

  // Hits of the hook at pc so far (0 when there is none).
  static uint64_t Hits(uintptr_t pc);
  // The index-th planted hook (installation order, index < Installed()): its name, pc and
  // hits so far, for verbosity messages. False past the end.
  static bool HookAt(int index, const char** name, uintptr_t* pc, uint64_t* hits);
  // Whether the exit hook is in place.
  static bool ExitHookInstalled();
};

}  // namespace cgosan
