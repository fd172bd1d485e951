// The fault handler. Async-signal-safe throughout: the explanation is arithmetic on the
// guarded pool, the report is built in static buffers under the report lock, and malloc
// is served from the report arena meanwhile.
#include "preload/fault_handler.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/findings.h"
#include "preload/go_fault.h"
#include "preload/process_state.h"
#include "preload/signal_table.h"
#include "preload/thread_state.h"
#include "report/report_writer.h"
#include "shadow/base/text_buffer.h"
#include "shadow/guarded_pool.h"
#include "shadow/options.h"

namespace cgosan {
namespace {

// The last fault this thread reported: if the program's handler returns without fixing it,
// the same instruction faults again and must not loop or report twice.
__thread uintptr_t t_reported_addr __attribute__((tls_model("initial-exec")));
__thread uintptr_t t_reported_pc __attribute__((tls_model("initial-exec")));

[[noreturn]] void DieInsideCgosan(int sig, siginfo_t* info) {
  InlineTextBuffer<160> line;
  line.Append("internal error: signal ").Dec(sig).Append(" at address ");
  line.Hex(reinterpret_cast<uintptr_t>(info->si_addr)).Append(" inside cgosan's own report code");
  PrintLine(line.data());
  _exit(static_cast<int>(GetOptions().exitcode));
}

// Reported already and the program's handler returned: end as promised.
[[noreturn]] void EndAfterReportedFault() { _exit(static_cast<int>(GetOptions().exitcode)); }

void RememberReported(uintptr_t addr, uintptr_t pc, int sig) {
  t_reported_addr = addr;
  t_reported_pc = pc;
  SetFatalFindingReported();
  if (!SignalTable::ProgramHasHandler(sig)) _exit(static_cast<int>(GetOptions().exitcode));
  // The program's own handler ends it its way (Go prints its crash and exits 2).
}

}  // namespace

void OnFaultSignal(int sig, siginfo_t* info, void* ucontext) {
  int saved_errno = errno;
  if (ThisThreadIsReporting()) DieInsideCgosan(sig, info);
  uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  auto* uc = static_cast<ucontext_t*>(ucontext);
  uintptr_t pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  bool synchronous = info->si_code > 0;
  if (synchronous && GuardedPool::Contains(addr)) {
    if (addr == t_reported_addr && pc == t_reported_pc) EndAfterReportedFault();
    PoolFaultInfo explained = GuardedPool::ExplainFault(addr);
    if (explained.kind == PoolFaultInfo::kUseAfterFree ||
        explained.kind == PoolFaultInfo::kOverflow) {
      if (!AcquireReportLock(true)) DieInsideCgosan(sig, info);
      ReportPoolFault(explained, sig, info, ucontext);
      if (!SignalTable::ProgramHasHandler(sig)) SayOtherFindingsWaiting();
      ReleaseReportLock();
      RememberReported(addr, pc, sig);
    }
  } else if (synchronous && IsGoProcess()) {
    // Static: the explanation holds two records, too much for Go's 32 KiB signal stack
    // next to the report; faults are reported one at a time under the report lock anyway.
    static GoFaultExplanation explained;
    if (addr == t_reported_addr && pc == t_reported_pc) EndAfterReportedFault();
    if (!AcquireReportLock()) DieInsideCgosan(sig, info);
    if (ExplainGoFault(addr, &explained)) {
      ReportGoFault(explained, sig, info, ucontext);
      if (!SignalTable::ProgramHasHandler(sig)) SayOtherFindingsWaiting();
      ReleaseReportLock();
      RememberReported(addr, pc, sig);
    } else {
      ReleaseReportLock();
    }
  }
  SignalTable::DeliverToProgram(sig, info, ucontext);
  errno = saved_errno;
}

}  // namespace cgosan
