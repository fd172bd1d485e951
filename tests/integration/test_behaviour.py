#!/usr/bin/env python3
"""Behaviour identity: correct cgo programs behave the same with and without cgosan, for
every installed Go toolchain (each toolchain and mode a subTest).

tests/programs/go/behaviour has one mode per thing a real program does through cgo or the
runtime's signal machinery: net (the cgo resolver, GODEBUG=netdns=cgo, resolving localhost,
plus a TCP echo over 127.0.0.1), user (os/user's cgo lookups: Current, Lookup, GroupIds),
dlopen (a C library loaded with dlopen, no plugin), cxx (C++ that throws and catches),
cthreads (threads created in C calling an exported Go function), notify (signal.Notify,
SIGUSR1 and SIGHUP sent to itself, then an ignored SIGHUP), sigquit (SIGQUIT sent to its own thread: Go's goroutine
dump on stderr and exit 2, GOTRACEBACK unset), lockosthread (runtime.LockOSThread with cgo
calls, the thread id checked), goroutines (10000 goroutines, a cgo call in every tenth).
tests/programs/gotest/timeoutpkg is a test binary (go test -c) whose test outlives
-test.timeout=1s: "panic: test timed out" and exit 2.

Each is run three times: twice without cgosan, once under `scripts/cgosan run` (what a user
runs: GODEBUG gets efence=1 from Go 1.21 on) with CGOSAN_OPTIONS=log_path=<dir> only
(default verbosity). Stdout, the exit status and stderr must be identical after
normalise(), and no finding may be written. The two plain runs must agree after
normalise() too, which keeps the normalisation honest: it may only remove what differs
between two runs of the same program without cgosan. Normalised, and nothing else:
  - hex numbers (addresses, pcs, fp/sp, argument words, register values) -> 0x?;
  - goroutine ids ("goroutine 19 [", "created by ... in goroutine 7") -> N;
  - the M that took the signal ("m=0") -> m=N;
  - a wait duration in a goroutine header (", 2 minutes") and the rounded running time
    of a test in go test's timeout panic ("TestX (1s)") are removed;
  - goroutine blocks whose frames are all runtime.* (GC workers, the finalizer, the
    scavenger: their states race with the GC) are dropped from a dump.
The one line cgosan may add is the wrapper's documented note for Go older than 1.21
("cgosan: not adding efence=1 to GODEBUG: Go 1.19's runtime.ReadMemStats aborts ..."),
which scripts/cgosan prints before it execs the program; it must be the first stderr line
and is removed before the comparison. Nothing else from cgosan: the library itself says
nothing at default verbosity.

Environment (set by CMake): CGOSAN_LIB, CGOSAN_BUILD_DIR.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import go_toolchains  # noqa: E402
import test_go_matrix as matrix  # noqa: E402  (its build helpers; its tests do not run here)
from harness import CgosanTestCase, run  # noqa: E402

WRAPPER = harness.REPO / "scripts" / "cgosan"
TIMEOUT_PKG = harness.REPO / "tests" / "programs" / "gotest" / "timeoutpkg"
RUN_TIMEOUT = 180

# mode -> extra environment (the same in every run).
MODES = {
    "net": {"GODEBUG": "netdns=cgo"},
    "user": {},
    "dlopen": {},
    "cxx": {},
    "cthreads": {},
    "notify": {},
    "sigquit": {},
    "lockosthread": {},
    "goroutines": {},
}
# What each mode's stdout must contain (so that a program that stops doing its work fails).
EXPECTED_STDOUT = {
    "net": "localhost: 127.0.0.1",
    "user": "root: 0 0 /root",
    "dlopen": "cos(0) via dlopen: 1\nmissing symbol: 1\n",
    "cxx": "caught: 1000\nvector sum: 299995\n",
    "cthreads": "c threads total: 16000 callbacks: 16000\n",
    "notify": "got user defined signal 1\ngot hangup\ngot user defined signal 1\n"
              "after ignored SIGHUP\n",
    "sigquit": "sending SIGQUIT\n",
    "lockosthread": "thread changed while locked: 0\n",
    "goroutines": "goroutines: 10000 sum: 49995000\n",
}

WRAPPER_NOTE = re.compile(r"^cgosan: not adding efence=1 to GODEBUG: Go 1\.(1[0-9]|20)'s ")


def _runtime_only(block):
    """A goroutine block of a dump whose frames are all the runtime's."""
    lines = block.splitlines()
    if not lines or not lines[0].startswith("goroutine "):
        return False
    funcs = [ln for ln in lines[1:] if ln and not ln.startswith("\t")]
    return bool(funcs) and all(re.match(r"(created by )?runtime\.", f) for f in funcs)


def normalise(text):
    """What may differ between two runs of the same program; see the module docstring."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", text)
    text = re.sub(r"\bgoroutine \d+", "goroutine N", text)
    text = re.sub(r"\bm=\d+", "m=N", text)
    text = re.sub(r", \d+ minutes\]", "]", text)
    text = re.sub(r"(?m)^(\t\S+) \(\d+(\.\d+)?[mun]?s\)$", r"\1", text)
    blocks = text.split("\n\n")
    return "\n\n".join(b for b in blocks if not _runtime_only(b))


def build_timeout_test(version, goroot):
    """go test -c of tests/programs/gotest/timeoutpkg with this toolchain; cached."""
    dst = harness.cache_dir() / version / "gotest" / "timeoutpkg"
    dst.mkdir(parents=True, exist_ok=True)
    srcs = sorted(p for p in TIMEOUT_PKG.iterdir() if p.is_file())
    for src in srcs:
        d = dst / src.name
        if not d.exists() or d.read_bytes() != src.read_bytes():
            shutil.copyfile(src, d)
    out = dst / "timeoutpkg.test"
    if not harness._up_to_date(out, srcs):
        r = subprocess.run([go_toolchains.go_binary(goroot), "test", "-c", "-o", str(out), "."],
                           cwd=str(dst), env=matrix.build_env(goroot, module=True),
                           capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"go {version}: go test -c failed:\n{r.stdout}{r.stderr}")
    return str(out)


class BehaviourIdentity(CgosanTestCase):
    @classmethod
    def setUpClass(cls):
        cls.toolchains = go_toolchains.toolchains()
        if not cls.toolchains:
            raise RuntimeError("no Go toolchain found (install golang-go)")

    def under_cgosan(self, argv, env):
        logs = harness.make_temp_dir()
        e = dict(env)
        e.update({"CGOSAN_LIB": harness.lib_path(), "CGOSAN_BUILD_DIR": str(harness.build_dir()),
                  "CGOSAN_OPTIONS": "log_path=" + logs})
        res = run([str(WRAPPER), "run", "--"] + argv, preload=False, env=e, timeout=RUN_TIMEOUT)
        return res, sorted(os.listdir(logs))

    def check_same(self, version, argv, env=None, expect_code=0, expect_stdout=None,
                   expect_stderr=()):
        env = env or {}
        plain = run(argv, preload=False, env=env, timeout=RUN_TIMEOUT)
        plain2 = run(argv, preload=False, env=env, timeout=RUN_TIMEOUT)
        pre, logs = self.under_cgosan(argv, env)
        ctx = (f"\n--- plain stderr ---\n{plain.stderr[-4000:]}\n--- cgosan run ---\n"
               + pre.describe())
        self.assertEqual(plain.returncode, expect_code, plain.describe())
        if expect_stdout is not None:
            self.assertIn(expect_stdout, plain.stdout, plain.describe())
        for s in expect_stderr:
            self.assertIn(s, plain.stderr, plain.describe())
        # The normalisation only hides what differs between two plain runs.
        self.assertEqual(plain.stdout, plain2.stdout, "two plain runs differ in stdout")
        self.assertEqual(plain.returncode, plain2.returncode)
        self.assertEqual(normalise(plain.stderr), normalise(plain2.stderr),
                         "two plain runs differ in stderr after normalise()\n--- run 1 ---\n"
                         + plain.stderr[-4000:] + "\n--- run 2 ---\n" + plain2.stderr[-4000:])
        self.assertEqual(logs, [], "findings written" + ctx)
        self.assertEqual(pre.returncode, plain.returncode, "exit status differs" + ctx)
        self.assertEqual(pre.stdout, plain.stdout, "stdout differs" + ctx)
        stderr = pre.stderr
        if go_toolchains.short_version(version) in ("1.19", "1.20"):
            first, _, rest = stderr.partition("\n")
            self.assertRegex(first, WRAPPER_NOTE, "the wrapper's efence note" + ctx)
            stderr = rest
        self.assertNotIn("cgosan", stderr, "cgosan said something" + ctx)
        self.assertEqual(normalise(stderr), normalise(plain.stderr),
                         "Go's stderr differs after normalise()" + ctx)
        return plain, pre

    def test_modes(self):
        for version, goroot in self.toolchains:
            with self.subTest(go=version, mode="build"):
                prog = matrix.build_program(version, goroot, "behaviour")
            with self.subTest(go=version, mode="attached"):
                # The runs compared below are really under cgosan: at verbosity=1 it says so.
                res = run([str(WRAPPER), "run", "--", prog, "cxx"], preload=False,
                          env={"CGOSAN_LIB": harness.lib_path(), "CGOSAN_OPTIONS": "verbosity=1"},
                          timeout=RUN_TIMEOUT)
                self.assertRegex(res.stderr, r"(?m)^==\d+==cgosan: attached: .*Go program go"
                                 + re.escape(version), res.describe())
            for mode, env in MODES.items():
                with self.subTest(go=version, mode=mode):
                    if mode == "sigquit":
                        self.check_same(version, [prog, mode], env, expect_code=2,
                                        expect_stdout=EXPECTED_STDOUT[mode],
                                        expect_stderr=["SIGQUIT: quit\n", "main.parked(",
                                                       "syscall.Tgkill("])
                    else:
                        plain, _ = self.check_same(version, [prog, mode], env,
                                                   expect_stdout=EXPECTED_STDOUT[mode])
                        self.assertTrue(plain.stdout.endswith("done\n"), plain.describe())
                        self.assertEqual(plain.stderr, "", plain.describe())

    def test_go_test_timeout(self):
        for version, goroot in self.toolchains:
            with self.subTest(go=version):
                prog = build_timeout_test(version, goroot)
                self.check_same(version, [prog, "-test.timeout=1s"], expect_code=2,
                                expect_stderr=["panic: test timed out after 1s",
                                               "timeoutpkg.TestOutlivesTimeout("])


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
