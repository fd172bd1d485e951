#!/usr/bin/env python3
"""`cgosan report` (cgosan-tool report): golden outputs, SARIF against the 2.1.0 schema,
the markdown issue body, robustness and exit status, --symbolize, and the finding schema.

The fixed findings in findings/ are real ones written by libcgosan.so (Go 1.19 and 1.22,
see findings/README.md): the same heap-use-after-free from two test binaries (decoder.test,
encoder.test), a map-bucket-use-after-relocation, a go-pointer-retained and a leak.
Goldens: expected/report.{txt,md,json,sarif}; CGOSAN_REGENERATE_GOLDENS=1 rewrites them
from the current output (then review the diff).

Run one class: test_report_cli.py GoldenTest (ctest: report.golden, report.sarif, ...).
Environment: CGOSAN_TOOL (cgosan-tool), CGOSAN_LIB (libcgosan.so, for --symbolize).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FINDINGS = "findings"      # relative to HERE: the golden outputs name files this way
MALFORMED = "malformed"
EXPECTED = HERE / "expected"
SARIF_SCHEMA = HERE / "sarif-schema-2.1.0.json"
REPORT_SCHEMA = REPO / "docs" / "report-schema.json"
FORMATS = {"text": "report.txt", "markdown": "report.md", "json": "report.json",
           "sarif": "report.sarif"}
REGENERATE = os.environ.get("CGOSAN_REGENERATE_GOLDENS") == "1"


def debian_module(name):
    """Imports a module from Debian's python3-* packages even under a Python of its own."""
    try:
        return __import__(name)
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        return __import__(name)


jsonschema = debian_module("jsonschema")


def load(path):
    with open(path) as f:
        return json.load(f)


def tool():
    t = os.environ.get("CGOSAN_TOOL")
    if not t:
        build = Path(os.environ.get("CGOSAN_BUILD_DIR", REPO / "build"))
        t = str(build / "bin" / "cgosan-tool")
    if not os.access(t, os.X_OK):
        raise unittest.SkipTest(f"cgosan-tool not built ({t})")
    return t


def report(*args, cwd=HERE, env=None):
    return subprocess.run([tool(), "report", *args], cwd=str(cwd), capture_output=True,
                          text=True, timeout=120, env=env)


class GoldenTest(unittest.TestCase):
    """Each format, byte for byte, on the fixed findings."""

    def check_golden(self, fmt):
        r = report(f"--format={fmt}", FINDINGS)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr, "")
        golden = EXPECTED / FORMATS[fmt]
        if REGENERATE:
            golden.write_text(r.stdout)
            print(f"regenerated {golden}", file=sys.stderr)
        self.assertTrue(golden.exists(), f"{golden} missing: run with CGOSAN_REGENERATE_GOLDENS=1")
        expected = golden.read_text()
        if r.stdout != expected:
            import difflib
            diff = "".join(difflib.unified_diff(expected.splitlines(True), r.stdout.splitlines(True),
                                                str(golden), "output", n=2))
            self.fail(f"--format={fmt} differs from {golden.name} "
                      f"(CGOSAN_REGENERATE_GOLDENS=1 rewrites it):\n{diff[:8000]}")

    def test_text(self):
        self.check_golden("text")

    def test_markdown(self):
        self.check_golden("markdown")

    def test_json(self):
        self.check_golden("json")

    def test_sarif(self):
        self.check_golden("sarif")

    def test_default_format_is_text(self):
        r = report(FINDINGS)
        self.assertEqual(r.stdout, report("--format=text", FINDINGS).stdout)

    def test_deduplication(self):
        """Independent of the goldens: 5 files, 4 distinct findings, the duplicate pair from
        two different test binaries in one entry with the newest finding."""
        r = report("--format=json", FINDINGS)
        out = json.loads(r.stdout)
        self.assertEqual(len(out), 4, r.stdout[:2000])
        self.assertEqual(sum(d["count"] for d in out), 5)
        self.assertEqual(len({d["signature"] for d in out}), 4)
        uaf = [d for d in out if d["kind"] == "heap-use-after-free"]
        self.assertEqual(len(uaf), 1)
        uaf = uaf[0]
        self.assertEqual(uaf["count"], 2)
        exes = {load(HERE / f)["process"]["exe"].rsplit("/", 1)[-1] for f in uaf["files"]}
        self.assertEqual(exes, {"decoder.test", "encoder.test"})
        times = sorted(load(HERE / f)["time"] for f in uaf["files"])
        self.assertEqual([uaf["first_seen"], uaf["last_seen"]], times)
        self.assertLess(uaf["first_seen"], uaf["last_seen"])
        newest = [f for f in uaf["files"] if load(HERE / f)["time"] == times[-1]][0]
        self.assertEqual(uaf["finding"], load(HERE / newest))
        # Keys as written, in the order written.
        self.assertEqual(list(uaf["finding"]), list(load(HERE / newest)))
        for d in out:
            self.assertEqual(set(d), {"signature", "kind", "count", "first_seen", "last_seen",
                                      "files", "finding"})
            self.assertEqual(d["signature"], d["finding"]["signature"])

    def test_text_table(self):
        r = report(FINDINGS)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "4 distinct findings (5 in all)")
        rows = [l for l in lines if re.match(r"^\s+\d+\s+\d{4}-", l)]
        self.assertEqual(len(rows), 4, r.stdout)
        self.assertEqual(sorted(int(l.split()[0]) for l in rows), [1, 1, 1, 2])
        for l in rows:
            self.assertIn("SUMMARY: cgosan: ", l)


class SarifTest(unittest.TestCase):
    """SARIF 2.1.0: valid against the OASIS schema, one result per distinct finding."""

    @classmethod
    def setUpClass(cls):
        with open(SARIF_SCHEMA) as f:
            cls.schema = json.load(f)
        jsonschema.Draft7Validator.check_schema(cls.schema)
        cls.validator = jsonschema.Draft7Validator(cls.schema,
                                                   format_checker=jsonschema.FormatChecker())

    def sarif(self, *args):
        r = report("--format=sarif", *args)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return json.loads(r.stdout)

    def assertValid(self, doc):
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
                  for e in self.validator.iter_errors(doc)]
        self.assertEqual(errors, [])

    def test_valid_against_schema(self):
        self.assertValid(self.sarif(FINDINGS))

    def test_schema_rejects_broken_sarif(self):
        """The validation can fail: the same log with a wrong version or a result without a
        message is rejected."""
        doc = self.sarif(FINDINGS)
        bad = json.loads(json.dumps(doc))
        bad["version"] = "2.0.0"
        self.assertTrue(list(self.validator.iter_errors(bad)))
        bad = json.loads(json.dumps(doc))
        del bad["runs"][0]["results"][0]["message"]
        self.assertTrue(list(self.validator.iter_errors(bad)))

    def test_results(self):
        doc = self.sarif(FINDINGS)
        self.assertEqual(doc["version"], "2.1.0")
        run = doc["runs"][0]
        self.assertEqual(run["tool"]["driver"]["name"], "cgosan")
        results = run["results"]
        self.assertEqual(len(results), 4)
        rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
        fingerprints = set()
        for res in results:
            self.assertEqual(rule_ids[res["ruleIndex"]], res["ruleId"])
            fp = res["partialFingerprints"]["cgosanSignature/v1"]
            self.assertTrue(fp.startswith(res["ruleId"] + ":"), fp)
            fingerprints.add(fp)
            # The location is the top user frame with a source line.
            loc = res["locations"][0]["physicalLocation"]
            self.assertTrue(loc["artifactLocation"]["uri"].startswith("file:///"), loc)
            self.assertGreaterEqual(loc["region"]["startLine"], 1)
            self.assertTrue(res["stacks"])
        self.assertEqual(len(fingerprints), 4)
        uaf = [r for r in results if r["ruleId"] == "heap-use-after-free"][0]
        self.assertEqual(uaf["occurrenceCount"], 2)
        self.assertEqual(uaf["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                         "file:///tmp/fx/m/cbuf/cbuf.go")
        self.assertEqual(uaf["locations"][0]["physicalLocation"]["region"]["startLine"], 14)
        # Both languages in one stack: the C function and the Go frames that called it.
        access = [s for s in uaf["stacks"] if s["message"]["text"] == "access"][0]
        langs = {f["properties"]["lang"] for f in access["frames"]}
        self.assertEqual(langs, {"c", "go"})

    def test_source_root_makes_uris_relative(self):
        doc = self.sarif("--source-root=/tmp/fx/m/", FINDINGS)
        self.assertValid(doc)
        run = doc["runs"][0]
        self.assertEqual(run["originalUriBaseIds"]["SRCROOT"]["uri"], "file:///tmp/fx/m/")
        uaf = [r for r in run["results"] if r["ruleId"] == "heap-use-after-free"][0]
        art = uaf["locations"][0]["physicalLocation"]["artifactLocation"]
        self.assertEqual(art, {"uri": "cbuf/cbuf.go", "uriBaseId": "SRCROOT"})

    def test_no_findings_is_a_valid_empty_log(self):
        with tempfile.TemporaryDirectory() as d:
            r = report("--format=sarif", d)
            self.assertEqual(r.returncode, 0, r.stderr)
            doc = json.loads(r.stdout)
            self.assertValid(doc)
            self.assertEqual(doc["runs"][0]["results"], [])


class MarkdownTest(unittest.TestCase):
    """The issue body, rendered to HTML, has every required section for each finding."""

    @classmethod
    def setUpClass(cls):
        md = debian_module("markdown")
        r = report("--format=markdown", FINDINGS)
        cls.source = r.stdout
        cls.html = md.markdown(r.stdout, extensions=["tables", "fenced_code"])
        # One section per finding: from each <h2> to the next.
        parts = re.split(r"(?=<h2>)", cls.html)
        cls.sections = [p for p in parts if p.startswith("<h2>")]

    def test_one_section_per_distinct_finding(self):
        titles = [re.match(r"<h2>(.*?)</h2>", s).group(1) for s in self.sections]
        self.assertEqual(len(titles), 4, titles)
        self.assertEqual(titles[0], "heap-use-after-free in sum_bytes")
        self.assertIn("go-pointer-retained in main.main.func1 at main.go:28", titles)
        self.assertIn("leak in main.fill at main.go:21", titles)

    def test_required_sections(self):
        for s in self.sections:
            title = re.match(r"<h2>(.*?)</h2>", s).group(1)
            with self.subTest(title=title):
                h3 = re.findall(r"<h3>(.*?)</h3>", s)
                for want in ("Stacks", "Object", "Environment", "Reproduce"):
                    self.assertIn(want, h3)
                self.assertTrue(any(h.startswith("Memory map around") for h in h3), h3)
                # One sentence saying what happened, right after the title.
                first_p = re.search(r"</h2>\s*<p>(.*?)</p>", s, re.S).group(1)
                self.assertTrue(first_p.endswith("."), first_p)
                self.assertEqual(first_p.count(". "), 0, first_p)
                self.assertIn("<details>", s)
                self.assertIn("<summary>Full stacks</summary>", s)
                self.assertIn("<table>", s)
                for row in ("cgosan", "Go (binary)", "GODEBUG", "GOEXPERIMENT", "build id",
                            "argv", "kernel", "libc"):
                    self.assertRegex(s, r"<td>" + re.escape(row) + r"</td>")
                self.assertRegex(s, r'<code class="language-sh">cd [^\n]+\ncgosan (test|run) ')

    def test_glue_is_folded_and_user_frames_come_first(self):
        uaf = self.sections[0]
        folded = re.search(r"<strong>access</strong>.*?<pre><code>(.*?)</code></pre>", uaf, re.S).group(1)
        lines = folded.splitlines()
        self.assertTrue(lines[0].startswith("#0 sum_bytes "), lines)
        self.assertEqual(lines[1], "#1..3 C.sum_bytes called from example.com/shop/cbuf.checksumFreed "
                                   "/tmp/fx/m/cbuf/cbuf.go:14")
        self.assertNotIn("runtime.cgocall", folded)
        self.assertNotIn("_Cfunc_", lines[1])
        # The alloc stack starts at the user's frame: malloc and the glue are above it.
        alloc = re.search(r"<strong>alloc</strong>([^\n]*).*?<pre><code>(.*?)</code></pre>", uaf, re.S)
        self.assertIn("frames above it", alloc.group(1))
        self.assertTrue(alloc.group(2).startswith("#5 example.com/shop/cbuf.checksumFreed "), alloc.group(2))
        # The full stacks keep every frame, glue marked.
        self.assertIn("runtime.cgocall", uaf.split("<details>")[1])

    def test_reproduce_names_the_test(self):
        uaf = self.sections[0]
        # The newest of the two findings is from encoder.test.
        self.assertIn("cgosan test -run '^TestEncodeFrame$' ./encoder", uaf.replace("&#x27;", "'"))
        self.assertIn("cd /tmp/fx/m", uaf)
        leak = [s for s in self.sections if s.startswith("<h2>leak")][0]
        self.assertIn("cgosan run ./bin/leak_cstring leak", leak)

    def test_holder_and_leak_are_rendered(self):
        retained = [s for s in self.sections if s.startswith("<h2>go-pointer-retained")][0]
        self.assertIn("<strong>holder</strong>", retained)
        self.assertRegex(retained, r"<td>symbol</td>\s*<td><code>kept</code></td>")
        leak = [s for s in self.sections if s.startswith("<h2>leak")][0]
        self.assertRegex(leak, r"<td>blocks</td>\s*<td><code>100</code></td>")
        self.assertIn("1300 bytes in 100 blocks", leak)

    def test_memory_map_marks_the_line(self):
        uaf = self.sections[0]
        block = re.search(r"<h3>Memory map around.*?<pre><code>(.*?)</code></pre>", uaf, re.S).group(1)
        marked = [l for l in block.splitlines() if l.startswith("=&gt; ")]
        self.assertEqual(len(marked), 1, block)


class RobustnessTest(unittest.TestCase):
    """Bad input files are named and skipped; the exit status contract."""

    def test_malformed_files_are_named_and_skipped(self):
        good = report(FINDINGS)
        r = report(FINDINGS, MALFORMED)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, good.stdout)  # the rest was processed, unchanged
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 2, r.stderr)
        self.assertTrue(lines[0].startswith("cgosan report: malformed/cgosan.truncated.json: skipped: "
                                            "malformed JSON"), lines[0])
        self.assertTrue(lines[1].startswith("cgosan report: malformed/other-tool.json: skipped: "
                                            "not a cgosan finding"), lines[1])

    def test_truncated_copies_of_a_real_finding(self):
        """Every cut of a finding file (as a killed writer or a full disk leaves it) is
        reported by name, never crashes the tool, never counts."""
        src = HERE / FINDINGS / "ci-2"
        text = next(src.glob("cgosan.leak_cstring.*.json")).read_text()
        with tempfile.TemporaryDirectory() as d:
            for n in (0, 1, 100, len(text) // 2, len(text) - 2):
                Path(d, f"cut{n:05d}.json").write_text(text[:n])
            shutil.copy(next(src.glob("cgosan.retain_global.*.json")), Path(d, "whole.json"))
            r = report("--format=json", d)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual([x["kind"] for x in json.loads(r.stdout)], ["go-pointer-retained"])
            self.assertEqual(len(r.stderr.splitlines()), 5, r.stderr)
            for n in (0, 1, 100, len(text) // 2, len(text) - 2):
                self.assertIn(f"cut{n:05d}.json: skipped: ", r.stderr)

    def test_number_out_of_range_is_named_and_skipped(self):
        """A number JSON allows but a double cannot hold (1e8920; found by fuzz.report_json)
        makes the file malformed, never an uncaught exception."""
        src = HERE / FINDINGS / "ci-2"
        text = next(src.glob("cgosan.leak_cstring.*.json")).read_text()
        with tempfile.TemporaryDirectory() as d:
            Path(d, "huge.json").write_text(text.replace('"pid":', '"pid": 1e8920, "x":', 1))
            shutil.copy(next(src.glob("cgosan.retain_global.*.json")), Path(d, "whole.json"))
            r = report("--format=json", d)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual([x["kind"] for x in json.loads(r.stdout)], ["go-pointer-retained"])
            lines = r.stderr.splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("huge.json: skipped: malformed JSON", lines[0])

    def test_members_of_unexpected_types_do_not_crash(self):
        """A file that passes as a finding (schema, kind, signature) but whose other members
        have the wrong types still renders in every format."""
        odd = {"schema": "cgosan.report/1", "kind": "heap-use-after-free", "signature": "odd:f",
               "time": 7, "summary": None, "address": 12, "access": "read", "object": "heap",
               "leak": {"blocks": "many", "bytes": []}, "holder": [1],
               "thread": {"tid": "one", "goroutine": {}},
               "stacks": {"access": [1, "x", None, {"glue": "yes", "line": "ten", "function": 5},
                                     {"function": "f", "file": "f.c", "line": 3, "lang": "c"}],
                          "alloc": "nope"},
               "process": {"argv": [1, None, "a b"], "go": "1.22", "exe": []},
               "environment": {"variables": {"GODEBUG": 1}, "kernel": None},
               "memory_map": {"lines": "x", "index": "y"}, "test": 3,
               "reproduce": {"command": ["ls"]}, "modules": [{"path": 3}]}
        with tempfile.TemporaryDirectory() as d:
            Path(d, "odd.json").write_text(json.dumps(odd))
            for fmt in ("text", "json", "markdown", "sarif"):
                for extra in ([], ["--symbolize"]):
                    with self.subTest(fmt=fmt, extra=extra):
                        r = report(f"--format={fmt}", *extra, d)
                        self.assertEqual(r.returncode, 1, r.stderr)
                        self.assertNotIn("internal error", r.stderr)
                        self.assertIn("odd", r.stdout if fmt != "text" else "odd")
            sarif = json.loads(report("--format=sarif", d).stdout)
            with open(SARIF_SCHEMA) as f:
                errors = list(jsonschema.Draft7Validator(json.load(f)).iter_errors(sarif))
            self.assertEqual([e.message for e in errors], [])

    def test_nothing_readable_is_status_2(self):
        r = report(MALFORMED)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no finding could be read", r.stderr)
        r = report("no/such/dir")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no/such/dir: skipped: no such file or directory", r.stderr)

    def test_no_findings_is_status_0(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "notes.txt").write_text("not json, and not named .json\n")
            for fmt in ("text", "json", "markdown", "sarif"):
                r = report(f"--format={fmt}", d)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "")
            self.assertEqual(report("--format=json", d).stdout.strip(), "[]")

    def test_usage_errors_are_status_2(self):
        for args in ([], ["--format=xml", FINDINGS], ["--bogus", FINDINGS], ["--format"]):
            with self.subTest(args=args):
                r = report(*args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn("usage: cgosan report", r.stderr)
                self.assertEqual(r.stdout, "")

    def test_a_file_named_on_the_command_line(self):
        f = next((HERE / FINDINGS / "ci-2").glob("cgosan.leak_cstring.*.json"))
        r = report("--format=json", str(f))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(json.loads(r.stdout)[0]["files"], [str(f)])

    def test_wrapper_forwards_to_the_tool(self):
        env = dict(os.environ, CGOSAN_TOOL=tool())
        r = subprocess.run([str(REPO / "scripts" / "cgosan"), "report", "--format=json", FINDINGS],
                           cwd=str(HERE), capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, report("--format=json", FINDINGS).stdout)
        r = subprocess.run([str(REPO / "scripts" / "cgosan"), "report"], cwd=str(HERE),
                           capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 2)


class SymbolizeTest(unittest.TestCase):
    """--symbolize: file:line for C frames from the DWARF of the recorded module, only when
    its build id matches."""

    SRC = REPO / "tests" / "programs" / "c" / "uaf.c"

    def setUp(self):
        lib = os.environ.get("CGOSAN_LIB") or str(Path(tool()).parent.parent / "lib" / "libcgosan.so")
        if not os.path.exists(lib):
            self.skipTest("libcgosan.so not built")
        self.lib = lib
        self.dir = tempfile.mkdtemp(prefix="cgosan-symbolize-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.prog = os.path.join(self.dir, "uaf")
        self.compile()
        log = os.path.join(self.dir, "log")
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS")}
        env.update(LD_PRELOAD=self.lib, CGOSAN_OPTIONS="log_path=" + log)
        r = subprocess.run([self.prog, "read"], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 66, r.stderr)
        self.log = log

    def compile(self, extra=()):
        subprocess.run(["cc", "-g", "-O0", "-fno-omit-frame-pointer", "-I", str(self.SRC.parent),
                        "-o", self.prog, str(self.SRC), *extra], check=True)

    def line_of(self, pattern):
        for i, line in enumerate(self.SRC.read_text().splitlines(), 1):
            if re.search(pattern, line):
                return i
        raise AssertionError(pattern)

    def frames(self, out, stack):
        return json.loads(out)[0]["finding"]["stacks"][stack]

    def frame(self, frames, fn):
        return [f for f in frames if f["function"] == fn][0]

    def test_adds_file_and_line(self):
        plain = report("--format=json", self.log)
        self.assertEqual(plain.returncode, 1, plain.stderr)
        before = self.frame(self.frames(plain.stdout, "access"), "use_after_free_reader")
        self.assertIsNone(before["file"])  # the preload names C functions, not lines
        r = report("--format=json", "--symbolize", self.log)
        self.assertEqual(r.returncode, 1, r.stderr)
        access = self.frames(r.stdout, "access")
        reader = self.frame(access, "use_after_free_reader")
        self.assertEqual(reader["file"], str(self.SRC))
        self.assertEqual(reader["line"], self.line_of(r"int use_after_free_reader\("))
        # A caller's frame is looked up at its call, not the instruction after it.
        main = self.frame(access, "main")
        self.assertEqual(main["file"], str(self.SRC))
        src_lines = self.SRC.read_text().splitlines()
        self.assertIn("use_after_free_reader", src_lines[main["line"] - 1])
        alloc = self.frame(self.frames(r.stdout, "alloc"), "do_alloc")
        self.assertIn("malloc", src_lines[alloc["line"] - 1])
        free = self.frame(self.frames(r.stdout, "free"), "do_free")
        self.assertIn("free(p)", src_lines[free["line"] - 1])
        # Text and markdown show the lines too.
        md = report("--format=markdown", "--symbolize", self.log).stdout
        self.assertIn(f"use_after_free_reader {self.SRC}:{reader['line']}", md)

    def test_other_build_id_is_not_trusted(self):
        self.compile(["-DCGOSAN_REBUILT=1", "-Wl,--build-id=sha1", "-O1"])
        r = report("--format=json", "--symbolize", self.log)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, re.escape(self.prog) + r": build id \w+ on disk is not the recorded \w+")
        self.assertIsNone(self.frame(self.frames(r.stdout, "access"), "use_after_free_reader")["file"])

    def test_missing_module_is_noted(self):
        os.unlink(self.prog)
        r = report("--format=json", "--symbolize", self.log)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{self.prog}: not on this machine", r.stderr)
        self.assertIsNone(self.frame(self.frames(r.stdout, "access"), "use_after_free_reader")["file"])


class ContextTest(unittest.TestCase):
    """End to end: findings written under `cgosan test` and `cgosan run` name the test, the
    package and the command that reproduces them, and that command does reproduce them; no
    environment variable outside the allow-list is recorded."""

    SHOP = REPO / "tests" / "programs" / "go" / "report_shop"
    SECRET = "hunter2-not-for-bug-trackers"

    def setUp(self):
        if shutil.which("go") is None:
            self.skipTest("go not installed")
        tool()
        self.tmp = Path(tempfile.mkdtemp(prefix="cgosan-context-")).resolve()
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # `cgosan` on PATH, as the reproduce command names it.
        bindir = self.tmp / "bin"
        bindir.mkdir()
        (bindir / "cgosan").symlink_to(REPO / "scripts" / "cgosan")
        build = Path(os.environ.get("CGOSAN_BUILD_DIR", REPO / "build"))
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS", "GODEBUG", "GOFLAGS")}
        self.env.update(PATH=f"{bindir}:{os.environ['PATH']}", CGOSAN_TOOL=tool(),
                        GOCACHE=str(build / ".gocache"), GOPATH=str(build / ".gopath"),
                        GOTOOLCHAIN="local", GOPROXY="off", CGO_ENABLED="1",
                        SECRET_TOKEN=self.SECRET)
        if os.environ.get("CGOSAN_LIB"):
            self.env["CGOSAN_LIB"] = os.environ["CGOSAN_LIB"]

    def run_logged(self, argv, cwd, log):
        env = dict(self.env, CGOSAN_OPTIONS=f"log_path={log}")
        r = subprocess.run(argv, cwd=str(cwd), env=env, capture_output=True, text=True,
                           timeout=900, stdin=subprocess.DEVNULL)
        files = sorted(Path(log).glob("*.json")) if Path(log).is_dir() else []
        for f in files:
            self.assertNotIn(self.SECRET, f.read_text(), f)
        return r, [load(f) for f in files]

    def test_go_test_names_the_test_and_reproduces(self):
        module = self.tmp / "shop"
        shutil.copytree(self.SHOP, module)
        r, findings = self.run_logged(["cgosan", "test", "./decoder", "./encoder"], module,
                                      self.tmp / "log1")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(findings), 2, r.stdout[-3000:] + r.stderr[-3000:])
        by_test = {f["test"]["name"]: f for f in findings}
        self.assertEqual(set(by_test), {"TestDecodeHeader", "TestEncodeFrame"})
        self.assertEqual(len({f["signature"] for f in findings}), 1)
        for name, pkg in (("TestDecodeHeader", "./decoder"), ("TestEncodeFrame", "./encoder")):
            f = by_test[name]
            self.assertEqual(f["test"], {"name": name, "source": "stack", "run": None, "package": pkg})
            self.assertEqual(f["reproduce"], {"command": f"cgosan test -run '^{name}$' {pkg}",
                                              "directory": str(module)})
            env = f["environment"]
            self.assertIn("log_path=", env["variables"]["CGOSAN_OPTIONS"])
            self.assertTrue(env["libc"].startswith("glibc "), env)
            self.assertEqual(env["kernel"].split()[0], os.uname().release)
            mm = f["memory_map"]
            self.assertEqual(mm["address"], f["address"])
            start, end = (int(x, 16) for x in mm["lines"][mm["index"]].split()[0].split("-"))
            self.assertTrue(start <= int(f["address"], 16) < end, mm)

        # The reproduce command, run where it says, finds the same bug in that test only.
        f = by_test["TestEncodeFrame"]
        r2, again = self.run_logged(["bash", "-c", f["reproduce"]["command"]],
                                    f["reproduce"]["directory"], self.tmp / "log2")
        self.assertEqual(len(again), 1, r2.stdout[-3000:] + r2.stderr[-3000:])
        self.assertEqual(again[0]["signature"], f["signature"])
        self.assertEqual(again[0]["test"]["name"], "TestEncodeFrame")
        self.assertEqual(again[0]["test"]["run"], "^TestEncodeFrame$")

        # Both runs' files: one distinct bug seen three times.
        r3 = report("--format=json", str(self.tmp / "log1"), str(self.tmp / "log2"))
        out = json.loads(r3.stdout)
        self.assertEqual([(d["count"], len(d["files"])) for d in out], [(3, 3)])

    def test_run_reproduce_command(self):
        prog = self.tmp / "prog dir" / "uaf"
        prog.parent.mkdir()
        src = REPO / "tests" / "programs" / "c" / "uaf.c"
        subprocess.run(["cc", "-g", "-O0", "-I", str(src.parent), "-o", str(prog), str(src)], check=True)
        r, findings = self.run_logged(["cgosan", "run", "./prog dir/uaf", "read"], self.tmp,
                                      self.tmp / "log1")
        self.assertEqual(len(findings), 1, r.stderr[-3000:])
        f = findings[0]
        self.assertIsNone(f["test"])
        self.assertEqual(f["reproduce"], {"command": "cgosan run './prog dir/uaf' read",
                                          "directory": str(self.tmp)})
        r2, again = self.run_logged(["bash", "-c", f["reproduce"]["command"]],
                                    f["reproduce"]["directory"], self.tmp / "log2")
        self.assertEqual([g["signature"] for g in again], [f["signature"]])


class SchemaTest(unittest.TestCase):
    """docs/report-schema.json: the fixtures match it, and it rejects what is not a finding.
    (Every finding the integration tests produce is checked by tests/integration/harness.py.)"""

    @classmethod
    def setUpClass(cls):
        with open(REPORT_SCHEMA) as f:
            cls.schema = json.load(f)
        jsonschema.Draft7Validator.check_schema(cls.schema)
        cls.validator = jsonschema.Draft7Validator(cls.schema)
        cls.fixtures = sorted((HERE / FINDINGS).rglob("*.json"))

    def errors(self, doc):
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                for e in self.validator.iter_errors(doc)]

    def load(self, pattern):
        return load([p for p in self.fixtures if pattern in p.name][0])

    def test_fixtures_match(self):
        self.assertEqual(len(self.fixtures), 5)
        for p in self.fixtures:
            with self.subTest(file=p.name):
                self.assertEqual(self.errors(load(p)), [])

    def test_rejects_undocumented_and_wrong_members(self):
        f = self.load("decoder")
        for mutate in (lambda d: d.pop("kind"),
                       lambda d: d.__setitem__("kind", "use-after-lunch"),
                       lambda d: d.__setitem__("undocumented", 1),
                       lambda d: d["environment"]["variables"].__setitem__("HOME", "/root"),
                       lambda d: d["stacks"]["access"][0].__setitem__("pc", 1234),
                       lambda d: d.__setitem__("holder", {"region": "c-heap"}),
                       lambda d: d.__setitem__("leak", {"blocks": "many", "bytes": 1}),
                       lambda d: d.pop("reproduce")):
            d = json.loads(json.dumps(f))
            mutate(d)
            self.assertTrue(self.errors(d), "accepted a broken finding")

    def test_holder_and_leak_are_optional_and_nullable(self):
        f = self.load("decoder")
        for key in ("holder", "leak"):
            d = json.loads(json.dumps(f))
            d.pop(key, None)
            self.assertEqual(self.errors(d), [])
            d[key] = None
            self.assertEqual(self.errors(d), [])
        self.assertEqual(self.load("retain_global")["holder"]["region"], "global")
        self.assertEqual(self.load("leak_cstring")["leak"], {"blocks": 100, "bytes": 1300})

    def test_truncated_findings_may_lack_members(self):
        d = {"schema": "cgosan.report/1", "kind": "leak", "truncated": True}
        self.assertEqual(self.errors(d), [])
        d.pop("truncated")
        self.assertTrue(self.errors(d))

    def test_harness_hook_rejects_a_bad_finding(self):
        sys.path.insert(0, str(REPO / "tests" / "integration"))
        import harness
        f = self.load("decoder")
        harness.check_against_schema(f, "good.json")
        f["access"]["type"] = "sniff"
        with self.assertRaisesRegex(AssertionError, r"bad\.json does not match report-schema\.json"):
            harness.check_against_schema(f, "bad.json")


if __name__ == "__main__":
    unittest.main()
