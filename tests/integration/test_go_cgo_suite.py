#!/usr/bin/env python3
"""Go's own cgo test suite, run under `cgosan test` with every installed Go toolchain.

The suite ships in each toolchain's source: misc/cgo/test in Go 1.19 (plus its testdata,
which upstream's TestCrossPackageTests runs as a module "cgotest" of its own),
src/cmd/cgo/internal/test from Go 1.21 on. Each is copied under
<build>/go-cgo-suite/<version>/ and given a go.mod:

  1.19   <copy>/misc/cgo/test, module "misc" (the suite's upstream module, so function
         names in stack checks read "misc/cgo/test.f" as upstream expects), and
         <copy>/cgotest, the testdata directory as module "cgotest" (as upstream does).
  1.21+  <copy>/test, module "test": import paths "cmd/cgo/internal/test/X" are rewritten to
         "test/X" (TestCallbackCallers strips "cmd/cgo/internal/" from function names and
         expects "test.f"), and the two std-internal imports are replaced by small stub
         packages in the copy: internal/testenv (Builder() is "": not a Go builder) and
         internal/asan (Enabled is false: the copy is not built with -asan).

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

TESTENV_STUB = """\
// Package testenv stands in for std's internal/testenv in cgosan's copy of the cgo suite.
package testenv

import "testing"

// Builder is the name of the Go builder this runs on: none.
func Builder() string { return "" }

// SkipFlaky skips t, as upstream's does unless flaky tests are asked for.
func SkipFlaky(t testing.TB, issue int) { t.Skipf("skipping known flaky test (issue %d)", issue) }
"""

ASAN_STUB = """\
// Package asan stands in for std's internal/asan in cgosan's copy of the cgo suite.
package asan

// Enabled reports whether the program was built with -asan: the copy never is.
const Enabled = false
"""


def suite_source(goroot):
    """(layout, directory) of the toolchain's cgo suite, or None."""
    goroot = Path(goroot)
    new = goroot / "src" / "cmd" / "cgo" / "internal" / "test"
    if new.is_dir():
        return "cmd", new
    for old in (goroot / "misc" / "cgo" / "test", goroot / "src" / ".." / "misc" / "cgo" / "test"):
        if old.is_dir():
            return "misc", old.resolve()
    return None


def go_directive(goroot, default):
    mod = Path(goroot) / "src" / "cmd" / "go.mod"
    if mod.is_file():
        m = re.search(r"(?m)^go (\d+\.\d+)", mod.read_text())
        if m:
            return m.group(1)
    return default


def _copy(src, dst, ignore=None):
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=ignore, symlinks=False)
    for p in dst.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)


def prepare(goroot, dest):
    """Copies the suite of the toolchain at goroot under dest and gives it go.mod files.
    Returns the module directories to run `go test` in (package pattern ./...)."""
    layout, src = suite_source(goroot)
    if layout == "misc":
        mod = dest / "misc"
        pkg = mod / "cgo" / "test"
        pkg.parent.mkdir(parents=True, exist_ok=True)
        _copy(src, pkg, ignore=shutil.ignore_patterns(
            "testdata", "pkg_test.go", "overlaydir_test.go"))
        (mod / "go.mod").write_text("module misc\n\ngo 1.18\n")
        cross = dest / "cgotest"
        _copy(src / "testdata", cross)
        (cross / "go.mod").write_text("module cgotest\n")  # as TestCrossPackageTests
        return [mod, cross]
    mod = dest / "test"
    _copy(src, mod)
    (mod / "go.mod").write_text(f"module test\n\ngo {go_directive(goroot, '1.21')}\n")
    for f in mod.rglob("*.go"):
        text = f.read_text()
        new = text.replace('"cmd/cgo/internal/test/', '"test/')
        new = new.replace('"internal/testenv"', '"test/internal/testenv"')
        new = new.replace('"internal/asan"', '"test/internal/asan"')
        if new != text:
            f.write_text(new)
    for name, stub in (("testenv", TESTENV_STUB), ("asan", ASAN_STUB)):
        d = mod / "internal" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.go").write_text(stub)
    return [mod]


def suite_env(goroot, **extra):
    env = go_toolchains.go_env(goroot, WORK / "cache")
    env.update({"GO111MODULE": "on", "GOFLAGS": "-mod=mod"})
    for k in ("CGOSAN_OPTIONS", "CGOSAN_NAMED_EXE", "GODEBUG"):
        env.pop(k, None)
    env.update(extra)
    return env


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
        found = suite_source(goroot)
        if found is None:
            self.skipTest(f"Go {version}: no cgo test suite in {goroot} "
                          "(install its -src package)")
        dest = WORK / version
        mods = prepare(goroot, dest)
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
