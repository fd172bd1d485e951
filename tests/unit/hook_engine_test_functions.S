// Machine code for hook_engine_test.cc: functions shaped like Go's (ABIInternal: arguments
// in RAX, RBX, RCX, RDI, result in RAX, R14 = g with the stack guard at +0x10), each
// beginning with one of the instruction patterns the hook engine resumes from (or, for the
// filtered hooks, Go's stack check with a morestack tail that jumps back to the entry), plus
// C-callable wrappers that set up R14 and the argument registers. Every Go-shaped function
// returns rax + 2*rbx + 3*rcx + 5*rdi + K (K differs per function), or -1 when its stack
// check fails.
  .text

#define FUNC(name) .globl name; .type name, @function; .p2align 4; name:
#define LABEL(name) .globl name; name:

// rax = rax + 2*rbx + 3*rcx + 5*rdi + k (r11 scratch)
.macro COMPUTE k
  lea (%rax,%rbx,2), %rax
  lea (%rcx,%rcx,2), %r11
  add %r11, %rax
  lea (%rdi,%rdi,4), %r11
  add %r11, %rax
  add $\k, %rax
.endm

// uint64_t hook_test_call_go(const void* fn, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
FUNC(hook_test_call_go)
  push %rbp
  mov %rsp, %rbp
  push %rbx
  push %r12
  push %r14
  push %r15
  lea hook_test_fake_g(%rip), %r14
  mov %rdi, %r10
  mov %rsi, %rax
  mov %rdx, %rbx
  mov %r8, %rdi
  call *%r10
  pop %r15
  pop %r14
  pop %r12
  pop %rbx
  pop %rbp
  ret

// uint64_t hook_test_call_abi0(const void* fn, uint64_t arg): arg at 8(%rsp) on entry to fn.
FUNC(hook_test_call_abi0)
  push %rbp
  mov %rsp, %rbp
  push %rsi
  call *%rdi
  leave
  ret

// void hook_test_call_abi0_on_stack(const void* fn, uint64_t arg, void* stack_top): the same
// on another stack (for the exit hook's footprint).
FUNC(hook_test_call_abi0_on_stack)
  push %rbp
  mov %rsp, %rbp
  mov %rdx, %rsp
  push %rsi
  call *%rdi
  leave
  ret

// void hook_test_call_regs(const void* fn, const uint64_t* in): loads every general
// register but RSP (slots: rax rbx rcx rdx rsi rdi rbp r8 r9 r10 r11 r12 r13 r14 r15) and
// XMM15 (slots 15, 16) from in, then calls fn, which stores them to hook_test_regs_out.
FUNC(hook_test_call_regs)
  push %rbp
  push %rbx
  push %r12
  push %r13
  push %r14
  push %r15
  sub $8, %rsp
  mov %rdi, (%rsp)
  movdqu 120(%rsi), %xmm15
  mov 0(%rsi), %rax
  mov 8(%rsi), %rbx
  mov 16(%rsi), %rcx
  mov 24(%rsi), %rdx
  mov 40(%rsi), %rdi
  mov 48(%rsi), %rbp
  mov 56(%rsi), %r8
  mov 64(%rsi), %r9
  mov 72(%rsi), %r10
  mov 80(%rsi), %r11
  mov 88(%rsi), %r12
  mov 96(%rsi), %r13
  mov 104(%rsi), %r14
  mov 112(%rsi), %r15
  mov 32(%rsi), %rsi
  call *(%rsp)
  pxor %xmm15, %xmm15
  add $8, %rsp
  pop %r15
  pop %r14
  pop %r13
  pop %r12
  pop %rbx
  pop %rbp
  ret

.macro STORE_REGS
  mov %rax, hook_test_regs_out+0(%rip)
  mov %rbx, hook_test_regs_out+8(%rip)
  mov %rcx, hook_test_regs_out+16(%rip)
  mov %rdx, hook_test_regs_out+24(%rip)
  mov %rsi, hook_test_regs_out+32(%rip)
  mov %rdi, hook_test_regs_out+40(%rip)
  mov %rbp, hook_test_regs_out+48(%rip)
  mov %r8, hook_test_regs_out+56(%rip)
  mov %r9, hook_test_regs_out+64(%rip)
  mov %r10, hook_test_regs_out+72(%rip)
  mov %r11, hook_test_regs_out+80(%rip)
  mov %r12, hook_test_regs_out+88(%rip)
  mov %r13, hook_test_regs_out+96(%rip)
  mov %r14, hook_test_regs_out+104(%rip)
  mov %r15, hook_test_regs_out+112(%rip)
  movdqu %xmm15, hook_test_regs_out+120(%rip)
.endm

// Register snapshots right after a hooked stack check (out of line) and a hooked push %rbp
// (emulated: RBP is the pushed value, read back after the pop).
FUNC(hook_test_regs_cmp)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  STORE_REGS
  ret
1:
  ud2

FUNC(hook_test_regs_push)
  push %rbp
  pop %rbp
  STORE_REGS
  ret

// The Go stack check with jbe rel32 (most functions) and rel8 (small ones), then a frame.
FUNC(hook_test_cmp_rel32)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  push %rbp
  mov %rsp, %rbp
  COMPUTE 1
  pop %rbp
  ret
1:
  mov $-1, %rax
  ret

// An unhooked twin of hook_test_cmp_rel32, for the cost measurement.
FUNC(hook_test_cmp_rel32_twin)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  push %rbp
  mov %rsp, %rbp
  COMPUTE 1
  pop %rbp
  ret
1:
  mov $-1, %rax
  ret

// The same again for the multi-thread test (a hook of its own).
FUNC(hook_test_threads)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  push %rbp
  mov %rsp, %rbp
  COMPUTE 13
  pop %rbp
  ret
1:
  mov $-1, %rax
  ret

FUNC(hook_test_cmp_rel8)
  cmp 0x10(%r14), %rsp
  {disp8} jbe 1f
  push %rbp
  mov %rsp, %rbp
  COMPUTE 2
  pop %rbp
  ret
1:
  mov $-1, %rax
  ret

// Large frames: lea -N(%rsp),%r12 then cmp 0x10(%r14),%r12 (runtime.gcMarkTermination).
FUNC(hook_test_lea8)
  lea -0x10(%rsp), %r12
  cmp 0x10(%r14), %r12
  {disp32} jbe 1f
  COMPUTE 3
  ret
1:
  mov $-1, %rax
  ret

FUNC(hook_test_lea32)
  lea -0x130(%rsp), %r12
  cmp 0x10(%r14), %r12
  {disp32} jbe 1f
  COMPUTE 4
  ret
1:
  mov $-1, %rax
  ret

// Frame setup: push %rbp (emulated), sub $imm8/imm32,%rsp (out of line).
FUNC(hook_test_push)
  push %rbp
  mov %rsp, %rbp
  COMPUTE 5
  pop %rbp
  ret

FUNC(hook_test_sub8)
  sub $0x28, %rsp
  movq $7, 0x20(%rsp)
  COMPUTE 6
  add 0x20(%rsp), %rax
  add $0x28, %rsp
  ret

FUNC(hook_test_sub32)
  sub $0x200, %rsp
  movq $9, 0x1f8(%rsp)
  COMPUTE 7
  add 0x1f8(%rsp), %rax
  add $0x200, %rsp
  ret

// A return site (emulated ret).
FUNC(hook_test_ret)
  push %rbp
  mov %rsp, %rbp
  COMPUTE 8
  pop %rbp
LABEL(hook_test_ret_site)
  ret

// A call rel32 inside the function (emulated: the return address is the real one).
FUNC(hook_test_call)
  push %rbp
  mov %rsp, %rbp
  COMPUTE 9
LABEL(hook_test_call_site)
  call hook_test_callee
  pop %rbp
  ret

FUNC(hook_test_callee)
  mov (%rsp), %r11
  lea hook_test_call_site+5(%rip), %r10
  cmp %r10, %r11
  jne 1f
  add $1000, %rax
  ret
1:
  mov $-2, %rax   // called with a wrong return address
  ret

// jmp rel32 and jcc rel32/rel8.
FUNC(hook_test_jmp)
  COMPUTE 10
LABEL(hook_test_jmp_site)
  {disp32} jmp 1f
  mov $-3, %rax
1:
  add $100, %rax
  ret

// rax < 16: result + 1; else result + 2.
FUNC(hook_test_jcc32)
  cmp $16, %rax
LABEL(hook_test_jcc32_site)
  {disp32} jae 1f
  COMPUTE 11
  add $1, %rax
  ret
1:
  COMPUTE 11
  add $2, %rax
  ret

FUNC(hook_test_jcc8)
  cmp $16, %rax
LABEL(hook_test_jcc8_site)
  {disp8} jae 1f
  COMPUTE 12
  add $1, %rax
  ret
1:
  COMPUTE 12
  add $2, %rax
  ret

// ABI0: the argument on the stack (runtime.exit's first instruction).
FUNC(hook_test_mov_edi)
  mov 0x8(%rsp), %edi
  mov %rdi, %rax
  ret

// runtime.exit's shape: exit_group(8(%rsp)).
FUNC(hook_test_exit_like)
  mov 0x8(%rsp), %edi
  mov $231, %eax
  syscall
  ret

// Filtered hooks (HookEngine::InstallFiltered): Go stack-check entries, one per hook, the
// filtered fields reached through the argument registers (pointers to test blocks).
.macro GO_FUNC_BODY k
  push %rbp
  mov %rsp, %rbp
  COMPUTE \k
  pop %rbp
  ret
1:
  mov $-1, %rax
  ret
.endm

FUNC(hook_test_filter_rel32)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  GO_FUNC_BODY 20

FUNC(hook_test_filter_rel8)
  cmp 0x10(%r14), %rsp
  {disp8} jbe 1f
  GO_FUNC_BODY 21

FUNC(hook_test_filter_w4)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  GO_FUNC_BODY 22

FUNC(hook_test_filter_w8)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  GO_FUNC_BODY 23

FUNC(hook_test_filter_w8_big)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  GO_FUNC_BODY 24

FUNC(hook_test_filter_sigmask)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  GO_FUNC_BODY 27

FUNC(hook_test_filter_threads)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  GO_FUNC_BODY 25

FUNC(hook_test_filter_cost)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  GO_FUNC_BODY 1

// A morestack tail like Go's: "grows the stack" (the guard drops to 0), counts, and jumps
// back to the entry, which re-runs the stack check (and the filter).
.macro MORESTACK_TAIL entry
1:
  movq $0, 0x10(%r14)
  incq hook_test_morestack_calls(%rip)
  jmp \entry
.endm

FUNC(hook_test_filter_morestack32)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  push %rbp
  mov %rsp, %rbp
  COMPUTE 26
  pop %rbp
  ret
  MORESTACK_TAIL hook_test_filter_morestack32

FUNC(hook_test_filter_morestack8)
  cmp 0x10(%r14), %rsp
  {disp8} jbe 1f
  push %rbp
  mov %rsp, %rbp
  COMPUTE 27
  pop %rbp
  ret
  MORESTACK_TAIL hook_test_filter_morestack8

// Register snapshot after a filtered entry; RSP (as at entry) in slot 17.
FUNC(hook_test_filter_regs)
  cmp 0x10(%r14), %rsp
  {disp32} jbe 1f
  STORE_REGS
  mov %rsp, hook_test_regs_out+136(%rip)
  ret
1:
  ud2

// Entries InstallFiltered refuses: a large-frame stack check, and a stack check followed by
// something other than jbe.
FUNC(hook_test_filter_refused_lea)
  lea -0x10(%rsp), %r12
  cmp 0x10(%r14), %r12
  {disp32} jbe 1f
  GO_FUNC_BODY 28

FUNC(hook_test_filter_refused_jb)
  cmp 0x10(%r14), %rsp
  {disp32} jb 1f
  GO_FUNC_BODY 29

// Not a pattern the engine knows: a RIP-relative load.
FUNC(hook_test_unsupported)
  mov hook_test_unsupported_value(%rip), %rax
  ret

// A breakpoint that is not the engine's.
FUNC(hook_test_foreign_int3)
  int3
  mov $42, %eax
  ret

  .data
  .p2align 4
  .globl hook_test_fake_g
hook_test_fake_g:   // g: stack.lo, stack.hi, stackguard0 (0: the stack check passes)
  .quad 0, 0, 0, 0, 0, 0, 0, 0
  .globl hook_test_regs_out
hook_test_regs_out:
  .zero 144
  .globl hook_test_morestack_calls
hook_test_morestack_calls:
  .quad 0
hook_test_unsupported_value:
  .quad 77

  .section .note.GNU-stack, "", @progbits
