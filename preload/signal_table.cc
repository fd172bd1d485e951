// SignalTable implementation. Updates are rare (the program's sigaction calls) and reads
// happen in signal handlers, so the recorded actions sit behind a sequence counter that
// readers retry on, never behind a lock they could deadlock on.
#include "preload/signal_table.h"

#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <initializer_list>

#include "shadow/base/spin_lock.h"

extern "C" int __sigaction(int sig, const struct sigaction* act, struct sigaction* old);

namespace cgosan {
namespace {

struct Recorded {
  std::atomic<unsigned> seq{0};
  struct sigaction action = {};  // zero: SIG_DFL with no flags
};

Recorded g_recorded[_NSIG];
SpinLock g_write_lock;
std::atomic<bool> g_installed[_NSIG];

struct sigaction ReadRecorded(int sig) {
  Recorded& r = g_recorded[sig];
  struct sigaction copy;
  for (;;) {
    unsigned before = r.seq.load(std::memory_order_acquire);
    if (before & 1) continue;
    memcpy(&copy, &r.action, sizeof(copy));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (r.seq.load(std::memory_order_relaxed) == before) return copy;
  }
}

void WriteRecordedLocked(int sig, const struct sigaction& act) {
  Recorded& r = g_recorded[sig];
  r.seq.fetch_add(1, std::memory_order_acq_rel);
  memcpy(&r.action, &act, sizeof(act));
  r.seq.fetch_add(1, std::memory_order_release);
}

bool IsSynchronousFault(const siginfo_t* info) { return info->si_code > 0; }

void SetMask(const sigset_t* mask) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, mask, nullptr, _NSIG / 8);
}

// The default action for a fault: let the kernel apply it, as it would have without us.
void ApplyDefault(int sig, siginfo_t* info) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  __sigaction(sig, &dfl, nullptr);
  // Returning re-executes a faulting instruction; a trap has already executed (int3 leaves
  // the pc after it), so SIGTRAP is raised again instead.
  if (IsSynchronousFault(info) && sig != SIGTRAP) return;
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, sig);
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &unblock, nullptr, _NSIG / 8);
  syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), sig);
}

}  // namespace

int SignalTable::RealSigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  return __sigaction(sig, act, old);
}

bool SignalTable::InstallHandler(int sig, Handler handler) {
  if (!Owns(sig)) return false;
  struct sigaction ours;
  memset(&ours, 0, sizeof(ours));
  ours.sa_sigaction = handler;
  // SA_NODEFER and unblocked synchronous signals: a fault inside cgosan's own handler
  // re-enters it (and gets a one-line message) instead of killing the process silently, and
  // an int3 hit from inside a handler reaches the hook engine.
  ours.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigfillset(&ours.sa_mask);
  for (int s : {SIGSEGV, SIGBUS, SIGTRAP, SIGILL, SIGFPE}) sigdelset(&ours.sa_mask, s);
  SpinLockGuard guard(g_write_lock);
  struct sigaction previous;
  if (__sigaction(sig, &ours, &previous) != 0) return false;
  // Installed twice (a second Init): the program's action is already recorded.
  if (!g_installed[sig].load(std::memory_order_relaxed)) WriteRecordedLocked(sig, previous);
  g_installed[sig].store(true, std::memory_order_release);
  return true;
}

void SignalTable::InstallHandlers(Handler handler) {
  InstallHandler(SIGSEGV, handler);
  InstallHandler(SIGBUS, handler);
}

bool SignalTable::Installed(int sig) {
  return sig > 0 && sig < _NSIG && g_installed[sig].load(std::memory_order_acquire);
}

void SignalTable::Exchange(int sig, const struct sigaction* act, struct sigaction* old) {
  SpinLockGuard guard(g_write_lock);
  if (old) *old = ReadRecorded(sig);
  if (act) WriteRecordedLocked(sig, *act);
}

bool SignalTable::ProgramHasHandler(int sig) {
  struct sigaction a = ReadRecorded(sig);
  return a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN;
}

void SignalTable::DeliverToProgram(int sig, siginfo_t* info, void* ucontext) {
  struct sigaction a = ReadRecorded(sig);
  if (a.sa_handler == SIG_IGN) {
    // The kernel does not let a synchronous fault be ignored: it applies the default.
    if (IsSynchronousFault(info)) ApplyDefault(sig, info);
    return;
  }
  if (a.sa_handler == SIG_DFL) {
    ApplyDefault(sig, info);
    return;
  }
  if (a.sa_flags & SA_RESETHAND) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    SpinLockGuard guard(g_write_lock);
    WriteRecordedLocked(sig, dfl);
  }
  // The mask the kernel would have set for the program's handler; the kernel restores the
  // interrupted mask from the ucontext when the handler returns.
  auto* uc = static_cast<ucontext_t*>(ucontext);
  sigset_t mask = uc->uc_sigmask;
  sigorset(&mask, &mask, &a.sa_mask);
  if (!(a.sa_flags & SA_NODEFER)) sigaddset(&mask, sig);
  SetMask(&mask);
  if (a.sa_flags & SA_SIGINFO) {
    a.sa_sigaction(sig, info, ucontext);
  } else {
    a.sa_handler(sig);
  }
}

}  // namespace cgosan
