#!/usr/bin/env python3
"""Go's own signal-forwarding and sanitizer test programs, built as plain cgo programs and
run under `scripts/cgosan run`, for every installed Go toolchain: they pass with zero
findings and cgosan says nothing.

From each toolchain's source tree:
  - testsigfwd: misc/cgo/testsigfwd/main.go in Go 1.19 (a C SIGSEGV handler installed by a
    constructor, a Go nil write recovered, then a C null write that Go must forward to the C
    handler: prints "ok\ttestsigfwd"); from Go 1.21 on the same program is
    runtime/testdata/testprogcgo/sigfwd.go, run as `testprogcgo CgoSigfwd` with
    GO_TEST_CGOSIGFWD=1 (prints "OK"), built from sigfwd.go and main.go only.
  - testsanitizers: the programs of misc/cgo/testsanitizers/testdata (1.19) or
    src/cmd/cgo/internal/testsanitizers/testdata (1.21+) that the driver (msan_test.go,
    tsan_test.go, asan_test.go) expects to succeed: every `{src: "X.go"...}` case without
    wantErr or memoryAccessError (msan*.go, tsan*.go, asan_useAfterReturn.go,
    asan_global5.go). Upstream builds them with -msan/-asan or C's -fsanitize=thread; here
    they are plain cgo programs: `#cgo ... -fsanitize=...` lines are removed and msan8.go's
    <sanitizer/msan_interface.h> (MSan's runtime, absent without -fsanitize=memory) is
    replaced by a no-op __msan_poison. The programs that must fail (asan*_fail, msan_fail,
    arena_fail) and the c-shared and libFuzzer ones (other drivers) are not run, nor
    asan_useAfterReturn.go and asan_global5.go: they do not import "C", so they are static
    Go programs that LD_PRELOAD cannot reach (the wrapper refuses them).

One program has a real bug that MSan does not look for: msan6.go's C function f mallocs a
struct, returns a copy and never frees it, 129 times. cgosan reports it (leak findings
allocated in f under main.F1; checked without suppressions); the clean run uses
go_sanitizer_programs.supp, which suppresses exactly that leak.

Each program runs once without cgosan and must exit 0 (so a program that does not work
here is not blamed on cgosan), then under the wrapper with CGOSAN_OPTIONS=log_path=<dir>:
same exit status and stdout, no finding written, no line from cgosan on stderr (but the
wrapper's documented Go <1.21 efence note, as in test_behaviour.py), and stderr otherwise
equal to the plain run's after test_behaviour.normalise().

Builds are cached under <build>/integration-programs/<version>/go-sanitizers/.
Environment (set by CMake): CGOSAN_LIB, CGOSAN_BUILD_DIR.
"""

import os
import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import go_toolchains  # noqa: E402
import test_go_matrix as matrix  # noqa: E402
from harness import CgosanTestCase, run  # noqa: E402
from test_behaviour import WRAPPER, WRAPPER_NOTE, normalise  # noqa: E402

RUN_TIMEOUT = 180
SUPPRESSIONS = Path(__file__).resolve().parent / "go_sanitizer_programs.supp"
# Programs with a true finding: name -> (kind, a function of its allocation stack).
TRUE_FINDINGS = {"msan6.go": ("leak", "main.F1")}
DRIVERS = ("msan_test.go", "tsan_test.go", "asan_test.go")
CASE = re.compile(r'\{src:\s*"([^"]+\.go)"([^}]*)\}')
MSAN_STUB = "#define __msan_poison(p, n) ((void)(p), (void)(n))"


def sanitizers_dir(goroot):
    for d in (Path(goroot) / "src" / "cmd" / "cgo" / "internal" / "testsanitizers",
              Path(goroot) / "misc" / "cgo" / "testsanitizers"):
        if d.is_dir():
            return d
    return None


def passing_programs(sdir):
    """The testdata programs the driver expects to succeed, in driver order."""
    names = []
    for drv in DRIVERS:
        text = (sdir / drv).read_text()
        for name, rest in CASE.findall(text):
            if "wantErr" in rest or "memoryAccessError" in rest or name in names:
                continue
            if re.search(r'(?m)^import "C"', (sdir / "testdata" / name).read_text()):
                names.append(name)
    return names


def plain_cgo_source(text):
    """The program without sanitizer build flags or sanitizer runtime calls."""
    lines = []
    for ln in text.splitlines():
        if re.match(r"^\s*(//\s*)?#cgo\b.*-fsanitize", ln):
            continue
        if re.match(r"^\s*#include\s*<sanitizer/msan_interface\.h>", ln):
            ln = MSAN_STUB
        lines.append(ln)
    return "\n".join(lines) + "\n"


def build(version, goroot, name, files):
    """Builds the given {filename: source text} as one main package; cached by content."""
    d = harness.cache_dir() / version / "go-sanitizers" / name
    d.mkdir(parents=True, exist_ok=True)
    changed = False
    for fn, text in files.items():
        p = d / fn
        if not p.exists() or p.read_text() != text:
            p.write_text(text)
            changed = True
    out = d / (name + ".bin")
    if changed or not out.exists():
        r = subprocess.run([go_toolchains.go_binary(goroot), "build", "-o", str(out)]
                           + sorted(files), cwd=str(d), env=matrix.build_env(goroot),
                           capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"go {version}: building {name} failed:\n{r.stdout}{r.stderr}")
    return str(out)


class GoSanitizerPrograms(CgosanTestCase):
    @classmethod
    def setUpClass(cls):
        cls.toolchains = go_toolchains.toolchains()
        if not cls.toolchains:
            raise RuntimeError("no Go toolchain found (install golang-go)")
        cls.ran = 0

    def check_clean(self, version, argv, env=None, expect_stdout=None):
        env = dict(env or {})
        plain = run(argv, preload=False, env=env, timeout=RUN_TIMEOUT)
        self.assertEqual(plain.returncode, 0, "fails without cgosan\n" + plain.describe())
        if expect_stdout is not None:
            self.assertEqual(plain.stdout, expect_stdout, plain.describe())
        logs = harness.make_temp_dir()
        env.update({"CGOSAN_LIB": harness.lib_path(),
                    "CGOSAN_OPTIONS": f"log_path={logs}:suppressions={SUPPRESSIONS}"})
        pre = run([str(WRAPPER), "run", "--"] + argv, preload=False, env=env,
                  timeout=RUN_TIMEOUT)
        ctx = f"\n--- plain stderr ---\n{plain.stderr[-3000:]}\n--- cgosan run ---\n" + \
            pre.describe()
        self.assertEqual(sorted(os.listdir(logs)), [], "findings written" + ctx)
        self.assertEqual(pre.returncode, plain.returncode, "exit status differs" + ctx)
        self.assertEqual(pre.stdout, plain.stdout, "stdout differs" + ctx)
        stderr = pre.stderr
        if go_toolchains.short_version(version) in ("1.19", "1.20"):
            first, _, rest = stderr.partition("\n")
            self.assertRegex(first, WRAPPER_NOTE, ctx)
            stderr = rest
        self.assertNotIn("cgosan", stderr, "cgosan said something" + ctx)
        self.assertEqual(normalise(stderr), normalise(plain.stderr), "stderr differs" + ctx)
        type(self).ran += 1

    def check_true_finding(self, prog, kind, function):
        """Without suppressions: only findings of `kind` allocated under `function`."""
        env = {"CGOSAN_LIB": harness.lib_path()}
        logs = harness.make_temp_dir()
        env["CGOSAN_OPTIONS"] = "log_path=" + logs
        res = run([str(WRAPPER), "run", "--", prog], preload=False, env=env,
                  timeout=RUN_TIMEOUT)
        res = harness.Result(res.argv, res.pid, res.returncode, res.stdout, res.stderr, logs)
        self.assertTrue(res.findings, "the true finding is not reported\n" + res.describe())
        for f in res.findings:
            self.assertEqual(f["kind"], kind, res.describe())
            self.assertIn(function, harness.functions(f["stacks"]["alloc"]), res.describe())
        self.assertEqual(res.returncode, 66, res.describe())

    def test_sigfwd(self):
        for version, goroot in self.toolchains:
            with self.subTest(go=version):
                old = Path(goroot) / "misc" / "cgo" / "testsigfwd" / "main.go"
                new = Path(goroot) / "src" / "runtime" / "testdata" / "testprogcgo"
                if old.is_file():
                    prog = build(version, goroot, "testsigfwd", {"main.go": old.read_text()})
                    self.check_clean(version, [prog], expect_stdout="ok\ttestsigfwd\n")
                elif (new / "sigfwd.go").is_file():
                    prog = build(version, goroot, "testprogcgo-sigfwd",
                                 {f: (new / f).read_text() for f in ("main.go", "sigfwd.go")})
                    self.check_clean(version, [prog, "CgoSigfwd"],
                                     env={"GO_TEST_CGOSIGFWD": "1"}, expect_stdout="OK\n")
                else:
                    self.fail(f"Go {version}: no testsigfwd program in {goroot}")

    def test_sanitizer_programs(self):
        for version, goroot in self.toolchains:
            sdir = sanitizers_dir(goroot)
            with self.subTest(go=version):
                self.assertIsNotNone(sdir, f"no testsanitizers in {goroot}")
                names = passing_programs(sdir)
                # The driver's list, as read: a parse that finds nothing must not pass.
                for expected in ("msan.go", "msan6.go", "msan8.go", "tsan.go", "tsan12.go"):
                    self.assertIn(expected, names)
                for bad in ("msan_fail.go", "asan1_fail.go", "asan_global5.go"):
                    self.assertNotIn(bad, names)
                print(f"  go {version}: {len(names)} testsanitizers programs", file=sys.stderr)
            if sdir is None:
                continue
            for name in names:
                with self.subTest(go=version, program=name):
                    src = plain_cgo_source((sdir / "testdata" / name).read_text())
                    self.assertNotRegex(src, r"(?m)^\s*(//\s*)?#cgo\b.*-fsanitize")
                    prog = build(version, goroot, name[:-3], {name: src})
                    if name in TRUE_FINDINGS:
                        self.check_true_finding(prog, *TRUE_FINDINGS[name])
                    self.check_clean(version, [prog])

    def test_asan1_fail_found(self):
        """The other direction: asan1_fail.go (C returns a freed block, Go writes to it) is a
        heap-use-after-free at asan1_fail.go:25, the location upstream's driver expects from
        ASan. Its block is C's own, allocated during a cgo call, so it is guarded only with
        guard=all (guard=cgo samples such blocks). asan2_fail.go (a Go write 0 bytes past a
        20-byte C block that is never freed) lands in the block's alignment slack, which
        cgosan checks only at free: not found, and not tested."""
        for version, goroot in self.toolchains:
            with self.subTest(go=version):
                sdir = sanitizers_dir(goroot)
                name = "asan1_fail.go"
                prog = build(version, goroot, "asan1_fail",
                             {name: (sdir / "testdata" / name).read_text()})
                logs = harness.make_temp_dir()
                env = {"CGOSAN_LIB": harness.lib_path(),
                       "CGOSAN_OPTIONS": f"log_path={logs}:guard=all"}
                res = run([str(WRAPPER), "run", "--", prog], preload=False, env=env,
                          timeout=RUN_TIMEOUT)
                res = harness.Result(res.argv, res.pid, res.returncode, res.stdout, res.stderr,
                                     logs)
                self.assertEqual(len(res.findings), 1, res.describe())
                f = res.findings[0]
                self.assertEqual(f["kind"], "heap-use-after-free", res.describe())
                top = [fr for fr in f["stacks"]["access"] if fr.get("function") == "main.main"]
                self.assertTrue(top, res.describe())
                self.assertEqual((Path(top[0]["file"]).name, top[0]["line"]), (name, 25))
                self.assertEqual(res.returncode, 2, res.describe())  # Go's fault exit

    @classmethod
    def tearDownClass(cls):
        print(f"  programs run under cgosan with zero findings: {cls.ran}", file=sys.stderr)


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
