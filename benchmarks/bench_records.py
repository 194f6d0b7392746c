"""Time the commands that read records (split, describe, labels, entries, export) against validate.

Every contender is a separate process, timed from start to exit, with its peak memory (max RSS)
taken from ``os.wait4`` (see ``_harness.py``). The contenders run interleaved (validate, split,
describe, ..., validate, split, ...) for ``--repeat`` rounds, so that the noise of a shared
machine falls on all of them alike. The baseline is ``customlabels validate`` of the same file:
the commands read the manifest through the same compiled scanner (its records), so each should
cost about what validating does, plus its own work.

Contenders (standard output to ``/dev/null``; TMPDIR a fresh temporary directory each run):

* ``validate``: ``customlabels validate MANIFEST`` (the baseline);
* ``split``: ``customlabels split MANIFEST --output-dir TMPDIR`` (plans, writes both sides and
  validates the pair);
* ``describe``, ``labels``, ``entries``: ``customlabels describe|labels|entries MANIFEST``;
* ``describe-csv``, ``describe-parquet``, ``labels-parquet``: the tables (``--format csv|parquet
  -o TMPDIR/...``; Parquet needs polars);
* ``export-coco``: ``customlabels export coco MANIFEST -o TMPDIR/x.json``.

Targets: each command's median time within 3x of validate's median in the same run (the ratio
of the medians), and the COCO export's peak RSS under 200 MB.

Usage::

    python benchmarks/bench_records.py --repeat 3
    python benchmarks/bench_records.py --manifest benchmarks/data/bench-250k-faulty5.manifest
    python benchmarks/bench_records.py --only split,export-coco --json-out /tmp/records.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import _harness as H
from _harness import CLI, MIB, rss_floor, target

HERE = Path(__file__).resolve().parent
DEFAULT_MANIFEST = HERE / "data" / "bench-250k.manifest"
#: Each command's median within this factor of validate's median (issue 7, "must show").
TARGET_RATIO = 3.0
#: Peak RSS of the COCO export (issue 7: 1.3 GB before records and streaming).
TARGET_COCO_RSS_BYTES = 200_000_000
#: The placeholder in an argv for the run's fresh temporary directory.
TMP = "{tmp}"


@dataclass
class Contender(H.Contender):
    """A command to time; ``{tmp}`` in its argv is a fresh temporary directory each run.

    validate and split exit 0 (clean) or 1 (problems found); both are normal here.
    """

    ok_status: tuple[int, ...] = (0, 1)

    def command(self) -> str:
        return super().command().replace(TMP, "TMPDIR")

    def run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="customlabels-bench-") as tmp:
            argv = [a.replace(TMP, tmp) for a in self.argv]
            run = H.run_process(argv, H.child_env(self.extra_env))
        if run.status in self.ok_status:
            self.runs.append(run)
        else:
            self.failure = f"exit status {run.status}; stderr ends with:\n{run.stderr}"


def make_contenders(manifest: Path) -> list[Contender]:
    """Return the contenders in the order they run in each round, validate first."""
    m, cli = str(manifest), str(CLI)
    return [
        Contender("validate", [cli, "validate", m]),
        Contender("split", [cli, "split", m, "--output-dir", TMP]),
        Contender("describe", [cli, "describe", m]),
        Contender("describe-csv", [cli, "describe", m, "--format", "csv", "-o", f"{TMP}/t.csv"]),
        Contender("describe-parquet", [cli, "describe", m, "--format", "parquet", "-o",
                                       f"{TMP}/t.parquet"]),
        Contender("labels", [cli, "labels", m]),
        Contender("labels-parquet", [cli, "labels", m, "--format", "parquet", "-o",
                                     f"{TMP}/l.parquet"]),
        Contender("entries", [cli, "entries", m]),
        Contender("export-coco", [cli, "export", "coco", m, "-o", f"{TMP}/x.json"]),
    ]


def summarize(c: Contender, baseline: Contender | None) -> dict:
    """Return a contender's results as a JSON-ready dict, with its ratios to the baseline."""
    result = {"command": c.command(), "seconds": c.seconds, "failure": c.failure,
              "exit_status": [r.status for r in c.runs]}
    if c.runs:
        result.update(H.timings(c), max_rss_mib=[r.max_rss / MIB for r in c.runs],
                      round_ratio=H.median_ratio(c, baseline))
        result["ratio_of_medians"] = (
            None if baseline is None or not baseline.runs
            else statistics.median(c.seconds) / statistics.median(baseline.seconds))
    return result


def check_targets(results: dict[str, dict]) -> list[dict]:
    """Compare each command with validate and the COCO export's memory; one dict a target."""
    targets = []
    for name, r in results.items():
        if name == "validate" or r.get("ratio_of_medians") is None:
            continue
        targets.append(target(f"{name} median within {TARGET_RATIO:g}x of validate's",
                              r["ratio_of_medians"], "x", r["ratio_of_medians"] <= TARGET_RATIO))
    coco = results.get("export-coco", {})
    if "peak_rss_mib" in coco:
        limit = TARGET_COCO_RSS_BYTES / MIB
        targets.append(target(f"export-coco peak RSS < {limit:.1f} MiB (200 MB)",
                              coco["peak_rss_mib"], "MiB", coco["peak_rss_mib"] < limit))
    return targets


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0, or 1 when a contender failed or the CLI is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                        help=f"manifest to read, generated when missing "
                             f"(default {DEFAULT_MANIFEST.relative_to(HERE.parent)})")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--only", metavar="NAMES",
                        help="comma-separated contenders besides validate (default: all)")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not CLI.exists():
        print(f"{CLI} not found (pip install -e .)", file=sys.stderr)
        return 1
    if not args.manifest.exists():
        H.generate("make_manifest.py", args.manifest)

    contenders = make_contenders(args.manifest)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {c.name for c in contenders}
        if unknown:
            parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
        contenders = [c for c in contenders if c.name == "validate" or c.name in wanted]
    facts = {"path": str(args.manifest), "bytes": args.manifest.stat().st_size}
    print(f"manifest: {args.manifest} ({facts['bytes']:,} bytes)")
    H.print_setup(args.repeat, contenders)
    H.run_rounds(contenders, args.repeat)

    baseline = next((c for c in contenders if c.name == "validate" and c.runs), None)
    results = {c.name: summarize(c, baseline) for c in contenders}
    H.print_table(results, "ratio_of_medians", "vs validate", "{:.2f}x", 12, 12)
    print(f"(max RSS cannot read below the benchmark's own peak, {rss_floor() / MIB:.1f} MiB; "
          "'vs validate': the command's median over validate's)")
    H.print_commands(contenders, "\ncommands (TMPDIR: a fresh temporary directory each run):")
    failed = H.report_failures(contenders)

    targets = check_targets(results)
    if targets:
        print("\ntargets:")
        for t in targets:
            verdict = "PASS" if t["passed"] else "FAIL"
            print(f"  {verdict}  {t['target']}: {t['value']:.2f} {t['unit']}")
    if args.json_out:
        H.write_json(args.json_out, {"manifest": facts, "repeat": args.repeat, **H.machine(),
                                     "rss_floor_mib": rss_floor() / MIB,
                                     "contenders": results, "targets": targets})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
