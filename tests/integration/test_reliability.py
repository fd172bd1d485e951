#!/usr/bin/env python3
"""Reliability (issue 8): correct programs never notice cgosan, and nothing is ever lost.

Under faults:
  - a use-after-free in one thread while four others keep allocating: the JSON finding is
    complete and valid (docs/report-schema.json) and the text report is whole;
  - two threads faulting at once: one complete report and one note line, never two reports
    interleaved;
  - a fault inside cgosan's own report code (test_report_fault=1): one line and an exit,
    never a hang, from the signal path (use-after-free) and from free (double free);
  - malloc failing (huge sizes; test_fail_malloc_after=N; an address-space limit that
    exhausts glibc and cgosan's block records): the program sees NULL/ENOMEM as it would
    without cgosan, never a false report, and a finding after that is still complete;
  - the guarded pool's reservation failing (RLIMIT_AS): one warning line, the program runs,
    bad frees are still found;
  - SIGKILL in the middle of a report (test_report_delay_ms): no JSON file, never half of
    one; an unkilled slow report is complete.
Bad input: every option of shadow/options.inc with a malformed value stops the program
before it runs with one line; an unusable log_path is one warning for the whole run.
Binaries: a program with a malloc of its own, or another sanitizer's runtime (a stand-in
__asan_init, clang's ASan and MSan linked in, go build -race, gcc's -fsanitize=address
through the wrapper), runs untouched with one line; a Go binary of an unknown version (its build info patched) runs with Go features off,
said once; the wrapper refuses other machines and musl clearly.
Security: a set-user-ID process (test_secure=1, AT_SECURE's path) stays passive and writes
no file; a secret environment variable never reaches the JSON or the text.
"""

import os
import re
import resource
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import CgosanTestCase, compile_c, run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
OPTIONS_TABLE = REPO / "shadow" / "options.inc"
WRAPPER = REPO / "scripts" / "cgosan"


def prog():
    return compile_c("reliability")


def cgosan_lines(res):
    prefix = harness.text_line_prefix(res.pid)
    return [l[len(prefix):] for l in res.stderr.splitlines() if l.startswith(prefix)]


class UnderFaults(CgosanTestCase):
    def test_finding_while_other_threads_allocate(self):
        res = run([prog(), "hammer"], timeout=60)
        self.assertExit(res, 66)
        f = self.single_finding(res, "heap-use-after-free")  # schema, file, text report
        self.assertStackTop(f, "access", "read_freed")
        self.assertStackHas(f, "free", "main")
        self.assertIn("threads=4 hammering", res.stdout)
        body = self.text_body(res)
        self.assertEqual(len(re.findall(r"(?m)^ERROR:", body)), 1, res.describe())
        self.assertEqual(len(re.findall(r"(?m)^SUMMARY:", body)), 1, res.describe())

    def test_twin_threads_allocating(self):
        self.assertSameAsPlain([prog(), "hammer_ok"], timeout=120)

    def check_two_at_once(self, res):
        self.assertExit(res, 66)
        f = self.single_finding(res, "heap-use-after-free")
        body = self.text_body(res)
        self.assertEqual(len(re.findall(r"(?m)^ERROR:", body)), 1, res.describe())
        self.assertEqual(len(re.findall(r"(?m)^SUMMARY:", body)), 1, res.describe())
        # The report's lines are contiguous: nothing but the note follows the SUMMARY line.
        lines = body.splitlines()
        summary = next(i for i, l in enumerate(lines) if l.startswith("SUMMARY:"))
        for l in lines[summary + 1:]:
            self.assertTrue(l.startswith("note: 1 other thread hit a finding"), l)
        return f, lines[summary + 1:]

    def test_two_threads_faulting_at_once(self):
        self.check_two_at_once(run([prog(), "two"], timeout=60))

    def test_two_threads_the_second_waits_and_is_named(self):
        # The slow report makes sure the second thread is waiting when the first ends.
        f, after = self.check_two_at_once(
            run([prog(), "two"], options=["test_report_delay_ms=400"], timeout=60))
        self.assertEqual(after, ["note: 1 other thread hit a finding while this one was "
                                 "reported; the process ends here, so only this first "
                                 "finding is reported"])

    def check_internal_fault(self, argv, exit_code=66):
        start = time.monotonic()
        res = run(argv, options=["test_report_fault=1"], timeout=30)
        self.assertLess(time.monotonic() - start, 20, "a fault in the handler must not hang")
        self.assertExit(res, exit_code)
        lines = cgosan_lines(res)
        internal = [l for l in lines if "internal error" in l]
        self.assertEqual(internal, ["internal error: signal 11 at address 0x10 inside "
                                    "cgosan's own report code"], res.describe())
        self.assertEqual(lines[-1], internal[0], "the internal error is the last line")
        self.assertEqual(res.findings, [], "the JSON is written after the text: none here")
        return res

    def test_fault_inside_the_report_from_a_signal(self):
        res = self.check_internal_fault([compile_c("uaf"), "read"])
        self.assertIn("ERROR: heap-use-after-free", res.stderr)

    def test_fault_inside_the_report_from_free(self):
        res = self.check_internal_fault([compile_c("double_free")])
        self.assertIn("ERROR: attempting double-free", res.stderr)

    def test_huge_allocations_fail_as_without_cgosan(self):
        pre, plain = self.assertSameAsPlain([prog(), "huge"], compare_stderr=True)
        self.assertEqual(plain.stdout, "malloc=null enomem=1\nmalloc_half=null enomem=1\n"
                         "calloc=null enomem=1\nrealloc=null enomem=1 kept=intact\n"
                         "posix_memalign=1\naligned_alloc=null\ndone\n")
        for guard in ("none", "sampled"):
            res = run([prog(), "huge"], options=["guard=" + guard])
            self.assertSameAsPlain([prog(), "huge"], preloaded=res, plain=plain)

    def test_injected_malloc_failure(self):
        for guard in ("all", "none"):
            with self.subTest(guard=guard):
                res = run([prog(), "exhaust"], log=False,
                          options=["test_fail_malloc_after=2000", "guard=" + guard])
                self.assertExit(res, 0)
                self.assertEqual(res.stdout, "got_null=1 enomem=1\nfreed\ndone\n",
                                 res.describe())
                self.assertEqual(res.stderr, "")
        # Without the injection the loop never sees NULL: the test above depends on it.
        res = run([prog(), "exhaust"], log=False, options=["guard=none"])
        self.assertEqual(res.stdout, "got_null=0 enomem=0\nfreed\ndone\n", res.describe())

    def test_finding_after_malloc_failed_is_complete(self):
        res = run([prog(), "exhaust_uaf"], options=["test_fail_malloc_after=2000", "guard=all"])
        self.assertExit(res, 66)
        f = self.single_finding(res, "heap-use-after-free")
        self.assertStackTop(f, "access", "read_freed")
        self.assertIn("got_null=1 enomem=1", res.stdout)

    @staticmethod
    def limit_address_space():
        # 768 MiB: the program and cgosan's own tables fit, guard_pool_mb=1024 does not.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))

    def run_limited(self, argv, options):
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS")}
        env["LD_PRELOAD"] = harness.lib_path()
        env["CGOSAN_OPTIONS"] = ":".join(options)
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60, preexec_fn=self.limit_address_space)
        return p

    def test_guard_pool_reservation_failure_warns_once_and_runs(self):
        p = self.run_limited([compile_c("uaf"), "ok"], ["guard_pool_mb=1024"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "read=a\ndone\n")
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertRegex(lines[0], r"^==\d+==cgosan: warning: reserving guard_pool_mb=1024 MiB "
                         r"of address space failed: blocks are tracked without guard pages")
        # The same limit with a pool that fits: no warning (so the line above is the pool's).
        p = self.run_limited([compile_c("uaf"), "ok"], ["guard_pool_mb=64"])
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        # Bad frees do not need the pool: still found.
        p = self.run_limited([compile_c("double_free")], ["guard_pool_mb=1024"])
        self.assertEqual(p.returncode, 66, p.stderr)
        self.assertIn("ERROR: attempting double-free", p.stderr)
        self.assertEqual(p.stderr.count("warning: reserving guard_pool_mb"), 1, p.stderr)

    def test_memory_exhaustion_never_makes_a_false_report(self):
        # Under an address-space limit cgosan's block records can run out of memory while
        # glibc still has room (holes left by freed blocks, "fragment"). A block that
        # could not be recorded must not be taken for an invalid free later: the allocation
        # fails instead. "exhaust": both run out, plainly.
        for mode, guard, mib in (("fragment", "all", 64), ("fragment", "none", 64),
                                 ("fragment", "all", 128), ("exhaust", "all", 64),
                                 ("exhaust", "none", 96)):
            with self.subTest(mode=mode, guard=guard, mib=mib):
                def limit(mib=mib):
                    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
                    resource.setrlimit(resource.RLIMIT_AS, (mib << 20, mib << 20))
                env = {k: v for k, v in os.environ.items()
                       if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS")}
                env["LD_PRELOAD"] = harness.lib_path()
                env["CGOSAN_OPTIONS"] = (f"guard={guard}:guard_pool_mb=16:quarantine_mb=1:"
                                         "quarantine_unguarded_mb=0")
                p = subprocess.run([prog(), mode], env=env, stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True, timeout=60,
                                   preexec_fn=limit)
                tail = "freed\ndone\n" if mode == "exhaust" else "done\n"
                self.assertEqual((p.returncode, p.stdout, p.stderr),
                                 (0, "got_null=1 enomem=1\n" + tail, ""))

    def test_sigkill_during_a_report_leaves_no_half_file(self):
        log_dir = harness.make_temp_dir()
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS")}
        env["LD_PRELOAD"] = harness.lib_path()
        env["CGOSAN_OPTIONS"] = f"log_path={log_dir}:test_report_delay_ms=20000"
        proc = subprocess.Popen([compile_c("uaf"), "read"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            tmp = []
            while time.monotonic() < deadline and not tmp:
                tmp = [n for n in os.listdir(log_dir) if n.startswith(".cgosan.tmp.")
                       and os.path.getsize(os.path.join(log_dir, n)) > 0]
                time.sleep(0.02)
            self.assertTrue(tmp, "the report should be half written by now")
            self.assertIsNone(proc.poll())
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        names = os.listdir(log_dir)
        self.assertEqual([n for n in names if n.endswith(".json")], [],
                         "a killed report publishes no JSON file")
        self.assertEqual(len(names), 1, names)
        with open(os.path.join(log_dir, names[0])) as fh:
            half = fh.read()
        self.assertTrue(half.startswith("{"))
        self.assertFalse(half.endswith("}\n"), "the temporary file is only half written")

    def test_slow_report_is_complete(self):
        res = run([compile_c("uaf"), "read"], options=["test_report_delay_ms=300"])
        self.assertExit(res, 66)
        self.single_finding(res, "heap-use-after-free")


def option_table():
    """(name, kind, min, max, enum values) of every option in shadow/options.inc."""
    text = OPTIONS_TABLE.read_text()
    out = []
    for m in re.finditer(r'CGOSAN_INT\(\s*(\w+),\s*(-?\d+),\s*(-?\d+),\s*(-?\d+)', text):
        out.append((m.group(1), "int", int(m.group(3)), int(m.group(4)), None))
    for m in re.finditer(r'CGOSAN_STRING\(\s*(\w+),', text):
        out.append((m.group(1), "string", None, None, None))
    for m in re.finditer(r'CGOSAN_ENUM\(\s*(\w+),\s*\d+,\s*"([^"]*)"', text):
        out.append((m.group(1), "enum", None, None, m.group(2).split("|")))
    return out


class BadInput(CgosanTestCase):
    def check_rejected(self, options, name):
        res = run([compile_c("uaf"), "ok"], options=options, log=False)
        self.assertExit(res, 1)
        self.assertEqual(res.stdout, "", "the program must not run\n" + res.describe())
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, res.describe())
        self.assertTrue(lines[0].startswith(harness.text_line_prefix(res.pid) +
                                            "ERROR: CGOSAN_OPTIONS: "), lines[0])
        self.assertIn(name, lines[0])
        self.assertLess(len(lines[0]), 1200)

    def test_every_option_with_a_malformed_value(self):
        table = option_table()
        self.assertGreaterEqual(len(table), 21, "the table parser missed options")
        cases = 0
        for name, kind, lo, hi, values in table:
            bad = ["", "x" * 5000]
            if kind == "int":
                bad += ["x", str(hi + 1), str(lo - 1), "1e3", "99999999999999999999"]
            elif kind == "enum":
                bad += ["bogus", values[0].upper()]
            for value in bad:
                with self.subTest(option=name, value=value[:20]):
                    self.check_rejected([f"{name}={value}"], name)
                    cases += 1
            with self.subTest(option=name, value="(no =)"):
                self.check_rejected([name], name)
                cases += 1
        self.assertGreater(cases, 100)

    def test_every_option_at_its_bounds_leaves_a_correct_program_alone(self):
        # Accepted extremes (a 1 TiB guard pool, a 1 TiB quarantine, 64 frames, sample rate
        # 1e9, ...) and every enum value: same output, nothing on stderr.
        plain = run([compile_c("uaf"), "ok"], preload=False)
        loud = {"verbosity", "test_report_delay_ms", "test_report_fault", "test_secure"}
        cases = 0
        for name, kind, lo, hi, values in option_table():
            if kind == "int":
                settings = [str(lo)] + ([str(hi)] if name not in loud else [])
            elif kind == "enum":
                settings = values
            else:
                continue
            for value in settings:
                with self.subTest(option=name, value=value):
                    res = run([compile_c("uaf"), "ok"], log=False, options=[f"{name}={value}"])
                    self.assertSameAsPlain([compile_c("uaf"), "ok"], preloaded=res, plain=plain)
                    self.assertEqual(res.stderr, "")
                    cases += 1
        self.assertGreater(cases, 30)

    def test_unknown_key_and_huge_key(self):
        self.check_rejected(["no_such_option=1"], "no_such_option")
        self.check_rejected(["k" * 10000 + "=1"], "unknown option")

    def test_unwritable_log_path_warns_once(self):
        # /proc refuses new entries even to root; two leak findings, one warning.
        res = run([prog(), "two_leaks"], log=False,
                  options=["log_path=/proc/self/cgosan-findings", "leak_check=1"])
        self.assertExit(res, 66)
        body = self.text_body(res)
        self.assertEqual(len(re.findall(r"(?m)^SUMMARY: cgosan: leak", body)), 2, res.describe())
        warnings = [l for l in body.splitlines() if l.startswith("WARNING: log_path")]
        self.assertEqual(len(warnings), 1, res.describe())
        self.assertIn("JSON findings not written", warnings[0])

    def test_writable_log_path_gets_both_leaks(self):
        res = run([prog(), "two_leaks"], options=["leak_check=1"])
        self.assertExit(res, 66)
        self.assertEqual(sorted(f["kind"] for f in res.findings), ["leak", "leak"],
                         res.describe())

    def test_suppressions_file_errors_name_the_line(self):
        d = harness.make_temp_dir()
        sup = os.path.join(d, "bad.supp")
        with open(sup, "w") as fh:
            fh.write("# comment\nleak:make_leak\nno colon here\n")
        res = run([compile_c("uaf"), "ok"], log=False, options=["suppressions=" + sup])
        self.assertExit(res, 1)
        self.assertEqual(res.stdout, "")
        self.assertIn(f"ERROR: suppressions: {sup}:3: expected KIND:PATTERN", res.stderr)
        res = run([compile_c("uaf"), "ok"], log=False,
                  options=["suppressions=" + os.path.join(d, "missing.supp")])
        self.assertExit(res, 1)
        self.assertIn("missing.supp: cannot read the suppressions file (no such file or "
                      "directory)", res.stderr)
        res = run([compile_c("uaf"), "ok"], log=False, options=["suppressions=" + d])
        self.assertExit(res, 1)
        self.assertIn("cannot read the suppressions file (not a regular file)", res.stderr)


class Binaries(CgosanTestCase):
    def check_passive(self, argv, reason_regex, options=()):
        res = run(argv, options=list(options))
        plain = run(argv, preload=False)
        self.assertEqual(res.stdout, plain.stdout, res.describe())
        self.assertEqual(res.returncode, plain.returncode, res.describe())
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, res.describe())
        self.assertRegex(lines[0], r"^==\d+==cgosan: passive: " + reason_regex +
                         r".*; the program runs without cgosan$")
        self.assertEqual(res.log_files, [], "a passive cgosan writes nothing")
        return res

    def test_program_with_its_own_malloc(self):
        self.check_passive([compile_c("own_malloc"), "uaf"],
                           r"malloc is defined by \S*own_malloc, not by cgosan")

    def test_program_with_another_sanitizer_runtime(self):
        self.check_passive([compile_c("fake_asan"), "uaf"],
                           re.escape("it carries AddressSanitizer (__asan_init)"))

    def test_real_asan_binary_through_the_wrapper(self):
        out = os.path.join(harness.make_temp_dir(), "uaf_asan")
        r = subprocess.run(["gcc", "-fsanitize=address", "-g", "-o", out,
                            str(REPO / "tests/programs/c/uaf.c")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS")}
        env["CGOSAN_LIB"] = harness.lib_path()
        p = subprocess.run([str(WRAPPER), "run", out, "read"], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertIn("cgosan: " + out + " carries AddressSanitizer: two sanitizers cannot "
                      "share the heap; running it without cgosan", p.stderr)
        # ASan itself found the bug: the program ran as built.
        self.assertIn("ERROR: AddressSanitizer: heap-use-after-free", p.stderr)
        self.assertNotIn("does not come first", p.stderr)
        self.assertNotIn("==cgosan:", p.stderr)

    def test_clang_sanitizers_with_their_runtime_in_the_executable(self):
        # clang links ASan's and MSan's runtimes into the executable: preloaded directly,
        # cgosan stays out, and ASan still finds the bug itself (nothing was corrupted).
        # clang and libclang-rt are installed by scripts/test: a missing one is an error.
        d = harness.make_temp_dir()
        for flag, runtime in (("address", "AddressSanitizer (__asan_init)"),
                              ("memory", "MemorySanitizer (__msan_init)")):
            with self.subTest(sanitizer=flag):
                out = os.path.join(d, "uaf_" + flag)
                r = subprocess.run(["clang", "-fsanitize=" + flag, "-g", "-o", out,
                                    str(REPO / "tests/programs/c/uaf.c")],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.check_passive([out, "ok"], re.escape("it carries " + runtime))
        res = run([os.path.join(d, "uaf_address"), "read"])
        self.assertExit(res, 1)
        self.assertIn("ERROR: AddressSanitizer: heap-use-after-free", res.stderr)
        self.assertEqual(res.log_files, [])
        self.assertEqual(len([l for l in res.stderr.splitlines() if "==cgosan:" in l]), 1)

    def test_go_race_binary(self):
        # go build -race links ThreadSanitizer's runtime into the executable (__tsan_init is
        # in its dynamic symbols): the preload stays out, and so does the wrapper.
        src_dir = harness.GO_PROGRAMS / "go_slice_ok"
        out = harness.cache_dir() / "go-race" / "go_slice_ok"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not harness._up_to_date(out, [src_dir / "main.go"]):
            r = subprocess.run(["go", "build", "-race", "-o", str(out), "main.go"],
                               cwd=str(src_dir), env=harness.go_env(), capture_output=True,
                               text=True, timeout=600)
            if r.returncode != 0 and "-race requires" in r.stderr:
                self.skipTest("this Go toolchain has no race runtime: " + r.stderr[-200:])
            self.assertEqual(r.returncode, 0, r.stderr)
        res = self.check_passive([str(out)],
                                 re.escape("it carries ThreadSanitizer (__tsan_init)"))
        self.assertIn("value=0x706050403020100", res.stdout)
        p = self.wrapper_run(str(out))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, f"cgosan: {out} carries ThreadSanitizer: two sanitizers "
                         "cannot share the heap; running it without cgosan\n")

    def fake_elf(self, patch):
        src = compile_c("uaf")
        dst = os.path.join(harness.make_temp_dir(), "fake")
        data = bytearray(Path(src).read_bytes())
        patch(data)
        Path(dst).write_bytes(bytes(data))
        os.chmod(dst, 0o755)
        return dst

    def wrapper_run(self, *args):
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS")}
        env["CGOSAN_LIB"] = harness.lib_path()
        return subprocess.run([str(WRAPPER), "run", *args], env=env, capture_output=True,
                              text=True, timeout=60)

    def test_wrapper_refuses_another_machine(self):
        def arm64(data):
            data[18:20] = (183).to_bytes(2, "little")
        fake = self.fake_elf(arm64)
        p = self.wrapper_run(fake, "ok")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr, f"cgosan: error: {fake} is an AArch64 (arm64) executable: "
                         "cgosan works on x86-64 programs linked against glibc only\n")

    def test_wrapper_refuses_musl(self):
        def musl(data):
            old = b"/lib64/ld-linux-x86-64.so.2"
            at = data.find(old)
            assert at > 0
            new = b"/lib/ld-musl-x86_64.so.1"
            data[at:at + len(old)] = new + b"\0" * (len(old) - len(new))
        fake = self.fake_elf(musl)
        p = self.wrapper_run(fake, "ok")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("is linked against musl libc: cgosan works on x86-64 programs linked "
                      "against glibc only", p.stderr)

    def test_wrapper_still_runs_a_glibc_x86_64_program(self):
        p = self.wrapper_run(compile_c("uaf"), "ok")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "read=a\ndone\n", ""))
        # A glibc program that merely mentions musl's loader (as gcc does) is not musl's.
        def mention(data):
            data.extend(b"\0/lib/ld-musl-x86_64.so.1\0")
        p = self.wrapper_run(self.fake_elf(mention), "ok")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "read=a\ndone\n", ""))

    def test_go_binary_of_an_unknown_version(self):
        src = harness.build_go("go_slice_ok")
        data = bytearray(Path(src).read_bytes())
        m = re.search(rb"go1\.(\d+)(\.\d+)?", data[data.find(b"\xff Go buildinf:"):])
        self.assertIsNotNone(m)
        version = m.group(0)
        patched_version = b"go1.99" + (m.group(2) or b"")
        self.assertEqual(len(patched_version), len(version))
        n = data.count(version)
        data = bytearray(bytes(data).replace(version, patched_version))
        self.assertGreater(n, 0)
        dst = os.path.join(harness.make_temp_dir(), "go_slice_ok")
        Path(dst).write_bytes(bytes(data))
        os.chmod(dst, 0o755)
        res = run([dst])
        plain = run([dst], preload=False)
        self.assertEqual(res.stdout, plain.stdout, res.describe())
        self.assertEqual(res.returncode, plain.returncode, res.describe())
        notes = [l for l in cgosan_lines(res)]
        self.assertEqual(notes, ["note: Go features off: unsupported Go version go1.99"
                                 + (m.group(2) or b"").decode() +
                                 " (cgosan knows Go 1.19 and 1.21-1.24); C heap checks only"],
                         res.describe())
        self.assertEqual(res.log_files, [])
        # The original binary: no note (so the note is the patched version's).
        orig = run([src])
        self.assertEqual(cgosan_lines(orig), [], orig.describe())


class Security(CgosanTestCase):
    def test_secure_process_stays_passive_and_writes_nothing(self):
        # test_secure=1 takes the AT_SECURE path: options are then reset (no log_path).
        argv = [compile_c("uaf"), "ok"]
        res = run(argv, options=["test_secure=1", "verbosity=3"])
        plain = run(argv, preload=False)
        self.assertEqual((res.stdout, res.returncode), (plain.stdout, plain.returncode),
                         res.describe())
        # The bug goes unreported: cgosan is not there (what the freed byte reads is glibc's).
        bug = run([compile_c("uaf"), "read"], options=["test_secure=1"])
        self.assertExit(bug, 0)
        self.assertEqual(bug.log_files, [])
        self.assertNotIn("ERROR", bug.stderr)
        self.assertEqual(cgosan_lines(res), [
            "passive: a set-user-ID or set-group-ID program (AT_SECURE): cgosan reads no "
            "options, writes no files; the program runs without cgosan"], res.describe())
        self.assertEqual(res.log_files, [])

    def test_secret_environment_values_never_reach_a_report(self):
        secret = "s3cr3t-" + "9f2c1d7e" * 3
        res = run([compile_c("uaf"), "read"], env={
            "CGOSAN_TEST_TOKEN": secret, "AWS_SECRET_ACCESS_KEY": secret,
            "GOTRACEBACK": "crash-allowlisted"})
        self.assertExit(res, 66)
        self.single_finding(res, "heap-use-after-free")
        with open(res.json_paths[0]) as fh:
            text = fh.read()
        # The allow-listed variable is there (so the finding does carry an environment).
        self.assertIn("crash-allowlisted", text)
        self.assertNotIn(secret, text)
        self.assertNotIn(secret, res.stderr)
        self.assertNotIn("AWS_SECRET_ACCESS_KEY", text)

    def test_the_preload_never_executes_a_program(self):
        # No exec, spawn, system or popen among the library's imports, and no raw syscall
        # that starts a program in its sources: no option or variable can make it run one.
        out = subprocess.run(["nm", "-D", "--undefined-only", harness.lib_path()], check=True,
                             capture_output=True, text=True).stdout
        imports = {l.split()[-1].split("@")[0] for l in out.splitlines() if l.strip()}
        self.assertIn("dlopen", imports, "the check reads the imports")
        forbidden = {"execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle",
                     "fexecve", "execveat", "system", "popen", "posix_spawn", "posix_spawnp",
                     "fork", "vfork", "clone", "clone3"}
        self.assertEqual(imports & forbidden, set())
        dlopens = 0
        for d in ("preload", "report", "shadow"):
            for path in (REPO / d).rglob("*.cc"):
                if "cli" in path.parts:
                    continue  # cgosan-tool, the offline report tool, is not loaded
                text = "\n".join(re.sub(r"//.*", "", l) for l in path.read_text().splitlines())
                for call in ("SYS_execve", "SYS_execveat", "SYS_fork", "SYS_vfork", "SYS_clone"):
                    self.assertNotIn(call, text, f"{path}: {call}")
                # dlopen only with a constant soname, never a path from options or env.
                for m in re.finditer(r"\bdlopen\(([^,]*),", text):
                    dlopens += 1
                    self.assertRegex(m.group(1).strip(), r'^"lib[\w.+-]+\.so(\.\d+)*"$',
                                     f"{path}: dlopen({m.group(1)})")
        self.assertGreaterEqual(dlopens, 1, "the unwinder's dlopen is seen")


class Build(unittest.TestCase):
    """CMakeLists.txt refuses other processors and C libraries at configure time."""

    def configure(self, *defs):
        out = harness.make_temp_dir("cgosan-cmake-")
        return subprocess.run(["cmake", "-S", str(REPO), "-B", out, "-DBUILD_TESTING=OFF",
                               *defs], capture_output=True, text=True, timeout=300)

    def test_another_processor_is_refused(self):
        r = self.configure("-DCMAKE_SYSTEM_NAME=Linux", "-DCMAKE_SYSTEM_PROCESSOR=aarch64")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cgosan supports x86-64 only (CMAKE_SYSTEM_PROCESSOR is aarch64)",
                      r.stderr.replace("\n", " "))

    def test_a_libc_without_glibc_is_refused(self):
        # The check's cached result stands in for a musl tool chain.
        r = self.configure("-DCGOSAN_HAVE_GLIBC=")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cgosan needs glibc", r.stderr)


if __name__ == "__main__":
    harness.require_lib()
    unittest.main(verbosity=2)
