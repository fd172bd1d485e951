#!/usr/bin/env python3
"""Tests of the wrapper scripts/cgosan: help-options, usage errors, `cgosan run` (preload,
exit status, static binaries) and `cgosan test` (only the test binaries are preloaded,
-count=1, exit status, a user's own -exec), and GODEBUG=efence=1 for Go targets (merged
with the user's GODEBUG, --no-efence / go_efence=0, never for the go command or the
compiler, not with cgocheck=2). The checks on the program (static, sanitizer runtime, Go
build info) run through `cgosan-tool inspect` and, without the tool, as shell commands:
both ways must decide and say the same. Paths (the script's own, when installed as a
symlink; the library; the named program) are resolved as readlink -f would.

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


def without_tool(env):
    """env with no cgosan-tool to be found: the wrapper's shell checks then run."""
    env = dict(env)
    env.pop("CGOSAN_TOOL", None)
    env["CGOSAN_BUILD_DIR"] = "/nonexistent/cgosan-build"
    env["CGOSAN_LIB"] = LIB
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
        self.assertIn("run [--no-efence] [--] CMD", r.stdout)
        self.assertIn("test [--no-efence] [go test flags]", r.stdout)

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


def efence_toolchain():
    """(version, goroot) of the newest installed Go toolchain the wrapper adds efence to
    (1.21 on: before, runtime.ReadMemStats aborts under efence), or None."""
    import go_toolchains
    found = [t for t in go_toolchains.toolchains()
             if int(go_toolchains.short_version(t[0]).split(".")[1]) >= 21]
    return found[-1] if found else None


def build_with(toolchain, name, goexperiment=""):
    """Builds tests/programs/go/<name>/main.go with the toolchain (version, goroot)."""
    import go_toolchains
    import harness
    version, goroot = toolchain
    out_dir = harness.cache_dir() / f"go-{version}{'-' + goexperiment if goexperiment else ''}"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / name
    env = go_toolchains.go_env(goroot, harness.cache_dir() / f".gocache-{version}")
    if goexperiment:
        env["GOEXPERIMENT"] = goexperiment
    r = subprocess.run([go_toolchains.go_binary(goroot), "build", "-o", str(out), "main.go"],
                       cwd=str(harness.GO_PROGRAMS / name), env=env, capture_output=True,
                       text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"go build of {name} with Go {version} failed:\n{r.stderr}")
    return str(out)


@unittest.skipUnless(shutil.which("go"), "the Go toolchain (golang-go) is not installed")
class RunEfenceBefore121(unittest.TestCase):
    """Before Go 1.21 efence would crash a correct program (ReadMemStats): not added."""

    def test_not_added_with_a_note(self):
        import go_toolchains
        import harness
        version = go_toolchains.default_toolchain()[0]
        if int(go_toolchains.short_version(version).split(".")[1]) >= 21:
            self.skipTest(f"the default Go is {version}")
        prog = harness.build_go("efence_getenv")
        env = wrapper_env()
        env.pop("GODEBUG", None)
        r = cgosan("run", prog, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("GODEBUG=<unset>", r.stdout)
        self.assertIn("not adding efence=1 to GODEBUG: Go 1.", r.stderr)
        self.assertIn("ReadMemStats", r.stderr)


@unittest.skipUnless(efence_toolchain(), "no Go 1.21+ toolchain (scripts/go-toolchains)")
class RunEfence(unittest.TestCase):
    """`cgosan run` on a Go program adds efence=1 to the GODEBUG it starts with."""

    @classmethod
    def setUpClass(cls):
        cls.prog = build_with(efence_toolchain(), "efence_getenv")

    def environment(self):
        return wrapper_env()

    def run_prog(self, *args, **env):
        full = self.environment()
        full.pop("GODEBUG", None)  # only what the test gives
        full.update(env)
        r = cgosan("run", *args, env=full)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        return out, r.stderr

    def test_go_target_gets_efence_and_the_runtime_honours_it(self):
        out, err = self.run_prog(self.prog)
        self.assertEqual(out["GODEBUG"], "efence=1")
        self.assertEqual(out["CGOSAN_OPTIONS"], "<unset>")
        # A freed large object is faulted: only efence does that.
        self.assertEqual(out["freed_large_perms"], "---p")
        self.assertNotIn("efence", err)

    def test_merged_with_the_users_godebug(self):
        out, _ = self.run_prog(self.prog, GODEBUG="madvdontneed=1")
        self.assertEqual(out["GODEBUG"], "madvdontneed=1,efence=1")

    def test_an_explicit_efence_setting_of_the_user_is_kept(self):
        for godebug in ("efence=0", "madvdontneed=1,efence=0,gctrace=0"):
            with self.subTest(godebug=godebug):
                out, _ = self.run_prog(self.prog, GODEBUG=godebug)
                self.assertEqual(out["GODEBUG"], godebug)
                self.assertEqual(out["freed_large_perms"], "rw-p")

    def test_no_efence_flag(self):
        out, _ = self.run_prog("--no-efence", "--", self.prog, GODEBUG="madvdontneed=1",
                               CGOSAN_OPTIONS="verbosity=0:go_efence=1")
        self.assertEqual(out["GODEBUG"], "madvdontneed=1")
        self.assertEqual(out["CGOSAN_OPTIONS"], "verbosity=0:go_efence=0")
        self.assertEqual(out["freed_large_perms"], "rw-p")
        out, _ = self.run_prog("--no-efence", self.prog)
        self.assertEqual(out["GODEBUG"], "<unset>")
        self.assertEqual(out["CGOSAN_OPTIONS"], "go_efence=0")

    def test_go_efence_0_in_options(self):
        out, _ = self.run_prog(self.prog, CGOSAN_OPTIONS="go_efence=0,verbosity=0")
        self.assertEqual(out["GODEBUG"], "<unset>")
        self.assertEqual(out["CGOSAN_OPTIONS"], "go_efence=0,verbosity=0")
        # The last setting counts, as in the preload.
        out, _ = self.run_prog(self.prog, CGOSAN_OPTIONS="go_efence=0:go_efence=1")
        self.assertEqual(out["GODEBUG"], "efence=1")

    def test_not_with_guard_sampled_unless_asked_for(self):
        # guard=sampled's cost must stay bounded; efence's is not. The last setting of
        # guard and of go_efence count, in either order.
        for options, godebug, perms in (("guard=sampled", "<unset>", "rw-p"),
                                        ("verbosity=0,guard=sampled", "<unset>", "rw-p"),
                                        ("guard=sampled:guard=cgo", "efence=1", "---p"),
                                        ("guard=sampled:go_efence=1", "efence=1", "---p"),
                                        ("go_efence=1:guard=sampled", "efence=1", "---p"),
                                        ("guard=none", "efence=1", "---p")):
            with self.subTest(options=options):
                out, _ = self.run_prog(self.prog, CGOSAN_OPTIONS=options)
                self.assertEqual(out["GODEBUG"], godebug)
                self.assertEqual(out["CGOSAN_OPTIONS"], options)
                self.assertEqual(out["freed_large_perms"], perms)

    def test_not_with_cgocheck_2(self):
        # The runtime would throw "Go pointer stored into non-Go memory" (golang/go#42724).
        # From Go 1.21 on cgocheck=2 is a build-time experiment, recorded in the build info.
        prog = build_with(efence_toolchain(), "efence_getenv", goexperiment="cgocheck2")
        out, err = self.run_prog(prog)
        self.assertEqual(out["GODEBUG"], "<unset>")
        self.assertIn("not adding efence=1", err)
        self.assertIn("cgocheck=2", err)

    def test_only_the_program_is_preloaded_not_the_wrappers_own_commands(self):
        # The wrapper runs readlink and grep on the way: they must not attach cgosan.
        out, err = self.run_prog(self.prog, CGOSAN_OPTIONS="verbosity=1")
        attached = [ln for ln in err.splitlines() if "cgosan: attached:" in ln]
        self.assertEqual(len(attached), 1, err)
        self.assertIn("Go program go", attached[0])
        self.assertNotIn("passive:", err)

    def test_a_target_that_is_not_a_go_binary_is_left_alone(self):
        # A shell would hand GODEBUG to every Go program it starts (the go command too).
        r = cgosan("run", "sh", "-c", 'echo "GODEBUG=[${GODEBUG-unset}]"',
                   env={k: v for k, v in self.environment().items() if k != "GODEBUG"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "GODEBUG=[unset]")


@unittest.skipUnless(LIB, "CGOSAN_LIB is not set")
class RunEfenceWithoutTool(RunEfence):
    """The same, decided by the wrapper's shell checks (file, readelf, grep)."""

    def environment(self):
        return without_tool(wrapper_env())


def link_c(directory, name, *flags):
    """Links a C program that prints "ran" into directory/name; None when cc cannot."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        return None
    src = Path(directory) / "s.c"
    src.write_text('#include <stdio.h>\nint main(void){puts("ran");return 0;}\n')
    exe = Path(directory) / name
    build = subprocess.run([cc, *flags, "-o", str(exe), str(src)], capture_output=True)
    return str(exe) if build.returncode == 0 else None


@unittest.skipUnless(LIB and os.environ.get("CGOSAN_TOOL"), "CGOSAN_LIB, CGOSAN_TOOL not set")
class Inspect(unittest.TestCase):
    """`cgosan-tool inspect`, and the wrapper giving the same verdicts without it."""

    TOOL = os.environ.get("CGOSAN_TOOL", "")

    def inspect(self, path):
        r = subprocess.run([self.TOOL, "inspect", "--", path], capture_output=True, text=True)
        return r.returncode, dict(line.split("=", 1) for line in r.stdout.splitlines())

    def both_ways(self, *args):
        """(with the tool, without it): the results of `cgosan *args`."""
        return cgosan(*args), cgosan(*args, env=without_tool(wrapper_env()))

    def test_the_wrapper_without_tool_finds_none(self):
        # Otherwise the tests below would compare the tool with itself.
        r = cgosan("report", "/nonexistent", env=without_tool(wrapper_env()))
        self.assertIn("cgosan-tool not found", r.stderr)

    def test_answers(self):
        with tempfile.TemporaryDirectory() as tmp:
            dynamic = link_c(tmp, "dynamic")
            if not dynamic:
                self.skipTest("no C compiler")
            rc, out = self.inspect(dynamic)
            self.assertEqual(rc, 0)
            self.assertEqual(out, {"elf": "1", "machine": "62", "static": "0", "musl": "0",
                                   "sanitizer": "", "go": "0", "go_minor": "", "cgocheck2": "0"})
            text = Path(tmp) / "script.sh"
            text.write_text("#!/bin/sh\necho hi\n")
            for path in (str(text), str(Path(tmp) / "missing"), tmp):
                rc, out = self.inspect(path)
                self.assertEqual(rc, 0, path)
                self.assertEqual(out["elf"], "0", path)
                self.assertEqual(out["static"], "0", path)
                self.assertEqual(out["go"], "0", path)

    def test_static_binary_refused_alike(self):
        with tempfile.TemporaryDirectory() as tmp:
            exe = link_c(tmp, "static_prog", "-static")
            if not exe:
                self.skipTest("cannot link statically")
            self.assertEqual(self.inspect(exe)[1]["static"], "1")
            with_tool, without = self.both_ways("run", exe)
            self.assertEqual(with_tool.returncode, 1)
            self.assertIn("is statically linked", with_tool.stderr)
            self.assertEqual((with_tool.returncode, with_tool.stdout, with_tool.stderr),
                             (without.returncode, without.stdout, without.stderr))

    def test_an_elf_file_the_tool_cannot_read_goes_to_the_shell_checks(self):
        # A 32-bit AArch64 header on a copy of a real program: inspect declines (exit 1) and
        # the wrapper's od check names the machine, as it does without the tool.
        with tempfile.TemporaryDirectory() as tmp:
            exe = link_c(tmp, "prog")
            if not exe:
                self.skipTest("no C compiler")
            data = bytearray(Path(exe).read_bytes())
            data[4] = 1  # ELFCLASS32
            data[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
            odd = Path(tmp) / "odd"
            odd.write_bytes(bytes(data))
            odd.chmod(0o755)
            self.assertEqual(self.inspect(str(odd))[0], 1)
            with_tool, without = self.both_ways("run", str(odd))
            self.assertIn("is an AArch64 (arm64) executable", with_tool.stderr)
            self.assertEqual((with_tool.returncode, with_tool.stderr),
                             (without.returncode, without.stderr))

    def test_dynamic_program_runs_alike(self):
        with tempfile.TemporaryDirectory() as tmp:
            exe = link_c(tmp, "prog")
            if not exe:
                self.skipTest("no C compiler")
            for r in self.both_ways("run", exe):
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "ran\n", ""))
            for r in self.both_ways("run", "cat", "/proc/self/maps"):
                self.assertIn(os.path.realpath(LIB), r.stdout)


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
        with tempfile.TemporaryDirectory() as tmp:
            exe = link_c(tmp, "static_prog", "-static")
            if not exe:
                self.skipTest("no C compiler, or cannot link statically (libc.a missing?)")
            r = cgosan("run", exe)
            self.assertNotEqual(r.returncode, 0)
            self.assertNotIn("ran", r.stdout)
            self.assertIn("LD_PRELOAD cannot work on a statically linked program", r.stderr)
            self.assertIn("a Go program without cgo is static", r.stderr)


@unittest.skipUnless(LIB, "CGOSAN_LIB is not set")
class Paths(unittest.TestCase):
    """The wrapper resolves paths like readlink -f (symlinks of every component, '..' taken
    after them), doing it itself when no component is a symlink: the script's own location
    when installed as a symlink, the library that goes into LD_PRELOAD, the named program."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="cgosan-paths-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def test_symlinked_install_finds_the_library_next_to_the_real_script(self):
        # <prefix>/bin/cgosan is the script; usr/bin/cgosan a relative symlink to it, and
        # <prefix>/lib/libcgosan.so a symlink to the real library in a linked directory.
        prefix = self.tmp / "opt" / "cgosan"
        (prefix / "bin").mkdir(parents=True)
        shutil.copy2(WRAPPER, prefix / "bin" / "cgosan")
        (self.tmp / "libdir").mkdir()
        shutil.copy2(LIB, self.tmp / "libdir" / "libcgosan.so")
        (self.tmp / "libdir-link").symlink_to("libdir")
        (prefix / "lib").symlink_to(self.tmp / "libdir-link")
        (self.tmp / "usr" / "bin").mkdir(parents=True)
        (self.tmp / "usr" / "bin" / "cgosan").symlink_to("../../opt/cgosan/bin/cgosan")
        # cwd reached through a symlink, named so in PWD (bash keeps a PWD that names "."):
        # a relative script path must be resolved from where the link points.
        (self.tmp / "here").symlink_to(self.tmp / "usr")
        env = wrapper_env(CGOSAN_BUILD_DIR="/nonexistent/cgosan-build",
                          PWD=str(self.tmp / "here"))
        for key in ("CGOSAN_LIB", "CGOSAN_TOOL"):
            env.pop(key, None)
        real_lib = str((self.tmp / "libdir" / "libcgosan.so").resolve())
        for script in (str(prefix / "bin" / "cgosan"), str(self.tmp / "usr" / "bin" / "cgosan"),
                       "bin/cgosan",
                       str(self.tmp / "here" / "bin" / ".." / "bin" / "cgosan")):
            with self.subTest(script=script):
                r = subprocess.run([script, "run", "sh", "-c", 'echo "$LD_PRELOAD"'], env=env,
                                   cwd=str(self.tmp / "here"), stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, real_lib + "\n", ""))

    def test_library_given_through_symlinks_and_dots(self):
        (self.tmp / "real" / "sub").mkdir(parents=True)
        shutil.copy2(LIB, self.tmp / "real" / "libcgosan.so")
        (self.tmp / "sub-link").symlink_to(self.tmp / "real" / "sub")
        # Where '..' taken by text alone would lead: it must not be what gets preloaded.
        shutil.copy2(LIB, self.tmp / "libcgosan.so")
        real_lib = str((self.tmp / "real" / "libcgosan.so").resolve())
        for given in (self.tmp / "real" / "." / "sub" / ".." / "libcgosan.so",
                      # '..' after a symlink climbs from its target (real), not from tmp.
                      self.tmp / "sub-link" / ".." / "libcgosan.so"):
            with self.subTest(given=str(given)):
                r = cgosan("run", "sh", "-c", 'echo "$LD_PRELOAD"',
                           env=wrapper_env(CGOSAN_LIB=str(given)))
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, real_lib + "\n", ""))

    def test_named_program_is_its_canonical_path(self):
        (self.tmp / "real" / "sub").mkdir(parents=True)
        prog = self.tmp / "real" / "prog"
        prog.write_text('#!/bin/sh\nprintf "%s\\n" "$CGOSAN_NAMED_EXE"\n')
        prog.chmod(0o755)
        (self.tmp / "sub-link").symlink_to(self.tmp / "real" / "sub")
        (self.tmp / "prog-link").symlink_to("real/prog")
        shutil.copy2(prog, self.tmp / "prog")  # where '..' by text alone would lead
        want = str(prog.resolve()) + "\n"
        for given in (str(prog), str(self.tmp / "real" / "sub" / ".." / "prog"),
                      str(self.tmp / "sub-link" / ".." / "prog"), str(self.tmp / "prog-link"),
                      "./real//./prog"):
            with self.subTest(given=given):
                r = cgosan("run", given, cwd=str(self.tmp))
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, want, ""))
        # Found in PATH, through a symlinked directory.
        path = os.environ.get("PATH", "/usr/bin:/bin")
        env = wrapper_env(PATH=f"{self.tmp / 'sub-link'}/..:{path}")
        r = cgosan("run", "prog", env=env)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, want, ""))

    def test_builtin_names_are_found_in_path(self):
        # `hash` skips builtins: `run true` must still run /usr/bin/true (or /bin/true).
        r = cgosan("run", "true")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = cgosan("run", "printf", "%s", "x")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "x", ""))


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

    func TestGodebug(t *testing.T) {
    	want, ok := os.LookupEnv("T_WANT_GODEBUG")
    	if !ok {
    		t.Skip("T_WANT_GODEBUG not set")
    	}
    	got, ok := os.LookupEnv("GODEBUG")
    	if !ok {
    		got = "<unset>"
    	}
    	if got != want {
    		t.Fatalf("GODEBUG=%q, want %q", got, want)
    	}
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
    {{ printf 'LD_PRELOAD=%s\\n' "$LD_PRELOAD"; printf 'GODEBUG=%s\\n' "${{GODEBUG-<unset>}}"
       printf 'ARG=%s\\n' "$@"; }} >> "{log}"
    exec "{real_go}" "$@"
    """)

# A -toolexec program: records the GODEBUG each tool the go command runs (compile, asm,
# cgo, link) gets, then runs the tool.
TOOLEXEC = textwrap.dedent("""\
    #!/bin/sh
    printf '%s GODEBUG=%s\\n' "${{1##*/}}" "${{GODEBUG-<unset>}}" >> "{log}"
    exec "$@"
    """)

# A user's own -exec: leaves a marker with the preload it saw, then runs the test binary.
USER_EXEC = textwrap.dedent("""\
    #!/bin/sh
    printf '%s\\n' "$LD_PRELOAD" >> "{marker}"
    exec "$@"
    """)


@unittest.skipUnless(efence_toolchain(), "no Go 1.21+ toolchain (scripts/go-toolchains)")
class GoTest(unittest.TestCase):
    """`cgosan test`, with the newest installed toolchain (efence is added from Go 1.21 on)."""

    @classmethod
    def setUpClass(cls):
        cls.goroot = efence_toolchain()[1]
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
        fake_go.write_text(FAKE_GO.format(log=cls.go_log,
                                          real_go=str(Path(cls.goroot) / "bin" / "go")))
        fake_go.chmod(0o755)
        cls.marker = base / "user_exec.marker"
        cls.user_exec = base / "user exec.sh"  # a space: -exec quoting must survive it
        cls.user_exec.write_text(USER_EXEC.format(marker=cls.marker))
        cls.user_exec.chmod(0o755)
        cls.gocache = base / "gocache"
        cls.gopath = base / "gopath"
        cls.tool_log = base / "toolexec.log"
        cls.toolexec = base / "toolexec.sh"
        cls.toolexec.write_text(TOOLEXEC.format(log=cls.tool_log))
        cls.toolexec.chmod(0o755)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        for f in (self.go_log, self.marker, self.tool_log):
            if f.exists():
                f.unlink()

    def go_env(self, **extra):
        env = wrapper_env(
            PATH=f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            GOCACHE=str(self.gocache), GOPATH=str(self.gopath), GOFLAGS="-mod=mod",
            GOPROXY="off", GOTOOLCHAIN="local", CGO_ENABLED="1", GO111MODULE="on",
            GOROOT=self.goroot,
            CGOSAN_OPTIONS="verbosity=0", T_WANT_OPTIONS="verbosity=0")
        env.pop("GODEBUG", None)
        env.update(extra)
        return env

    def go_test(self, *args, **env):
        return cgosan("test", *args, env=self.go_env(**env), cwd=self.pkg, timeout=600)

    def go_calls(self):
        """(LD_PRELOAD, args) of each go command started, from the fake go's log."""
        return [(preload, args) for preload, _, args in self.go_calls_with_godebug()]

    def go_calls_with_godebug(self):
        """(LD_PRELOAD, GODEBUG, args) of each go command started."""
        calls = []
        for line in self.go_log.read_text().splitlines():
            if line.startswith("LD_PRELOAD="):
                calls.append([line[len("LD_PRELOAD="):], None, []])
            elif line.startswith("GODEBUG="):
                calls[-1][1] = line[len("GODEBUG="):]
            else:
                calls[-1][2].append(line[len("ARG="):])
        return [tuple(c) for c in calls]

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

    @unittest.skipUnless(LIB, "CGOSAN_LIB is not set")
    def test_a_test_binary_without_cgo_runs_unsanitized_with_a_note(self):
        pure = Path(self.tmp.name) / "pure"
        pure.mkdir(exist_ok=True)
        (pure / "go.mod").write_text(GO_MOD)
        (pure / "p_test.go").write_text(
            'package p\n\nimport "testing"\n\nfunc TestPure(t *testing.T) {}\n')
        results = []
        for env in (self.go_env(), without_tool(self.go_env())):
            r = cgosan("test", env=env, cwd=pure, timeout=600)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("t.test is statically linked (its package does not use cgo)",
                          r.stdout + r.stderr)
            results.append(r.stdout + r.stderr)
        # The same note either way (the timing on go's "ok" line aside).
        notes = [[ln for ln in out.splitlines() if "cgosan" in ln] for out in results]
        self.assertEqual(notes[0], notes[1])

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

    def test_test_binary_gets_efence_the_go_command_and_compiler_do_not(self):
        # A cache of its own, so that the compiler and linker really run (under -toolexec).
        cache = Path(tempfile.mkdtemp(prefix="cgosan-wrapper-gocache-"))
        self.addCleanup(shutil.rmtree, cache, ignore_errors=True)
        r = self.go_test("-toolexec", str(self.toolexec), "-run", "TestGodebug|TestPreloaded",
                         "-v", ".", GODEBUG="madvdontneed=1", GOCACHE=str(cache),
                         T_WANT_GODEBUG="madvdontneed=1,efence=1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("--- PASS: TestGodebug", r.stdout)
        calls = self.go_calls_with_godebug()
        self.assertEqual([c[1] for c in calls], ["madvdontneed=1"], calls)
        tools = self.tool_log.read_text().splitlines()
        self.assertTrue(any(t.startswith("compile ") for t in tools), tools)
        self.assertTrue(any(t.startswith("link ") for t in tools), tools)
        for t in tools:
            self.assertTrue(t.endswith(" GODEBUG=madvdontneed=1"), t)
        # Without a GODEBUG of the user's: the go command gets none.
        r = self.go_test("-run", "TestGodebug", "-v", ".", T_WANT_GODEBUG="efence=1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("--- PASS: TestGodebug", r.stdout)
        self.assertEqual(self.go_calls_with_godebug()[-1][1], "<unset>")

    def test_only_the_test_binary_attaches(self):
        # Not the -exec helper's own commands (readlink, grep), which run before it execs.
        opts = "verbosity=1"
        r = self.go_test("-run", "TestPreloaded", "-v", ".", CGOSAN_OPTIONS=opts,
                         T_WANT_OPTIONS=opts)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout + r.stderr
        attached = [ln for ln in out.splitlines() if "cgosan: attached:" in ln]
        self.assertEqual(len(attached), 1, out)
        self.assertIn("Go program go", attached[0])
        self.assertNotIn("passive:", out)

    def test_users_efence_setting_is_kept(self):
        r = self.go_test("-run", "TestGodebug", "-v", ".", GODEBUG="efence=0",
                         T_WANT_GODEBUG="efence=0")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("--- PASS: TestGodebug", r.stdout)

    def test_no_efence(self):
        # Anywhere before -args; recorded as go_efence=0, merged into CGOSAN_OPTIONS.
        r = self.go_test("-run", "TestGodebug|TestPreloaded", "--no-efence", "-v", ".",
                         GODEBUG="madvdontneed=1", T_WANT_GODEBUG="madvdontneed=1",
                         T_WANT_OPTIONS="verbosity=0:go_efence=0")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("--- PASS: TestGodebug", r.stdout)
        self.assertIn("--- PASS: TestPreloaded", r.stdout)
        self.assertNotIn("--no-efence", self.go_calls()[0][1])
        r = self.go_test("--no-efence", "-run", "TestGodebug", "-v", ".",
                         T_WANT_GODEBUG="<unset>")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("--- PASS: TestGodebug", r.stdout)

    def test_go_efence_0_in_options(self):
        opts = "verbosity=0:go_efence=0"
        r = self.go_test("-run", "TestGodebug|TestPreloaded", "-v", ".", CGOSAN_OPTIONS=opts,
                         T_WANT_OPTIONS=opts, T_WANT_GODEBUG="<unset>")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("--- PASS: TestGodebug", r.stdout)

    def test_options_reach_the_test_binary(self):
        opts = "verbosity=0:guard=sampled:sample_rate=10"
        r = self.go_test("-run", "TestPreloaded", ".", CGOSAN_OPTIONS=opts,
                         T_WANT_OPTIONS=opts)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
