"""Go's own cgo test suite, copied out of a toolchain's source so that it builds as a module
of its own: shared by integration.go_cgo_suite (test_go_cgo_suite.py) and scripts/bench.

The suite ships in each toolchain's source: misc/cgo/test in Go 1.19 (plus its testdata,
which upstream's TestCrossPackageTests runs as a module "cgotest" of its own),
src/cmd/cgo/internal/test from Go 1.21 on. prepare() copies it under a directory and gives
it go.mod files:

  1.19   <copy>/misc/cgo/test, module "misc" (the suite's upstream module, so function
         names in stack checks read "misc/cgo/test.f" as upstream expects), and
         <copy>/cgotest, the testdata directory as module "cgotest" (as upstream does).
         Left out: pkg_test.go (TestCrossPackageTests, which runs `go test` on testdata
         from inside the test binary; the cgotest module is run directly instead) with its
         helper overlaydir_test.go.
  1.21+  <copy>/test, module "test": import paths "cmd/cgo/internal/test/X" are rewritten to
         "test/X" (TestCallbackCallers strips "cmd/cgo/internal/" from function names and
         expects "test.f"), and the two std-internal imports are replaced by small stub
         packages in the copy: internal/testenv (Builder() is "": not a Go builder) and
         internal/asan (Enabled follows the asan build tag, as std's does, so a copy built
         with -asan skips what upstream skips under -asan).

Only the Python standard library is used.
"""

import re
import shutil
import subprocess
from pathlib import Path

import go_toolchains

TESTENV_STUB = """\
// Package testenv stands in for std's internal/testenv in cgosan's copy of the cgo suite.
package testenv

import "testing"

// Builder is the name of the Go builder this runs on: none.
func Builder() string { return "" }

// SkipFlaky skips t, as upstream's does unless flaky tests are asked for.
func SkipFlaky(t testing.TB, issue int) { t.Skipf("skipping known flaky test (issue %d)", issue) }
"""

# std's internal/asan decides Enabled by the asan build tag, which go build -asan sets.
ASAN_STUB_OFF = """\
//go:build !asan

// Package asan stands in for std's internal/asan in cgosan's copy of the cgo suite.
package asan

// Enabled reports whether the program was built with -asan: not this one.
const Enabled = false
"""

ASAN_STUB_ON = """\
//go:build asan

package asan

// Enabled reports whether the program was built with -asan: this one was.
const Enabled = true
"""

STUBS = {
    "testenv": {"testenv.go": TESTENV_STUB},
    "asan": {"asan_off.go": ASAN_STUB_OFF, "asan_on.go": ASAN_STUB_ON},
}


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
    dest = Path(dest)
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
    for name, files in STUBS.items():
        d = mod / "internal" / name
        d.mkdir(parents=True, exist_ok=True)
        for file_name, text in files.items():
            (d / file_name).write_text(text)
    return [mod]


def test_package(mod):
    """The directory of the one package with tests in module directory mod (what go test
    runs the test binary in)."""
    pkg = Path(mod) / "cgo" / "test"
    return pkg if pkg.is_dir() else Path(mod)


def suite_env(goroot, cache_dir, **extra):
    """The environment to build and run the suite with the toolchain at goroot: module mode,
    the build cache per version under cache_dir, nothing of cgosan's or GODEBUG inherited."""
    env = go_toolchains.go_env(goroot, cache_dir)
    env.update({"GO111MODULE": "on", "GOFLAGS": "-mod=mod"})
    for k in ("CGOSAN_OPTIONS", "CGOSAN_NAMED_EXE", "GODEBUG"):
        env.pop(k, None)
    env.update(extra)
    return env


def build_test_binary(goroot, mod, out, cache_dir, asan=False, timeout=1800):
    """`go test -c` of the suite's test package in module directory mod into out (with -asan
    when asan is true), keeping the symbol table cgosan needs. Returns the CompletedProcess
    (stdout and stderr as text); out exists only when it succeeded."""
    argv = [go_toolchains.go_binary(goroot), "test", "-c", "-o", str(out), "-ldflags=-s=false"]
    if asan:
        argv.append("-asan")
    return subprocess.run(argv + ["."], cwd=str(test_package(mod)),
                          env=suite_env(goroot, cache_dir), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
