"""CSV exports escape cells a spreadsheet would run as formulas; convert csv reads them back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.convert._common import formula_safe, formula_unescaped

from ..helpers import classification_line

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "=1"]
PLAIN = ["cat", "-5", "+1.5e3", "a=b", "'quoted", ""]


def _manifest(tmp_path: Path, labels: list[str]) -> Path:
    lines = [classification_line(f"s3://my-bucket/img{i}.jpg", label, "a")
             for i, label in enumerate(labels)]
    path = tmp_path / "m.manifest"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_rule() -> None:
    for cell in FORMULAS:
        assert formula_safe(cell) == "'" + cell and formula_unescaped("'" + cell) == cell
    for cell in PLAIN:
        assert formula_safe(cell) == cell and formula_unescaped(cell) == cell


def test_export_csv_escapes_formulas_and_convert_reads_them_back(tmp_path: Path) -> None:
    labels = [*FORMULAS, "cat", "-5"]
    manifest = _manifest(tmp_path, labels * 2)
    out = tmp_path / "labels.csv"
    assert main(["export", "csv", str(manifest), "-o", str(out)]) == 0
    cells = [row[1] for row in csv.reader(io.StringIO(out.read_text(), newline=""))]
    assert cells[:len(labels)] == [formula_safe(label) for label in labels]
    assert all(not c or c[0] not in "=+@\t" for c in cells)  # nothing a spreadsheet runs
    back = tmp_path / "back.manifest"
    assert main(["convert", "csv", str(out), "-o", str(back), "--creation-date",
                 "2024-01-02T03:04:05.000"]) in (0, 1)
    names = [json.loads(line)[next(k for k in json.loads(line) if k.endswith("-metadata"))]
             ["class-name"] for line in back.read_text().splitlines()]
    assert names == labels * 2


def test_keep_formulas_writes_them_raw(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, FORMULAS * 2)
    out = tmp_path / "raw.csv"
    assert main(["export", "csv", str(manifest), "-o", str(out), "--keep-formulas"]) == 0
    cells = [row[1] for row in csv.reader(io.StringIO(out.read_text(), newline=""))]
    assert cells[:len(FORMULAS)] == FORMULAS


def test_csv_boxes_and_the_tables_escape_too(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    line = {"source-ref": "s3://my-bucket/a.jpg", "b": {"image_size": [
        {"width": 100, "height": 100, "depth": 3}], "annotations": [
        {"class_id": 0, "left": 1, "top": 1, "width": 10, "height": 10}]},
        "b-metadata": {"objects": [{"confidence": 1}], "class-map": {"0": "=cmd|' /C calc'!A0"},
                       "type": "groundtruth/object-detection", "human-annotated": "yes",
                       "creation-date": "2024-01-02T03:04:05.000", "job-name": "j"}}
    manifest = tmp_path / "boxes.manifest"
    manifest.write_text(json.dumps(line) + "\n")
    out = tmp_path / "boxes.csv"
    assert main(["export", "csv-boxes", str(manifest), "-o", str(out)]) == 0
    assert list(csv.reader(io.StringIO(out.read_text())))[1][1] == "'=cmd|' /C calc'!A0"
    assert main(["labels", str(manifest), "--format", "csv"]) == 0
    assert "'=cmd|' /C calc'!A0,1,1" in capsys.readouterr().out


def test_a_lone_surrogate_label_comes_back_from_csv(tmp_path: Path) -> None:
    """UTF-8 cannot hold it: export writes its escape, convert csv reads it back (issue 9)."""
    manifest = _manifest(tmp_path, ["\udfff", "cat", "\ud800x"] * 2)
    out = tmp_path / "labels.csv"
    assert main(["export", "csv", str(manifest), "-o", str(out)]) == 0
    assert "\\udfff" in out.read_text(encoding="utf-8")
    back = tmp_path / "back.manifest"
    main(["convert", "csv", str(out), "-o", str(back)])
    names = []
    for line in back.read_text().splitlines():
        obj = json.loads(line)
        names.append(next(v["class-name"] for k, v in obj.items() if k.endswith("-metadata")))
    assert names == ["\udfff", "cat", "\ud800x"] * 2  # was the 6-character text \udfff
