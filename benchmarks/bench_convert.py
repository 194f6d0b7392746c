"""Time ``customlabels convert coco`` against ``orjson.loads`` of the same file, as processes.

Issue 3's target: converting a COCO file the size of train2017 (118,287 images, 860,001
annotations; ``make_coco.py``) takes at most **2x** the time of only parsing it with
``orjson.loads``, with bounded extra memory. Every contender is a separate process, timed from
start to exit, with its peak memory (max RSS) from ``os.wait4``; the contenders run interleaved
(A, B, C, A, B, C...) so that a shared machine's noise falls on all of them alike. The report
gives medians, minimums, peak RSS, and each contender's time over the ``loads`` baseline's in the
same round (median of the per-round ratios).

Contenders:

* ``loads``: ``python -c`` that reads the file and calls ``orjson.loads`` on it, nothing else
  (the target's baseline; Python's defaults, the garbage collector on);
* ``loads-nogc``: the same with the cyclic garbage collector disabled, as the converter runs its
  parse (shown so that the converter's own work can be read off: ``convert`` - ``loads-nogc``);
* ``convert``: ``customlabels convert coco FILE --s3-prefix s3://bench-bucket/train2017/ -o
  TMP/out.manifest --no-progress --format json > /dev/null``: the whole command, including the
  validation of the 118,287-line manifest it writes.

Usage::

    python benchmarks/bench_convert.py
    python benchmarks/bench_convert.py --repeat 5 --json-out /tmp/bench-convert.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import _harness as H
from _harness import CLI, MIB

HERE = Path(__file__).resolve().parent
DEFAULT_COCO = HERE / "data" / "coco-train2017-synthetic.json"
#: Issue 3: conversion at most twice the time of orjson.loads of the same file.
TARGET_RATIO = 2.0

LOADS = "import sys, orjson\nwith open(sys.argv[1], 'rb') as f:\n    orjson.loads(f.read())\n"
LOADS_NOGC = "import gc\ngc.disable()\n" + LOADS


def contenders(coco: Path, tmp: Path) -> dict[str, list[str]]:
    """Return name -> command, in the order they run in each round."""
    return {
        "loads": [sys.executable, "-c", LOADS, str(coco)],
        "convert": [str(CLI), "convert", "coco", str(coco), "--s3-prefix",
                    "s3://bench-bucket/train2017/", "-o", str(tmp / "out.manifest"),
                    "--no-progress", "--format", "json"],
        "loads-nogc": [sys.executable, "-c", LOADS_NOGC, str(coco)],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the rounds, print the report, and return 0 when the target is met."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coco", type=Path, default=DEFAULT_COCO,
                        help="COCO file (generated with make_coco.py defaults when missing)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--json-out", type=Path, help="also write the measurements as JSON")
    args = parser.parse_args(argv)
    if not args.coco.exists():
        H.generate("make_coco.py", args.coco)
    with args.coco.open("rb") as f:  # warm the page cache, in small reads (low RSS floor)
        while f.read(1 << 20):
            pass
    floor = H.rss_floor()
    times: dict[str, list[float]] = {}
    rss: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="customlabels-bench-") as tmp:
        commands = contenders(args.coco, Path(tmp))
        # status 0: converted and valid; 1: the synthetic file's boxes of 1 px are reported
        # as warnings only, so anything but 0 is a failure here
        for round_ in range(args.repeat):
            for name, command in commands.items():
                run = H.run_process(command)  # the environment inherited as it is
                if run.status != 0:
                    print(f"{name} failed with status {run.status}:\n{run.stderr}",
                          file=sys.stderr)
                    return 2
                times.setdefault(name, []).append(run.seconds)
                rss[name] = max(rss.get(name, 0), run.max_rss)
            print(f"round {round_ + 1}: " + ", ".join(
                f"{n} {times[n][-1]:.2f} s" for n in commands), flush=True)
    ratios = {name: statistics.median(a / b for a, b in zip(times[name], times["loads"]))
              for name in times}
    size = args.coco.stat().st_size
    print(f"\n{args.coco}: {size:,} bytes; {platform.python_implementation()} "
          f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"{args.repeat} rounds; benchmark's own RSS {floor / MIB:.0f} MiB (the floor)")
    print(f"{'contender':<11} {'median s':>9} {'min s':>7} {'peak RSS MiB':>13} {'vs loads':>9}")
    for name in times:
        print(f"{name:<11} {statistics.median(times[name]):9.2f} {min(times[name]):7.2f} "
              f"{rss[name] / MIB:13.0f} {ratios[name]:8.2f}x")
    extra = rss["convert"] - rss["loads"]
    print(f"extra peak memory of convert over loads: {extra / MIB:+.0f} MiB")
    verdict = "PASS" if ratios["convert"] <= TARGET_RATIO else "FAIL"
    print(f"{verdict}: convert / loads = {ratios['convert']:.2f} (target <= {TARGET_RATIO})")
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "file": str(args.coco), "bytes": size, "times": times, "peak_rss": rss,
            "ratios": ratios, "target_ratio": TARGET_RATIO}, indent=2))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
