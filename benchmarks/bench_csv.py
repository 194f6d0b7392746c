"""Time reading a 1,000,000-row CSV with today's reader against polars, and the whole conversion.

Issue 8 asks whether polars earns its place in ``convert csv`` / ``convert csv-boxes``. This
script answers with one run of interleaved processes (A, B, C, A, B, C...: a shared machine's
noise falls on all alike), each timed from start to exit with its peak memory (max RSS), for
each of two generated files (deterministic, written to ``benchmarks/data/`` when missing):

* ``labels``: 1,000,000 rows ``s3://.../imgNNNNNNN.jpg,label[,label...]`` (1-3 of 40 labels);
* ``boxes``: 1,000,000 rows ``image,label,left,top,width,height,image_width,image_height``
  (four boxes an image, 250,000 images), with a header.

Contenders, for each file:

* ``read-today``: the converters' reader, ``customlabels.convert.csv_labels.read_rows`` (the
  standard library's ``csv`` module), every row consumed;
* ``read-polars``: ``polars.read_csv`` of the file into columns (strings for ``labels``,
  whose rows are ragged, read as one column a line; typed for ``boxes``): the most polars can
  do, the rows never becoming Python objects;
* ``rows-polars``: the same, then ``DataFrame.rows()``: the rows as Python tuples, which is
  what the converters' checks take (the fair comparison for a drop-in reader);
* ``convert``: the whole command, ``customlabels convert csv|csv-boxes FILE -o OUT
  --no-progress --quiet`` (the labels file has 1,000,000 lines, over the 250,000-row limit:
  it is converted and its validation reports that, status 1).

Usage::

    python benchmarks/bench_csv.py                 # 3 rounds
    python benchmarks/bench_csv.py --repeat 5 --only boxes --json-out /tmp/bench-csv.json

Needs polars (``pip install '.[tables]'``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

import _harness as H
from _harness import CLI, MIB

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROWS = 1_000_000
FILES = {"labels": DATA / "csv-labels-1m.csv", "boxes": DATA / "csv-boxes-1m.csv"}
CONVERTER = {"labels": "csv", "boxes": "csv-boxes"}

READ_TODAY = """
import sys
from customlabels.convert._common import Job
from customlabels.convert.csv_labels import read_rows
job = Job("csv", sys.argv[1], sys.argv[1] + ".unused")
n = sum(1 for _ in read_rows(job))
assert n >= {rows}, n
""".format(rows=ROWS)
#: labels: ragged rows; polars reads each line as one string column (no separator can occur)
READ_POLARS = """
import sys
import polars as pl
if sys.argv[2] == "labels":
    frame = pl.read_csv(sys.argv[1], has_header=False, separator="\\x1f", quote_char=None,
                        infer_schema=False, new_columns=["row"])
else:
    frame = pl.read_csv(sys.argv[1])
assert frame.height >= {rows}, frame.height
ROWS = frame.rows() if sys.argv[3] == "rows" else None
""".format(rows=ROWS)


def make(kind: str, path: Path) -> None:
    """Write the benchmark file ``kind`` to ``path`` (seeded: the same bytes every time)."""
    import csv

    rnd = random.Random(8)
    labels = [f"label{i:02d}" for i in range(40)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        if kind == "labels":
            for i in range(ROWS):
                writer.writerow([f"s3://bench-bucket/images/img{i:07d}.jpg",
                                 *rnd.sample(labels, rnd.choice((1, 1, 2, 3)))])
        else:
            writer.writerow(["image", "label", "left", "top", "width", "height",
                             "image_width", "image_height"])
            for i in range(ROWS):
                writer.writerow([f"s3://bench-bucket/images/img{i // 4:07d}.jpg",
                                 rnd.choice(labels), rnd.randint(0, 300), rnd.randint(0, 200),
                                 rnd.randint(5, 300), rnd.randint(5, 250), 640, 480])
    tmp.replace(path)


def contenders(kind: str, path: Path, tmp: Path) -> dict[str, list[str]]:
    """Return name -> command, in the order they run in each round."""
    py = sys.executable
    return {
        "read-today": [py, "-c", READ_TODAY, str(path)],
        "read-polars": [py, "-c", READ_POLARS, str(path), kind, "columns"],
        "rows-polars": [py, "-c", READ_POLARS, str(path), kind, "rows"],
        "convert": [str(CLI), "convert", CONVERTER[kind], str(path), "-o",
                    str(tmp / f"{kind}.manifest"), "--no-progress", "--quiet"],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print, for each file, medians, peak RSS and ratios to read-today."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--only", choices=sorted(FILES), help="one file only")
    parser.add_argument("--json-out", type=Path, help="also write the measurements as JSON")
    args = parser.parse_args(argv)
    kinds = [args.only] if args.only else list(FILES)
    for kind in kinds:
        if not FILES[kind].exists():
            print(f"writing {FILES[kind]} ...", flush=True)
            make(kind, FILES[kind])
    report: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="customlabels-bench-") as tmp:
        commands = {(kind, name): command for kind in kinds
                    for name, command in contenders(kind, FILES[kind], Path(tmp)).items()}
        times: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
        rss: dict[tuple[str, str], int] = {key: 0 for key in commands}
        for round_ in range(args.repeat):
            for key, command in commands.items():
                run = H.run_process(command)
                if run.status not in (0, 1) or (run.status == 1 and key[1] != "convert"):
                    print(f"{key} failed with status {run.status}:\n{run.stderr}",
                          file=sys.stderr)
                    return 2
                times[key].append(run.seconds)
                rss[key] = max(rss[key], run.max_rss)
            print(f"round {round_ + 1}: " + ", ".join(
                f"{k}/{n} {times[(k, n)][-1]:.2f} s" for k, n in commands), flush=True)
    for kind in kinds:
        base = times[(kind, "read-today")]
        convert = times[(kind, "convert")]
        print(f"\n{FILES[kind].name}: {FILES[kind].stat().st_size:,} bytes, {ROWS:,} rows; "
              f"{args.repeat} rounds")
        print(f"{'contender':<12} {'median s':>9} {'min s':>7} {'peak RSS MiB':>13} "
              f"{'vs read-today':>14} {'share of convert':>17}")
        entry = report[kind] = {}
        for name in ("read-today", "read-polars", "rows-polars", "convert"):
            t = times[(kind, name)]
            ratio = statistics.median(a / b for a, b in zip(t, base))
            share = statistics.median(a / b for a, b in zip(t, convert))
            entry[name] = {"times": t, "peak_rss": rss[(kind, name)], "vs_read_today": ratio,
                           "share_of_convert": share}
            print(f"{name:<12} {statistics.median(t):9.2f} {min(t):7.2f} "
                  f"{rss[(kind, name)] / MIB:13.0f} {ratio:13.2f}x {share:16.1%}")
    if args.json_out:
        args.json_out.write_text(json.dumps({"machine": H.machine(), "report": report},
                                            indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
