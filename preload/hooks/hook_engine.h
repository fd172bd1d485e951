// HookEngine: breakpoints on Go runtime code. An int3 is planted on an instruction whose
// bytes match a pattern the engine knows how to resume from; the SIGTRAP handler runs the
// hook's callback with the interrupted registers (Go ABIInternal: arguments in RAX, RBX,
// RCX, RDI, RSI, R8-R11; R14 = g), then resumes the thread: the displaced instruction runs
// out of line from a code page near the patched text (rel32 targets relocated), or is
// emulated (ret, push %rbp). R14, X15 and every other register are left as they were.
// Sites that may run with SIGTRAP blocked (runtime.exit: Go's fatal paths call it from
// inside its signal handlers) take a jump to a trampoline instead of an int3.
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

// Runs inside the SIGTRAP handler, on the thread's signal stack (Go's is 32 KiB): must be
// async-signal-safe and keep its frame small.
using HookCallback = void (*)(const HookContext& ctx);

// Runs on the exit hook's helper thread (a real stack, all signals blocked) while the
// exiting thread waits; `code` is the exit status being passed to runtime.exit.
using ExitCallback = void (*)(int code);

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

  // Patches a 5-byte jump at pc (the first instruction of runtime.exit: `mov 0x8(%rsp),%edi`
  // followed by `mov $231,%eax`) to a trampoline that hands `callback` to the helper thread,
  // waits for it, then runs the displaced instructions and continues. Attach-time only.
  static bool InstallExitHook(uintptr_t pc, ExitCallback callback, const char** why);

  // Entry of the preload's SIGTRAP handler: true when the trap was a hook's and was handled.
  static bool OnTrap(siginfo_t* info, ucontext_t* uc);

  static int Installed();       // number of int3 hooks planted
  static uint64_t TotalHits();  // int3 hits so far, all hooks

  // Hits of the hook at pc so far (0 when there is none).
  static uint64_t Hits(uintptr_t pc);
  // The index-th planted hook (installation order, index < Installed()): its name, pc and
  // hits so far, for verbosity messages. False past the end.
  static bool HookAt(int index, const char** name, uintptr_t* pc, uint64_t* hits);
  // Whether the exit hook is in place.
  static bool ExitHookInstalled();
};

}  // namespace cgosan
