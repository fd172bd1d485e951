#!/usr/bin/env python3
"""Tests of the wrapper scripts/cgosan: help-options, usage errors, `cgosan run` (preload,
exit status, static binaries) and `cgosan test` (only the test binaries are preloaded,
-count=1, exit status, a user's own -exec).

Environment (set by CMake): CGOSAN_LIB, CGOSAN_TOOL, CGOSAN_BUILD_DIR.
"""

import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import unittest
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "scripts" / "cgosan"
OPTIONS_TABLE = ROOT / "shadow" / "options.inc"
LIB = os.environ.get("CGOSAN_LIB", "")
BUILD_DIR = os.environ.get("CGOSAN_BUILD_DIR", str(ROOT / "build"))


def wrapper_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS")}
    env.setdefault("CGOSAN_BUILD_DIR", BUILD_DIR)
    env.update(extra)
    return env


def cgosan(*args, env=None, cwd=None, timeout=300):
    return subprocess.run([str(WRAPPER), *args], env=env or wrapper_env(), cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def option_defaults():
    """name -> default as printed, read from the one table of options."""
    text = OPTIONS_TABLE.read_text()
    out = {}
    for m in re.finditer(r'CGOSAN_INT\(\s*(\w+),\s*(-?\d+)', text):
        out[m.group(1)] = m.group(2)
    for m in re.finditer(r'CGOSAN_STRING\(\s*(\w+),\s*"([^"]*)"', text):
        out[m.group(1)] = m.group(2) or "(unset)"
    for m in re.finditer(r'CGOSAN_ENUM\(\s*(\w+),\s*(\d+),\s*"([^"]*)"', text):
        out[m.group(1)] = m.group(3).split("|")[int(m.group(2))]
    return out


class HelpAndUsage(unittest.TestCase):
    def test_help_options_lists_every_option_with_its_default(self):
        r = cgosan("help-options")
        self.assertEqual(r.returncode, 0, r.stderr)
        defaults = option_defaults()
        # The options the spec requires, with the spec's defaults.
        for name, value in {"log_path": "(unset)", "verbosity": "0", "guard": "all",
                            "guard_left": "0", "sample_rate": "1000", "quarantine_mb": "64",
                            "guard_pool_mb": "1024", "malloc_context_size": "16",
                            "exitcode": "66"}.items():
            self.assertEqual(defaults.get(name), value, name)
        for name, value in defaults.items():
            self.assertRegex(r.stdout, rf"(?m)^\s+{re.escape(name)}={re.escape(value)}(?=\s|$)",
                             f"option {name} (default {value}) missing from help-options")
        self.assertIn("run [--] CMD", r.stdout)
        self.assertIn("test [go test flags]", r.stdout)

    def test_help_flags_print_the_same(self):
        first = cgosan("help-options").stdout
        for flag in ("--help", "-h"):
            r = cgosan(flag)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, first)

    def test_unknown_subcommand_exits_2_with_usage(self):
        r = cgosan("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("frobnicate", r.stderr)
        self.assertIn("usage:", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_no_arguments_exits_2(self):
        r = cgosan()
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)

    def test_missing_library_is_a_clear_error(self):
        r = cgosan("run", "true", env=wrapper_env(CGOSAN_LIB="/nonexistent/libcgosan.so"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/libcgosan.so", r.stderr)


class Run(unittest.TestCase):
    def test_preloads_the_library(self):
        r = cgosan("run", "cat", "/proc/self/maps")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(os.path.realpath(LIB) if LIB else "libcgosan.so", r.stdout)

    def test_prepends_to_an_existing_preload(self):
        other = "/lib/x86_64-linux-gnu/libm.so.6"
        if not os.path.exists(other):
            self.skipTest(f"{other} not present")
        r = cgosan("run", "--", "sh", "-c", 'echo "$LD_PRELOAD"',
                   env=wrapper_env(LD_PRELOAD=other))
        self.assertEqual(r.returncode, 0, r.stderr)
        entries = re.split(r"[: ]", r.stdout.strip())
        self.assertTrue(entries[0].endswith("/libcgosan.so"), entries)
        self.assertIn(other, entries)

    def test_exit_status_passes_through(self):
        self.assertEqual(cgosan("run", "sh", "-c", "exit 7").returncode, 7)
        self.assertEqual(cgosan("run", "--", "sh", "-c", "exit 0").returncode, 0)

    def test_programs_the_user_did_not_name_stay_passive(self):
        import harness
        prog = str(harness.compile_c("double_free"))
        logs = tempfile.mkdtemp(prefix="cgosan-passive-")
        self.addCleanup(shutil.rmtree, logs, ignore_errors=True)
        env = wrapper_env(CGOSAN_OPTIONS=f"log_path={logs}")
        # Named: cgosan finds the double free and ends with its exitcode.
        named = cgosan("run", prog, "bug", env=env)
        self.assertEqual(named.returncode, 66, named.stderr)
        self.assertIn("ERROR: attempting double-free", named.stderr)
        self.assertEqual(len(os.listdir(logs)), 1)
        # Started by the named program (a shell): not a Go program, not named -> passive:
        # glibc's own double-free check is what the program sees, cgosan says nothing.
        child = cgosan("run", "sh", "-c", f"exec {prog} bug", env=env)
        self.assertNotIn("cgosan", child.stderr)
        self.assertIn("double free", child.stderr)
        self.assertEqual(child.returncode, -6, child.stderr)  # SIGABRT from glibc
        self.assertEqual(len(os.listdir(logs)), 1)

    def test_command_not_found(self):
        r = cgosan("run", "cgosan-no-such-command")
        self.assertEqual(r.returncode, 127)
        self.assertIn("not found", r.stderr)

    def test_static_binary_is_refused_with_a_clear_error(self):
        cc = shutil.which("gcc") or shutil.which("cc")
        if not cc:
            self.skipTest("no C compiler")
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "s.c"
            src.write_text('#include <stdio.h>\nint main(void){puts("ran");return 0;}\n')
            exe = Path(tmp) / "static_prog"
            build = subprocess.run([cc, "-static", "-o", str(exe), str(src)],
                                   capture_output=True, text=True)
            if build.returncode != 0:
                self.skipTest("cannot link statically (libc.a missing?): " + build.stderr[-300:])
            r = cgosan("run", str(exe))
            self.assertNotEqual(r.returncode, 0)
            self.assertNotIn("ran", r.stdout)
            self.assertIn("LD_PRELOAD cannot work on a statically linked program", r.stderr)
            self.assertIn("a Go program without cgo is static", r.stderr)


GO_MOD = "module example.com/t\n\ngo 1.19\n"

GO_LIB = textwrap.dedent("""\
    package t

    // static int add(int a, int b) { return a + b; }
    import "C"

    func Add(a, b int) int { return int(C.add(C.int(a), C.int(b))) }
    """)

GO_TEST = textwrap.dedent("""\
    package t

    import (
    \t"os"
    \t"strings"
    \t"testing"
    )

    func TestPreloaded(t *testing.T) {
    \tmaps, err := os.ReadFile("/proc/self/maps")
    \tif err != nil {
    \t\tt.Fatal(err)
    \t}
    \tif !strings.Contains(string(maps), "/libcgosan.so") {
    \t\tt.Fatalf("libcgosan.so not mapped in the test binary; LD_PRELOAD=%q", os.Getenv("LD_PRELOAD"))
    \t}
    \tif !strings.Contains(os.Getenv("LD_PRELOAD"), "libcgosan.so") {
    \t\tt.Fatalf("LD_PRELOAD=%q", os.Getenv("LD_PRELOAD"))
    \t}
    \tif want := os.Getenv("T_WANT_OPTIONS"); os.Getenv("CGOSAN_OPTIONS") != want {
    \t\tt.Fatalf("CGOSAN_OPTIONS=%q, want %q", os.Getenv("CGOSAN_OPTIONS"), want)
    \t}
    \tif Add(2, 3) != 5 {
    \t\tt.Fatal("cgo call")
    \t}
    }

    func TestMayFail(t *testing.T) {
    \tif os.Getenv("T_FAIL") != "" {
    \t\tt.Fatal("failing on purpose")
    \t}
    }
    """)

# Stands in for `go` first in PATH: records the environment the go command gets (and so
# the compiler and gcc, which inherit it) and its arguments, then runs the real go.
FAKE_GO = textwrap.dedent("""\
    #!/bin/sh
    {{ printf 'LD_PRELOAD=%s\\n' "$LD_PRELOAD"; printf 'ARG=%s\\n' "$@"; }} >> "{log}"
    exec "{real_go}" "$@"
    """)

# A user's own -exec: leaves a marker with the preload it saw, then runs the test binary.
USER_EXEC = textwrap.dedent("""\
    #!/bin/sh
    printf '%s\\n' "$LD_PRELOAD" >> "{marker}"
    exec "$@"
    """)


@unittest.skipUnless(shutil.which("go"), "the Go toolchain (golang-go) is not installed")
class GoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cgosan-wrapper-")
        base = Path(cls.tmp.name)
        cls.pkg = base / "pkg"
        cls.pkg.mkdir()
        (cls.pkg / "go.mod").write_text(GO_MOD)
        (cls.pkg / "t.go").write_text(GO_LIB)
        (cls.pkg / "t_test.go").write_text(GO_TEST)
        cls.bin = base / "bin"
        cls.bin.mkdir()
        cls.go_log = base / "go.log"
        fake_go = cls.bin / "go"
        fake_go.write_text(FAKE_GO.format(log=cls.go_log, real_go=shutil.which("go")))
        fake_go.chmod(0o755)
        cls.marker = base / "user_exec.marker"
        cls.user_exec = base / "user exec.sh"  # a space: -exec quoting must survive it
        cls.user_exec.write_text(USER_EXEC.format(marker=cls.marker))
        cls.user_exec.chmod(0o755)
        cls.gocache = base / "gocache"
        cls.gopath = base / "gopath"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        for f in (self.go_log, self.marker):
            if f.exists():
                f.unlink()

    def go_env(self, **extra):
        env = wrapper_env(
            PATH=f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            GOCACHE=str(self.gocache), GOPATH=str(self.gopath), GOFLAGS="-mod=mod",
            GOPROXY="off", GOTOOLCHAIN="local", CGO_ENABLED="1", GO111MODULE="on",
            CGOSAN_OPTIONS="verbosity=0", T_WANT_OPTIONS="verbosity=0")
        env.update(extra)
        return env

    def go_test(self, *args, **env):
        return cgosan("test", *args, env=self.go_env(**env), cwd=self.pkg, timeout=600)

    def go_calls(self):
        """(LD_PRELOAD, args) of each go command started, from the fake go's log."""
        calls = []
        for line in self.go_log.read_text().splitlines():
            if line.startswith("LD_PRELOAD="):
                calls.append((line[len("LD_PRELOAD="):], []))
            else:
                calls[-1][1].append(line[len("ARG="):])
        return calls

    def test_only_the_test_binary_is_preloaded(self):
        # Even when the caller is itself preloaded, the go command must not be.
        r = self.go_test("-v", ".", LD_PRELOAD=os.path.realpath(LIB) if LIB else "")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("--- PASS: TestPreloaded", r.stdout)
        calls = self.go_calls()
        self.assertEqual(len(calls), 1, calls)
        preload, args = calls[0]
        self.assertNotIn("libcgosan", preload)
        self.assertEqual(args[0], "test")
        self.assertIn("-exec", args)
        self.assertIn("-count=1", args)

    def test_count_1_is_added_so_results_are_never_cached(self):
        for _ in range(2):
            r = self.go_test(".")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("(cached)", r.stdout)

    def test_symbol_table_is_kept_and_user_ldflags_merged(self):
        # go test links with -s -w; cgosan needs .symtab to find the cgo call variables.
        r = self.go_test("-v", ".")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        args = self.go_calls()[0][1]
        self.assertIn("-ldflags=-s=false", args)
        r = self.go_test("-ldflags", "-X main.v=1", "-run", "TestPreloaded", ".")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        args = self.go_calls()[-1][1]
        self.assertIn("-ldflags=-X main.v=1 -s=false", args)
        self.assertEqual(sum(a.startswith("-ldflags") for a in args), 1, args)
        self.assertNotIn("-X main.v=1", args)

    def test_user_count_is_kept(self):
        r = self.go_test("-count", "2", "-run", "TestPreloaded", "-v", ".")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("--- PASS: TestPreloaded"), 2)
        args = self.go_calls()[0][1]
        self.assertNotIn("-count=1", args)

    def test_exit_status_passes_through(self):
        r = self.go_test(".", T_FAIL="1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("failing on purpose", r.stdout)

    def test_user_exec_runs_inside_ours(self):
        for form in (["-exec", f"sh '{self.user_exec}'"], [f"-exec='{self.user_exec}'"]):
            with self.subTest(form=form):
                if self.marker.exists():
                    self.marker.unlink()
                r = self.go_test(*form, "-run", "TestPreloaded", "-v", ".")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn("--- PASS: TestPreloaded", r.stdout)
                self.assertTrue(self.marker.exists(), "the user's -exec did not run")
                self.assertIn("libcgosan.so", self.marker.read_text())

    def test_options_reach_the_test_binary(self):
        opts = "verbosity=0:guard=sampled:sample_rate=10"
        r = self.go_test("-run", "TestPreloaded", ".", CGOSAN_OPTIONS=opts,
                         T_WANT_OPTIONS=opts)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
