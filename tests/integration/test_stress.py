#!/usr/bin/env python3
"""Correct programs under load (issue 8): no crash, no deadlock (each run has a timeout), no
false finding, the right result, and a bounded peak RSS (ru_maxrss from wait4: the largest
of the process and its waited-for children).

- C: tests/programs/c/mt_stress, 8 threads x 1,000,000 operations each of malloc, calloc,
  realloc, posix_memalign, memalign, aligned_alloc and free on mixed sizes (0 B .. 300 KiB),
  contents and alignment checked, with cgosan's defaults (guard=all in a C program).
- Go, every installed toolchain, under `scripts/cgosan run` (efence from Go 1.21 on), from
  tests/programs/go/stress:
    cgocalls 1000 100  1000 goroutines, each 100 rounds of C.CString, a C call that calls
                       back into Go, C.free, C.malloc/C.free (100,000 callbacks);
    maps 100 20000     100 goroutines each growing two maps to 20,000 entries, clearing
                       them (range-delete: the hooked growth and clear functions), cgo
                       calls in between;
    fork 20            20 forks from C while Go's threads and 4 C threads allocate: the odd
                       children keep allocating (20,000 mallocs, two threads of their own)
                       and exit(0); the even ones exec /bin/echo; then 8 goroutines run
                       os/exec /bin/true 5 times each.
Each run's wall time and peak RSS are printed (stderr) for the README's figures.

Environment (set by CMake): CGOSAN_LIB, CGOSAN_BUILD_DIR.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import go_toolchains  # noqa: E402
import test_go_matrix as matrix  # noqa: E402
from harness import CgosanTestCase, compile_c  # noqa: E402
from test_go_cgo_suite import VERBOSE_LINE  # noqa: E402  (cgosan's verbosity-1 lines)

WRAPPER = harness.REPO / "scripts" / "cgosan"
MIB = 1024  # ru_maxrss is in KiB

# Peak RSS bounds (MiB), about twice what was measured on the 2-core VM (2026-12-02):
# C stress 22 MiB (guard=all: freed blocks wait in guarded slots); cgocalls 26-32, maps
# 38-61; fork 191-212 while unguarded freed blocks shared quarantine_mb (64 MiB), 12-13 since
# they have their own 4 MiB (quarantine_unguarded_mb).
C_STRESS_RSS_MIB = 128
GO_RSS_MIB = {"cgocalls": 128, "maps": 192, "fork": 64}
C_STRESS_OPS = 1000000
C_STRESS_TIMEOUT = 2400  # about 4 minutes now on 2 cores; the allocator fast path is being sped up
GO_TIMEOUT = 600
GO_RUNS = {
    "cgocalls": (["1000", "100"], "cgocalls: goroutines=1000 rounds=100 callbacks=100000 bad=0\n"),
    "maps": (["100", "20000"], "maps: goroutines=100 entries=20000 bad=0\n"),
    "fork": (["20"], "fork: children=20 failed=0 exec_failed=0\n"),
}


def run_measured(argv, env, timeout):
    """(returncode, stdout, stderr, peak RSS in KiB, seconds); kills the process group and
    fails on timeout (a deadlock)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([str(a) for a in argv], env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() - start > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                out.seek(0)
                err.seek(0)
                raise AssertionError(f"timeout after {timeout}s (deadlock?): {argv}\n"
                                     f"{out.read()[-2000:]!r}\n{err.read()[-4000:]!r}")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        secs = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), usage.ru_maxrss, secs)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS", "GODEBUG", "GOTRACEBACK")}
    env.update(extra)
    return env


class Stress(CgosanTestCase):
    def check(self, rc, out, err, logs, expect_stdout, what):
        ctx = f"\n{what}: exit {rc}\n--- stdout ---\n{out[-2000:]}\n--- stderr ---\n{err[-6000:]}"
        self.assertEqual(sorted(os.listdir(logs)), [], "findings written" + ctx)
        self.assertEqual(rc, 0, ctx)
        self.assertTrue(out.endswith(expect_stdout), ctx)
        self.assertNotIn("FAIL", out, ctx)
        return ctx

    def test_c_malloc_8_threads_1m(self):
        prog = compile_c("mt_stress")
        logs = harness.make_temp_dir()
        rc, out, err, rss, secs = run_measured(
            [prog, str(C_STRESS_OPS)],
            clean_env(LD_PRELOAD=harness.lib_path(), CGOSAN_OPTIONS="log_path=" + logs),
            C_STRESS_TIMEOUT)
        print(f"  mt_stress 8 x {C_STRESS_OPS}: {secs:.1f} s, peak RSS {rss / MIB:.1f} MiB",
              file=sys.stderr)
        ctx = self.check(rc, out, err, logs, f"OK 8 {C_STRESS_OPS}\n", "mt_stress")
        self.assertEqual(err, "", "cgosan said something" + ctx)
        self.assertLess(rss, C_STRESS_RSS_MIB * MIB, f"peak RSS {rss} KiB" + ctx)

    def test_go_stress(self):
        toolchains = go_toolchains.toolchains()
        self.assertTrue(toolchains, "no Go toolchain found")
        for version, goroot in toolchains:
            with self.subTest(go=version, mode="build"):
                prog = matrix.build_program(version, goroot, "stress")
            for mode, (args, expect) in GO_RUNS.items():
                with self.subTest(go=version, mode=mode):
                    logs = harness.make_temp_dir()
                    # maps: at verbosity=1, so that the test sees the runtime hooks armed.
                    opts = "log_path=" + logs + (":verbosity=1" if mode == "maps" else "")
                    env = clean_env(CGOSAN_LIB=harness.lib_path(), CGOSAN_OPTIONS=opts)
                    rc, out, err, rss, secs = run_measured(
                        [WRAPPER, "run", "--", prog, mode] + args, env, GO_TIMEOUT)
                    print(f"  go {version} stress {mode}: {secs:.1f} s, peak RSS "
                          f"{rss / MIB:.1f} MiB", file=sys.stderr)
                    ctx = self.check(rc, out, err, logs, expect, f"go {version} {mode}")
                    said = [ln for ln in err.splitlines() if "cgosan" in ln
                            and not ln.startswith("cgosan: not adding efence=1 to GODEBUG: Go 1.19")
                            and not VERBOSE_LINE.match(ln)]
                    self.assertEqual(said, [], "cgosan said something" + ctx)
                    if mode == "maps":
                        self.assertRegex(err, r"(?m)^==\d+==cgosan: runtime hooks: .*"
                                         r"(hashGrow|\(\*table\)\.grow)", ctx)
                    self.assertLess(rss, GO_RSS_MIB[mode] * MIB, f"peak RSS {rss} KiB" + ctx)


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
