#!/usr/bin/env python3
"""libcgosan.so changes nothing in the target but the interposed functions: its dynamic
symbol table, its dependencies, symbol resolution in a preloaded process (libgcc_s's
unwinder, glibc's backtrace), C++ exceptions and backtrace() work unchanged. Also the
options front door: bad options stop the process before the program runs, and an unusable
log_path degrades to stderr with one warning.
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CgosanTestCase, compile_c, lib_path, run  # noqa: E402

REQUIRED_EXPORTS = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
    "memalign", "valloc", "pvalloc", "malloc_usable_size",
    "mmap", "mmap64", "munmap", "mremap",
    "sigaction", "signal",
}
# Other allocator or signal entry points a preload may legitimately interpose (glibc
# aliases of the ones above). Anything else exported would change the target.
ALLOWED_EXTRA_EXPORTS = {
    "cfree", "__libc_memalign", "__libc_malloc", "__libc_free", "__libc_calloc",
    "__libc_realloc", "__libc_valloc", "__libc_pvalloc", "__posix_memalign",
    "__sigaction", "__libc_sigaction", "bsd_signal", "sysv_signal", "__sysv_signal", "sigset",
    "_init", "_fini",
}


def dynamic_symbols(path):
    """(name, type) of every defined dynamic symbol, version suffixes removed."""
    out = subprocess.run(["nm", "-D", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, typ = parts[-1], parts[-2]
        syms.append((name.split("@")[0], typ))
    return syms


class Exports(CgosanTestCase):
    def test_only_interposed_symbols_are_exported(self):
        syms = dynamic_symbols(lib_path())
        # Version definitions (type A) are not code the target could bind to.
        names = {n for n, t in syms if t != "A"}
        missing = REQUIRED_EXPORTS - names
        self.assertFalse(missing, f"interposers not exported: {sorted(missing)}")
        extra = names - REQUIRED_EXPORTS - ALLOWED_EXTRA_EXPORTS
        self.assertFalse(extra, f"unexpected exports: {sorted(extra)}")

    def test_no_cxx_absl_or_unwinder_symbols(self):
        for name, _ in dynamic_symbols(lib_path()):
            self.assertFalse(name.startswith("_Z"), f"C++ symbol exported: {name}")
            self.assertNotIn("absl", name.lower())
            self.assertFalse(re.match(r"^(_?U[A-Za-z]*_|unw_|_Unwind_|__gcc_|backtrace)", name),
                             f"unwinder symbol exported: {name}")

    def test_no_unwinder_or_cxx_dependencies(self):
        out = subprocess.run(["readelf", "-d", lib_path()], check=True, capture_output=True,
                             text=True).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
        for lib in needed:
            self.assertNotRegex(lib, r"libunwind|libstdc\+\+|libabsl|libgcc_s",
                                f"NEEDED {lib} would be loaded into every target")


    def test_no_dynamic_initializers(self):
        # malloc may run before the preload's constructor (other libraries' constructors
        # call it first); a C++ dynamic initializer running after that would reset the
        # tables malloc already filled. Every global must be constant-initialised.
        out = subprocess.run(["objdump", "-d", lib_path()], capture_output=True, text=True,
                             check=True).stdout
        self.assertEqual(re.findall(r"<(_GLOBAL__sub_I[^>]*)>:", out), [])


class Resolution(CgosanTestCase):
    def test_unwind_and_backtrace_resolve_to_libgcc_s_and_glibc(self):
        pre, _ = self.assertSameAsPlain([compile_c("symbol_resolution")])
        self.assertRegex(pre.stdout, r"(?m)^_Unwind_RaiseException \S*/libgcc_s\.so\.1$")
        self.assertRegex(pre.stdout, r"(?m)^backtrace \S*/libc\.so\.6$")
        self.assertRegex(pre.stdout, r"(?m)^unw_backtrace absent$")
        self.assertTrue(pre.stdout.endswith("OK\n"), pre.describe())

    def test_cxx_exceptions(self):
        pre, _ = self.assertSameAsPlain([compile_c("cxx_exception")])
        self.assertEqual(pre.stdout, "OK 1000 1 1\n")

    def test_cxx_exceptions_unguarded(self):
        prog = compile_c("cxx_exception")
        pre = run([prog], options=["guard=none"])
        self.assertSameAsPlain([prog], preloaded=pre)

    def test_glibc_backtrace(self):
        pre, _ = self.assertSameAsPlain([compile_c("backtrace")])
        self.assertEqual(pre.stdout,
                         "frames>=3 yes\nname=level3\nname=level2\nname=level1\nOK\n")


class Options(CgosanTestCase):
    def check_rejected(self, options, name, accepted=()):
        prog = compile_c("uaf")
        res = run([prog, "ok"], options=options, log=False)
        self.assertExit(res, 1)
        self.assertEqual(res.stdout, "", "the program must not run")
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "exactly one line\n" + res.describe())
        line = lines[0]
        self.assertTrue(line.startswith(harness.text_line_prefix(res.pid)), line)
        self.assertIn(name, line)
        for a in accepted:
            self.assertIn(a, line, "the line should name the accepted values")
        return line

    def test_unknown_key(self):
        self.check_rejected("bogus=1", "bogus", accepted=("log_path", "guard", "exitcode"))

    def test_bad_enum(self):
        self.check_rejected("guard=sometimes", "guard", accepted=("all", "sampled", "none"))

    def test_empty_value(self):
        self.check_rejected("guard=", "guard", accepted=("all", "sampled", "none"))

    def test_non_numeric(self):
        self.check_rejected("verbosity=x", "verbosity", accepted=("0", "3"))

    def test_negative(self):
        self.check_rejected("quarantine_mb=-1", "quarantine_mb")

    def test_out_of_range(self):
        self.check_rejected("exitcode=256", "exitcode", accepted=("255",))

    def test_bad_option_after_good_ones(self):
        self.check_rejected("verbosity=0:guard=all:bogus_too=3", "bogus_too")

    def test_good_options_accepted_quietly(self):
        prog = compile_c("uaf")
        pre = run([prog, "ok"], log=False,
                  options="verbosity=0:guard=sampled:sample_rate=10:guard_left=1:"
                          "quarantine_mb=1:guard_pool_mb=64:malloc_context_size=4:exitcode=3")
        self.assertSameAsPlain([prog, "ok"], preloaded=pre)
        self.assertEqual(pre.stderr, "")

    def test_verbosity_lines_are_prefixed(self):
        res = run(["/bin/echo", "hi"], options=["verbosity=1"], log=False)
        self.assertEqual(res.stdout, "hi\n")
        self.assertExit(res, 0)
        for line in res.stderr.splitlines():
            self.assertTrue(line.startswith(harness.text_line_prefix(res.pid)), line)

    def check_bad_log_path(self, log_path):
        prog = compile_c("uaf")
        res = run([prog, "read"], log=False, options=["log_path=" + log_path])
        self.assertExit(res, 66)
        body = self.text_body(res)
        self.assertRegex(body, r"(?m)^SUMMARY: cgosan: heap-use-after-free")
        warnings = [l for l in body.splitlines() if "log_path" in l]
        self.assertEqual(len(warnings), 1, "one warning line about log_path\n" + res.describe())
        for l in res.stderr.splitlines():
            if l.strip():
                self.assertTrue(l.startswith(harness.text_line_prefix(res.pid)), l)
        return res

    def test_log_path_symlink(self):
        d = harness.make_temp_dir()
        target = os.path.join(d, "target")
        os.mkdir(target)
        link = os.path.join(d, "link")
        os.symlink(target, link)
        self.check_bad_log_path(link)
        self.assertEqual(os.listdir(target), [], "nothing may be written through a symlink")

    def test_log_path_is_a_file(self):
        d = harness.make_temp_dir()
        path = os.path.join(d, "file")
        with open(path, "w") as fh:
            fh.write("x")
        self.check_bad_log_path(path)
        with open(path) as fh:
            self.assertEqual(fh.read(), "x")


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
