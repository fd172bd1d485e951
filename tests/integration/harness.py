"""Shared helpers for the integration tests: build the test programs, run them with and
without libcgosan.so, collect the JSON findings, and assert on them.

Environment (set by CMake, with defaults for running a file by hand):
  CGOSAN_LIB        path of libcgosan.so (default <build>/lib/libcgosan.so)
  CGOSAN_BUILD_DIR  the CMake build directory (default <repo>/build); compiled programs are
                    cached under <build>/integration-programs, the Go build cache under
                    <build>/.gocache.
Only the Python standard library is used.
"""

import atexit
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
C_PROGRAMS = REPO / "tests" / "programs" / "c"
GO_PROGRAMS = REPO / "tests" / "programs" / "go"

SCHEMA = "cgosan.report/1"
KINDS = ("heap-use-after-free", "heap-buffer-overflow", "double-free", "invalid-free",
         "go-heap-use-after-free", "go-stack-use-after-free", "map-bucket-use-after-relocation",
         "go-pointer-retained", "leak")
# Findings of audits (retention, leak check) have no access: their first stack is the cgo
# call that handed the pointer over, or the allocation.
AUDIT_KINDS = {"go-pointer-retained": "cgo_call", "leak": "alloc"}
ACCESS_TYPES = ("read", "write", "free", "unknown")
REGIONS = ("c-heap", "go-heap", "go-stack", "map-buckets", "global", "unknown")
HEX = re.compile(r"^0x[0-9a-f]+$")
RFC3339_MS_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# Flags for every C/C++ test program: debug info, no optimisation, frame pointers, and
# -rdynamic so the program's own functions are in .dynsym as well as .symtab.
C_FLAGS = ["-g", "-O0", "-fno-omit-frame-pointer", "-rdynamic"]
# Extra flags per program (appended after the source file).
C_EXTRA = {
    "mt_stress": ["-pthread"],
    "fork_exec": ["-pthread"],
    "reliability": ["-pthread"],
    "symbol_resolution": ["-ldl", "-Wl,--no-as-needed", "-lgcc_s", "-Wl,--as-needed"],
    "cxx_exception": ["-std=c++17"],
}


def build_dir():
    return Path(os.environ.get("CGOSAN_BUILD_DIR") or (REPO / "build")).resolve()


def lib_path():
    lib = os.environ.get("CGOSAN_LIB") or str(build_dir() / "lib" / "libcgosan.so")
    return str(Path(lib).resolve())


def cache_dir():
    d = build_dir() / "integration-programs"
    d.mkdir(parents=True, exist_ok=True)
    return d


_temp_dirs = []


def _cleanup():
    for d in _temp_dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def make_temp_dir(prefix="cgosan-it-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(d)
    return d


def _newest_mtime(paths):
    return max(os.stat(p).st_mtime_ns for p in paths)


def _up_to_date(out, inputs):
    return out.exists() and os.stat(out).st_mtime_ns >= _newest_mtime(inputs)


def _install_atomically(tmp, out):
    os.replace(tmp, out)  # concurrent builders of the same program both end with a whole file


def compile_c(name):
    """Compiles tests/programs/c/<name>.c (or .cc) once; returns the binary's path."""
    src = C_PROGRAMS / (name + ".c")
    compiler = os.environ.get("CC", "cc")
    if not src.exists():
        src = C_PROGRAMS / (name + ".cc")
        compiler = os.environ.get("CXX", "c++")
    flags = C_FLAGS + [str(src)] + C_EXTRA.get(name, [])
    key = hashlib.sha1(" ".join([compiler] + flags).encode()).hexdigest()[:10]
    out = cache_dir() / "c" / key / name  # the binary keeps the program's name
    out.parent.mkdir(parents=True, exist_ok=True)
    inputs = [src] + sorted(C_PROGRAMS.glob("*.h"))
    if not _up_to_date(out, inputs):
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        r = subprocess.run([compiler, "-o", str(tmp)] + flags, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"compiling {src} failed:\n{r.stdout}{r.stderr}")
        _install_atomically(tmp, out)
    return str(out)


def go_env():
    b = build_dir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS", "GOFLAGS", "GODEBUG", "GOROOT")}
    env.update({
        "GO111MODULE": "off",
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "",
        "CGO_ENABLED": "1",
        "CGO_CFLAGS": "-g -O0",
        "GOCACHE": str(b / ".gocache"),
        "GOPATH": str(b / ".gopath"),
        "HOME": env.get("HOME", str(b)),
    })
    return env


def build_go(name):
    """Builds tests/programs/go/<name>/main.go once; returns the binary's path."""
    src_dir = GO_PROGRAMS / name
    src = src_dir / "main.go"
    out = cache_dir() / "go" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    if not _up_to_date(out, [src]):
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        r = subprocess.run(["go", "build", "-o", str(tmp), "main.go"], cwd=str(src_dir),
                           env=go_env(), capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"go build of {src} failed:\n{r.stdout}{r.stderr}")
        _install_atomically(tmp, out)
    return str(out)


# Every finding any integration test produces is validated against docs/report-schema.json
# (the format's documentation), so a key the writer adds or changes without documenting it
# fails the test that produced it.
REPORT_SCHEMA = REPO / "docs" / "report-schema.json"
_report_validator = None


def check_against_schema(finding, path):
    """Raises AssertionError naming the file and each violation of the schema."""
    global _report_validator
    if _report_validator is None:
        try:
            import jsonschema
        except ImportError:  # a Python of its own (pyenv): Debian's python3-jsonschema
            import sys
            sys.path.append("/usr/lib/python3/dist-packages")
            import jsonschema
        with open(REPORT_SCHEMA) as f:
            schema = json.load(f)
        jsonschema.Draft7Validator.check_schema(schema)
        _report_validator = jsonschema.Draft7Validator(schema)
    errors = sorted(_report_validator.iter_errors(finding), key=lambda e: [str(x) for x in e.absolute_path])
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}"
                 for e in errors[:10]]
        raise AssertionError(f"{path} does not match {REPORT_SCHEMA.name}:\n  "
                             + "\n  ".join(lines))


class Result:
    """The outcome of one run."""

    def __init__(self, argv, pid, returncode, stdout, stderr, log_dir):
        self.argv = argv
        self.pid = pid
        self.returncode = returncode  # negative: killed by that signal (subprocess convention)
        self.stdout = stdout
        self.stderr = stderr
        self.log_dir = log_dir
        self.log_files = sorted(os.listdir(log_dir)) if log_dir and os.path.isdir(log_dir) else []
        self.json_paths = [os.path.join(log_dir, f) for f in self.log_files
                           if f.startswith("cgosan.") and f.endswith(".json")]
        self.findings = []
        self.json_errors = []
        for p in self.json_paths:
            try:
                with open(p) as f:
                    self.findings.append(json.load(f))
            except (OSError, ValueError) as e:
                self.json_errors.append(f"{p}: {e}")
                continue
            check_against_schema(self.findings[-1], p)

    @property
    def signal(self):
        return -self.returncode if self.returncode < 0 else None

    @property
    def exit_code(self):
        return self.returncode if self.returncode >= 0 else None

    def printed(self, key):
        """The value of the first stdout line "key=VALUE"."""
        m = re.search(r"^" + re.escape(key) + r"=(\S+)$", self.stdout, re.M)
        return m.group(1) if m else None

    def printed_ptr(self, key="ptr"):
        v = self.printed(key)
        return int(v, 16) if v else None

    def describe(self):
        return (f"argv={self.argv} returncode={self.returncode}\n--- stdout ---\n"
                f"{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-6000:]}\n"
                f"--- log files --- {self.log_files}")


def _no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # A process group of its own, so that a timeout kills the children it forked too: a
    # child left hanging would keep stdout open and the test waiting for ever.
    os.setpgid(0, 0)


def run(argv, preload=True, options=None, log=True, timeout=120, env=None, cwd=None,
        log_dir=None):
    """Runs argv (a list), with libcgosan.so preloaded unless preload=False.

    options: CGOSAN_OPTIONS entries (a list of "key=value" or one string); when log is true
    and preloading, log_path=<fresh temp dir> (or log_dir) is put in front of them.
    The child gets no core dump limit and an environment without LD_PRELOAD/CGOSAN_OPTIONS
    or Go debugging variables from the caller.
    """
    argv = [str(a) for a in argv]
    e = {k: v for k, v in os.environ.items()
         if k not in ("LD_PRELOAD", "CGOSAN_OPTIONS", "GODEBUG", "GOTRACEBACK")}
    if env:
        e.update(env)
    if isinstance(options, str):
        options = [options] if options else []
    opts = list(options or [])
    used_log_dir = None
    if preload:
        e["LD_PRELOAD"] = lib_path()
        if log:
            used_log_dir = log_dir or make_temp_dir()
            opts.insert(0, "log_path=" + used_log_dir)
        if opts:
            e["CGOSAN_OPTIONS"] = ":".join(opts)
    proc = subprocess.Popen(argv, env=e, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_no_core_dumps)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"timeout after {timeout}s: {argv}\nstdout:\n"
                             f"{out.decode(errors='replace')[-2000:]}\nstderr:\n"
                             f"{err.decode(errors='replace')[-4000:]}")
    return Result(argv, proc.pid, proc.returncode, out.decode(errors="replace"),
                  err.decode(errors="replace"), used_log_dir)


def functions(stack):
    return [f.get("function") for f in stack]


def mask_hex(text):
    """Masks addresses and other hex numbers (and goroutine-dump offsets) for comparing
    output of two runs."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", text)
    return text


def text_line_prefix(pid):
    return f"=={pid}==cgosan: "


class CgosanTestCase(unittest.TestCase):
    """Assertions shared by the integration tests."""

    maxDiff = None

    # --- runs -----------------------------------------------------------------------------

    def assertNoReport(self, res):
        self.assertEqual(res.log_files, [], "no finding expected\n" + res.describe())
        self.assertNotIn("cgosan", res.stderr, "cgosan must be quiet\n" + res.describe())

    def assertSameAsPlain(self, argv, preloaded=None, plain=None, compare_stderr=False,
                          timeout=120):
        """Runs argv with and without the preload: same stdout and exit status, and no
        finding. Returns (preloaded, plain)."""
        plain = plain or run(argv, preload=False, timeout=timeout)
        pre = preloaded or run(argv, timeout=timeout)
        self.assertNoReport(pre)
        self.assertEqual(pre.stdout, plain.stdout,
                         "stdout differs from the plain run\n" + pre.describe())
        self.assertEqual(pre.returncode, plain.returncode,
                         f"exit status differs (plain {plain.returncode})\n" + pre.describe())
        if compare_stderr:
            self.assertEqual(mask_hex(pre.stderr), mask_hex(plain.stderr),
                             "stderr differs from the plain run\n" + pre.describe())
        return pre, plain

    def assertExit(self, res, code):
        self.assertEqual(res.returncode, code, f"expected exit status {code}\n" + res.describe())

    def assertKilledBy(self, res, signo):
        self.assertEqual(res.returncode, -signo,
                         f"expected death by signal {signo}\n" + res.describe())

    # --- findings -------------------------------------------------------------------------

    def single_finding(self, res, kind):
        """Exactly one JSON finding of `kind`; checks the whole schema-1 contract, the file
        name and mode, and the text report. Returns the finding (dict)."""
        self.assertEqual(res.json_errors, [], res.describe())
        self.assertEqual(len(res.findings), 1,
                         f"expected exactly one JSON finding\n" + res.describe())
        self.assertEqual(len(res.log_files), 1, "stray files in log_path\n" + res.describe())
        f = res.findings[0]
        self.assertEqual(f.get("kind"), kind, res.describe() + "\n" + json.dumps(f, indent=1))
        self.assertFindingContract(f, res)
        with self.subTest(contract="file"):
            self.assertJsonFile(res.json_paths[0], res)
        with self.subTest(contract="text"):
            self.assertTextReport(res, f)
        return f

    def assertFindingContract(self, f, res):
        ctx = "\n" + json.dumps(f, indent=1)[:6000]
        for key in ("schema", "cgosan_version", "time", "kind", "summary", "address", "access",
                    "object", "stacks", "thread", "process", "signature"):
            self.assertIn(key, f, "missing key " + key + ctx)
        self.assertEqual(f["schema"], SCHEMA, ctx)
        self.assertIsInstance(f["cgosan_version"], str, ctx)
        self.assertTrue(f["cgosan_version"], ctx)
        self.assertRegex(f["time"], RFC3339_MS_UTC, ctx)
        self.assertIn(f["kind"], KINDS, ctx)
        self.assertIsInstance(f["summary"], str, ctx)
        self.assertIn(f["kind"], f["summary"], ctx)
        if f["address"] is not None:
            self.assertRegex(f["address"], HEX, ctx)
        acc = f["access"]
        self.assertIsInstance(acc, dict, ctx)
        self.assertIn(acc.get("type"), ACCESS_TYPES, ctx)
        self.assertIn("size", acc, ctx)
        self.assertTrue(acc["size"] is None or (isinstance(acc["size"], int)
                                                and not isinstance(acc["size"], bool)), ctx)
        obj = f["object"]
        if obj is not None:
            self.assertIn(obj.get("region"), REGIONS, ctx)
            self.assertRegex(obj.get("base", ""), HEX, ctx)
            self.assertIsInstance(obj.get("size"), int, ctx)
            self.assertIsInstance(obj.get("offset"), int, ctx)
        self.assertIsInstance(f["stacks"], dict, ctx)
        self.assertIn(AUDIT_KINDS.get(f["kind"], "access"), f["stacks"],
                      "an access stack (for audits: its first stack) is always expected" + ctx)
        if f["kind"] in AUDIT_KINDS:
            self.assertEqual(next(iter(f["stacks"])), AUDIT_KINDS[f["kind"]],
                             "the first stack of an audit finding" + ctx)
        for name, stack in f["stacks"].items():
            self.assertIsInstance(stack, list, ctx)
            self.assertTrue(stack, f"stack {name} is empty" + ctx)
            for fr in stack:
                self.assertRegex(fr.get("pc", ""), HEX, ctx)
                self.assertIn("function", fr, ctx)
                self.assertTrue(fr["function"] is None or isinstance(fr["function"], str), ctx)
                self.assertIn("file", fr, ctx)
                self.assertIn("line", fr, ctx)
                self.assertTrue(fr["line"] is None or isinstance(fr["line"], int), ctx)
                self.assertIsInstance(fr.get("module"), str, ctx)
                self.assertRegex(fr.get("module_offset", ""), HEX, ctx)
                self.assertIn(fr.get("lang"), ("c", "go"), ctx)
                for b in ("glue", "inlined"):
                    if b in fr:
                        self.assertIsInstance(fr[b], bool, ctx)
                self.assertNotIn("libcgosan", fr["module"],
                                 f"cgosan's own frames must be removed ({name})" + ctx)
        # Groups checked as subtests: a failure is recorded and the test goes on, so one
        # run shows every broken part of the contract.
        with self.subTest(contract="thread"):
            th = f["thread"]
            self.assertIsInstance(th.get("tid"), int, ctx)
            self.assertGreater(th["tid"], 0, ctx)
            self.assertIn("name", th, ctx)
            self.assertIn("goroutine", th, ctx)
            self.assertTrue(th["goroutine"] is None or isinstance(th["goroutine"], int), ctx)
        with self.subTest(contract="process"):
            pr = f["process"]
            self.assertEqual(pr.get("pid"), res.pid, "process.pid")
            self.assertEqual(pr.get("argv"), res.argv, "process.argv")
            self.assertEqual(pr.get("exe"), os.path.realpath(res.argv[0]), "process.exe")
            self.assertIn("build_id", pr, ctx)
            self.assertTrue(pr["build_id"] is None or isinstance(pr["build_id"], str), ctx)
        with self.subTest(contract="signature"):
            self.assertIsInstance(f["signature"], str, ctx)
            self.assertTrue(f["signature"].startswith(f["kind"]), ctx)

    def assertJsonFile(self, path, res):
        name = os.path.basename(path)
        exe_name = os.path.basename(res.argv[0])
        self.assertRegex(name, r"^cgosan\." + re.escape(exe_name) + r"\." + str(res.pid)
                         + r"\.[^/]+\.json$")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600, path)
        with open(path) as fh:
            text = fh.read()
        self.assertTrue(text.endswith("\n"), "JSON file must be complete (newline-terminated)")

    def text_body(self, res):
        """cgosan's stderr lines with the "==PID==cgosan: " prefix removed."""
        prefix = text_line_prefix(res.pid)
        return "\n".join(l[len(prefix):] for l in res.stderr.splitlines()
                         if l.startswith(prefix))

    def assertTextReport(self, res, f, all_lines_ours=None):
        """The ASan-shaped text on stderr. For C programs every stderr line is cgosan's."""
        prefix = text_line_prefix(res.pid)
        lines = [l for l in res.stderr.splitlines() if l.startswith(prefix)]
        body = "\n".join(l[len(prefix):] for l in lines)
        kind = f["kind"]
        # The header line names the kind and the address (ASan shape).
        headers = [l for l in body.splitlines() if l.startswith("ERROR:")]
        self.assertTrue(headers, "no ERROR: header line\n" + res.describe())
        self.assertIn(kind, headers[0], "the header line must name the kind")
        if f["address"]:
            self.assertIn(f["address"], headers[0], "the header line must name the address")
        self.assertRegex(body, r"(?m)^SUMMARY: cgosan: " + re.escape(kind), res.describe())
        self.assertIn(f["summary"], body, "the JSON summary is the SUMMARY line\n" +
                      res.describe())
        if f["address"]:
            self.assertIn(f["address"], body, res.describe())
        # Nothing cgosan prints lacks the prefix: any line mentioning cgosan starts with it.
        for l in res.stderr.splitlines():
            if "cgosan" in l:
                self.assertTrue(l.startswith(prefix), f"line without prefix: {l!r}\n" +
                                res.describe())
        if all_lines_ours is None:
            all_lines_ours = not is_go_binary(res.argv[0])
        if all_lines_ours:
            for l in res.stderr.splitlines():
                if l.strip():
                    self.assertTrue(l.startswith(prefix), f"unexpected stderr line {l!r}\n" +
                                    res.describe())
        return body

    def stack(self, f, name):
        self.assertIn(name, f["stacks"], f"stack '{name}' missing\n" +
                      json.dumps(f, indent=1)[:6000])
        return f["stacks"][name]

    def assertStackHas(self, f, name, pattern):
        """Stack `name` has a frame whose function fully matches the regex."""
        st = self.stack(f, name)
        fns = functions(st)
        self.assertTrue(any(fn and re.fullmatch(pattern, fn) for fn in fns),
                        f"no frame matching {pattern!r} in stack '{name}': {fns}")

    def assertStackTop(self, f, name, pattern):
        """The innermost frame of stack `name` is the function matching the regex."""
        st = self.stack(f, name)
        fns = functions(st)
        self.assertTrue(fns and fns[0] and re.fullmatch(pattern, fns[0]),
                        f"innermost frame of '{name}' should match {pattern!r}: {fns}")

    def assertFrameOrder(self, f, name, patterns):
        """The functions appear in this order (innermost first), possibly with others
        between them."""
        fns = functions(self.stack(f, name))
        i = 0
        for fn in fns:
            if i < len(patterns) and fn and re.fullmatch(patterns[i], fn):
                i += 1
        self.assertEqual(i, len(patterns), f"stack '{name}' should contain {patterns} in "
                         f"order: {fns}")

    def assertObject(self, f, region, base, size, offset):
        obj = f["object"]
        self.assertIsNotNone(obj, json.dumps(f, indent=1)[:3000])
        self.assertEqual(obj["region"], region)
        self.assertEqual(int(obj["base"], 16), base, f"object base {obj['base']} vs {base:#x}")
        self.assertEqual(obj["size"], size)
        self.assertEqual(obj["offset"], offset)

    def assertAddress(self, f, addr):
        self.assertIsNotNone(f["address"])
        self.assertEqual(int(f["address"], 16), addr,
                         f"address {f['address']} vs printed {addr:#x}")


_go_cache = {}


def is_go_binary(path):
    if path not in _go_cache:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            _go_cache[path] = b"runtime.gopanic" in data or b"\xff Go build ID:" in data
        except OSError:
            _go_cache[path] = False
    return _go_cache[path]


def require_lib():
    """A missing libcgosan.so is an error, never a skipped test."""
    if not os.path.exists(lib_path()):
        raise RuntimeError(f"libcgosan.so not found at {lib_path()} (set CGOSAN_LIB)")
