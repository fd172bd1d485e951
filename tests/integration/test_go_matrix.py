#!/usr/bin/env python3
"""The Go-version matrix (issue 3, "Tests"): for every Go toolchain that is installed
(go_toolchains.toolchains(): Debian's default go, plus whatever scripts/go-toolchains put in
build/go-toolchains), cgo programs are built with that toolchain during the test and run
under the preload, and the JSON findings are checked for mixed C/Go stacks:

(1) cstring_map_uaf (a C.CString kept in a Go map, freed, then read by C), non-PIE and
    -buildmode=pie: access, free and alloc stacks reach main.main (lang "go", with
    main.go:line), cgo_call names read_first_byte called by main.main, the object was
    allocated for Go (origin "for-go");
(2) goroutine_fault: the same fault on a goroutine that is not main: the access stack ends
    in that goroutine's function and runtime.goexit;
(3) callback_chain: main.main -> C chain_outer -> exported Go goVisit -> C chain_inner_read
    (the fault): the access stack alternates C, Go, C, Go;
(4) c_thread_callback: a thread created by pthread_create in C calls the exported Go
    goOnCThread, which calls the faulting C thread_inner_read;
(5) a stripped binary (-ldflags=-s -w): still reported, no crash of cgosan, the verbosity-1
    line "cgo call interception off", and Go frames (from pclntab);
(6) `scripts/cgosan test -run TestUseAfterFree ./...` on tests/programs/gotest/uafpkg: a
    failing exit status and a finding whose access stack names the test function; TestOK
    alone passes without a finding.
Each toolchain is a subTest, so one run lists every failure of every version. Binaries are
cached under <build>/integration-programs/<go version>/<variant>/<program>, the Go build
cache per version under <build>/.gocache-matrix/<go version>.

Environment (set by CMake): CGOSAN_LIB, CGOSAN_BUILD_DIR.
"""

import json
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
from harness import CgosanTestCase, functions, run  # noqa: E402

GO_PROGRAMS = harness.GO_PROGRAMS
GOTEST_PKG = harness.REPO / "tests" / "programs" / "gotest" / "uafpkg"
WRAPPER = harness.REPO / "scripts" / "cgosan"
GO_EXIT = 2
# Go's own crash output for a fault in C: up to Go 1.20 a throw, from 1.21 on the signal
# report ("SIGSEGV: segmentation violation ... signal arrived during cgo execution").
GO_FAULT = re.compile(r"(?m)^(fatal error: unexpected signal during runtime execution|"
                      r"SIGSEGV: segmentation violation)$")
CFUNC = r"_cgo_[0-9a-f]+_Cfunc_"

# variant -> extra `go build` flags
VARIANTS = {
    "exe": [],
    "pie": ["-buildmode=pie"],
    "stripped": ["-ldflags=-s -w"],
}


def gocache_root():
    d = harness.build_dir() / ".gocache-matrix"
    d.mkdir(parents=True, exist_ok=True)
    return d


def build_env(goroot, module=False):
    env = go_toolchains.go_env(goroot, gocache_root())
    env["CGO_CFLAGS"] = "-g -O0"  # as harness.go_env: C frames keep their own frame
    env["GO111MODULE"] = "on" if module else "off"
    env.setdefault("HOME", str(harness.build_dir()))
    return env


_builds = {}  # (version, variant, name) -> path or the exception of the failed build


def _inputs(src_dir):
    return [p for p in sorted(Path(src_dir).iterdir()) if p.is_file()]


def build_program(version, goroot, name, variant="exe"):
    """Builds the directory tests/programs/go/<name> (GOPATH mode, so a program may have
    .c files beside main.go) with the toolchain at goroot; cached. Returns the binary."""
    key = (version, variant, name)
    if key in _builds:
        if isinstance(_builds[key], Exception):
            raise _builds[key]
        return _builds[key]
    src_dir = GO_PROGRAMS / name
    out = harness.cache_dir() / version / variant / name
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not harness._up_to_date(out, _inputs(src_dir)):
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            argv = [go_toolchains.go_binary(goroot), "build", "-o", str(tmp)] + \
                VARIANTS[variant] + ["."]
            r = subprocess.run(argv, cwd=str(src_dir), env=build_env(goroot),
                               capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                raise RuntimeError(f"go {version}: {' '.join(argv)} failed:\n"
                                   f"{r.stdout}{r.stderr}")
            harness._install_atomically(tmp, out)
        _builds[key] = str(out)
    except Exception as e:  # remembered: the other checks of this version fail fast
        _builds[key] = e
        raise
    return str(out)


def elf_type(path):
    with open(path, "rb") as fh:
        head = fh.read(18)
    return int.from_bytes(head[16:18], "little")  # 2 = ET_EXEC, 3 = ET_DYN


def frames_named(stack, pattern):
    return [fr for fr in stack if fr.get("function") and re.fullmatch(pattern, fr["function"])]


class GoMatrix(CgosanTestCase):
    @classmethod
    def setUpClass(cls):
        cls.toolchains = go_toolchains.toolchains()
        if not cls.toolchains:
            raise RuntimeError("no Go toolchain found (install golang-go)")
        print("Go toolchains: " + ", ".join(v for v, _ in cls.toolchains), file=sys.stderr)

    def for_each_toolchain(self, check):
        """check(version, goroot) for every toolchain, each in its own subTest (a failure
        or error in one version does not stop the others)."""
        for version, goroot in self.toolchains:
            with self.subTest(go=version):
                check(version, goroot)

    # --- helpers --------------------------------------------------------------------------

    def run_bug(self, version, goroot, name, variant="exe", options=()):
        prog = build_program(version, goroot, name, variant)
        res = run([prog, "bug"], options=list(options), timeout=120)
        self.assertIsNotNone(res.printed_ptr(), res.describe())
        return res

    def check_twin(self, version, goroot, name, variant="exe"):
        prog = build_program(version, goroot, name, variant)
        pre, _ = self.assertSameAsPlain([prog, "ok"])
        self.assertExit(pre, 0)

    def assertGoEnding(self, res):
        """Exit status 2, Go's own crash output after cgosan's report."""
        self.assertExit(res, GO_EXIT)
        go = GO_FAULT.search(res.stderr)
        self.assertIsNotNone(go, "Go's own crash output\n" + res.describe())
        m = re.search(r"(?m)^==\d+==cgosan: SUMMARY: ", res.stderr)
        self.assertIsNotNone(m, res.describe())
        self.assertLess(m.start(), go.start(), "the report comes before Go's crash output")

    def dump(self, f):
        return "\n" + json.dumps(f, indent=1)[:8000]

    def assertLangFrame(self, f, stack, pattern, lang):
        """Stack `stack` has a frame named `pattern`, and its lang is `lang`."""
        st = self.stack(f, stack)
        frs = frames_named(st, pattern)
        self.assertTrue(frs, f"no frame matching {pattern!r} in stack '{stack}': "
                        f"{functions(st)}")
        self.assertEqual(frs[0]["lang"], lang, f"lang of {frs[0]['function']} in {stack}: "
                         f"{frs[0]}")
        return frs[0]

    def assertGoFileLine(self, fr, file_suffix="main.go"):
        """A Go frame of the user's code carries its file and line (from pclntab)."""
        self.assertIsInstance(fr.get("file"), str, f"no file on Go frame {fr}")
        self.assertTrue(fr["file"].endswith(file_suffix), f"file of {fr['function']}: {fr}")
        self.assertIsInstance(fr.get("line"), int, f"no line on Go frame {fr}")
        self.assertGreater(fr["line"], 0, fr)

    def assertCgoCall(self, f, function, caller):
        cc = f.get("cgo_call")
        self.assertIsInstance(cc, dict, "cgo_call should name the C call in progress" +
                              self.dump(f))
        self.assertEqual(cc.get("function"), function, self.dump(f))
        self.assertIsInstance(cc.get("caller"), dict, self.dump(f))
        self.assertEqual(cc["caller"].get("function"), caller, self.dump(f))
        self.assertEqual(cc["caller"].get("lang"), "go", self.dump(f))
        return cc

    def assertLangOrder(self, f, stack, expected):
        """expected: [(function regex, lang)] innermost first; the first frame matching each
        regex (after the previous one) has that lang and they come in this order."""
        st = self.stack(f, stack)
        fns = functions(st)
        i = 0
        got = []
        for fr in st:
            if i < len(expected) and fr.get("function") and \
                    re.fullmatch(expected[i][0], fr["function"]):
                got.append((fr["function"], fr["lang"]))
                i += 1
        self.assertEqual(i, len(expected), f"stack '{stack}' should contain "
                         f"{[p for p, _ in expected]} in order: {fns}")
        self.assertEqual([l for _, l in got], [l for _, l in expected],
                         f"languages along stack '{stack}': {got}")

    # --- (1) C.CString in a map, freed, read by C ------------------------------------------

    def check_cstring_map_uaf(self, version, goroot, variant):
        res = self.run_bug(version, goroot, "cstring_map_uaf", variant)
        ptr = res.printed_ptr()
        f = self.single_finding(res, "heap-use-after-free")
        self.assertAddress(f, ptr)
        self.assertEqual(f["access"]["type"], "read")
        self.assertObject(f, "c-heap", ptr, 13, 0)
        self.assertStackTop(f, "access", "read_first_byte")
        self.assertLangFrame(f, "access", "read_first_byte", "c")
        with self.subTest(check="object.origin"):
            self.assertEqual(f["object"].get("origin"), "for-go",
                             "C.CString allocates for Go" + self.dump(f))
        with self.subTest(check="cgo_call"):
            self.assertCgoCall(f, "read_first_byte", "main.main")
        for name, stub in (("access", "read_first_byte"), ("free", "free"),
                           ("alloc", "CString")):
            with self.subTest(check="go frames", stack=name):
                self.assertLangFrame(f, name, r"main\.main", "go")
                self.assertFrameOrder(f, name, [r"runtime\.asmcgocall", r"runtime\.cgocall",
                                                r"main\._Cfunc_" + stub, r"main\.main",
                                                r"runtime\.main", r"runtime\.goexit"])
            with self.subTest(check="go file:line", stack=name):
                for fr in frames_named(self.stack(f, name), r"main\.main"):
                    self.assertGoFileLine(fr)
        with self.subTest(check="go file:line", frame="cgo_call.caller"):
            self.assertGoFileLine(self.assertCgoCall(f, "read_first_byte", "main.main")
                                  ["caller"])
        self.assertGoEnding(res)
        return res

    def test_1_cstring_map_uaf(self):
        def check(version, goroot):
            prog = build_program(version, goroot, "cstring_map_uaf", "exe")
            self.assertEqual(elf_type(prog), 2, "default build: ET_EXEC")
            self.check_cstring_map_uaf(version, goroot, "exe")
            with self.subTest(check="twin"):
                self.check_twin(version, goroot, "cstring_map_uaf", "exe")

        self.for_each_toolchain(check)

    def test_1_cstring_map_uaf_pie(self):
        def check(version, goroot):
            prog = build_program(version, goroot, "cstring_map_uaf", "pie")
            self.assertEqual(elf_type(prog), 3, "-buildmode=pie: ET_DYN")
            self.check_cstring_map_uaf(version, goroot, "pie")
            with self.subTest(check="twin"):
                self.check_twin(version, goroot, "cstring_map_uaf", "pie")

        self.for_each_toolchain(check)

    # --- (2) a goroutine that is not main -------------------------------------------------

    def test_2_goroutine_fault(self):
        def check(version, goroot):
            res = self.run_bug(version, goroot, "goroutine_fault")
            ptr = res.printed_ptr()
            f = self.single_finding(res, "heap-use-after-free")
            self.assertAddress(f, ptr)
            self.assertObject(f, "c-heap", ptr, 17, 0)  # "hello, goroutine" + NUL
            self.assertStackTop(f, "access", "read_first_byte")
            with self.subTest(check="goroutine's stack"):
                self.assertLangOrder(f, "access", [
                    ("read_first_byte", "c"), (r"main\.readInGoroutine", "go"),
                    (r"runtime\.goexit", "go")])
                fns = functions(self.stack(f, "access"))
                # The walk follows the faulting goroutine, never main's.
                self.assertNotIn("runtime.main", fns)
                self.assertNotIn("main.main", fns)
            with self.subTest(check="free on the goroutine"):
                self.assertLangOrder(f, "free", [
                    (r"main\.readInGoroutine", "go"), (r"runtime\.goexit", "go")])
            with self.subTest(check="alloc on main"):
                self.assertLangOrder(f, "alloc", [(r"main\.main", "go"),
                                                  (r"runtime\.main", "go")])
            with self.subTest(check="cgo_call"):
                self.assertCgoCall(f, "read_first_byte", "main.readInGoroutine")
            with self.subTest(check="go file:line"):
                self.assertGoFileLine(self.assertLangFrame(f, "access",
                                                           r"main\.readInGoroutine", "go"))
            self.assertGoEnding(res)
            with self.subTest(check="twin"):
                self.check_twin(version, goroot, "goroutine_fault")

        self.for_each_toolchain(check)

    # --- (3) main -> C -> exported Go -> C ------------------------------------------------

    def test_3_callback_chain(self):
        def check(version, goroot):
            res = self.run_bug(version, goroot, "callback_chain")
            ptr = res.printed_ptr()
            f = self.single_finding(res, "heap-use-after-free")
            self.assertAddress(f, ptr)
            self.assertObject(f, "c-heap", ptr, 16, 0)  # "hello, callback" + NUL
            self.assertStackTop(f, "access", "chain_inner_read")
            with self.subTest(check="C, Go, C, Go through the physical frames"):
                # goVisit is small: the compiler inlines it into its cgo export wrapper
                # _cgoexp_<hash>_goVisit, which is then the physical frame of goVisit.
                self.assertLangOrder(f, "access", [
                    ("chain_inner_read", "c"),
                    (r"main\.goVisit|_cgoexp_[0-9a-f]+_goVisit", "go"),
                    ("chain_outer", "c"),
                    (r"main\.main", "go"),
                    (r"runtime\.main", "go")])
            with self.subTest(check="exported Go function by name (inline expansion)"):
                self.assertLangOrder(f, "access", [
                    ("chain_inner_read", "c"), (r"main\.goVisit", "go"),
                    ("chain_outer", "c"), (r"main\.main", "go")])
            with self.subTest(check="cgo_call"):
                self.assertCgoCall(f, "chain_inner_read", "main.goVisit")
            with self.subTest(check="go file:line"):
                self.assertGoFileLine(self.assertLangFrame(f, "access", r"main\.goVisit",
                                                           "go"))
                self.assertGoFileLine(self.assertLangFrame(f, "access", r"main\.main", "go"))
            self.assertGoEnding(res)
            with self.subTest(check="twin"):
                self.check_twin(version, goroot, "callback_chain")

        self.for_each_toolchain(check)

    # --- (4) a C thread calling into Go ---------------------------------------------------

    # --- (7) a Go panic unwinding through C frames --------------------------------------

    def test_7_panic_through_c_frames(self):
        # 100 recovered panics through C frames abandon 100 cgo call records without an exit;
        # resynchronisation by stack pointer must drop them, so the later finding names the
        # cgo call really in progress (with depth counting alone it would be past the 64
        # records kept and name none).
        def check(version, goroot):
            res = self.run_bug(version, goroot, "panic_through_c")
            f = self.single_finding(res, "heap-use-after-free")
            self.assertAddress(f, res.printed_ptr())
            self.assertCgoCall(f, "read_first", "main.main")
            self.assertStackTop(f, "access", "read_first")
            self.assertGoEnding(res)
            with self.subTest(check="twin"):
                self.check_twin(version, goroot, "panic_through_c")

        self.for_each_toolchain(check)

    def test_4_c_thread_callback(self):
        def check(version, goroot):
            res = self.run_bug(version, goroot, "c_thread_callback")
            ptr = res.printed_ptr()
            f = self.single_finding(res, "heap-use-after-free")
            self.assertAddress(f, ptr)
            self.assertObject(f, "c-heap", ptr, 16, 0)  # "hello, C thread" + NUL
            self.assertStackTop(f, "access", "thread_inner_read")
            self.assertNotEqual(f["thread"]["tid"], res.pid, "the fault is on the C thread")
            with self.subTest(check="C then the exported Go function"):
                self.assertLangOrder(f, "access", [
                    ("thread_inner_read", "c"), (r"main\.goOnCThread", "go")])
            with self.subTest(check="back into C: the thread's start routine"):
                self.assertLangOrder(f, "access", [
                    ("thread_inner_read", "c"), (r"main\.goOnCThread", "go"),
                    ("thread_main", "c")])
            with self.subTest(check="cgo_call"):
                self.assertCgoCall(f, "thread_inner_read", "main.goOnCThread")
            self.assertGoEnding(res)
            with self.subTest(check="twin"):
                self.check_twin(version, goroot, "c_thread_callback")

        self.for_each_toolchain(check)

    # --- (5) stripped binary --------------------------------------------------------------

    def test_5_stripped(self):
        def check(version, goroot):
            prog = build_program(version, goroot, "cstring_map_uaf", "stripped")
            r = subprocess.run(["readelf", "-SW", prog], capture_output=True, text=True)
            self.assertNotIn(".symtab", r.stdout, "-ldflags=-s -w removes .symtab")
            res = self.run_bug(version, goroot, "cstring_map_uaf", "stripped",
                               options=["verbosity=1"])
            ptr = res.printed_ptr()
            f = self.single_finding(res, "heap-use-after-free")
            self.assertAddress(f, ptr)
            self.assertObject(f, "c-heap", ptr, 13, 0)
            self.assertGoEnding(res)
            self.assertIn("cgo call interception off", res.stderr, res.describe())
            with self.subTest(check="go frames from pclntab"):
                for name in ("access", "free", "alloc"):
                    fr = self.assertLangFrame(f, name, r"main\.main", "go")
                    self.assertGoFileLine(fr)
            with self.subTest(check="twin"):
                self.check_twin(version, goroot, "cstring_map_uaf", "stripped")

        self.for_each_toolchain(check)

    # --- (6) cgosan test ------------------------------------------------------------------

    def gotest_dir(self, version):
        """A copy of the package at a stable place per version (so go's build cache is
        reused between runs); refreshed when the sources change."""
        dst = harness.cache_dir() / version / "gotest" / "uafpkg"
        dst.mkdir(parents=True, exist_ok=True)
        names = {p.name for p in _inputs(GOTEST_PKG)}
        for p in _inputs(dst):
            if p.name not in names:
                p.unlink()
        for src in _inputs(GOTEST_PKG):
            d = dst / src.name
            if not d.exists() or d.read_bytes() != src.read_bytes():
                shutil.copyfile(src, d)
        return dst

    def cgosan_test(self, version, goroot, *args):
        pkg = self.gotest_dir(version)
        log_dir = harness.make_temp_dir()
        env = build_env(goroot, module=True)
        env["CGOSAN_LIB"] = harness.lib_path()
        env["CGOSAN_BUILD_DIR"] = str(harness.build_dir())
        env["CGOSAN_OPTIONS"] = "log_path=" + log_dir
        r = subprocess.run([str(WRAPPER), "test", *args], cwd=str(pkg), env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=900)
        files = sorted(os.listdir(log_dir))
        findings = []
        for n in files:
            with open(os.path.join(log_dir, n)) as fh:
                findings.append(json.load(fh))
        desc = (f"cgosan test {' '.join(args)} (go {version}): exit {r.returncode}\n"
                f"--- stdout ---\n{r.stdout[-4000:]}\n--- stderr ---\n{r.stderr[-6000:]}\n"
                f"--- log files --- {files}")
        return r, files, findings, desc

    def test_6_cgosan_test(self):
        def check(version, goroot):
            r, files, findings, desc = self.cgosan_test(version, goroot, "-run",
                                                        "TestUseAfterFree", "./...")
            self.assertNotEqual(r.returncode, 0, desc)
            self.assertEqual(len(findings), 1, desc)
            self.assertTrue(files[0].startswith("cgosan.uafpkg.test."), desc)
            f = findings[0]
            self.assertEqual(f.get("kind"), "heap-use-after-free", desc)
            self.assertIn("FAIL", r.stdout, desc)
            with self.subTest(check="test function in the access stack"):
                self.assertLangOrder(f, "access", [
                    (r"example\.com/uafpkg\.TestUseAfterFree", "go"),
                    (r"testing\.tRunner", "go")])
            with self.subTest(check="free and alloc stacks"):
                self.assertLangFrame(f, "free", r"example\.com/uafpkg\.Names\.FreeOnly", "go")
                self.assertLangFrame(f, "alloc", r"example\.com/uafpkg\.NewNames", "go")
            with self.subTest(check="cgo_call"):
                cc = self.assertCgoCall(f, "read_first_byte",
                                        "example.com/uafpkg.Names.First")
            with self.subTest(check="go file:line"):
                fr = self.assertLangFrame(f, "access",
                                          r"example\.com/uafpkg\.TestUseAfterFree", "go")
                self.assertGoFileLine(fr, "uafpkg_test.go")
            with self.subTest(check="TestOK passes"):
                r, files, findings, desc = self.cgosan_test(version, goroot, "-run",
                                                            "TestOK", "-v", "./...")
                self.assertEqual(r.returncode, 0, desc)
                self.assertEqual(files, [], desc)
                self.assertIn("--- PASS: TestOK", r.stdout, desc)
                self.assertNotIn("cgosan", r.stderr, desc)

        self.for_each_toolchain(check)


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
