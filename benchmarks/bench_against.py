"""Time ``customlabels validate`` of this tree against another build of it, interleaved.

For a refactoring that must not slow the validator down: both builds validate the same files in
alternating whole processes, and the script prints each one's median time and peak memory and
the median of the per-round ratios (other / this)::

    python benchmarks/bench_against.py --other /tmp/baseline/.venv/bin/customlabels \\
        --repeat 11 benchmarks/data/bench-250k.manifest benchmarks/data/bench-1g.manifest

Compile both trees' bytecode first (``python -m compileall``) where PYTHONDONTWRITEBYTECODE is
set: a tree run from source without .pyc files pays about 20 ms of start-up for it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the table; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--other", required=True, help="the other build's customlabels")
    parser.add_argument("--this", default=str(Path(sys.executable).parent / "customlabels"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    env = H.child_env()
    print("| manifest | this: median s | other: median s | this: peak MiB | other: peak MiB "
          "| other / this (median of rounds) |")
    print("|---|---|---|---|---|---|")
    for manifest in args.manifests:
        times: dict[str, list[float]] = {"this": [], "other": []}
        rss: dict[str, list[int]] = {"this": [], "other": []}
        for i in range(args.repeat):
            order = [("this", args.this), ("other", args.other)]
            for name, exe in order if i % 2 == 0 else reversed(order):
                run = H.run_process([exe, "validate", str(manifest), "--max-lines", "2000000"],
                                    env)
                times[name].append(run.seconds)
                rss[name].append(run.max_rss)
        ratios = [o / t for o, t in zip(times["other"], times["this"])]
        print(f"| {manifest.name} | {statistics.median(times['this']):.3f} | "
              f"{statistics.median(times['other']):.3f} | {max(rss['this']) / 2**20:.0f} | "
              f"{max(rss['other']) / 2**20:.0f} | {statistics.median(ratios):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
