"""Benchmarks of the retention audits, driven from scripts/bench (--workloads
audit_scale_bench,cgo_gopointer_call) or on their own:

    python3 scripts/lib/bench_audits.py [--sizes 10,100,1024] [--seconds 10] [--reps 1]

audit_scale_bench (tests/bench/audit_scale_bench): MB of live C heap in blocks of
256 B .. 64 KiB, then SECONDS of cgo calls with a Go pointer (each asks for an audit) while
a C thread and a goroutine measure the longest gap of their tight loops. Run at 10 MB,
100 MB and 1 GB, without the preload, with retention_check=0 and with the audits on
(verbosity=1 for cgosan's exit line of audit statistics; leak_check=0 so that the exit's
leak check, which also reads the whole heap, is not counted). Prints per size: audit
passes, MB scanned, longest and mean pass, longest slice (stretch of audit work without a
pause), longest hold of a lock malloc/free need, the exit audit, the worst gap of each
loop (and its worst gap without preemption), peak RSS and wall time, each the median over
the repetitions (scripts/bench --reps, at most 3). BENCH_AUDITS_BASELINE_LIB=PATH adds a
config with the audits on under another libcgosan.so (an older build), interleaved.

cgo_gopointer_call (tests/bench/cgo_gopointer_call): N one-pointer cgo calls; ns per call
added by cgosan, with retention_check=1 and 0, against calls without a Go pointer.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

WORKLOADS = {
    "audit_scale_bench": "Go+C: MB of live C heap, cgo calls with Go pointers asking for "
                         "audits, worst gap of a C malloc/free loop and a Go loop",
    "cgo_gopointer_call": "Go: N cgo calls passing one Go pointer; ns per call with "
                          "retention_check=1 and 0",
}

BUILD_SCRIPT = r"""
set -euo pipefail
source "$1/scripts/lib/setup.sh"
cgosan_go_env
mkdir -p "$2"
cc -O2 -Wall -o "$2/measure" "$1/tests/bench/measure.c"
GO111MODULE=off go build -o "$2/audit_scale_bench" "$1/tests/bench/audit_scale_bench/main.go"
GO111MODULE=off go build -o "$2/cgo_gopointer_call" "$1/tests/bench/cgo_gopointer_call/main.go"
"""

AUDIT_LINE = re.compile(
    r"retention audits: (?P<passes>\d+) passes, (?P<mb>[\d.]+) MB scanned in (?P<slices>\d+) "
    r"slices(?:, longest pass (?P<longest>[\d.]+) ms \(mean (?P<mean>[\d.]+) ms\))?, "
    r"longest slice (?P<slice>[\d.]+) ms, longest lock hold (?P<lock>[\d.]+) ms.*?"
    r"exit audit (?P<exit>[\d.]+) ms")
LOOP_LINE = re.compile(r"^(?P<loop>c|go)-loop: (?P<iters>\d+) iterations, worst gap "
                       r"(?P<worst>[\d.]+) ms, (?P<over1>\d+) gaps over 1 ms, "
                       r"(?P<over10>\d+) over 10 ms, worst gap without preemption (?P<own>[\d.]+) ms", re.M)


def build(bench_dir):
    subprocess.run(["bash", "-c", BUILD_SCRIPT, "build", str(ROOT), str(bench_dir)],
                   check=True, stdin=subprocess.DEVNULL)


def measured(bench_dir, cmd, env):
    """Runs cmd under measure; returns (stdout, stderr, wall s, cpu s, peak RSS KiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result"
        proc = subprocess.run([str(bench_dir / "measure"), str(result)] + cmd, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0 or not result.exists():
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"bench: {' '.join(cmd)} failed with status {proc.returncode} "
                             f"(CGOSAN_OPTIONS={env.get('CGOSAN_OPTIONS', '')})")
        wall, cpu, rss, _ = result.read_text().split()
    return proc.stdout, proc.stderr, float(wall), float(cpu), int(rss)


def environments(lib, configs):
    base = {k: v for k, v in os.environ.items()
            if k not in ("LD_PRELOAD", "BENCH_LD_PRELOAD", "CGOSAN_OPTIONS")}
    for label, options in configs:
        if options is None:
            yield label, base
        else:
            yield label, dict(base, BENCH_LD_PRELOAD=str(lib), CGOSAN_OPTIONS=options)


def table(header, lines, markdown):
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    for line in [header] + lines:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths))))


def audit_scale(bench_dir, lib, sizes, seconds, reps, markdown):
    configs = [("no preload", None),
               ("retention_check=0", "retention_check=0:leak_check=0"),
               ("audits on", "verbosity=1:leak_check=0")]
    baseline = os.environ.get("BENCH_AUDITS_BASELINE_LIB")  # another libcgosan.so, compared
    if baseline:
        configs.append(("audits on, baseline lib", "verbosity=1:leak_check=0"))
    cmd_shown = f"{bench_dir / 'audit_scale_bench'} MB {seconds:g}"
    print(f"\naudit_scale_bench ({WORKLOADS['audit_scale_bench']}; {seconds:g} s of calls; "
          f"each column the median of {reps}; command: {cmd_shown}, CGOSAN_OPTIONS as in the "
          f"config column)")
    header = ["heap", "config", "passes", "MB scanned", "longest pass", "mean pass",
              "longest slice", "longest lock hold", "exit audit", "C loop worst gap",
              "C gaps >10ms", "C worst unpreempted", "Go loop worst gap", "Go gaps >10ms",
              "Go worst unpreempted", "peak RSS", "wall"]
    lines = []
    for mb in sizes:
        cmd = [str(bench_dir / "audit_scale_bench"), str(mb), f"{seconds:g}"]
        envs = list(environments(lib, configs))
        if baseline:
            envs[-1][1]["BENCH_LD_PRELOAD"] = baseline
        samples = {label: [] for label, _ in envs}
        for rep in range(reps):
            for label, env in envs:  # interleaved, so drift hits every config alike
                out, err, wall, _, rss = measured(bench_dir, cmd, env)
                loops = {m["loop"]: m for m in LOOP_LINE.finditer(out)}
                audit = AUDIT_LINE.search(err)
                samples[label].append((loops, audit, wall, rss))
                print(f"  audit_scale_bench {mb} MB, {label}: repetition {rep + 1} done",
                      file=sys.stderr)
        for label, _ in envs:
            runs = samples[label]

            def worst(key, loop):
                return statistics.median(float(r[0][loop][key]) for r in runs)

            def stat(key, fmt="{:.1f} ms", pick=statistics.median):
                values = [float(r[1][key]) for r in runs if r[1] and r[1][key] is not None]
                return fmt.format(pick(values)) if values else "-"

            lines.append([
                f"{mb} MB", label, stat("passes", "{:.0f}"), stat("mb", "{:.0f}"),
                stat("longest"), stat("mean"), stat("slice"), stat("lock", "{:.2f} ms"),
                stat("exit"),
                f"{worst('worst', 'c'):.1f} ms", f"{worst('over10', 'c'):.0f}",
                f"{worst('own', 'c'):.2f} ms",
                f"{worst('worst', 'go'):.1f} ms", f"{worst('over10', 'go'):.0f}",
                f"{worst('own', 'go'):.2f} ms",
                f"{statistics.median(r[3] for r in runs) / 1024:.0f} MiB",
                f"{statistics.median(r[2] for r in runs):.1f} s"])
    table(header, lines, markdown)


def gopointer_call(bench_dir, lib, iterations, reps, markdown):
    configs = [("no preload", None, "ptr"),
               ("cgosan, no Go pointer", "leak_check=0", "noptr"),
               ("retention_check=0", "retention_check=0:leak_check=0", "ptr"),
               ("retention_check=1", "retention_check=1:leak_check=0", "ptr"),
               ("retention_check=1 retention_interval_ms=0",
                "retention_check=1:retention_interval_ms=0:leak_check=0", "ptr")]
    samples = {label: [] for label, _, _ in configs}
    envs = dict(environments(lib, [(label, o) for label, o, _ in configs]))
    for _ in range(reps):
        for label, _, arg in configs:  # interleaved, so drift hits every config alike
            cmd = [str(bench_dir / "cgo_gopointer_call"), str(iterations), arg]
            _, _, wall, cpu, rss = measured(bench_dir, cmd, envs[label])
            samples[label].append((wall, cpu, rss))
    # CPU time, minimum over the repetitions: on a shared machine the wall time mostly
    # measures the other processes.
    print(f"\ncgo_gopointer_call ({WORKLOADS['cgo_gopointer_call']}; N={iterations}; "
          f"minimum of {reps}; command: {bench_dir / 'cgo_gopointer_call'} N ptr|noptr)")
    plain = [min(s[i] for s in samples["no preload"]) for i in range(3)]
    header = ["config", "wall (min)", "CPU user+sys (min)", "peak RSS", "added wall per call",
              "added CPU per call"]
    lines = []
    for label, _, _ in configs:
        wall, cpu, rss = [min(s[i] for s in samples[label]) for i in range(3)]
        lines.append([label, f"{wall:.3f} s", f"{cpu:.3f} s", f"{rss / 1024:.1f} MiB",
                      f"{(wall - plain[0]) / iterations * 1e9:+.1f} ns",
                      f"{(cpu - plain[1]) / iterations * 1e9:+.1f} ns"])
    table(header, lines, markdown)


def run(names, bench_dir, lib, markdown, reps, scale, no_build=False, sizes=(10, 100, 1024),
        seconds=10.0):
    """The hook scripts/bench calls for the workloads of WORKLOADS named in `names`."""
    if not any(name in WORKLOADS for name in names):
        return
    if not no_build:
        build(bench_dir)
    if "audit_scale_bench" in names:
        audit_scale(bench_dir, lib, sizes, seconds * scale, max(1, min(reps, 3)), markdown)
    if "cgo_gopointer_call" in names:
        gopointer_call(bench_dir, lib, max(1, int(10000000 * scale)), max(reps, 3), markdown)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--sizes", default="10,100,1024", help="MB of live C heap")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    build_dir = Path(os.environ.get("CGOSAN_BUILD_DIR", ROOT / "build")).resolve()
    lib = Path(os.environ.get("CGOSAN_LIB", build_dir / "lib" / "libcgosan.so")).resolve()
    run(args.workloads.split(","), build_dir / "bench", lib, args.markdown, args.reps, 1.0,
        args.no_build, [int(s) for s in args.sizes.split(",")], args.seconds)


if __name__ == "__main__":
    main()
