#!/usr/bin/env python3
"""Go pointers kept by C, and C memory leaked from Go (issue 5), for every installed Go
toolchain (each version, and each build of it, a subTest; programs in tests/programs/go).

Retention (go-pointer-retained): C keeps a Go pointer after the cgo call returned.
- retain_global: the address of a live Go slice's array in a C global: holder "global"
  with symbol "kept" in the executable, object region go-heap around the pointer, cgo_call
  C.keep with the Go line marked KEEP in its stack; two callers at the same depth each
  named, also when they differ only two frames above the call; the same pointer given
  twice: the later call named;
- retain_stack: the address of a goroutine's local: object region go-stack, that goroutine;
- retain_map_bucket (bucket maps): a pointer into a small map's bucket array, kept in a
  block Go allocated with C.malloc, then the map grows: object "bucket array of
  map[int]int" at the printed base, holder the C heap block allocated at the ALLOC line,
  relocation stack at the GROW line;
- retain_pinned (1.21+): pinned with runtime.Pinner while kept: no report; kept after Unpin:
  reported;
- retain_transient: pointers held only while the call runs (globals and malloc'd blocks
  cleared before returning, calls in flight on other goroutines during audits): no report;
- retain_freed_holder: each call stores its Go pointer in a block it frees before returning
  (the freed block keeps the pointer, in quarantine), beside a 32 MB C heap that makes each
  audit pass long enough to read blocks freed since its snapshot: no report.
Leaks (leak): leak_cstring keeps C.CString values in a map and clears it: one finding of
100 blocks / 1300 bytes whose allocation stack is the CSTRING line; the same values freed
before the clear: no report.
Findings turn exit status 0 into exitcode (66); suppressions skip them (and then the status
stays 0); halt_on_error=1 stops the program at the first one; a malformed suppressions file
stops it before it runs. Every plain run (no preload) exits 0 with the same stdout.

Environment (set by CMake): CGOSAN_LIB, CGOSAN_BUILD_DIR.
"""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_go_heap as goheap  # noqa: E402  (its builders; its tests do not run here)
from harness import CgosanTestCase, functions, run  # noqa: E402

RETAINED = "go-pointer-retained"
LEAK = "leak"
EXITCODE = 66
TIMEOUT = 300


def masked(stdout):
    """Output compared between runs: addresses and goroutine ids vary from run to run."""
    return re.sub(r"goroutine=\d+", "goroutine=?", harness.mask_hex(stdout))


class Retention(CgosanTestCase):
    # Helpers shared with the Go heap tests (whose tests do not run here).
    @classmethod
    def setUpClass(cls):
        cls.toolchains = goheap.go_toolchains.toolchains()
        if not cls.toolchains:
            raise RuntimeError("no Go toolchain found (install golang-go)")

    for_each_toolchain = goheap.GoHeap.for_each_toolchain
    for_each_build = goheap.GoHeap.for_each_build
    assertInside = goheap.GoHeap.assertInside
    dump = goheap.GoHeap.dump

    def run_prog(self, prog, *args, options=None, preload=True):
        return run([prog, *args], preload=preload, options=options, timeout=TIMEOUT)

    def assertPlainOk(self, prog, *args):
        plain = self.run_prog(prog, *args, preload=False)
        self.assertExit(plain, 0)
        return plain

    def finding(self, prog, *args, kind=RETAINED, options=None):
        """Runs prog with the preload: exactly one finding of `kind`, exit status 66 (the
        program exits 0 on its own), the program ran to its end. Returns (res, finding)."""
        plain = self.assertPlainOk(prog, *args)
        res = self.run_prog(prog, *args, options=options)
        f = self.single_finding(res, kind)
        self.assertExit(res, EXITCODE)
        self.assertEqual(masked(res.stdout), masked(plain.stdout),
                         "the program runs on after the finding\n" + res.describe())
        return res, f

    def assertGoLineIn(self, f, stack, function, name, mark):
        """The stack has the Go frame `function` at the line of main.go marked `mark`."""
        frames = [fr for fr in self.stack(f, stack) if fr.get("function") == function]
        self.assertTrue(frames, f"{function} in stack {stack}: " +
                        str(functions(self.stack(f, stack))))
        self.assertEqual(frames[0]["lang"], "go", self.dump(f))
        self.assertEqual(frames[0]["line"], goheap.marked_line(name, mark), self.dump(f))

    def assertCgoCallReceived(self, f, function, ptr):
        call = f.get("cgo_call")
        self.assertIsInstance(call, dict, self.dump(f))
        self.assertEqual(call["function"], function, self.dump(f))
        self.assertIn(ptr, [int(p, 16) for p in call["go_pointers"]], self.dump(f))

    def assertRetainedObject(self, f, ptr, region):
        self.assertAddress(f, ptr)
        obj = self.assertInside(f, ptr)
        self.assertEqual(obj["region"], region, self.dump(f))
        return obj

    # --- retention --------------------------------------------------------------------------

    def test_retain_global(self):
        def check(version, goroot):
            prog = goheap.build_program(version, goroot, "retain_global")
            res, f = self.finding(prog)
            ptr = res.printed_ptr()
            self.assertRetainedObject(f, ptr, "go-heap")
            self.assertTrue(f["object"]["size"] >= 64, self.dump(f))
            h = f.get("holder")
            self.assertIsInstance(h, dict, self.dump(f))
            self.assertEqual(h["region"], "global", self.dump(f))
            self.assertEqual(h["symbol"], "kept", self.dump(f))
            self.assertEqual(h["module"], os.path.realpath(prog), self.dump(f))
            self.assertEqual(h["offset"], 0, self.dump(f))
            self.assertEqual(h["size"], 8, self.dump(f))
            self.assertCgoCallReceived(f, "keep", ptr)
            self.assertGoLineIn(f, "cgo_call", "main.main", "retain_global", "// KEEP")
            self.assertIn("held in the global kept", self.text_body(res), res.describe())

        self.for_each_toolchain(check)

    def assertTwoCallersNamed(self, mode, callers):
        """retain_global in `mode`: two findings (kept_slots[0] and [1]), each naming its own
        caller of `callers` ((function, mark) for slot 0 and for slot 1), never the other."""
        def check(version, goroot):
            prog = goheap.build_program(version, goroot, "retain_global")
            self.assertPlainOk(prog, mode)
            res = self.run_prog(prog, mode)
            self.assertExit(res, EXITCODE)
            found = sorted((f for f in res.findings if f["kind"] == RETAINED),
                           key=lambda f: f["holder"]["offset"])
            self.assertEqual([f["holder"]["offset"] for f in found], [0, 8], res.describe())
            (caller_a, mark_a), (caller_b, mark_b) = callers
            for f, name, caller, other, mark in ((found[0], "a", caller_a, caller_b, mark_a),
                                                 (found[1], "b", caller_b, caller_a, mark_b)):
                self.assertEqual(f["holder"]["symbol"], "kept_slots", self.dump(f))
                self.assertCgoCallReceived(f, "keep_at", res.printed_ptr(name))
                self.assertGoLineIn(f, "cgo_call", caller, "retain_global", mark)
                self.assertNotIn(other, functions(self.stack(f, "cgo_call")), self.dump(f))

        self.for_each_toolchain(check)

    def test_retain_by_two_callers_at_the_same_depth(self):
        # Each call's calling frames come from a per-thread cache keyed by the goroutine's
        # depth: viaA and viaB call the same C function at the same depth, and only the
        # return addresses on the goroutine stack differ. Each finding names its own caller.
        self.assertTwoCallersNamed("two", (("main.viaA", "// VIA_A"), ("main.viaB", "// VIA_B")))

    def test_retain_by_two_callers_that_differ_two_frames_up(self):
        # outerA and outerB both call inner, which calls C: the innermost Go frames and the
        # return address into inner are the same for both calls, only the one into outerA
        # or outerB differs. A cache that confirmed only the frames near the call would name
        # outerA for both.
        self.assertTwoCallersNamed("outer", (("main.outerA", "// OUTER_A"),
                                             ("main.outerB", "// OUTER_B")))

    def test_retain_names_the_later_of_two_calls(self):
        # The ring entries carry no time stamp: calls of one thread between two audits are
        # ordered by the thread's count of calls. keepFirst and then keepAgain give C the
        # same pointer: the finding names the later call.
        def check(version, goroot):
            prog = goheap.build_program(version, goroot, "retain_global")
            res, f = self.finding(prog, "again")
            self.assertCgoCallReceived(f, "keep", res.printed_ptr())
            self.assertGoLineIn(f, "cgo_call", "main.keepAgain", "retain_global", "// TWICE")
            self.assertNotIn("main.keepFirst", functions(self.stack(f, "cgo_call")), self.dump(f))

        self.for_each_toolchain(check)

    def test_retain_stack(self):
        def check(version, goroot):
            prog = goheap.build_program(version, goroot, "retain_stack")
            res, f = self.finding(prog)
            ptr, goroutine = res.printed_ptr(), int(res.printed("goroutine"))
            obj = self.assertRetainedObject(f, ptr, "go-stack")
            self.assertEqual(obj.get("goroutine"), goroutine, self.dump(f))
            self.assertEqual(f["holder"]["symbol"], "kept_addr", self.dump(f))
            self.assertCgoCallReceived(f, "keep", ptr)
            self.assertGoLineIn(f, "cgo_call", "main.worker", "retain_stack", "// KEEP")

        self.for_each_toolchain(check)

    def test_retain_map_bucket(self):
        def check(version, goroot, build):
            prog = goheap.build_program(version, goroot, "retain_map_bucket", build)
            res, f = self.finding(prog)
            ptr, base = res.printed_ptr(), res.printed_ptr("base")
            obj = self.assertRetainedObject(f, ptr, "map-buckets")
            self.assertEqual(int(obj["base"], 16), base, self.dump(f))
            m = obj["map"]
            self.assertEqual(m["type"], "map[int]int", self.dump(f))
            self.assertEqual(m["array"], "bucket array", self.dump(f))
            self.assertEqual(int(m["address"], 16), res.printed_ptr("map"), self.dump(f))
            self.assertIn(m["state"], ("relocating", "relocated"), self.dump(f))
            self.assertGoLineIn(f, "relocation", "main.main", "retain_map_bucket", "// GROW")
            h = f["holder"]
            self.assertEqual(h["region"], "c-heap", self.dump(f))
            self.assertEqual(int(h["base"], 16), res.printed_ptr("holder"), self.dump(f))
            self.assertEqual(h["offset"], 0, self.dump(f))
            self.assertEqual(h["origin"], "for-go", self.dump(f))
            allocs = [fr for fr in h["stack"] if fr.get("function") == "main.main"]
            self.assertTrue(allocs, "main.main in the holder's allocation stack" + self.dump(f))
            self.assertEqual(allocs[0]["line"],
                             goheap.marked_line("retain_map_bucket", "// ALLOC"), self.dump(f))
            self.assertCgoCallReceived(f, "keep_in", ptr)
            body = self.text_body(res)
            self.assertIn("bucket array of map[int]int", body, res.describe())
            self.assertIn("C heap block", body, res.describe())

        self.for_each_build(check, want_swiss=False)

    def test_retain_pinned(self):
        def check(version, goroot):
            if goheap.version_key(version) < (1, 21):
                return  # runtime.Pinner is 1.21+
            prog = goheap.build_program(version, goroot, "retain_pinned")
            with self.subTest(mode="pinned while kept"):
                self.check_clean_args(prog, "ok")
            with self.subTest(mode="kept after Unpin"):
                res, f = self.finding(prog, "unpinned")
                ptr = res.printed_ptr()
                self.assertRetainedObject(f, ptr, "go-heap")
                self.assertEqual(f["holder"]["symbol"], "kept", self.dump(f))
                self.assertGoLineIn(f, "cgo_call", "main.main", "retain_pinned", "// KEEP")

        self.for_each_toolchain(check)

    def check_clean_args(self, prog, *args):
        plain = self.assertPlainOk(prog, *args)
        res = self.run_prog(prog, *args)
        self.assertNoReport(res)
        self.assertExit(res, 0)
        self.assertEqual(masked(res.stdout), masked(plain.stdout), res.describe())

    def test_retain_transient(self):
        def check(version, goroot):
            self.check_clean_args(goheap.build_program(version, goroot, "retain_transient"))

        self.for_each_toolchain(check)

    def test_retain_freed_holder(self):
        def check(version, goroot):
            self.check_clean_args(goheap.build_program(version, goroot, "retain_freed_holder"))

        self.for_each_toolchain(check)

    # --- leaks --------------------------------------------------------------------------------

    def test_leak_cstring(self):
        def check(version, goroot):
            prog = goheap.build_program(version, goroot, "leak_cstring")
            with self.subTest(mode="freed before the clear"):
                self.check_clean_args(prog, "ok")
            with self.subTest(mode="cleared without C.free"):
                res, f = self.finding(prog, "leak", kind=LEAK)
                self.assertEqual(f["leak"], {"blocks": 100, "bytes": 1300}, self.dump(f))
                obj = f["object"]
                self.assertEqual(obj["region"], "c-heap", self.dump(f))
                self.assertEqual(obj["size"], 13, self.dump(f))
                self.assertEqual(obj.get("origin"), "for-go", self.dump(f))
                self.assertGoLineIn(f, "alloc", "main.fill", "leak_cstring", "// CSTRING")
                self.assertIn("1300 bytes in 100 blocks", self.text_body(res), res.describe())

        self.for_each_toolchain(check)

    def test_leak_by_c_code_in_cgo_calls(self):
        # Blocks C code allocates inside a cgo call: their stacks are the C frames plus the
        # calling goroutine's frames, walked once per call (a stale Go part would name the
        # previous call's caller).
        def check(version, goroot):
            prog = goheap.build_program(version, goroot, "leak_under_go")
            with self.subTest(mode="freed by C"):
                self.check_clean_args(prog, "ok")
            with self.subTest(mode="dropped by C"):
                plain = self.assertPlainOk(prog, "leak")
                res = self.run_prog(prog, "leak")
                self.assertExit(res, EXITCODE)
                self.assertEqual(res.stdout, plain.stdout)
                leaks = sorted((f for f in res.findings if f["kind"] == LEAK),
                               key=lambda f: f["object"]["size"])
                self.assertEqual([f["object"]["size"] for f in leaks], [21, 34], res.describe())
                for f, cfunc, gofunc, mark in ((leaks[0], "leak_a", "main.first", "// LEAK_A"),
                                               (leaks[1], "leak_b", "main.second", "// LEAK_B")):
                    # The check is conservative: the last block's address may survive in a
                    # dead stack slot or register of the call, so 9 of the 10 count too.
                    size = f["object"]["size"]
                    self.assertIn(f["leak"]["blocks"], (9, 10), self.dump(f))
                    self.assertEqual(f["leak"]["bytes"], f["leak"]["blocks"] * size, self.dump(f))
                    self.assertEqual(f["object"].get("origin"), "under-go", self.dump(f))
                    names = functions(self.stack(f, "alloc"))
                    self.assertIn(cfunc, names, self.dump(f))
                    self.assertGoLineIn(f, "alloc", gofunc, "leak_under_go", mark)
                    self.assertIn("main.main", names, self.dump(f))
                    other = "main.second" if gofunc == "main.first" else "main.first"
                    self.assertNotIn(other, names, self.dump(f))

        self.for_each_toolchain(check)

    def test_leak_stacks_told_apart_at_the_same_depth(self):
        # The per-thread cache of allocation stacks under cgo calls is keyed by the malloc's
        # caller and its depth below the call: via_x and via_y reach the same malloc at the
        # same depth, and only the return addresses on the stack differ. One finding each.
        def check(version, goroot):
            prog = goheap.build_program(version, goroot, "leak_under_go")
            res = self.run_prog(prog, "pair")
            self.assertExit(res, EXITCODE)
            leaks = [f for f in res.findings if f["kind"] == LEAK]
            self.assertEqual(len(leaks), 2, res.describe())
            seen = []
            for f in leaks:
                self.assertEqual(f["object"]["size"], 55, self.dump(f))
                self.assertIn(f["leak"]["blocks"], (9, 10), self.dump(f))
                names = functions(self.stack(f, "alloc"))
                self.assertIn("churn_55", names, self.dump(f))
                self.assertIn("leak_pair", names, self.dump(f))
                self.assertIn("main.main", names, self.dump(f))
                via = [n for n in ("via_x", "via_y") if n in names]
                self.assertEqual(len(via), 1, self.dump(f))
                seen += via
            self.assertEqual(sorted(seen), ["via_x", "via_y"], res.describe())

        self.for_each_toolchain(check)

    # --- options ------------------------------------------------------------------------------

    def test_suppressions_skip_findings_and_keep_the_status(self):
        version, goroot = self.toolchains[0]
        prog = goheap.build_program(version, goroot, "retain_global")
        d = harness.make_temp_dir()
        sup = os.path.join(d, "cgosan.supp")
        with open(sup, "w") as fh:
            fh.write("# the retention in the test program\nretained:*retain_global/main.go\n"
                     "leak:no_such_function\n")
        res = self.run_prog(prog, options=["suppressions=" + sup, "verbosity=1"])
        self.assertEqual(res.findings, [], res.describe())
        self.assertExit(res, 0)
        self.assertIn("suppressed 1 finding", res.stderr, res.describe())
        self.assertNotIn("ERROR:", res.stderr, res.describe())

    def test_malformed_suppressions_stop_before_the_program(self):
        version, goroot = self.toolchains[0]
        prog = goheap.build_program(version, goroot, "retain_global")
        d = harness.make_temp_dir()
        sup = os.path.join(d, "bad.supp")
        with open(sup, "w") as fh:
            fh.write("leak:ok\nnot-a-kind:main.main\n")
        res = self.run_prog(prog, options=["suppressions=" + sup])
        self.assertExit(res, 1)
        self.assertEqual(res.stdout, "", "the program must not run\n" + res.describe())
        self.assertRegex(res.stderr, re.escape(sup) + r":2: unknown finding kind 'not-a-kind'",
                         res.describe())
        missing = self.run_prog(prog, options=["suppressions=" + os.path.join(d, "none")])
        self.assertExit(missing, 1)
        self.assertIn("cannot read the suppressions file", missing.stderr, missing.describe())

    def test_halt_on_error_stops_at_the_finding(self):
        version, goroot = self.toolchains[0]
        prog = goheap.build_program(version, goroot, "retain_global")
        res = self.run_prog(prog, options=["halt_on_error=1"])
        self.assertEqual(len(res.findings), 1, res.describe())
        self.assertEqual(res.findings[0]["kind"], RETAINED)
        self.assertExit(res, EXITCODE)
        self.assertNotIn("done", res.stdout, "the program stops at the finding\n" +
                         res.describe())

    def test_exit_status_and_leak_check_options(self):
        version, goroot = self.toolchains[0]
        prog = goheap.build_program(version, goroot, "leak_cstring")
        with self.subTest(case="exitcode"):
            res = self.run_prog(prog, "leak", options=["exitcode=9"])
            self.assertEqual([f["kind"] for f in res.findings], [LEAK], res.describe())
            self.assertExit(res, 9)  # the program's 0 became exitcode
        with self.subTest(case="a non-zero status is the program's"):
            res = self.run_prog(prog, "leak", "exit3")
            self.assertEqual([f["kind"] for f in res.findings], [LEAK], res.describe())
            self.assertExit(res, 3)
        with self.subTest(case="leak_check=0"):
            res = self.run_prog(prog, "leak", options=["leak_check=0"])
            self.assertExit(res, 0)
            self.assertNoReport(res)


class CLeaks(CgosanTestCase):
    """leak_check=1 in a C program: an on_exit handler runs the check after the program's
    own handlers; there every unreachable block counts."""

    def test_c_leak_is_reported_and_the_status_becomes_exitcode(self):
        prog = harness.compile_c("leak")
        res = run([prog, "bug"], options=["leak_check=1"])
        f = self.single_finding(res, LEAK)
        self.assertEqual(f["leak"], {"blocks": 10, "bytes": 400}, json.dumps(f)[:3000])
        self.assertStackHas(f, "alloc", "make_leak")
        self.assertEqual(res.stdout, "done\n", "stdout is flushed before the status changes")
        self.assertExit(res, EXITCODE)

    def test_c_blocks_still_referenced_are_not_leaks(self):
        prog = harness.compile_c("leak")
        for mode in ("ok", "stack"):
            with self.subTest(mode=mode):
                res = run([prog, mode], options=["leak_check=1"])
                self.assertNoReport(res)
                self.assertExit(res, 0)

    def test_leak_check_is_off_by_default_in_a_c_program(self):
        res = run([harness.compile_c("leak"), "bug"])
        self.assertNoReport(res)
        self.assertExit(res, 0)

    def test_suppressed_double_free_is_ignored_and_the_program_goes_on(self):
        prog = harness.compile_c("double_free")
        d = harness.make_temp_dir()
        sup = os.path.join(d, "df.supp")
        with open(sup, "w") as fh:
            fh.write("double-free:do_free_again\n")
        res = run([prog, "bug"], options=["suppressions=" + sup, "verbosity=1"])
        self.assertEqual(res.findings, [], res.describe())
        self.assertIn("done", res.stdout, "the program went on after the ignored free\n" +
                      res.describe())
        self.assertExit(res, 0)


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
