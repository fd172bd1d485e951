#!/usr/bin/env python3
"""cgo programs (built with the Go toolchain during the test) under the preload:
(1) a C.CString kept in a Go map, C.free'd, then read by C: heap-use-after-free whose free
    and alloc stacks name the C.free and C.CString wrappers;
(2) the same pointer read by Go code (C.GoString): reported, then Go's own crash;
(3) C.free twice: double-free;
(4) C.free of a pointer into a Go slice: invalid-free;
(5) the correct twin of each: no report, same output and exit status as without cgosan.
A finding in a Go program ends the Go way: exit status 2 and Go's crash output after the
report.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CgosanTestCase, build_go, run  # noqa: E402

CFUNC = r"_cgo_[0-9a-f]+_Cfunc_"
GO_EXIT = 2
GLIBC_MESSAGES = ("free(): ", "double free detected", "munmap_chunk", "realloc(): ")


class CgoFindings(CgosanTestCase):
    def run_bug(self, name, options=()):
        prog = build_go(name)
        res = run([prog, "bug"], options=list(options), timeout=120)
        self.assertIsNotNone(res.printed_ptr(), res.describe())
        return res

    def assertGoEnding(self, res, go_marker):
        """Exit status 2, Go's own crash output after cgosan's report."""
        self.assertExit(res, GO_EXIT)
        self.assertIn(go_marker, res.stderr, res.describe())
        m = re.search(r"(?m)^==\d+==cgosan: SUMMARY: ", res.stderr)
        self.assertIsNotNone(m, res.describe())
        self.assertLess(m.start(), res.stderr.index(go_marker),
                        "the report comes before Go's crash output")
        for msg in GLIBC_MESSAGES:
            self.assertNotIn(msg, res.stderr, "glibc's own check must not be what the user "
                             "sees\n" + res.describe())

    def assertCFrame(self, f, stack, pattern, module):
        """A frame of `stack` whose function matches; it is a C frame in the program."""
        self.assertStackHas(f, stack, pattern)
        fr = next(x for x in f["stacks"][stack]
                  if x["function"] and re.fullmatch(pattern, x["function"]))
        self.assertEqual(fr["lang"], "c", fr)
        self.assertEqual(os.path.realpath(fr["module"]), os.path.realpath(module), fr)

    def test_cstring_in_map_freed_then_read_by_c(self):
        res = self.run_bug("cstring_map_uaf")
        ptr = res.printed_ptr()
        f = self.single_finding(res, "heap-use-after-free")
        self.assertAddress(f, ptr)
        self.assertEqual(f["access"]["type"], "read")
        self.assertObject(f, "c-heap", ptr, 13, 0)  # "hello, gamma" + NUL
        prog = res.argv[0]
        self.assertStackTop(f, "access", "read_first_byte")
        self.assertCFrame(f, "access", "read_first_byte", prog)
        self.assertCFrame(f, "access", CFUNC + "read_first_byte", prog)
        self.assertCFrame(f, "free", CFUNC + "free", prog)
        self.assertCFrame(f, "alloc", CFUNC + "_Cmalloc", prog)
        self.assertIn("read_first_byte", f["signature"])
        with self.subTest(check="go frame names"):
            # Go frames (when the stack continues into Go) are named as Go names them:
            # main._Cfunc_free, never the linker's ABI wrapper symbol main._Cfunc_free.abi0.
            for name, st in f["stacks"].items():
                for fr in st:
                    if fr["lang"] == "go" and fr["function"]:
                        self.assertNotRegex(fr["function"], r"\.abi(0|internal)$",
                                            f"stack {name}")
        with self.subTest(check="stacks continue into Go"):
            # Past runtime.asmcgocall each stack goes on through the goroutine that made
            # the cgo call, up to the Go line that called C.
            for name, stub in (("access", "read_first_byte"), ("free", "free"),
                               ("alloc", "CString")):
                self.assertFrameOrder(f, name, [r"runtime\.asmcgocall", r"runtime\.cgocall",
                                                r"main\._Cfunc_" + stub, r"main\.main",
                                                r"runtime\.main"])
                go = [fr for fr in f["stacks"][name] if fr["function"] == "main.main"]
                self.assertEqual(go[0]["lang"], "go")
        self.assertGoEnding(res, "fatal error: unexpected signal during runtime execution")
        self.assertEqual(res.stdout, "ptr=%s\n" % res.printed("ptr"))

    def test_guard_defaults_to_cgo_in_a_go_program(self):
        # Blocks allocated for Go are always guarded under guard=cgo; the report says so.
        res = self.run_bug("cstring_map_uaf", options=["verbosity=1"])
        self.assertIn("attached: guard=cgo", res.stderr)
        self.assertRegex(res.stderr, r"\d+ cgo call variables intercepted")
        f = self.single_finding(res, "heap-use-after-free")
        self.assertEqual(f["object"]["origin"], "for-go")
        self.assertIn("previously allocated for Go", res.stderr)
        self.assertEqual(f["cgo_call"]["function"], "read_first_byte")
        self.assertEqual(f["cgo_call"]["caller"]["function"], "main.main")
        self.assertIn("during the cgo call C.read_first_byte made by main.main", res.stderr)
        self.assertEqual(f["thread"]["goroutine"], 1)  # main's goroutine, read from g.goid
        self.assertRegex(f["process"]["go"]["version"], r"^go1\.\d+")  # from .go.buildinfo
        # The argument frame: read_first_byte(p *C.char) C.int -> 8 + 8 bytes (the `args` of
        # main._Cfunc_read_first_byte in the pclntab), on the goroutine's stack.
        self.assertEqual(f["cgo_call"]["frame_size"], 16)
        self.assertRegex(f["cgo_call"]["frame"], r"^0xc[0-9a-f]{9}$")
        self.assertRegex(res.stderr, r"READ of unknown size at 0x[0-9a-f]+ thread T0 .* goroutine 1")
        # An explicit choice wins over the Go default.
        res = self.run_bug("cstring_map_uaf", options=["verbosity=1", "guard=all"])
        self.assertIn("attached: guard=all", res.stderr)

    def test_cstring_freed_then_read_by_go(self):
        res = self.run_bug("cstring_go_read")
        ptr = res.printed_ptr()
        f = self.single_finding(res, "heap-use-after-free")
        self.assertIsNotNone(f["address"])
        addr = int(f["address"], 16)
        # Go's string scan may touch the freed slot anywhere before the block's end.
        self.assertTrue(ptr & ~0xfff <= addr < ptr + 16,
                        f"address {addr:#x} should be in the freed slot of {ptr:#x}")
        self.assertEqual(f["access"]["type"], "read")
        self.assertObject(f, "c-heap", ptr, 13, addr - ptr)
        prog = res.argv[0]
        self.assertCFrame(f, "free", CFUNC + "free", prog)
        self.assertCFrame(f, "alloc", CFUNC + "_Cmalloc", prog)
        self.assertGoEnding(res, "unexpected fault address")
        self.assertIn("fatal error: fault", res.stderr)
        self.assertNotIn("read:", res.stdout)

    def test_double_cfree(self):
        res = self.run_bug("double_cfree")
        ptr = res.printed_ptr()
        f = self.single_finding(res, "double-free")
        self.assertAddress(f, ptr)
        self.assertEqual(f["access"]["type"], "free")
        self.assertObject(f, "c-heap", ptr, 12, 0)  # "resource-42" + NUL
        prog = res.argv[0]
        self.assertCFrame(f, "access", CFUNC + "free", prog)
        self.assertCFrame(f, "free", CFUNC + "free", prog)
        self.assertCFrame(f, "alloc", CFUNC + "_Cmalloc", prog)
        self.assertGoEnding(res, "SIGABRT: abort")
        self.assertNotIn("done", res.stdout)

    def test_double_cfree_unguarded(self):
        res = self.run_bug("double_cfree", options=["guard=none"])
        f = self.single_finding(res, "double-free")
        self.assertAddress(f, res.printed_ptr())
        self.assertGoEnding(res, "SIGABRT: abort")

    def test_cfree_of_go_slice(self):
        res = self.run_bug("free_go_slice")
        ptr = res.printed_ptr()
        f = self.single_finding(res, "invalid-free")
        self.assertAddress(f, ptr)
        self.assertEqual(f["access"]["type"], "free")
        self.assertTrue(f["object"] is None or f["object"]["region"] != "c-heap", f["object"])
        self.assertCFrame(f, "access", CFUNC + "free", res.argv[0])
        self.assertNotIn("alloc", f["stacks"], "cgosan did not allocate a Go slice")
        # The runtime's own mappings (its _cgo_mmap hook) say where the pointer points, and
        # the pointer is among the Go pointers the cgo call received.
        self.assertIn("memory of the Go runtime", f["detail"])
        self.assertEqual(f["cgo_call"]["function"], "free")
        self.assertIn(f["address"], f["cgo_call"]["go_pointers"])
        self.assertGoEnding(res, "SIGABRT: abort")
        self.assertNotIn("done", res.stdout)


class CgoTwins(CgosanTestCase):
    def check_twin(self, name, expected_stdout):
        pre, _ = self.assertSameAsPlain([build_go(name), "ok"])
        self.assertExit(pre, 0)
        self.assertEqual(pre.stdout, expected_stdout)

    def test_cstring_map_twin(self):
        self.check_twin("cstring_map_uaf", "first=h\nleft: [alpha beta]\n")

    def test_cstring_go_read_twin(self):
        self.check_twin("cstring_go_read", "read: hello, gamma\ndone\n")

    def test_double_cfree_twin(self):
        self.check_twin("double_cfree", "done\n")

    def test_free_go_slice_twin(self):
        self.check_twin("free_go_slice", "done 63\n")


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
