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
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import _harness as H
from _harness import CLI, MIB, PURE_ENV, child_env, rss_floor, target

HERE = Path(__file__).resolve().parent
DEFAULT_MANIFEST = HERE / "data" / "bench-250k.manifest"
BIG_TARGET_BYTES = 1_000_000_000
#: The backend named in the validator's JSON report, which comes near its start.
ENGINE_RE = re.compile(rb'"backend"\s*:\s*"([^"]*)"')

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
class Contender(H.Contender):
    """A command to time; the validator exits 0 (valid) or 1 (errors found)."""

    ok_status: tuple[int, ...] = (0, 1)


def reported_backend(argv: list[str]) -> str | None:
    """Run the validator once, untimed, and return the backend its JSON report names."""
    with tempfile.TemporaryFile() as out:
        subprocess.run(argv, env=child_env({}), stdin=subprocess.DEVNULL, stdout=out,
                       stderr=subprocess.DEVNULL, check=False)
        out.seek(0)
        match = ENGINE_RE.search(out.read(1 << 16))
    return match.group(1).decode() if match else None


def ensure_manifest(path: Path, *extra: str) -> None:
    """Generate the manifest at ``path`` with make_manifest.py unless it exists."""
    if not path.exists():
        H.generate("make_manifest.py", path, *extra)


def describe_file(path: Path) -> dict:
    """Return the size and line count of ``path``; reading it also warms the page cache.

    Small reads keep this process's peak RSS low: see :func:`_harness.rss_floor`.
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


def summarize(c: Contender, baseline: Contender | None) -> dict:
    """Return a contender's results as a JSON-ready dict."""
    result = {"command": c.command(), "seconds": c.seconds, "failure": c.failure,
              "exit_status": [r.status for r in c.runs]}
    if c.runs:
        result.update(H.timings(c), max_rss_mib=[r.max_rss / MIB for r in c.runs],
                      ratio_vs_baseline=H.median_ratio(c, baseline))
    return result


def check_targets(results: dict[str, dict], big: dict | None) -> list[dict]:
    """Compare the compiled validator with the targets; return one dict per target."""
    compiled = results.get("compiled", {})
    if "median_s" not in compiled:
        return []
    limit_mib = TARGET_RSS_BYTES / MIB

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
    H.print_setup(args.repeat, contenders)
    backend = None
    if contenders[0].name == "compiled":
        backend = reported_backend(contenders[0].argv)
        named = f"backend {backend!r}" if backend else "no backend"
        print(f"warm-up run of compiled: its report names {named}", flush=True)
        if backend == "python":
            print("warning: the compiled contender ran the pure-Python backend "
                  "(is the extension built?)", file=sys.stderr)

    H.run_rounds(contenders, args.repeat)

    baseline = next((c for c in contenders if c.name == "baseline" and c.runs), None)
    results = {c.name: summarize(c, baseline) for c in contenders}
    H.print_table(results, "ratio_vs_baseline", "vs baseline", "{:.2f}x", 10, 12)
    print(f"(max RSS cannot read below the benchmark's own peak, {rss_floor() / MIB:.1f} MiB)")
    H.print_commands(contenders, "\ncommands (TMPDIR: a fresh temporary directory each run):")
    failed = H.report_failures(contenders)

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
        H.write_json(args.json_out, {
            "manifest": manifest, "repeat": args.repeat, **H.machine(), "compiled_backend": backend,
            "rss_floor_mib": rss_floor() / MIB, "contenders": results, "big": big,
            "targets": targets})
    big_failed = big is not None and big.get("failure")
    return 1 if failed or big_failed or not CLI.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
