"""Time ``customlabels validate`` against an orjson baseline, as whole processes.

Every contender is a separate process, timed from start to exit, with its peak memory (max
RSS) taken from ``os.wait4``. The contenders run interleaved (A, B, C, A, B, C...) for
``--repeat`` rounds, so that the noise of a shared machine falls on all of them alike; the
report gives medians, minimums, peak RSS and each contender's time relative to the baseline
(the median of the per-round ratios).

Contenders:

* ``compiled``: ``customlabels validate MANIFEST --max-lines 2000000 --format json``;
* ``pure``: the same with ``CUSTOMLABELS_PURE=1`` (the pure-Python path; ``--skip-pure`` drops it);
* ``baseline``: ``python -c`` that reads the file in 1 MiB chunks, splits the lines and calls
  ``orjson.loads`` on each non-empty one, nothing else;
* ``outputs``: ``compiled`` plus ``--output-dir`` (a fresh temporary directory each run).

Standard output goes to ``/dev/null``. The validator exits 0 (valid) or 1 (errors found);
any other status is reported as a failure. ``--big PATH`` adds a memory run of ``compiled``
on a large manifest (generated at about 1 GB when missing).

Usage::

    python benchmarks/bench_validate.py
    python benchmarks/bench_validate.py --repeat 9 --skip-pure --json-out results.json
    python benchmarks/bench_validate.py --big benchmarks/data/bench-1g.manifest
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MANIFEST = HERE / "data" / "bench-250k.manifest"
BIG_TARGET_BYTES = 1_000_000_000
CLI = Path(sys.executable).parent / "customlabels"
PURE_ENV = "CUSTOMLABELS_PURE"
#: ru_maxrss is in KiB on Linux and in bytes on macOS.
RSS_UNIT = 1 if sys.platform == "darwin" else 1024
MIB = 1 << 20
#: The engine named in the validator's JSON report, which comes near its start.
ENGINE_RE = re.compile(rb'"engine"\s*:\s*"([^"]*)"')

#: Targets of the compiled validator on the 250,000-line manifest and on the big one.
TARGET_SECONDS = 0.35
TARGET_SPEEDUP = 2.0
TARGET_RSS_BYTES = 100_000_000

BASELINE_CODE = """\
import sys
from orjson import JSONDecodeError, loads

def parse(lines):
    for line in lines:
        if line:
            try:
                loads(line)
            except JSONDecodeError:
                pass

rest = b""
with open(sys.argv[1], "rb") as f:
    while chunk := f.read(1 << 20):
        lines = (rest + chunk).split(b"\\n")
        rest = lines.pop()
        parse(lines)
parse([rest])
"""


@dataclass
class Run:
    """One finished process: wall time, peak memory, exit status and the end of its stderr."""

    seconds: float
    max_rss: int
    status: int
    stderr: str


@dataclass
class Contender:
    """A command to time, with the environment it runs in and its results so far."""

    name: str
    argv: list[str]
    extra_env: dict[str, str] = field(default_factory=dict)
    ok_status: tuple[int, ...] = (0, 1)
    output_dir: bool = False
    runs: list[Run] = field(default_factory=list)
    failure: str | None = None

    def command(self) -> str:
        """Return the command as a shell line, with its extra environment and redirection."""
        extra = [f"{k}={v}" for k, v in self.extra_env.items()]
        argv = self.argv + (["--output-dir", "TMPDIR"] if self.output_dir else [])
        return shlex.join(extra + argv) + " > /dev/null"

    def run(self) -> None:
        """Run the command once and record it, or record why it failed."""
        with tempfile.TemporaryDirectory(prefix="customlabels-bench-") as tmp:
            argv = self.argv + (["--output-dir", tmp] if self.output_dir else [])
            run = run_process(argv, child_env(self.extra_env))
        if run.status in self.ok_status:
            self.runs.append(run)
        else:
            self.failure = f"exit status {run.status}; stderr ends with:\n{run.stderr}"

    @property
    def seconds(self) -> list[float]:
        """Wall times of the successful runs."""
        return [r.seconds for r in self.runs]

    @property
    def peak_rss(self) -> int:
        """Largest max RSS of the runs, in bytes."""
        return max(r.max_rss for r in self.runs)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """Return this process's environment without the pure-Python switch, plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if k != PURE_ENV}, **extra}


def run_process(argv: list[str], env: dict[str, str]) -> Run:
    """Run ``argv`` with stdout to /dev/null; return its wall time, max RSS and exit status."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, wait_status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(wait_status)  # reaped here, not by Popen
        err.seek(0)
        stderr = err.read()[-2000:].decode("utf-8", "replace")
    return Run(seconds, usage.ru_maxrss * RSS_UNIT, proc.returncode, stderr)


def reported_engine(argv: list[str]) -> str | None:
    """Run the validator once, untimed, and return the engine its JSON report names."""
    with tempfile.TemporaryFile() as out:
        subprocess.run(argv, env=child_env({}), stdin=subprocess.DEVNULL, stdout=out,
                       stderr=subprocess.DEVNULL, check=False)
        out.seek(0)
        match = ENGINE_RE.search(out.read(1 << 16))
    return match.group(1).decode() if match else None


def ensure_manifest(path: Path, *extra: str) -> None:
    """Generate the manifest at ``path`` with make_manifest.py unless it exists."""
    if path.exists():
        return
    print(f"{path} is missing: generating it", flush=True)
    subprocess.run([sys.executable, str(HERE / "make_manifest.py"), "-o", str(path), *extra],
                   check=True)


def describe_file(path: Path) -> dict:
    """Return the size and line count of ``path``; reading it also warms the page cache.

    Small reads keep this process's peak RSS low: see :func:`rss_floor`.
    """
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return {"path": str(path), "bytes": path.stat().st_size, "lines": lines + (last != b"\n")}


def validate_argv(manifest: Path) -> list[str]:
    """Return the validator command line for ``manifest``."""
    return [str(CLI), "validate", str(manifest), "--max-lines", "2000000", "--format", "json"]


def rss_floor() -> int:
    """Return this process's peak RSS in bytes: no child's max RSS can read below it.

    Linux counts into a child's max RSS the pages it shares with this process before it
    executes its program, so this process must stay small while it measures.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_UNIT


def make_contenders(manifest: Path, skip_pure: bool) -> list[Contender]:
    """Return the contenders in the order they run in each round."""
    baseline = Contender("baseline", [sys.executable, "-c", BASELINE_CODE, str(manifest)],
                         ok_status=(0,))
    if not CLI.exists():
        print(f"warning: {CLI} not found (pip install -e .): only the baseline runs",
              file=sys.stderr)
        return [baseline]
    validate = validate_argv(manifest)
    contenders = [Contender("compiled", validate)]
    if not skip_pure:
        contenders.append(Contender("pure", validate, {PURE_ENV: "1"}))
    contenders += [baseline, Contender("outputs", validate, output_dir=True)]
    return contenders


def ratio_to(contender: Contender, baseline: Contender | None) -> float | None:
    """Median over the rounds of contender time / baseline time of the same round."""
    if baseline is None or not contender.runs or not baseline.runs:
        return None
    return statistics.median(a / b for a, b in zip(contender.seconds, baseline.seconds))


def summarize(c: Contender, baseline: Contender | None) -> dict:
    """Return a contender's results as a JSON-ready dict."""
    result = {"command": c.command(), "seconds": c.seconds, "failure": c.failure,
              "exit_status": [r.status for r in c.runs]}
    if c.runs:
        result.update(median_s=statistics.median(c.seconds), min_s=min(c.seconds),
                      peak_rss_mib=c.peak_rss / MIB, max_rss_mib=[r.max_rss / MIB for r in c.runs],
                      ratio_vs_baseline=ratio_to(c, baseline))
    return result


def print_table(results: dict[str, dict]) -> None:
    """Print one row per contender: median, minimum, peak RSS and ratio to the baseline."""
    print(f"\n{'contender':<10} {'median s':>9} {'min s':>8} {'peak RSS MiB':>13} "
          f"{'vs baseline':>12}")
    for name, r in results.items():
        if "median_s" not in r:
            print(f"{name:<10} {'FAILED':>9}")
            continue
        ratio = f"{r['ratio_vs_baseline']:.2f}x" if r["ratio_vs_baseline"] is not None else "-"
        print(f"{name:<10} {r['median_s']:>9.3f} {r['min_s']:>8.3f} {r['peak_rss_mib']:>13.1f} "
              f"{ratio:>12}")


def check_targets(results: dict[str, dict], big: dict | None) -> list[dict]:
    """Compare the compiled validator with the targets; return one dict per target."""
    compiled = results.get("compiled", {})
    if "median_s" not in compiled:
        return []
    limit_mib = TARGET_RSS_BYTES / MIB

    def target(name: str, value: float, unit: str, passed: bool) -> dict:
        return {"target": name, "value": value, "unit": unit, "passed": passed}

    seconds = compiled["median_s"]
    targets = [target(f"compiled median <= {TARGET_SECONDS} s", seconds, "s",
                      seconds <= TARGET_SECONDS)]
    if compiled["ratio_vs_baseline"] is not None:
        speedup = 1 / compiled["ratio_vs_baseline"]
        targets.append(target(f"compiled >= {TARGET_SPEEDUP:g}x faster than baseline", speedup,
                              "x", speedup >= TARGET_SPEEDUP))
    rss = compiled["peak_rss_mib"]
    targets.append(target(f"compiled peak RSS < {limit_mib:.1f} MiB (100 MB)", rss, "MiB",
                          rss < limit_mib))
    if big is not None and "peak_rss_mib" in big:
        rss = big["peak_rss_mib"]
        targets.append(target(f"compiled peak RSS on the big file < {limit_mib:.1f} MiB", rss,
                              "MiB", rss < limit_mib))
    return targets


def run_big(path: Path, repeat: int) -> dict:
    """Time the compiled validator on the big manifest; return file facts, times and RSS."""
    ensure_manifest(path, "--target-bytes", str(BIG_TARGET_BYTES))
    facts = describe_file(path)
    print(f"\nbig manifest: {path} ({facts['bytes']:,} bytes, {facts['lines']:,} lines)",
          flush=True)
    if not CLI.exists():
        return {"file": facts, "failure": f"{CLI} not found"}
    big = Contender("compiled", validate_argv(path))
    for i in range(repeat):
        big.run()
        if big.failure:
            print(f"big run failed: {big.failure}", file=sys.stderr)
            break
        print(f"  run {i + 1}/{repeat}: {big.runs[-1].seconds:.3f} s, "
              f"{big.runs[-1].max_rss / MIB:.1f} MiB", flush=True)
    return {"file": facts, **summarize(big, None)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0, or 1 when a contender failed or the CLI is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                        help=f"manifest to validate, generated when missing "
                             f"(default {DEFAULT_MANIFEST.relative_to(HERE.parent)})")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--big", type=Path, metavar="PATH",
                        help="also measure the compiled validator on this large manifest "
                             "(generated at about 1 GB when missing)")
    parser.add_argument("--big-repeat", type=int, default=1,
                        help="runs on the big manifest (default 1)")
    parser.add_argument("--skip-pure", action="store_true", help="leave out the pure-Python path")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.big_repeat < 1:
        parser.error("--repeat and --big-repeat must be at least 1")

    ensure_manifest(args.manifest)
    manifest = describe_file(args.manifest)
    contenders = make_contenders(args.manifest, args.skip_pure)
    print(f"manifest: {args.manifest} ({manifest['bytes']:,} bytes, {manifest['lines']:,} lines)")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {args.repeat} rounds, "
          f"interleaved: {', '.join(c.name for c in contenders)}", flush=True)
    engine = None
    if contenders[0].name == "compiled":
        engine = reported_engine(contenders[0].argv)
        named = f"engine {engine!r}" if engine else "no engine"
        print(f"warm-up run of compiled: its report names {named}", flush=True)
        if engine == "python":
            print("warning: the compiled contender ran the pure-Python engine "
                  "(is the extension built?)", file=sys.stderr)

    for i in range(args.repeat):
        for c in contenders:
            if c.failure is None:
                c.run()
        print(f"  round {i + 1}/{args.repeat}: " + ", ".join(
            f"{c.name} {c.runs[-1].seconds:.3f} s" if c.failure is None else f"{c.name} FAILED"
            for c in contenders), flush=True)

    baseline = next((c for c in contenders if c.name == "baseline" and c.runs), None)
    results = {c.name: summarize(c, baseline) for c in contenders}
    print_table(results)
    print(f"(max RSS cannot read below the benchmark's own peak, {rss_floor() / MIB:.1f} MiB)")
    print("\ncommands (TMPDIR: a fresh temporary directory each run):")
    for c in contenders:
        print(f"  {c.name}: {c.command()}")
    failed = [c for c in contenders if c.failure]
    for c in failed:
        print(f"\n{c.name} FAILED: {c.failure}", file=sys.stderr)

    big = run_big(args.big, args.big_repeat) if args.big else None
    if big is not None and "peak_rss_mib" in big:
        print(f"big: median {big['median_s']:.3f} s, peak RSS {big['peak_rss_mib']:.1f} MiB")
        if "compiled" in results and "peak_rss_mib" in results["compiled"]:
            growth = big["peak_rss_mib"] - results["compiled"]["peak_rss_mib"]
            print(f"peak RSS growth from {manifest['bytes'] / 1e6:.0f} MB to "
                  f"{big['file']['bytes'] / 1e6:.0f} MB: {growth:+.1f} MiB")

    targets = check_targets(results, big)
    if targets:
        print("\ntargets:")
        for t in targets:
            verdict = "PASS" if t["passed"] else "FAIL"
            print(f"  {verdict}  {t['target']}: {t['value']:.3f} {t['unit']}")

    if args.json_out:
        report = {"manifest": manifest, "repeat": args.repeat, "python": platform.python_version(),
                  "platform": platform.platform(), "cpus": os.cpu_count(),
                  "compiled_engine": engine, "rss_floor_mib": rss_floor() / MIB,
                  "contenders": results, "big": big, "targets": targets}
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nresults written to {args.json_out}")
    big_failed = big is not None and big.get("failure")
    return 1 if failed or big_failed or not CLI.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
