// HookEngine::InstallExitHook: runtime.exit runs with SIGTRAP blocked on Go's fatal paths
// (inside its own signal handlers), where an int3 would kill the process, so it takes a jump
// instead. The 5-byte `jmp rel32` over its first instruction leads to a stub on a near page,
// which jumps on to cgosan_exit_trampoline. The trampoline may run on a goroutine stack
// with only a few hundred bytes guaranteed, so all it does is save the registers it
// touches, call cgosan_exit_hook_enter (a leaf of raw system calls; a unit test checks that
// it uses no vector register and a small frame) and replay the displaced instructions: the
// callback itself runs on a helper thread with a real stack, created at install with every
// signal blocked, parked on a futex until then.
#include <limits.h>
#include <pthread.h>
#include <signal.h>

#include <cstring>

#include "preload/hooks/code_memory.h"
#include "preload/hooks/hook_engine.h"
#include "preload/hooks/raw_syscall.h"
#include "shadow/base/spin_lock.h"

extern "C" {
// Where the trampoline continues: runtime.exit's syscall, after the displaced instructions.
__attribute__((visibility("hidden"))) uintptr_t cgosan_exit_resume = 0;
__attribute__((visibility("hidden"))) int cgosan_exit_hook_enter(int code);
__attribute__((visibility("hidden"))) void cgosan_exit_trampoline();
}

// Entered by a jump at runtime.exit's entry: 0(%rsp) is its return address, 8(%rsp) the
// exit code (ABI0), which the leaf's result replaces (the status may change: a leak found at
// exit turns 0 into exitcode). 96 bytes of its own plus the leaf's frame: far under the
// 800-byte nosplit budget. Flags and every caller-saved general register are restored; the
// leaf preserves the callee-saved ones (R14, R15, RBX, RBP, R12, R13).
asm(R"(
  .text
  .p2align 4
  .globl cgosan_exit_trampoline
  .hidden cgosan_exit_trampoline
  .type cgosan_exit_trampoline, @function
cgosan_exit_trampoline:
  push %rbp
  mov %rsp, %rbp
  pushfq
  push %rax
  push %rcx
  push %rdx
  push %rsi
  push %rdi
  push %r8
  push %r9
  push %r10
  push %r11
  mov 16(%rbp), %edi
  and $-16, %rsp
  cld
  call cgosan_exit_hook_enter
  mov %eax, 16(%rbp)
  lea -80(%rbp), %rsp
  pop %r11
  pop %r10
  pop %r9
  pop %r8
  pop %rdi
  pop %rsi
  pop %rdx
  pop %rcx
  pop %rax
  popfq
  pop %rbp
  mov 0x8(%rsp), %edi
  mov $0xe7, %eax
  jmp *cgosan_exit_resume(%rip)
  .size cgosan_exit_trampoline, .-cgosan_exit_trampoline
)");

namespace cgosan {
namespace {

// runtime.exit on every supported toolchain: mov 0x8(%rsp),%edi; mov $231,%eax; syscall.
constexpr uint8_t kExitBytes[] = {0x8b, 0x7c, 0x24, 0x08, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05};
constexpr int kDisplaced = 9;  // the two movs, replayed by the trampoline

enum : uint32_t { kIdle, kClaimed, kRequested, kDone };
// A waiting thread gives up after this long: a hung callback must not hang the exit.
constexpr raw::Timespec kWaitSlice = {1, 0};
constexpr int kMaxWaitSlices = 60;

uint32_t g_state = kIdle;  // futex word
int g_code = 0;
int g_new_code = 0;  // the callback's result
long g_pid = 0;  // the process the helper thread belongs to
ExitCallback g_callback = nullptr;
SpinLock g_install_lock;

uint32_t LoadState() { return __atomic_load_n(&g_state, __ATOMIC_ACQUIRE); }

void* HelperMain(void*) {
  for (uint32_t s = LoadState(); s < kRequested; s = LoadState())
    raw::FutexWait(&g_state, s, nullptr);
  g_new_code = g_callback(g_code);
  __atomic_store_n(&g_state, kDone, __ATOMIC_RELEASE);
  raw::FutexWake(&g_state, INT_MAX);
  return nullptr;
}

bool StartHelper() {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // inherited by the helper
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, HelperMain, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  return rc == 0;
}

}  // namespace

bool HookEngine::InstallExitHook(uintptr_t pc, ExitCallback callback, const char** why) {
  SpinLockGuard guard(g_install_lock);
  if (g_callback != nullptr) {
    *why = "exit hook already installed";
    return false;
  }
  if (pc == 0 || callback == nullptr) {
    *why = "no address or no callback";
    return false;
  }
  if (memcmp(reinterpret_cast<const void*>(pc), kExitBytes, sizeof(kExitBytes)) != 0) {
    *why = "runtime.exit does not start with mov 0x8(%rsp),%edi; mov $231,%eax; syscall";
    return false;
  }
  uintptr_t stub = OpenNearPage(pc, why);
  if (!stub) return false;
  static const uint8_t kJmpIndirect[6] = {0xff, 0x25, 0, 0, 0, 0};  // jmp *0(%rip)
  uintptr_t trampoline = reinterpret_cast<uintptr_t>(&cgosan_exit_trampoline);
  memcpy(reinterpret_cast<void*>(stub), kJmpIndirect, sizeof(kJmpIndirect));
  memcpy(reinterpret_cast<void*>(stub + sizeof(kJmpIndirect)), &trampoline, sizeof(trampoline));
  if (!SealNearPage(stub, why)) return false;
  uint8_t jump[14];
  if (EncodeJump(pc, stub, jump) != 5) {
    *why = "the near page is out of rel32 reach";
    return false;
  }
  g_state = kIdle;
  g_pid = raw::GetPid();
  g_callback = callback;
  if (!StartHelper()) {
    g_callback = nullptr;
    *why = "cannot start the exit helper thread";
    return false;
  }
  cgosan_exit_resume = pc + kDisplaced;
  if (!PatchText(pc, jump, 5, why)) return false;
  return true;
}

bool HookEngine::ExitHookInstalled() { return cgosan_exit_resume != 0; }

}  // namespace cgosan

// The first thread to exit hands its code to the helper thread; it and every other exiting
// thread wait until the callback is done (an exit_group meanwhile would cut it short). A
// forked child has no helper thread: it exits without the callback. Returns the status to
// exit with: the callback's, or `code` when the callback did not finish in time.
extern "C" __attribute__((noinline)) int cgosan_exit_hook_enter(int code) {
  using namespace cgosan;
  if (raw::GetPid() != g_pid) return code;
  uint32_t expected = kIdle;
  if (__atomic_compare_exchange_n(&g_state, &expected, kClaimed, false, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE)) {
    g_code = code;
    __atomic_store_n(&g_state, kRequested, __ATOMIC_RELEASE);
    raw::FutexWake(&g_state, INT_MAX);
  }
  for (int slices = 0; slices < kMaxWaitSlices;) {
    uint32_t s = LoadState();
    if (s == kDone) return g_new_code;
    if (raw::FutexWait(&g_state, s, &kWaitSlice) == -110 /* ETIMEDOUT */) ++slices;
  }
  return code;
}
