"""Record what every command writes on the test suite's data and the benchmark files, to compare.

A refactoring must not change any result: run this before and after, then compare::

    python benchmarks/golden.py record -o before.json          # on the old build
    python benchmarks/golden.py record -o after.json           # on the new build
    python benchmarks/golden.py compare before.json after.json

``record`` runs a fixed list of commands (validate with and without ``--test``, split, export in
every format, describe, labels, entries, convert, evaluate) on every manifest and conversion or
evaluation case under ``tests/`` and ``examples/``, and on ``benchmarks/data/*.manifest`` when
``--bench`` is given, in a scratch directory, and stores the exit status and the SHA-256 of each
output file and of the standard output (times of the run blanked). ``compare`` lists every difference and exits 1 if any.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = ("coco", "csv", "csv-boxes", "groundtruth-multilabel")


def _commands(bench: bool) -> list[tuple[str, list[str]]]:
    """Return ``(name, argv)`` pairs; ``{out}`` in argv is the command's own output folder."""
    manifests = sorted(p.relative_to(ROOT) for p in (ROOT / "tests" / "cases").rglob("*.manifest"))
    manifests += sorted(p.relative_to(ROOT) for p in (ROOT / "examples").glob("*.manifest"))
    manifests += sorted(p.relative_to(ROOT)
                        for p in (ROOT / "tests" / "convert_cases").rglob("*.manifest"))
    if bench:
        manifests += sorted(p.relative_to(ROOT) for p in (ROOT / "benchmarks" / "data").glob(
            "bench-250k*.manifest"))
    out: list[tuple[str, list[str]]] = []
    for m in map(str, manifests):
        out.append((f"validate {m}", ["validate", m, "--output-dir", "{out}"]))
        out.append((f"describe {m}", ["describe", m, "--format", "json"]))
        out.append((f"labels {m}", ["labels", m, "--format", "json"]))
        out.append((f"entries {m}", ["entries", m]))
        out.append((f"entries-err {m}", ["entries", m, "--has-errors"]))
        out.append((f"split {m}", ["split", m, "--output-dir", "{out}", "--seed", "3"]))
        for fmt in EXPORTS:
            out.append((f"export {fmt} {m}", ["export", fmt, m, "-o", "{out}/exported"]))
    for folder in sorted((ROOT / "tests" / "cases").iterdir()):
        train, test = folder / "train.manifest", folder / "test.manifest"
        if train.exists() and test.exists():
            out.append((f"validate pair {folder.name}",
                        ["validate", str(train.relative_to(ROOT)), "--test",
                         str(test.relative_to(ROOT)), "--output-dir", "{out}"]))
    convert = {"coco": ["--s3-prefix", "s3://bucket/images/"],
               "csv": ["--s3-path", "s3://bucket/images/"], "csv_boxes": [],
               "groundtruth": []}
    for kind, extra in convert.items():
        for source in sorted((ROOT / "tests" / "convert_cases" / kind).iterdir()):
            rel = str(source.relative_to(ROOT))
            command = kind.replace("_", "-").replace("groundtruth", "groundtruth-multilabel")
            out.append((f"convert {command} {rel}",
                        ["convert", command, rel, *extra, "-o", "{out}/converted.manifest"]))
    for folder in sorted((ROOT / "tests" / "metrics_cases").iterdir()):
        rel = folder.relative_to(ROOT)
        out.append((f"evaluate {folder.name}",
                    ["evaluate", "--ground-truth", f"{rel}/test.manifest", "--predictions",
                     f"{rel}/predictions.jsonl", "--output-dir", "{out}", "--project", "p",
                     "--version", "v"]))
    return out


#: Converters stamp creation dates and evaluation its timestamp with the time of the run.
_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?")


def _digest(data: bytes) -> str:
    return hashlib.sha256(_TIME.sub(b"TIME", data)).hexdigest()


def record(bench: bool, exe: str) -> dict[str, dict[str, object]]:
    """Run every command; return name -> {rc, stdout, files}."""
    results: dict[str, dict[str, object]] = {}
    scratch = Path(tempfile.mkdtemp(prefix="golden-", dir=ROOT / "benchmarks"))
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    try:
        for i, (name, argv) in enumerate(_commands(bench)):
            out = scratch / f"c{i}"
            out.mkdir()
            rel = os.path.relpath(out, ROOT)
            args = [a.replace("{out}", rel) for a in argv]
            proc = subprocess.run([exe, *args], cwd=ROOT, env=env, capture_output=True,
                                  check=False, stdin=subprocess.DEVNULL)
            files = {str(p.relative_to(out)): _digest(p.read_bytes())
                     for p in sorted(out.rglob("*")) if p.is_file()}
            results[name] = {"rc": proc.returncode,
                             "stdout": _digest(proc.stdout.replace(rel.encode(), b"{out}")),
                             "files": files}
    finally:
        shutil.rmtree(scratch)
    return results


def compare(before: dict[str, dict[str, object]], after: dict[str, dict[str, object]],
            files_only: bool) -> list[str]:
    """Return a line for each difference between two records."""
    diffs = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None or b is None:
            diffs.append(f"{name}: only in {'after' if a is None else 'before'}")
            continue
        if a["rc"] != b["rc"]:
            diffs.append(f"{name}: exit status {a['rc']} -> {b['rc']}")
        if not files_only and a["stdout"] != b["stdout"]:
            diffs.append(f"{name}: standard output differs")
        fa, fb = a["files"], b["files"]
        assert isinstance(fa, dict) and isinstance(fb, dict)
        for f in sorted(set(fa) | set(fb)):
            if fa.get(f) != fb.get(f):
                diffs.append(f"{name}: {f} differs")
    return diffs


def main(argv: list[str] | None = None) -> int:
    """Record or compare; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("-o", "--output", required=True)
    rec.add_argument("--bench", action="store_true", help="also the benchmarks/data manifests")
    rec.add_argument("--exe", default=str(Path(sys.executable).parent / "customlabels"))
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before")
    cmp_.add_argument("after")
    cmp_.add_argument("--files-only", action="store_true",
                      help="compare exit statuses and written files, not standard output")
    args = parser.parse_args(argv)
    if args.action == "record":
        results = record(args.bench, args.exe)
        Path(args.output).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(f"{len(results)} commands recorded in {args.output}")
        return 0
    before = json.loads(Path(args.before).read_text())
    after = json.loads(Path(args.after).read_text())
    diffs = compare(before, after, args.files_only)
    for line in diffs:
        print(line)
    print(f"{len(before)} commands compared: {len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
