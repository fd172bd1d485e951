#!/usr/bin/env python3
"""cgosan keeps its SIGSEGV/SIGBUS handler in front, but the program must not notice: its
sigaction queries see only what it installed, its handlers receive its faults with the
original siginfo and ucontext, faults nobody handles end the process by the same signal,
and Go's own nil-pointer panics and crash output are unchanged.
"""

import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CgosanTestCase, build_go, compile_c, mask_hex, run  # noqa: E402


class VirtualSigactionTable(CgosanTestCase):
    def check_mode(self, mode):
        pre, plain = self.assertSameAsPlain([compile_c("sigaction_virtual"), mode])
        self.assertEqual(plain.returncode, 0, plain.describe())
        self.assertTrue(pre.stdout.endswith("done\n"), pre.describe())
        self.assertNotIn("OTHER(", pre.stdout, "a query returned a handler the program never "
                         "installed\n" + pre.describe())
        return pre

    def test_queries_installs_and_delivery(self):
        pre = self.check_mode("table")
        self.assertIn("initial SIGSEGV: r=0 handler=SIG_DFL", pre.stdout)
        self.assertIn("query: r=0 handler=on_fault flags=SIGINFO|RESTART mask_usr1=1",
                      pre.stdout)
        self.assertIn("null read 0x8: signo=11 code=1 addr_ok=1 has_uc=1 write=0", pre.stdout)
        self.assertIn("query after resethand fault: r=0 handler=SIG_DFL", pre.stdout)
        self.assertIn("signal(on_plain2) returned on_plain", pre.stdout)
        self.assertIn("query SIGBUS: r=0 handler=SIG_IGN", pre.stdout)

    def test_table_unguarded(self):
        prog = compile_c("sigaction_virtual")
        pre = run([prog, "table"], options=["guard=none"])
        self.assertSameAsPlain([prog, "table"], preloaded=pre)

    def test_handler_signal_mask(self):
        self.check_mode("mask")

    def test_handler_on_program_altstack(self):
        pre = self.check_mode("altstack")
        self.assertIn("on_altstack=1", pre.stdout)


class UnhandledFaults(CgosanTestCase):
    def check_dies_like_plain(self, mode, signo):
        prog = compile_c("default_segv")
        plain = run([prog, mode], preload=False)
        self.assertKilledBy(plain, signo)
        pre = run([prog, mode])
        self.assertKilledBy(pre, signo)
        self.assertNoReport(pre)
        self.assertEqual(pre.stdout, plain.stdout)
        self.assertEqual(pre.stdout, f"start {mode}\n")

    def test_null_read(self):
        self.check_dies_like_plain("null", signal.SIGSEGV)

    def test_null_write(self):
        self.check_dies_like_plain("null_write", signal.SIGSEGV)

    def test_write_to_rodata(self):
        self.check_dies_like_plain("rodata", signal.SIGSEGV)

    def test_program_prot_none_mapping(self):
        self.check_dies_like_plain("prot_none", signal.SIGSEGV)

    def test_sigbus(self):
        self.check_dies_like_plain("bus", signal.SIGBUS)

    def test_abort(self):
        self.check_dies_like_plain("abort", signal.SIGABRT)


def go_crash_lines(stderr):
    """Go's crash output with addresses masked, up to the end of the crashing goroutine's
    trace (goroutine 1). The other goroutines of a fatal error's dump (GC workers, the
    finalizer) race with the crash: their states and ids vary from run to run."""
    lines = mask_hex(stderr).splitlines()
    out, in_g1 = [], False
    for line in lines:
        if line.startswith("goroutine 1 "):
            in_g1 = True
        elif in_g1 and not line.strip():
            break
        out.append(line)
    return out


class GoSignals(CgosanTestCase):
    def test_nil_dereference_recovered(self):
        prog = build_go("nil_recover")
        pre, plain = self.assertSameAsPlain([prog, "recover"], compare_stderr=True)
        self.assertExit(pre, 0)
        self.assertIn("recovered: runtime error: invalid memory address or nil pointer "
                      "dereference\n", pre.stdout)
        self.assertIn("count: 100\n", pre.stdout)

    def check_go_crash(self, mode, must_contain):
        prog = build_go("nil_recover")
        plain = run([prog, mode], preload=False)
        self.assertExit(plain, 2)
        for s in must_contain:
            self.assertIn(s, plain.stderr, plain.describe())
        pre = run([prog, mode])
        self.assertExit(pre, 2)
        self.assertNoReport(pre)
        self.assertEqual(pre.stdout, plain.stdout)
        for s in must_contain:
            self.assertIn(s, pre.stderr, pre.describe())
        self.assertEqual(go_crash_lines(pre.stderr), go_crash_lines(plain.stderr),
                         "Go's crash output differs from the plain run\n" + pre.describe()
                         + "\n--- plain stderr ---\n" + plain.stderr)

    def test_nil_dereference_not_recovered(self):
        self.check_go_crash("crash", [
            "panic: runtime error: invalid memory address or nil pointer dereference\n",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x8 pc=",
            "main.deref("])

    def test_null_dereference_in_c(self):
        self.check_go_crash("cnull", [
            "fatal error: unexpected signal during runtime execution\n",
            "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=",
            "main._Cfunc_c_null_read("])


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
