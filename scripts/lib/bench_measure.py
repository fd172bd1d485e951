"""Measuring for scripts/bench: one run of a command under tests/bench/measure.c (wall, CPU,
peak RSS), the interleaved repetition of several configurations within a time share, and
the budget that hands out those shares. Only the Python standard library is used."""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class Sample(tuple):
    """(wall s, cpu s, peak RSS KiB) of one run, with the run's stdout+stderr as .output."""

    def __new__(cls, wall, cpu, rss, output=""):
        self = super().__new__(cls, (wall, cpu, rss))
        self.output = output
        return self


def run_once(measure, cmd, env, cwd=None, timeout=None, keep_output=False):
    """Runs cmd under the measure launcher; returns a Sample. A non-zero exit (or a timeout)
    ends the bench with the tail of the run's output: a figure of a failed run means
    nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result"
        out_path = Path(tmp) / "output"
        with open(out_path, "wb") as out:
            try:
                proc = subprocess.run([str(measure), str(result)] + [str(c) for c in cmd],
                                      env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=out if keep_output else subprocess.DEVNULL,
                                      stderr=out, timeout=timeout)
                status = proc.returncode
            except subprocess.TimeoutExpired:
                status = f"timeout after {timeout} s"
        output = out_path.read_text(errors="replace")
        if status != 0 or not result.exists():
            sys.stderr.write(output[-6000:])
            raise SystemExit(f"bench: FAILED: {' '.join(str(c) for c in cmd)} exited with "
                             f"status {status} (cwd {cwd or '.'}, CGOSAN_OPTIONS="
                             f"{env.get('CGOSAN_OPTIONS', '')}, GODEBUG="
                             f"{env.get('GODEBUG', '')})")
        wall, cpu, rss, _ = result.read_text().split()
    return Sample(float(wall), float(cpu), int(rss), output if keep_output else "")


def medians(samples):
    """The per-column median of a list of Samples (or of equal-length tuples)."""
    return tuple(statistics.median(s[i] for s in samples) for i in range(len(samples[0])))


class Budget:
    """Seconds for the measurements of a whole run, handed out to its jobs in order: each
    job gets an equal part of what is left, so a job that finishes early leaves more for
    the later ones."""

    def __init__(self, seconds, jobs):
        self.deadline = time.perf_counter() + seconds
        self.jobs_left = max(1, jobs)

    def share(self):
        left = max(0.0, self.deadline - time.perf_counter())
        return left / max(1, self.jobs_left)

    def job_done(self):
        self.jobs_left = max(1, self.jobs_left - 1)


def interleaved(name, configs, run, reps, budget):
    """Runs run(payload) for every (label, payload) of configs, all configs one after the
    other in each repetition (so drift on a shared machine hits every config alike), up to
    reps times; after the first repetition, fewer are made if the rest would not fit in the
    budget's share. Returns ({label: [results]}, repetitions made)."""
    share = budget.share()
    samples = {label: [] for label, _ in configs}
    start = time.perf_counter()
    rep = 0
    while rep < reps:
        for label, payload in configs:
            samples[label].append(run(payload))
        rep += 1
        if rep == 1:
            per_rep = time.perf_counter() - start
            fit = max(1, int(share // max(per_rep, 1e-3)))
            if fit < reps:
                print(f"  {name}: one repetition takes {per_rep:.1f} s; making {fit} "
                      f"instead of {reps} to stay within --budget", file=sys.stderr)
                reps = fit
        print(f"  {name}: repetition {rep}/{reps} done", file=sys.stderr)
    budget.job_done()
    return samples, reps
