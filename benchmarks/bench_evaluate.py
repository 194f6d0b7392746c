"""Time ``customlabels evaluate`` against pycocotools and faster-coco-eval, as whole processes.

The data is a seeded, COCO-val-sized detection set from ``make_detections.py`` (5,000 images,
about 36,000 boxes, 80 labels, about 20 scored detections an image), generated when missing. Each
contender is a separate process, timed from start to exit with its peak memory (max RSS) from
``os.wait4``; the contenders run interleaved (A, B, C, D, A, B, C, D...) for ``--repeat`` rounds so
that the noise of a shared machine falls on all of them alike. The report gives medians, minimums,
peak RSS, and each reference's time divided by customlabels' in the same round (the median of
those per-round ratios: how many times faster customlabels is).

Contenders:

* ``customlabels``: ``customlabels evaluate --ground-truth test.manifest --predictions
  predictions.jsonl``: reads both files, matches, computes COCO's twelve statistics, the per-label
  assumed thresholds and metrics, and prints the table;
* ``cl+outputs``: the same with ``--output-dir`` (a fresh temporary directory each run): also
  builds and writes the summary file and the evaluation manifest snapshot (about 50 MB);
* ``pycocotools``: ``COCO(coco_gt.json)``, ``loadRes(coco_dt.json)``, ``COCOeval`` ``evaluate``,
  ``accumulate``, ``summarize``;
* ``faster-coco-eval``: the same with ``faster_coco_eval``'s ``COCO`` and ``COCOeval_faster``.

Before the rounds, every contender runs once untimed, printing its twelve statistics, and the
benchmark reports the largest difference of customlabels' (and faster-coco-eval's) from
pycocotools'. Targets: customlabels at least 20x faster than pycocotools and faster than
faster-coco-eval, the twelve statistics within 1e-9 of pycocotools'.

Usage::

    python benchmarks/bench_evaluate.py
    python benchmarks/bench_evaluate.py --repeat 7 --json-out /tmp/bench-evaluate.json
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import _harness as H
from _harness import CLI, MIB, target

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE / "data" / "detections"

TARGET_SPEEDUP_PYCOCOTOOLS = 20.0
TARGET_SPEEDUP_FASTER = 1.0
TARGET_DIFFERENCE = 1e-9

#: Evaluate with a COCO-style library and print its twelve statistics as JSON (argv: module
#: name, ground truth, detections). Its own progress messages are silenced.
COCO_CODE = """\
import contextlib, io, json, sys
library, gt_file, dt_file = sys.argv[1:4]
if library == "pycocotools":
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval as Eval
else:
    from faster_coco_eval import COCO
    from faster_coco_eval import COCOeval_faster as Eval
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(gt_file)
    dt = gt.loadRes(dt_file)
    evaluation = Eval(gt, dt, "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
print(json.dumps([float(x) for x in evaluation.stats[:12]]))
"""


@dataclass
class Contender(H.Contender):
    """A command to time, its results so far and the twelve statistics it reported."""

    stats: list[float] | None = None

    def command(self) -> str:
        """Return the command as a shell line (the reference script shown by name)."""
        argv = self.argv + (["--output-dir", "TMPDIR"] if self.output_dir else [])
        shown = ["COCO_CODE" if arg == COCO_CODE else arg for arg in argv]
        return shlex.join(shown).replace("COCO_CODE", "\"$COCO_CODE\"") + " > /dev/null"


def statistics_of(contender: Contender) -> list[float] | None:
    """Run a contender once, untimed, and return the twelve statistics it reports."""
    argv = contender.argv
    if contender.name == "customlabels":
        argv = argv + ["--format", "json"]
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode not in contender.ok_status:
        contender.failure = (f"exit status {done.returncode}; stderr ends with:\n"
                             f"{done.stderr[-2000:].decode('utf-8', 'replace')}")
        return None
    doc = json.loads(done.stdout)
    if contender.name == "customlabels":
        if doc.get("backend") != "compiled":
            print(f"warning: customlabels ran the {doc.get('backend')!r} kernels (is the "
                  "extension built?)", file=sys.stderr)
        values = list(doc["coco"]["stats"].values())
        return [math.nan if v is None else float(v) for v in values]
    return [math.nan if v == -1 else float(v) for v in doc]


def largest_difference(a: list[float], b: list[float]) -> float:
    """Return the largest absolute difference; NaN against NaN counts as equal."""
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        if math.isnan(x) and math.isnan(y):
            continue
        worst = max(worst, abs(x - y)) if not (math.isnan(x) or math.isnan(y)) else math.inf
    return worst


def ensure_data(directory: Path) -> None:
    """Generate the data set with make_detections.py unless it is there."""
    names = ("test.manifest", "predictions.jsonl", "coco_gt.json", "coco_dt.json")
    if not all((directory / name).exists() for name in names):
        H.generate("make_detections.py", directory, state="incomplete")


def describe(directory: Path) -> dict:
    """Return counts of the data set (reading it also warms the page cache)."""
    gt = json.loads((directory / "coco_gt.json").read_text())
    dt = json.loads((directory / "coco_dt.json").read_text())
    for name in ("test.manifest", "predictions.jsonl"):
        (directory / name).read_bytes()
    return {"directory": str(directory), "images": len(gt["images"]),
            "boxes": len(gt["annotations"]), "labels": len(gt["categories"]),
            "detections": len(dt)}


def make_contenders(directory: Path, skip_faster: bool) -> list[Contender]:
    """Return the contenders in the order they run in each round."""
    evaluate = [str(CLI), "evaluate", "--ground-truth", str(directory / "test.manifest"),
                "--predictions", str(directory / "predictions.jsonl")]
    gt, dt = str(directory / "coco_gt.json"), str(directory / "coco_dt.json")
    contenders = [Contender("customlabels", evaluate),
                  Contender("cl+outputs", evaluate, output_dir=True),
                  Contender("pycocotools", [sys.executable, "-c", COCO_CODE, "pycocotools",
                                            gt, dt])]
    if not skip_faster:
        contenders.append(Contender("faster-coco-eval", [sys.executable, "-c", COCO_CODE,
                                                         "faster_coco_eval", gt, dt]))
    return contenders


def speedup(reference: Contender, ours: Contender) -> float | None:
    """Median over the rounds of reference time / our time in the same round."""
    return H.median_ratio(reference, ours)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0, or 1 when a contender failed or a target was missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="directory of make_detections.py's files, generated when missing "
                             f"(default {DEFAULT_DATA.relative_to(HERE.parent)})")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--skip-faster", action="store_true",
                        help="leave out faster-coco-eval")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not CLI.exists():
        print(f"{CLI} not found: pip install -e '.[test]'", file=sys.stderr)
        return 1

    ensure_data(args.data)
    data = describe(args.data)
    contenders = make_contenders(args.data, args.skip_faster)
    print(f"data: {data['images']:,} images, {data['boxes']:,} boxes, {data['labels']} labels, "
          f"{data['detections']:,} detections ({args.data})")
    H.print_setup(args.repeat, contenders)

    for c in contenders:
        if not c.output_dir:
            c.stats = statistics_of(c)
    by_name = {c.name: c for c in contenders}
    reference = by_name["pycocotools"].stats
    differences = {}
    if reference is not None:
        for c in contenders:
            if c.stats is not None and c.name != "pycocotools":
                differences[c.name] = largest_difference(c.stats, reference)
    print("untimed runs: the twelve statistics")
    for c in contenders:
        if c.stats is not None:
            print(f"  {c.name:<17} " + " ".join(f"{v:.6f}" for v in c.stats))
    for name, diff in differences.items():
        print(f"  largest difference from pycocotools, {name}: {diff:.3g}")

    H.run_rounds(contenders, args.repeat)

    ours = by_name["customlabels"]
    results = {}
    for c in contenders:
        if not c.runs:
            results[c.name] = {"command": c.command(), "failure": c.failure}
            continue
        results[c.name] = {"command": c.command(), "seconds": c.seconds, **H.timings(c),
                           "time_over_customlabels": speedup(c, ours), "stats": c.stats,
                           "failure": c.failure}
    H.print_table(results, "time_over_customlabels", "x customlabels", "{:.2f}", 17, 15)
    H.print_commands(contenders, "\ncommands (TMPDIR: a fresh temporary directory each run; "
                     "$COCO_CODE: the reference script in bench_evaluate.py):")

    targets = []
    for mine in ("customlabels", "cl+outputs"):
        for ref, goal in (("pycocotools", TARGET_SPEEDUP_PYCOCOTOOLS),
                          ("faster-coco-eval", TARGET_SPEEDUP_FASTER)):
            if ref in by_name and by_name[ref].runs and by_name[mine].runs:
                value = speedup(by_name[ref], by_name[mine])
                targets.append(target(f"{mine} faster than {ref} by more than {goal:g}x"
                                      if goal == 1 else f"{mine} at least {goal:g}x faster than "
                                      f"{ref}", value, "x",
                                      value > goal if goal == 1 else value >= goal))
    if "customlabels" in differences:
        diff = differences["customlabels"]
        targets.append(target(f"twelve statistics within {TARGET_DIFFERENCE:g} of pycocotools",
                              diff, "", diff <= TARGET_DIFFERENCE))
    print("\ntargets:")
    for t in targets:
        print(f"  {'PASS' if t['passed'] else 'FAIL'}  {t['target']}: {t['value']:.3g}{t['unit']}")

    failed = H.report_failures(contenders)
    if args.json_out:
        H.write_json(args.json_out, {
            "data": data, "repeat": args.repeat, **H.machine(),
            "rss_floor_mib": H.rss_floor() / MIB, "contenders": results,
            "differences": differences, "targets": targets})
    return 1 if failed or not all(t["passed"] for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
