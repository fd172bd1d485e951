#!/usr/bin/env python3
"""Go heap, Go stack and Go map memory kept by C (issue 4), for every installed Go
toolchain (go_toolchains.toolchains(); each version, and each build of it, is a subTest).

Every program runs with GODEBUG=efence=1 (the Go runtime then faults freed large objects and
goroutine stacks) and CGOSAN_OPTIONS=log_path=<temp dir>. C keeps an address it got from Go
as an integer (C.uintptr_t) and reads it later in read_kept:
- map_bucket_uaf (bucket maps: Go <= 1.23, and 1.24 built with GOEXPERIMENT=noswissmap): an
  address in a map's bucket array; the map grows, the old array is freed:
  "map-bucket-use-after-relocation", region "map-buckets", object.map {type "map[int]int",
  array "bucket array", state "relocated", address of the hmap}, a "relocation" stack whose
  main.main frame is at the line marked "// GROW";
- swiss_map_uaf (Go 1.24 Swiss maps): the same for a table's group array
  (type "map[int]main.value", array "group array");
- go_slice_uaf: an address in a 1 MiB slice that becomes garbage: "go-heap-use-after-free",
  region "go-heap", freed.gc_cycle >= 1;
- go_stack_uaf: the address of a goroutine's local; the stack grows and moves:
  "go-stack-use-after-free", region "go-stack", object.goroutine = that goroutine,
  stack_moved true.
Each one also runs without cgosan (same GODEBUG): it must die in C, in read_kept, at the
printed address, so a program that stops reproducing is reported as such.
The correct twins (*_ok: C reads a copy in C memory) and map_grow_concurrent (16 goroutines
growing and clearing maps with cgo calls between) exit 0 with the same output as without
cgosan, no finding and no cgosan output.

Binaries are cached under <build>/integration-programs/<go version>/go-heap-<build>/<name>,
the Go build cache per version under <build>/.gocache-matrix/<go version> (as
test_go_matrix.py). Programs are modules (go.mod, go 1.19) built with GO111MODULE=on.

Environment (set by CMake): CGOSAN_LIB, CGOSAN_BUILD_DIR.
"""

import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import go_toolchains  # noqa: E402
import test_go_matrix as matrix  # noqa: E402  (its helpers; its tests do not run here)
from harness import CgosanTestCase, functions, run  # noqa: E402

GO_PROGRAMS = harness.GO_PROGRAMS
EFENCE = {"GODEBUG": "efence=1"}
TIMEOUT = 300

MAP_KIND = "map-bucket-use-after-relocation"
HEAP_KIND = "go-heap-use-after-free"
STACK_KIND = "go-stack-use-after-free"

DEFAULT = "default"    # the toolchain's own map implementation
NOSWISS = "noswissmap"  # Go 1.24 with GOEXPERIMENT=noswissmap: bucket maps again
GO_PAGE = 8192          # Go's page: a large object's span is a multiple of it
MIB = 1 << 20


def version_key(version):
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


def swiss_default(version):
    return version_key(version) >= (1, 24)


def builds(version):
    """The builds tested for a toolchain: its default, plus noswissmap from 1.24 on."""
    return [DEFAULT, NOSWISS] if swiss_default(version) else [DEFAULT]


def is_swiss(version, build):
    return swiss_default(version) and build == DEFAULT


def round_up(n, to):
    return (n + to - 1) // to * to


def marked_line(name, mark):
    """The 1-based line of tests/programs/go/<name>/main.go that carries `mark`."""
    lines = (GO_PROGRAMS / name / "main.go").read_text().splitlines()
    found = [i + 1 for i, l in enumerate(lines) if mark in l]
    if len(found) != 1:
        raise RuntimeError(f"{name}/main.go: expected one line marked {mark!r}, got {found}")
    return found[0]


_builds = {}  # (version, build, name) -> path or the exception of the failed build


def build_program(version, goroot, name, build=DEFAULT):
    """Builds the module tests/programs/go/<name> with the toolchain at goroot (cached)."""
    key = (version, build, name)
    if key in _builds:
        if isinstance(_builds[key], Exception):
            raise _builds[key]
        return _builds[key]
    src_dir = GO_PROGRAMS / name
    out = harness.cache_dir() / version / ("go-heap-" + build) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not harness._up_to_date(out, matrix._inputs(src_dir)):
            env = matrix.build_env(goroot, module=True)
            if build == NOSWISS:
                env["GOEXPERIMENT"] = "noswissmap"
            tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            argv = [go_toolchains.go_binary(goroot), "build", "-o", str(tmp), "."]
            r = subprocess.run(argv, cwd=str(src_dir), env=env, capture_output=True,
                               text=True, timeout=900)
            if r.returncode != 0:
                raise RuntimeError(f"go {version} ({build}): {' '.join(argv)} in {src_dir} "
                                   f"failed:\n{r.stdout}{r.stderr}")
            harness._install_atomically(tmp, out)
        _builds[key] = str(out)
    except Exception as e:  # remembered: the other checks of this build fail fast
        _builds[key] = e
        raise
    return str(out)


_symbols = {}


def symbol_range(prog, name):
    """[start, end) of the function `name` in prog's symbol table (nm -S), or None."""
    if prog not in _symbols:
        r = subprocess.run(["nm", "-S", "--defined-only", prog], capture_output=True,
                           text=True)
        syms = {}
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 4:
                syms[parts[3]] = (int(parts[0], 16), int(parts[0], 16) + int(parts[1], 16))
        _symbols[prog] = syms
    return _symbols[prog].get(name)


class GoHeap(CgosanTestCase):
    # Helpers shared with the Go-version matrix.
    for_each_toolchain = matrix.GoMatrix.for_each_toolchain
    assertGoEnding = matrix.GoMatrix.assertGoEnding
    assertLangFrame = matrix.GoMatrix.assertLangFrame
    assertLangOrder = matrix.GoMatrix.assertLangOrder
    assertGoFileLine = matrix.GoMatrix.assertGoFileLine
    assertCgoCall = matrix.GoMatrix.assertCgoCall
    dump = matrix.GoMatrix.dump

    @classmethod
    def setUpClass(cls):
        cls.toolchains = go_toolchains.toolchains()
        if not cls.toolchains:
            raise RuntimeError("no Go toolchain found (install golang-go)")
        print("Go toolchains: " + ", ".join(v for v, _ in cls.toolchains), file=sys.stderr)

    def for_each_build(self, check, want_swiss=None):
        """check(version, goroot, build) for every toolchain and build, each a subTest;
        want_swiss True/False keeps only the builds with/without Swiss maps."""
        ran = []
        for version, goroot in self.toolchains:
            for build in builds(version):
                if want_swiss is not None and is_swiss(version, build) != want_swiss:
                    continue
                ran.append((version, build))
                with self.subTest(go=version, build=build):
                    check(version, goroot, build)
        if not ran:
            self.skipTest("no installed Go toolchain has " +
                          ("Swiss maps (Go 1.24)" if want_swiss else "bucket maps"))

    # --- runs -----------------------------------------------------------------------------

    def run_efence(self, prog, preload=True, options=None):
        return run([prog], preload=preload, options=options, env=dict(EFENCE), timeout=TIMEOUT)

    def check_reproduces(self, prog):
        """Without cgosan, under efence: Go's crash output for a SIGSEGV in C with the
        faulting pc in read_kept (whose only access that can fault is the read through the
        kept address) and, where Go prints it, the fault address. Returns the run."""
        res = self.run_efence(prog, preload=False)
        ptr = res.printed_ptr()
        self.assertIsNotNone(ptr, "the program prints ptr=\n" + res.describe())
        self.assertExit(res, matrix.GO_EXIT)
        self.assertRegex(res.stderr, matrix.GO_FAULT, res.describe())
        m = re.search(r"\baddr=(0x[0-9a-f]+)", res.stderr)
        if m:  # Go 1.21 prints no fault address for a signal during cgo execution
            self.assertEqual(int(m.group(1), 16), ptr,
                             "the fault is at the kept address\n" + res.describe())
        m = re.search(r"\b(?:pc|PC)=(0x[0-9a-f]+)", res.stderr)
        self.assertIsNotNone(m, res.describe())
        rng = symbol_range(prog, "read_kept")
        self.assertIsNotNone(rng, "read_kept in the symbol table of " + prog)
        pc = int(m.group(1), 16)
        self.assertTrue(rng[0] <= pc < rng[1],
                        f"faulting pc {pc:#x} outside read_kept [{rng[0]:#x},{rng[1]:#x})\n" +
                        res.describe())
        self.assertIn("main._Cfunc_read_kept", res.stderr, res.describe())
        return res

    def check_clean(self, prog):
        """Exit 0, the same stdout as without cgosan, no finding, no cgosan output."""
        plain = self.run_efence(prog, preload=False)
        self.assertExit(plain, 0)
        pre = self.run_efence(prog)
        self.assertSameAsPlain([prog], preloaded=pre, plain=plain)
        self.assertExit(pre, 0)

    def run_uaf(self, prog):
        with self.subTest(check="reproduces without cgosan"):
            self.check_reproduces(prog)
        # The reproducers keep a Go pointer in C on purpose, to fault later: the retention
        # audits would report that first (test_retention.py covers them), whenever an audit
        # comes before the GC frees the memory. Off here, so that the fault is the finding.
        res = self.run_efence(prog, options=["retention_check=0"])
        self.assertIsNotNone(res.printed_ptr(), res.describe())
        return res

    # --- shared checks on a finding -------------------------------------------------------

    def assertInside(self, f, ptr):
        self.assertAddress(f, ptr)
        obj = f["object"]
        self.assertIsNotNone(obj, self.dump(f))
        base = int(obj["base"], 16)
        self.assertTrue(base <= ptr < base + obj["size"],
                        f"address {ptr:#x} outside the object" + self.dump(f))
        self.assertEqual(obj["offset"], ptr - base, self.dump(f))
        return obj

    def assertReadInC(self, f, caller):
        """read_kept (C) faulted, called through cgo by `caller` (Go)."""
        with self.subTest(check="access"):
            self.assertEqual(f["access"]["type"], "read", self.dump(f))
        with self.subTest(check="access stack"):
            self.assertStackTop(f, "access", "read_kept")
            self.assertLangOrder(f, "access", [("read_kept", "c"),
                                               (re.escape(caller), "go")])
            self.assertGoFileLine(self.assertLangFrame(f, "access", re.escape(caller), "go"))
        with self.subTest(check="cgo_call"):
            self.assertCgoCall(f, "read_kept", caller)

    # --- map arrays -----------------------------------------------------------------------

    def check_map_uaf(self, prog, name, map_type, array):
        res = self.run_uaf(prog)
        ptr, base = res.printed_ptr(), res.printed_ptr("base")
        size, hmap = int(res.printed("size")), res.printed_ptr("map")
        f = self.single_finding(res, MAP_KIND)
        obj = self.assertInside(f, ptr)
        self.assertEqual(obj["region"], "map-buckets", self.dump(f))
        with self.subTest(check="object is the array"):
            self.assertEqual(int(obj["base"], 16), base, self.dump(f))
            self.assertTrue(size <= obj["size"] <= round_up(size, GO_PAGE),
                            f"array of {size} bytes" + self.dump(f))
        with self.subTest(check="object.map"):
            m = obj.get("map")
            self.assertIsInstance(m, dict, self.dump(f))
            self.assertEqual(m.get("type"), map_type, self.dump(f))
            self.assertEqual(m.get("array"), array, self.dump(f))
            self.assertEqual(m.get("state"), "relocated", self.dump(f))
            self.assertRegex(m.get("address") or "", harness.HEX, self.dump(f))
            self.assertEqual(int(m["address"], 16), hmap, "the map's header" + self.dump(f))
        self.assertReadInC(f, "main.main")
        with self.subTest(check="relocation stack"):
            line = marked_line(name, "// GROW")
            frs = matrix.frames_named(self.stack(f, "relocation"), r"main\.main")
            self.assertTrue(frs, "main.main in the relocation stack: " +
                            str(functions(self.stack(f, "relocation"))))
            self.assertEqual(frs[0]["lang"], "go", self.dump(f))
            self.assertGoFileLine(frs[0])
            self.assertEqual(frs[0]["line"], line, "the insert that grew the map (// GROW)" +
                             self.dump(f))
        self.assertGoEnding(res)

    def test_map_bucket_uaf(self):
        def check(version, goroot, build):
            prog = build_program(version, goroot, "map_bucket_uaf", build)
            self.check_map_uaf(prog, "map_bucket_uaf", "map[int]int", "bucket array")

        self.for_each_build(check, want_swiss=False)

    def test_map_bucket_ok(self):
        def check(version, goroot, build):
            self.check_clean(build_program(version, goroot, "map_bucket_ok", build))

        self.for_each_build(check, want_swiss=False)

    def test_swiss_map_uaf(self):
        def check(version, goroot, build):
            prog = build_program(version, goroot, "swiss_map_uaf", build)
            self.check_map_uaf(prog, "swiss_map_uaf", "map[int]main.value", "group array")

        self.for_each_build(check, want_swiss=True)

    def test_swiss_map_ok(self):
        def check(version, goroot, build):
            self.check_clean(build_program(version, goroot, "swiss_map_ok", build))

        self.for_each_build(check, want_swiss=True)

    # --- Go heap ---------------------------------------------------------------------------

    def test_go_slice_uaf(self):
        def check(version, goroot):
            res = self.run_uaf(build_program(version, goroot, "go_slice_uaf"))
            ptr, base = res.printed_ptr(), res.printed_ptr("base")
            f = self.single_finding(res, HEAP_KIND)
            obj = self.assertInside(f, ptr)
            self.assertEqual(obj["region"], "go-heap", self.dump(f))
            with self.subTest(check="object is the slice's array"):
                self.assertEqual(int(obj["base"], 16), base, self.dump(f))
                self.assertTrue(MIB <= obj["size"] < MIB + GO_PAGE, self.dump(f))
            with self.subTest(check="object.freed"):
                freed = obj.get("freed")
                self.assertIsInstance(freed, dict, self.dump(f))
                gc = freed.get("gc_cycle")
                self.assertTrue(isinstance(gc, int) and not isinstance(gc, bool) and gc >= 1,
                                "freed by a GC cycle (the program ran two)" + self.dump(f))
                ms = freed.get("ms")
                self.assertTrue(ms is None or (isinstance(ms, int) and ms >= 0), self.dump(f))
            self.assertReadInC(f, "main.main")
            self.assertGoEnding(res)

        self.for_each_toolchain(check)

    def test_go_slice_ok(self):
        def check(version, goroot):
            self.check_clean(build_program(version, goroot, "go_slice_ok"))

        self.for_each_toolchain(check)

    # --- goroutine stacks -----------------------------------------------------------------

    def test_go_stack_uaf(self):
        def check(version, goroot):
            res = self.run_uaf(build_program(version, goroot, "go_stack_uaf"))
            ptr, goroutine = res.printed_ptr(), int(res.printed("goroutine"))
            self.assertNotEqual(goroutine, 1, "the local is on a goroutine that is not main")
            f = self.single_finding(res, STACK_KIND)
            obj = self.assertInside(f, ptr)
            self.assertEqual(obj["region"], "go-stack", self.dump(f))
            with self.subTest(check="object.goroutine"):
                self.assertEqual(obj.get("goroutine"), goroutine, self.dump(f))
            with self.subTest(check="object.stack_moved"):
                self.assertIs(obj.get("stack_moved"), True,
                              "the goroutine is alive: its stack grew and moved" + self.dump(f))
            self.assertReadInC(f, "main.worker")
            with self.subTest(check="the goroutine's own stack"):
                self.assertLangOrder(f, "access", [("read_kept", "c"), (r"main\.worker", "go"),
                                                   (r"runtime\.goexit", "go")])
                self.assertNotIn("main.main", functions(self.stack(f, "access")))
            self.assertGoEnding(res)

        self.for_each_toolchain(check)

    def test_go_stack_ok(self):
        def check(version, goroot):
            self.check_clean(build_program(version, goroot, "go_stack_ok"))

        self.for_each_toolchain(check)

    # --- no bug: concurrent map growth ----------------------------------------------------

    def test_map_grow_concurrent(self):
        def check(version, goroot, build):
            self.check_clean(build_program(version, goroot, "map_grow_concurrent", build))

        self.for_each_build(check)


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
