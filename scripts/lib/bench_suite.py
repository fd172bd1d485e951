"""The Go cgo test suite benchmarks of scripts/bench, per installed Go toolchain:

  suite      the suite's test binary (`go test -c` of the copy that
             tests/integration/go_cgo_suite.py prepares) run with -test.short: plainly,
             through `scripts/cgosan run` in several configurations, and the `go test -c
             -asan` binary of the same copy; wall, CPU and peak RSS.
  cgo_calls  the suite's BenchmarkCgoCall (every sub-benchmark the version has) and
             BenchmarkCGoCallback run from the plain test binary, plainly, through
             `scripts/cgosan run` and from the -asan binary: ns/op and what each adds.

The cgosan runs get CGOSAN_OPTIONS=suppressions=<tests/integration/go_cgo_suite.supp>
(the suite's own true leaks would otherwise set the exit status) plus the configuration's
options; the wrapper adds efence=1 to GODEBUG from Go 1.21 on, as for any user. Any run
that exits non-zero ends the bench.
"""

import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_measure import interleaved, medians, run_once
from bench_report import print_table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import go_cgo_suite  # noqa: E402
import go_toolchains  # noqa: E402

WRAPPER = ROOT / "scripts" / "cgosan"
SUPPRESSIONS = ROOT / "tests" / "integration" / "go_cgo_suite.supp"
RUN_TIMEOUT = 900

# Top-level tests the -asan build cannot run, per Go minor version (found on this machine
# with every installed version; the -asan run leaves them out, the other runs keep them).
#   TestCthread: ASan reports a stack-buffer-overflow in the suite's cthread_unix.c (doAdd,
#     which passes its local thread_id[] to pthread_create) and aborts the binary.
#   Test10303: expects Go locals whose address C takes to stay on the stack; -asan's extra
#     allocations move one to the heap (golang/go#70079; from 1.24 the test skips itself
#     when internal/asan says Enabled, which the copy's stub does under -asan).
ASAN_LEFT_OUT = {
    19: ["TestCthread", "Test10303"],
    21: ["TestCthread", "Test10303"],
    22: ["TestCthread", "Test10303"],
    23: ["TestCthread", "Test10303"],
    24: ["TestCthread"],
}


def minor_of(version):
    return int(go_toolchains.short_version(version).split(".")[1])


def select_toolchains(wanted):
    """[(version, goroot)] of the installed toolchains, only those whose "1.NN" is in wanted
    (a list; empty: all)."""
    found = go_toolchains.toolchains()
    if not wanted:
        return found
    have = {go_toolchains.short_version(v) for v, _ in found}
    missing = [w for w in wanted if w not in have]
    if missing:
        raise SystemExit(f"bench: Go {', '.join(missing)} not installed "
                         f"(installed: {', '.join(sorted(have))}; see scripts/go-toolchains)")
    return [(v, r) for v, r in found if go_toolchains.short_version(v) in wanted]


class Part:
    """One test binary of a version's suite copy (Go 1.19 has two: misc/cgo/test and its
    testdata, module cgotest), with its -asan twin when that builds."""

    def __init__(self, version, goroot, mod, work, cache):
        self.version, self.goroot, self.mod, self.cache = version, goroot, Path(mod), cache
        self.minor = minor_of(version)
        self.label = str(self.mod.relative_to(work)).split("/", 1)[1]
        self.label = {"misc": "misc/cgo/test", "test": "cmd/cgo/internal/test"}.get(
            self.label, self.label)
        self.pkg = go_cgo_suite.test_package(self.mod)
        tag = self.mod.name
        self.plain = work / version / f"{tag}.test"
        self.asan = work / version / f"{tag}.asan.test"
        self.asan_error = None  # why there is no -asan binary
        self.asan_args = []
        self.asan_left_out = []
        self.checked = False  # check_attached has passed

    @property
    def has_benchmarks(self):
        return self.label != "cgotest"


def build_parts(version, goroot, work, cache, rebuild):
    """Prepares the suite copy of one toolchain under work/<version> and builds its test
    binaries (without rebuild: uses those already there). Returns the Parts."""
    if go_cgo_suite.suite_source(goroot) is None:
        return None
    dest = work / version
    if rebuild or not dest.is_dir():
        mods = go_cgo_suite.prepare(goroot, dest)
    else:
        layout, _ = go_cgo_suite.suite_source(goroot)
        mods = [dest / "misc", dest / "cgotest"] if layout == "misc" else [dest / "test"]
    parts = [Part(version, goroot, m, work, cache) for m in mods]
    for part in parts:
        for asan, out in ((False, part.plain), (True, part.asan)):
            if out.exists() and not rebuild:
                continue
            start = time.perf_counter()
            r = go_cgo_suite.build_test_binary(goroot, part.mod, out, cache, asan=asan)
            secs = time.perf_counter() - start
            what = f"go{version} {part.label}{' -asan' if asan else ''}"
            if r.returncode != 0:
                if not asan:
                    sys.stderr.write(r.stdout + r.stderr)
                    raise SystemExit(f"bench: building the cgo suite's test binary {what} "
                                     "failed")
                out.unlink(missing_ok=True)
                last = (r.stdout + r.stderr).strip().splitlines()[-2:]
                part.asan_error = " / ".join(last) or f"status {r.returncode}"
            print(f"  {'built' if r.returncode == 0 else 'could not build'} {what} "
                  f"({secs:.0f} s)", file=sys.stderr)
        if not part.asan.exists() and part.asan_error is None:
            part.asan_error = "not built (--no-build)"
        if part.asan_error is None:
            set_asan_selection(part)
    return parts


def set_asan_selection(part):
    """The -test.run argument that leaves out what -asan cannot run: a regex of every other
    top-level test (Go 1.19 has no -test.skip)."""
    excluded = ASAN_LEFT_OUT.get(part.minor, ASAN_LEFT_OUT[max(ASAN_LEFT_OUT)])
    r = subprocess.run([str(part.asan), "-test.list", "."], cwd=str(part.pkg),
                       env=run_env(part), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise SystemExit(f"bench: {part.asan} -test.list failed:\n{r.stdout}{r.stderr}")
    tests = [t for t in r.stdout.split() if t.startswith("Test")]
    part.asan_left_out = [t for t in excluded if t in tests]
    if part.asan_left_out:
        kept = [t for t in tests if t not in part.asan_left_out]
        part.asan_args = ["-test.run", "^(" + "|".join(kept) + ")$"]


def run_env(part, options=None, lib=None):
    env = go_cgo_suite.suite_env(part.goroot, part.cache)
    for k in [k for k in env if k.startswith("CGOSAN_") or k in ("LD_PRELOAD",
                                                                   "BENCH_LD_PRELOAD")]:
        del env[k]
    if options is not None:
        env["CGOSAN_LIB"] = str(lib)
        env["CGOSAN_OPTIONS"] = ":".join([f"suppressions={SUPPRESSIONS}"] + list(options))
    return env


def cgosan_configs(modes):
    """(label, options) of the cgosan runs: the default, the default without efence, then
    one per other guard mode."""
    out = [("cgosan default", []), ("cgosan go_efence=0", ["go_efence=0"])]
    out += [(f"cgosan guard={m}", [f"guard={m}"]) for m in modes if m != "cgo"]
    return out


def configs(part, test_args, modes, lib, asan_extra=()):
    """(label, (cmd, env)) per configuration of one part; the plain run first."""
    out = [("no cgosan", ([part.plain] + test_args, run_env(part)))]
    for label, options in cgosan_configs(modes):
        out.append((label, ([WRAPPER, "run", part.plain] + test_args,
                            run_env(part, options, lib))))
    if part.asan_error is None:
        out.append(("go -asan", ([part.asan] + test_args + list(asan_extra),
                                 run_env(part))))
    return out


def notes_for(part, what):
    notes = []
    if part.minor < 21:
        notes.append(f"Go 1.{part.minor}: the wrapper adds no efence=1 (runtime.ReadMemStats "
                     "aborts under efence before Go 1.21), so default and go_efence=0 are "
                     "the same configuration")
    else:
        notes.append("guard=sampled runs without efence: the wrapper adds it in that mode "
                     "only with go_efence=1")
    if part.asan_error is not None:
        notes.append(f"go test -c -asan cannot build for Go {part.version}: "
                     f"{part.asan_error}; no -asan row")
    elif part.asan_left_out and what == "suite":
        notes.append(f"the -asan run leaves out {', '.join(part.asan_left_out)} (see "
                     "ASAN_LEFT_OUT in scripts/lib/bench_suite.py); its ratios are to the "
                     "full plain run")
    return notes


def check_attached(part, lib):
    """Runs the cgosan default configuration once at verbosity=1 (also a warm-up): cgosan must
    attach to the test binary as a Go program with its cgo calls intercepted, or the figures
    would be those of a process cgosan only watched."""
    if part.checked:
        return
    env = run_env(part, ["verbosity=1"], lib)
    r = subprocess.run([str(WRAPPER), "run", str(part.plain), "-test.short",
                        "-test.timeout=10m"], cwd=str(part.pkg), env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    attached = [ln for ln in r.stderr.splitlines() if "cgosan: attached: " in ln]
    if (r.returncode != 0 or not attached or "cgo call variables intercepted" not in attached[0]
            or "Go features off" in attached[0]):
        sys.stderr.write((r.stdout + r.stderr)[-6000:])
        raise SystemExit(f"bench: FAILED: cgosan did not attach fully to {part.plain} "
                         f"(status {r.returncode})")
    part.checked = True


def bench_suite(report, measure, part, modes, lib, reps, budget):
    check_attached(part, lib)
    test_args = ["-test.short", "-test.timeout=10m"]
    cfgs = configs(part, test_args, modes, lib, part.asan_args)
    name = f"suite go{part.version} {part.label}"

    def run(payload):
        cmd, env = payload
        return run_once(measure, cmd, env, cwd=str(part.pkg), timeout=RUN_TIMEOUT)

    samples, made = interleaved(name, cfgs, run, reps, budget)
    rows = [(label, medians(samples[label])) for label, _ in cfgs]
    print_table(report, name, "Go's cgo test suite, test binary with -test.short", None,
                rows, made, notes_for(part, "suite"))


BENCH_LINE = re.compile(r"^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op")


def parse_bench(output):
    """{benchmark name without the -GOMAXPROCS suffix: ns/op} from go test -bench output."""
    found = {}
    for line in output.splitlines():
        m = BENCH_LINE.match(line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found


def bench_cgo_calls(report, measure, part, modes, lib, reps, budget, benchtime):
    test_args = ["-test.run", "^$", "-test.bench",
                 "^(BenchmarkCgoCall|BenchmarkCGoCallback)$", f"-test.benchtime={benchtime}"]
    check_attached(part, lib)
    cfgs = configs(part, test_args, modes, lib)
    name = f"cgo_calls go{part.version}"

    def run(payload):
        cmd, env = payload
        sample = run_once(measure, cmd, env, cwd=str(part.pkg), timeout=RUN_TIMEOUT,
                          keep_output=True)
        found = parse_bench(sample.output)
        if not found:
            sys.stderr.write(sample.output[-4000:])
            raise SystemExit(f"bench: FAILED: no benchmark results from {cmd[0]}")
        return found

    samples, made = interleaved(name, cfgs, run, reps, budget)
    plain_label = cfgs[0][0]
    names = list(samples[plain_label][0])
    med = {}
    for label, _ in cfgs:
        for b in names:
            values = [s[b] for s in samples[label] if b in s]
            if len(values) != len(samples[label]):
                raise SystemExit(f"bench: FAILED: {b} missing from a {label} run")
            med[label, b] = statistics.median(values)
    header = ["benchmark", "no cgosan"] + [label for label, _ in cfgs[1:]]
    lines = []
    for b in names:
        plain = med[plain_label, b]
        line = [b, f"{plain:.1f} ns"]
        for label, _ in cfgs[1:]:
            v = med[label, b]
            line.append(f"{v:.1f} ns ({v - plain:+.1f})")
        lines.append(line)
    notes = [f"ns/op, median of {made} runs of the test binary with "
             f"-test.benchtime={benchtime}; in parentheses what the config adds per op"]
    report.table(f"{name} (Go's cgo suite benchmarks, BenchmarkCgoCall/* and "
                 f"BenchmarkCGoCallback; median of {made})", header, lines,
                 notes + notes_for(part, "cgo_calls"))
