"""The split validates its two sides from its input's records: the same report as scanning them.

``_split.side_scans`` says what the validator finds in the files the split writes without
reading them; these tests write the files, scan them, and compare, on every case manifest
of the suite, the examples, and generated manifests full of the faults users have.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from customlabels.split import _DROPPED, _DUPLICATE_SOURCE_REF, _plan, split
from customlabels.validation.pipeline import validate_files
from customlabels.validation.scan import ScanResult, scan_compiled

from tests.helpers import COMPILED_AVAILABLE
from tests.test_split import classification_line, detection_line

pytestmark = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="needs the compiled core")
_split = pytest.importorskip("customlabels._split", reason="the compiled split is not built")

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted([*(ROOT / "tests" / "cases").rglob("*.manifest"),
                *(ROOT / "examples").glob("*.manifest")])


def _faulty(seed: int, n: int) -> str:
    """Classification and detection lines, duplicates, blank, broken and unlabeled lines,
    two buckets, bad boxes, a long label name."""
    rnd = random.Random(seed)
    names = [f"label {k}" for k in range(6)]
    lines = []
    for k in range(n):
        roll = rnd.random()
        ref = rnd.randrange(max(1, n * 3 // 4))  # some images on several lines
        if roll < 0.35:
            lines.append(classification_line(ref, rnd.sample(names, rnd.randint(1, 3))))
        elif roll < 0.7:
            boxes = [(c, names[c]) for c in rnd.sample(range(6), rnd.randint(1, 3))]
            line = json.loads(detection_line(ref, boxes))
            if rnd.random() < 0.2:  # a box off the frame
                line["bb"]["annotations"][0]["left"] = 630
            lines.append(json.dumps(line))
        elif roll < 0.75:
            lines.append('{"source-ref": "s3://other-bucket/x%d.jpg"}' % k)
        elif roll < 0.8:
            lines.append("{broken")
        elif roll < 0.85:
            lines.append("")
        elif roll < 0.88:
            lines.append(classification_line(ref, ["x" * 300]))
        elif roll < 0.9:  # a lone surrogate in the key of the source-ref
            lines.append(classification_line(ref, ["y"]).replace(".jpg", "\\ud800.jpg"))
        else:
            lines.append(classification_line(ref, [rnd.choice(names)]).replace(
                "split-bucket", "second-bucket"))
    return "\n".join(lines) + "\n"


def _plain(scan: ScanResult) -> dict:
    return {name: getattr(scan, name) for name in ScanResult.__slots__ if name != "refs"}


def _check(source: Path, tmp_path: Path) -> None:
    result = split(source, tmp_path / "out", seed=3)
    if result.train is None:  # refused: nothing to compare
        return
    again = validate_files(result.train, result.test, backend="compiled")
    assert result.validation_doc == again
    plan = _plan(str(source), 0.2, 3, "auto")
    for made, path in zip(plan.side_scans(), (result.train, result.test)):
        with open(path, "rb") as stream:
            assert _plain(made) == _plain(scan_compiled(stream, 250_000))


@pytest.mark.parametrize("case", CASES, ids=lambda p: str(p.relative_to(ROOT)))
def test_case_manifests(case: Path, tmp_path: Path) -> None:
    _check(case, tmp_path)


@pytest.mark.parametrize("seed", range(12))
def test_generated_faulty_manifests(seed: int, tmp_path: Path) -> None:
    source = tmp_path / "in.manifest"
    source.write_text(_faulty(seed, 400))
    _check(source, tmp_path)


@pytest.mark.parametrize("max_lines", [1, 7, 150, 10_000])
def test_row_limit(max_lines: int, tmp_path: Path) -> None:
    source = tmp_path / "in.manifest"
    source.write_text(_faulty(99, 300))
    result = split(source, tmp_path / "out", seed=1, validate=False)
    plan = _plan(str(source), 0.2, 1, "auto")
    made = _split.side_scans(plan.lines, _split.line_sides(plan.group_of_line, plan.is_test),
                             max_lines, _DROPPED, _DUPLICATE_SOURCE_REF)
    for fields, path in zip(made, (result.train, result.test)):
        with open(path, "rb") as stream:
            assert _plain(ScanResult(*fields)) == _plain(scan_compiled(stream, max_lines))
