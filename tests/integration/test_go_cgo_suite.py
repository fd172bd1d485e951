#!/usr/bin/env python3
"""Go's own cgo test suite, run under `cgosan test` with every installed Go toolchain.

The suite is copied out of each toolchain's source under <build>/go-cgo-suite/<version>/
and given go.mod files by go_cgo_suite.py (shared with scripts/bench, which says how).

Then, per toolchain: the copy must pass with plain `go test -short` (checked first, so a
failure of the suite itself is not blamed on cgosan) and under
`scripts/cgosan test -short -v ./...` (so GODEBUG gets efence=1, the wrapper's default) with
CGOSAN_OPTIONS=verbosity=1:log_path=<dir>:suppressions=go_cgo_suite.supp: exit 0, no
finding written, the test binary attached as a Go program of that version with its cgo
calls intercepted (no "Go features off"), and no other line that mentions cgosan than those
verbosity-1 lines (attached, runtime hooks, audits, the audits' statistics at exit, passive,
suppressed). The suppressions are the suite's own true leaks (two tests never free a C
block), each explained in the file. -v makes go test show the test binaries' stderr.

Left out, with the reason:
  - Go 1.19 TestCrossPackageTests (pkg_test.go, with its helper overlaydir_test.go): it
    runs `go test` on testdata from inside the test binary, so under cgosan the go
    command and the compiler would inherit the preload and GODEBUG. The testdata package is
    run directly instead (the <copy>/cgotest module above), which puts its tests under
    cgosan too.
Nothing else is left out. Tests that skip themselves here, as upstream: Test3250 (signal
delivery, skipped on every system), Test8517 and Test42018 (Windows only), Test21897 (macOS
only), Test18146 (not with -short, which upstream's dist test uses too). Root-only tests
(Test1435, TestSetgid*) run when the tests run as root and skip themselves otherwise.

Environment: CGOSAN_LIB, CGOSAN_BUILD_DIR (set by CMake); build caches live in
<build>/go-cgo-suite/cache. Budget: about 10 minutes for five toolchains on 2 cores with a
cold cache.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import go_cgo_suite  # noqa: E402
import go_toolchains  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "scripts" / "cgosan"
BUILD_DIR = Path(os.environ.get("CGOSAN_BUILD_DIR") or (ROOT / "build")).resolve()
LIB = os.environ.get("CGOSAN_LIB") or str(BUILD_DIR / "lib" / "libcgosan.so")
WORK = BUILD_DIR / "go-cgo-suite"

# Per go test run (compiling the suite with a warm cache takes most of it).
GO_TEST_TIMEOUT = 900

# The lines cgosan prints at verbosity=1 (preload/attach.cc), after the "==PID==" prefix.
VERBOSE_LINE = re.compile(
    r"^==\d+==cgosan: (attached: |runtime hooks[: ]|passive: |audits: |retention audits: \d+ passes"
    r"|suppressed \d+ finding)")
# True leaks of the suite's own test code (each explained in the file), suppressed.
SUPPRESSIONS = Path(__file__).resolve().parent / "go_cgo_suite.supp"

def suite_env(goroot, **extra):
    return go_cgo_suite.suite_env(goroot, WORK / "cache", **extra)


def run_go_test(argv, cwd, env):
    start = time.monotonic()
    r = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=GO_TEST_TIMEOUT)
    return r, time.monotonic() - start


def tail(text, n=6000):
    return text if len(text) <= n else "...\n" + text[-n:]


class CgoSuite(unittest.TestCase):
    maxDiff = None

    def check_toolchain(self, version, goroot):
        found = go_cgo_suite.suite_source(goroot)
        if found is None:
            self.skipTest(f"Go {version}: no cgo test suite in {goroot} "
                          "(install its -src package)")
        dest = WORK / version
        mods = go_cgo_suite.prepare(goroot, dest)
        go = go_toolchains.go_binary(goroot)
        for mod in mods:
            rel = mod.relative_to(WORK)
            with self.subTest(module=str(rel), mode="plain"):
                r, secs = run_go_test([go, "test", "-short", "-count=1", "./..."], mod,
                                      suite_env(goroot))
                print(f"  {rel}: plain go test {secs:.0f}s", file=sys.stderr)
                self.assertEqual(r.returncode, 0, f"plain go test fails in {mod}:\n"
                                 + tail(r.stdout + r.stderr))
            with self.subTest(module=str(rel), mode="cgosan"):
                logs = Path(tempfile.mkdtemp(prefix="suite-logs-"))
                self.addCleanup(shutil.rmtree, logs, ignore_errors=True)
                env = suite_env(goroot, CGOSAN_LIB=LIB, CGOSAN_BUILD_DIR=str(BUILD_DIR),
                                CGOSAN_OPTIONS=f"verbosity=1:log_path={logs}:"
                                f"suppressions={SUPPRESSIONS}")
                r, secs = run_go_test([str(WRAPPER), "test", "-short", "-v", "./..."], mod,
                                      env)
                print(f"  {rel}: cgosan test {secs:.0f}s", file=sys.stderr)
                out = r.stdout + r.stderr
                self.assertEqual(r.returncode, 0, f"cgosan test fails in {mod}:\n" + tail(out))
                self.assertEqual(sorted(os.listdir(logs)), [], "findings written:\n" + tail(out))
                self.check_said(out, version)

    def check_said(self, out, version):
        """Only verbosity-1 lines, and the test binary attached as a Go program."""
        lines = out.splitlines()
        paths = sorted({str(p) for p in (ROOT, BUILD_DIR, Path(LIB), WORK)}, key=len,
                       reverse=True)

        def mentions_cgosan(line):
            for p in paths:
                line = line.replace(p, "")
            return "cgosan" in line.lower()

        said = [ln for ln in lines if mentions_cgosan(ln)]
        # Before Go 1.21 the wrapper leaves efence out and says so, once per test binary.
        minor = int(go_toolchains.short_version(version).split(".")[1])
        expected_note = (lambda ln: minor < 21 and ln.startswith(
            "cgosan: not adding efence=1 to GODEBUG: Go 1."))
        unexpected = [ln for ln in said if not VERBOSE_LINE.match(ln) and not expected_note(ln)]
        self.assertEqual(unexpected, [], "cgosan said more than its verbosity-1 lines:\n"
                         + tail(out))
        attached = [ln for ln in said if "cgosan: attached: " in ln]
        self.assertTrue(attached, "the test binary did not attach cgosan:\n" + tail(out))
        for ln in attached:
            self.assertIn(f"Go program go{version}", ln)
            self.assertIn("cgo call variables intercepted", ln)
            self.assertNotIn("Go features off", ln)


def _add_toolchain_tests():
    for version, goroot in go_toolchains.toolchains():
        short = go_toolchains.short_version(version).replace(".", "_")

        def test(self, version=version, goroot=goroot):
            self.check_toolchain(version, goroot)
        test.__name__ = f"test_go{short}"
        test.__doc__ = f"Go {version} ({goroot})"
        setattr(CgoSuite, test.__name__, test)


_add_toolchain_tests()


if __name__ == "__main__":
    unittest.main(verbosity=2)
