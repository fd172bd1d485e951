#!/usr/bin/env python3
"""C heap errors in C programs under the preload: every error kind with its JSON finding
(kind, address, access, object, stacks, thread, process, file name and mode), the text
report, the exit status, left and right overflows, the allocation entry points, and
programs that must run without any report (threads, 200k live blocks, fork + exec).
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CgosanTestCase, compile_c, mask_hex, run  # noqa: E402

DEFAULT_EXITCODE = 66


class UseAfterFree(CgosanTestCase):
    def check_uaf(self, mode, access_type, accessor):
        prog = compile_c("uaf")
        res = run([prog, mode])
        ptr = res.printed_ptr()
        self.assertIsNotNone(ptr, res.describe())
        f = self.single_finding(res, "heap-use-after-free")
        self.assertAddress(f, ptr)
        self.assertEqual(f["access"]["type"], access_type)
        self.assertObject(f, "c-heap", ptr, 13, 0)
        self.assertStackTop(f, "access", accessor)
        self.assertFrameOrder(f, "access", [accessor, "main"])
        self.assertStackTop(f, "alloc", "do_alloc")
        self.assertFrameOrder(f, "alloc", ["do_alloc", "main"])
        self.assertStackTop(f, "free", "do_free")
        self.assertFrameOrder(f, "free", ["do_free", "main"])
        for st in ("access", "alloc", "free"):
            for fr in f["stacks"][st]:
                if fr["function"] in (accessor, "do_alloc", "do_free", "main"):
                    self.assertEqual(fr["lang"], "c")
                    self.assertEqual(os.path.realpath(fr["module"]), os.path.realpath(prog))
        self.assertEqual(f["thread"]["tid"], res.pid)  # single-threaded: main thread
        self.assertIsNone(f["thread"]["goroutine"])
        self.assertTrue(f["signature"].startswith("heap-use-after-free"))
        self.assertIn(accessor, f["signature"])
        with self.subTest(check="text details"):
            body = self.text_body(res)
            self.assertRegex(body, r"(?m)^%s\b" % ("READ" if access_type == "read" else "WRITE"))
            self.assertIn("located 0 bytes inside of 13-byte region", body)
            self.assertIn("freed by thread", body)
            self.assertIn("previously allocated by thread", body)
            for fn in (accessor, "do_alloc", "do_free"):
                self.assertIn(fn, body)
        self.assertExit(res, DEFAULT_EXITCODE)
        self.assertEqual(res.stdout, "ptr=%s\n" % res.printed("ptr"),
                         "the program must not continue after the fault")
        return f

    def test_read(self):
        self.check_uaf("read", "read", "use_after_free_reader")

    def test_write(self):
        self.check_uaf("write", "write", "use_after_free_writer")

    def test_exitcode_option(self):
        res = run([compile_c("uaf"), "read"], options=["exitcode=23"])
        self.single_finding(res, "heap-use-after-free")
        self.assertExit(res, 23)

    def test_comma_separator(self):
        log_dir = harness.make_temp_dir()
        res = run([compile_c("uaf"), "read"], log=False,
                  options=f"log_path={log_dir},exitcode=24")
        self.assertExit(res, 24)
        self.assertEqual(len([n for n in os.listdir(log_dir) if n.endswith(".json")]), 1,
                         res.describe())

    def test_program_handler_gets_the_fault_after_the_report(self):
        res = run([compile_c("uaf"), "read_with_handler"])
        f = self.single_finding(res, "heap-use-after-free")
        self.assertAddress(f, res.printed_ptr())
        self.assertIn("handler: addr_ok=1\n", res.stdout, res.describe())
        self.assertExit(res, 42)

    def test_twin(self):
        self.assertSameAsPlain([compile_c("uaf"), "ok"])

    def test_log_path_created_if_missing(self):
        parent = harness.make_temp_dir()
        log_dir = os.path.join(parent, "a", "b")
        res = run([compile_c("uaf"), "read"], log_dir=log_dir)
        self.single_finding(res, "heap-use-after-free")

    def test_findings_of_several_runs_accumulate(self):
        log_dir = harness.make_temp_dir()
        prog = compile_c("uaf")
        for _ in range(3):
            run([prog, "read"], log_dir=log_dir)
        names = os.listdir(log_dir)
        self.assertEqual(len(names), 3, names)
        self.assertTrue(all(n.startswith("cgosan.") and n.endswith(".json") for n in names))


class Overflow(CgosanTestCase):
    def check(self, mode, access_type, options=(), expect_offset=32, text="0 bytes after"):
        prog = compile_c("overflow")
        res = run([prog, mode], options=list(options))
        ptr = res.printed_ptr()
        f = self.single_finding(res, "heap-buffer-overflow")
        self.assertAddress(f, ptr + expect_offset)
        self.assertEqual(f["access"]["type"], access_type)
        self.assertObject(f, "c-heap", ptr, 32, expect_offset)
        self.assertStackTop(f, "access", "overflow_(reader|writer)")
        self.assertFrameOrder(f, "access", ["overflow_(reader|writer)", "main"])
        self.assertStackTop(f, "alloc", "do_alloc")
        self.assertNotIn("free", f["stacks"], "the block is live: no free stack")
        with self.subTest(check="text details"):
            self.assertIn(f"located {text} 32-byte region", self.text_body(res))
        self.assertExit(res, DEFAULT_EXITCODE)
        return f

    def test_read_past_end(self):
        self.check("read", "read")

    def test_write_past_end(self):
        self.check("write", "write")

    def test_underflow_with_guard_left(self):
        self.check("under", "read", options=["guard_left=1"], expect_offset=-1,
                   text="1 bytes before")

    def test_twin(self):
        self.assertSameAsPlain([compile_c("overflow"), "ok"])

    def test_twin_guard_left(self):
        prog = compile_c("overflow")
        pre = run([prog, "ok"], options=["guard_left=1"])
        self.assertSameAsPlain([prog, "ok"], preloaded=pre)


class SmallOverflowFoundAtFree(CgosanTestCase):
    def test_slack_overflow(self):
        res = run([compile_c("small_overflow"), "bug"])
        ptr = res.printed_ptr()
        self.assertIn("overflowed\n", res.stdout, "the slack write must not fault")
        f = self.single_finding(res, "heap-buffer-overflow")
        # The address is the first slack byte found overwritten: 0 bytes after the block.
        self.assertAddress(f, ptr + 13)
        self.assertObject(f, "c-heap", ptr, 13, 13)
        self.assertIn(f["access"]["type"], ("write", "free"))
        with self.subTest(check="text details"):
            self.assertIn("located 0 bytes after 13-byte region", self.text_body(res))
        self.assertStackTop(f, "access", "do_free")
        self.assertFrameOrder(f, "access", ["do_free", "main"])
        self.assertStackTop(f, "alloc", "do_alloc")
        self.assertExit(res, DEFAULT_EXITCODE)
        self.assertNotIn("done", res.stdout)

    def test_exitcode_option(self):
        res = run([compile_c("small_overflow"), "bug"], options=["exitcode=23"])
        self.single_finding(res, "heap-buffer-overflow")
        self.assertExit(res, 23)

    def test_twin(self):
        self.assertSameAsPlain([compile_c("small_overflow"), "ok"])


class BadFrees(CgosanTestCase):
    def assertNoGlibcAbort(self, res):
        for msg in ("free(): ", "double free detected", "munmap_chunk", "realloc(): ",
                    "malloc(): "):
            self.assertNotIn(msg, res.stderr, "glibc's own check must not be what the user "
                             "sees\n" + res.describe())

    def test_double_free(self):
        res = run([compile_c("double_free"), "bug"])
        ptr = res.printed_ptr()
        f = self.single_finding(res, "double-free")
        self.assertAddress(f, ptr)
        self.assertEqual(f["access"]["type"], "free")
        self.assertObject(f, "c-heap", ptr, 24, 0)
        self.assertStackTop(f, "access", "do_free_again")
        self.assertFrameOrder(f, "access", ["do_free_again", "main"])
        self.assertStackTop(f, "free", "do_free")
        self.assertStackTop(f, "alloc", "do_alloc")
        self.assertEqual(f["thread"]["tid"], res.pid)
        self.assertIn("do_free_again", f["signature"])
        self.assertNoGlibcAbort(res)
        self.assertExit(res, DEFAULT_EXITCODE)
        self.assertNotIn("done", res.stdout)

    def test_double_free_exitcode(self):
        res = run([compile_c("double_free"), "bug"], options=["exitcode=23"])
        self.single_finding(res, "double-free")
        self.assertExit(res, 23)

    def test_double_free_unguarded(self):
        # guard=none: unguarded blocks come from the real allocator but are still tracked.
        res = run([compile_c("double_free"), "bug"], options=["guard=none"])
        f = self.single_finding(res, "double-free")
        self.assertAddress(f, res.printed_ptr())
        self.assertStackTop(f, "free", "do_free")
        self.assertStackTop(f, "alloc", "do_alloc")
        self.assertNoGlibcAbort(res)
        self.assertExit(res, DEFAULT_EXITCODE)

    def test_sampled_mode_leaves_unsampled_blocks_to_glibc(self):
        # guard=sampled follows GWP-ASan: a block that is not sampled is glibc's, untracked,
        # so its double free is what glibc makes of it (its own abort), exactly as without
        # cgosan; a sampled one (sample_rate=1: every block) is guarded and reported.
        prog = compile_c("double_free")
        plain = run([prog, "bug"], preload=False)
        pre = run([prog, "bug"], options=["guard=sampled", "sample_rate=1000000"])
        self.assertNoReport(pre)
        self.assertEqual(pre.returncode, plain.returncode, pre.describe())
        self.assertEqual(mask_hex(pre.stdout), mask_hex(plain.stdout))
        self.assertIn("double free", plain.stderr)
        self.assertIn("double free", pre.stderr)
        res = run([prog, "bug"], options=["guard=sampled", "sample_rate=1"])
        f = self.single_finding(res, "double-free")
        self.assertAddress(f, res.printed_ptr())
        self.assertStackTop(f, "free", "do_free")
        self.assertStackTop(f, "alloc", "do_alloc")

    def test_attach_line_names_the_guard_page_scheme(self):
        # Guard markers where the kernel has them (Linux 6.13+), mprotect otherwise: which one
        # runs is said at verbosity 1, as the kernel decides it, not cgosan's options.
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
        res = run([compile_c("uaf"), "ok"], options=["verbosity=1"])
        self.assertExit(res, 0)
        scheme = "guard markers" if (major, minor) >= (6, 13) else "mprotect"
        self.assertRegex(res.stderr, r"attached: guard=all, max live guarded blocks \d+ \(" +
                         re.escape(scheme))

    def test_sample_budget_bounds_the_guarded_blocks(self):
        # sample_rate=1 samples every block, but at most sample_budget (1000) a second get a
        # guard page: after 20000 blocks in a few ms the late block is glibc's, and its use
        # after free goes unseen, as for any unsampled block. With no budget it is found.
        prog = compile_c("uaf")
        res = run([prog, "read_after_churn"], options=["guard=sampled", "sample_rate=1"])
        self.assertNoReport(res)
        self.assertExit(res, 0)
        self.assertIn("read=", res.stdout)
        res = run([prog, "read_after_churn"],
                  options=["guard=sampled", "sample_rate=1", "sample_budget=0"])
        f = self.single_finding(res, "heap-use-after-free")
        self.assertAddress(f, res.printed_ptr("late"))
        self.assertStackTop(f, "free", "do_free")
        self.assertStackTop(f, "alloc", "do_alloc")

    def test_invalid_free_unguarded(self):
        res = run([compile_c("invalid_free"), "middle"], options=["guard=none"])
        ptr, base = res.printed_ptr(), res.printed_ptr("base")
        f = self.single_finding(res, "invalid-free")
        self.assertAddress(f, ptr)
        self.assertObject(f, "c-heap", base, 64, 8)
        self.assertNoGlibcAbort(res)
        self.assertExit(res, DEFAULT_EXITCODE)

    def test_double_free_twin(self):
        self.assertSameAsPlain([compile_c("double_free"), "ok"])

    def test_realloc_after_free(self):
        res = run([compile_c("realloc_after_free"), "bug"])
        ptr = res.printed_ptr()
        f = self.single_finding(res, "double-free")
        self.assertAddress(f, ptr)
        self.assertEqual(f["access"]["type"], "free")
        self.assertObject(f, "c-heap", ptr, 40, 0)
        self.assertStackTop(f, "access", "do_realloc")
        self.assertStackTop(f, "free", "do_free")
        self.assertStackTop(f, "alloc", "do_alloc")
        self.assertNoGlibcAbort(res)
        self.assertExit(res, DEFAULT_EXITCODE)

    def test_realloc_twin(self):
        self.assertSameAsPlain([compile_c("realloc_after_free"), "ok"])

    def check_invalid(self, mode, top, region_c_heap=False):
        res = run([compile_c("invalid_free"), mode])
        ptr = res.printed_ptr()
        self.assertIsNotNone(ptr, res.describe())
        f = self.single_finding(res, "invalid-free")
        self.assertAddress(f, ptr)
        self.assertEqual(f["access"]["type"], "free")
        self.assertStackTop(f, "access", top)
        self.assertFrameOrder(f, "access", [top, "main"])
        if region_c_heap:
            base = res.printed_ptr("base")
            self.assertObject(f, "c-heap", base, 64, ptr - base)
            self.assertStackTop(f, "alloc", "do_alloc")
        else:
            self.assertTrue(f["object"] is None or f["object"]["region"] != "c-heap",
                            f["object"])
        self.assertNoGlibcAbort(res)
        self.assertExit(res, DEFAULT_EXITCODE)
        self.assertNotIn("done", res.stdout)
        return f

    def test_invalid_free_middle_of_block(self):
        self.check_invalid("middle", "do_free", region_c_heap=True)

    def test_invalid_realloc_middle_of_block(self):
        self.check_invalid("realloc_middle", "do_realloc", region_c_heap=True)

    def test_invalid_free_stack(self):
        f = self.check_invalid("stack", "do_free")
        self.assertFrameOrder(f, "access", ["do_free", "free_a_local", "main"])

    def test_invalid_free_global(self):
        self.check_invalid("global", "do_free")

    def test_invalid_free_mmap(self):
        self.check_invalid("mmap", "do_free")

    def test_invalid_free_twin(self):
        self.assertSameAsPlain([compile_c("invalid_free"), "ok"])

    def test_usable_size_of_bad_pointer(self):
        res = run([compile_c("usable_size_bad"), "bug"])
        ptr, base = res.printed_ptr(), res.printed_ptr("base")
        f = self.single_finding(res, "invalid-free")
        self.assertAddress(f, ptr)
        self.assertObject(f, "c-heap", base, 48, 16)
        self.assertStackTop(f, "access", "ask_usable_size")
        self.assertStackTop(f, "alloc", "do_alloc")
        self.assertExit(res, DEFAULT_EXITCODE)
        self.assertNotIn("usable=", res.stdout)

    def test_usable_size_twin(self):
        self.assertSameAsPlain([compile_c("usable_size_bad"), "ok"])


class AllocationPaths(CgosanTestCase):
    def test_all_entry_points(self):
        pre, _ = self.assertSameAsPlain([compile_c("alloc_paths"), "ok"])
        self.assertEqual(pre.stdout, "OK\n")

    def test_all_entry_points_guard_left(self):
        prog = compile_c("alloc_paths")
        pre = run([prog, "ok"], options=["guard_left=1"])
        self.assertSameAsPlain([prog, "ok"], preloaded=pre)
        self.assertEqual(pre.stdout, "OK\n")

    def test_all_entry_points_unguarded(self):
        for guard in ("none", "sampled"):
            prog = compile_c("alloc_paths")
            pre = run([prog, "ok"], options=["guard=" + guard, "sample_rate=3"])
            self.assertSameAsPlain([prog, "ok"], preloaded=pre)

    def test_writing_the_usable_size_is_allowed(self):
        pre, _ = self.assertSameAsPlain([compile_c("alloc_paths"), "usable_write"])
        self.assertEqual(pre.stdout, "OK\n")

    def check_overflow(self, mode):
        res = run([compile_c("alloc_paths"), mode])
        ptr = res.printed_ptr()
        size = int(res.printed("size"))
        f = self.single_finding(res, "heap-buffer-overflow")
        self.assertAddress(f, ptr + size)
        self.assertEqual(f["access"]["type"], "read")
        self.assertObject(f, "c-heap", ptr, size, size)
        self.assertStackTop(f, "access", "overflow_reader")
        # The allocation was made directly in main: cgosan's frames are gone and nothing
        # sits between the interposed function and its caller.
        self.assertStackTop(f, "alloc", "main")
        self.assertExit(res, DEFAULT_EXITCODE)

    def test_calloc_overflow(self):
        self.check_overflow("calloc_overflow")

    def test_realloc_overflow(self):
        self.check_overflow("realloc_overflow")

    def test_memalign_overflow(self):
        self.check_overflow("memalign_overflow")

    def test_posix_memalign_overflow(self):
        self.check_overflow("posix_memalign_overflow")

    def test_aligned_alloc_overflow(self):
        self.check_overflow("aligned_alloc_overflow")


class NoFalseReports(CgosanTestCase):
    def test_multithreaded_stress(self):
        res = run([compile_c("mt_stress"), "200000"], timeout=600)
        self.assertNoReport(res)
        self.assertExit(res, 0)
        self.assertEqual(res.stdout, "OK 8 200000\n")

    def test_multithreaded_stress_sampled(self):
        res = run([compile_c("mt_stress"), "100000"], options=["guard=sampled", "sample_rate=7"],
                  timeout=600)
        self.assertNoReport(res)
        self.assertEqual(res.stdout, "OK 8 100000\n", res.describe())

    def test_200k_live_blocks_guard_all(self):
        res = run([compile_c("many_blocks"), "200000"], options=["guard=all"], timeout=600)
        self.assertNoReport(res)
        self.assertExit(res, 0)
        self.assertEqual(res.stdout, "OK 200000\n")

    def test_fork_exec_from_threaded_parent(self):
        prog = compile_c("fork_exec")
        pre, _ = self.assertSameAsPlain([prog], timeout=300)
        self.assertIn("parent OK", pre.stdout)

    def test_quiet_in_plain_programs(self):
        # A program that is neither Go nor buggy (and its children): not a byte from cgosan.
        res = run(["/bin/sh", "-c", "echo hello | cat; ls / >/dev/null"], timeout=60)
        self.assertNoReport(res)
        self.assertEqual(res.stderr, "")
        self.assertEqual(res.stdout, "hello\n")
        self.assertExit(res, 0)


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
