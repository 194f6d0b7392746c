"""describe / labels --format csv|parquet: the per-image and per-label tables."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.tables import IMAGE_COLUMNS, image_table, table_bytes

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "train.manifest"
BACKENDS = ["python", "compiled"]


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_describe_csv_is_a_row_a_line_with_the_validators_verdicts(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe", str(EXAMPLE), "--format", "csv"]) == 0
    rows = _csv_rows(capsys.readouterr().out)
    assert list(rows[0]) == list(IMAGE_COLUMNS)
    assert [int(r["line"]) for r in rows] == list(range(1, 16))
    verdicts = [r["verdict"] for r in rows]
    # the manifest summary of the same file: 11 valid, 3 invalid, 1 ignored
    assert (verdicts.count("valid"), verdicts.count("invalid"), verdicts.count("ignored")) == (
        11, 3, 1)
    by_line = {int(r["line"]): r for r in rows}
    assert by_line[10]["dropped"] == "true" and by_line[10]["source_ref"] == ""
    assert json.loads(by_line[10]["codes"]) == ["ERROR_INVALID_JSON_LINE"]
    assert by_line[4]["verdict"] == "valid" and by_line[4]["errors"] == "1"
    assert json.loads(by_line[1]["labels"]) == ["Echo", "Echo Dot"]
    assert by_line[1]["boxes"] == "3"
    assert json.loads(by_line[15]["codes"]) == ["WARNING_NO_ATTRIBUTE_ANNOTATIONS",
                                                "WARNING_NO_ANNOTATIONS"]
    # DescribeDataset's figures follow from the table
    assert sum(r["dropped"] == "true" for r in rows) == 2


def test_both_backends_give_the_same_table() -> None:
    pytest.importorskip("customlabels._core")
    tables = [table_bytes(image_table(EXAMPLE, backend=b), "csv") for b in BACKENDS]
    assert tables[0] == tables[1]


def _awkward_manifest(tmp_path: Path) -> Path:
    """Labels with a comma, a quote, a semicolon and a lone surrogate escape."""
    lines = []
    for i, name in enumerate(['a,b', 'say "hi"', "x;y", "\\ud800z", "plain"]):
        lines.append('{"source-ref": "s3://my-bucket/%d.jpg", "c": 1, "c-metadata": {"class-name": '
                     '"%s", "confidence": 1, "type": "groundtruth/image-classification", '
                     '"job-name": "j", "human-annotated": "yes", "creation-date": '
                     '"2024-01-01T00:00:00"}}' % (i, name.replace('"', '\\"')))
    path = tmp_path / "awkward.manifest"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_labels_csv_keeps_awkward_names(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _awkward_manifest(tmp_path)
    out = tmp_path / "labels.csv"
    assert main(["labels", str(manifest), "--format", "csv", "-o", str(out)]) == 0
    assert "wrote " in capsys.readouterr().err
    rows = _csv_rows(out.read_text(encoding="utf-8"))
    assert sorted(r["label"] for r in rows) == sorted(
        ['a,b', 'say "hi"', "x;y", "\\ud800z", "plain"])
    assert all(r["images"] == "1" and r["boxes"] == "0" for r in rows)


def test_parquet_round_trips_with_types(tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")
    manifest = _awkward_manifest(tmp_path)
    out = tmp_path / "images.parquet"
    assert main(["describe", str(manifest), "--format", "parquet", "-o", str(out)]) == 0
    frame = pl.read_parquet(out)
    assert frame.columns == list(IMAGE_COLUMNS)
    assert frame.schema["labels"] == pl.List(pl.String)
    assert frame.schema["dropped"] == pl.Boolean and frame.schema["line"] == pl.Int64
    assert frame["labels"].to_list() == [["a,b"], ['say "hi"'], ["x;y"], ["\\ud800z"],
                                         ["plain"]]
    labels = tmp_path / "labels.parquet"
    assert main(["labels", str(EXAMPLE), "--format", "parquet", "-o", str(labels)]) == 0
    assert pl.read_parquet(labels).rows() == [("Echo", 8, 13), ("Echo Dot", 8, 10)]


def test_parquet_without_polars_says_how_to_install(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # import polars raises ImportError
    out = tmp_path / "t.parquet"
    assert main(["describe", str(EXAMPLE), "--format", "parquet", "-o", str(out)]) == 2
    assert "customlabels[tables]" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_the_manifest_is_never_the_output(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.manifest"
    manifest.write_bytes(EXAMPLE.read_bytes())
    assert main(["describe", str(manifest), "--format", "csv", "-o", str(manifest)]) == 2
    assert "is the manifest read" in capsys.readouterr().err
    assert manifest.read_bytes() == EXAMPLE.read_bytes()


def test_parquet_is_not_written_to_a_terminal(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("polars")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["labels", str(EXAMPLE), "--format", "parquet"]) == 2
    captured = capsys.readouterr()
    assert "give -o FILE" in captured.err and captured.out == ""


def test_text_and_json_go_to_the_output_file_too(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "stats.json"
    assert main(["describe", str(EXAMPLE), "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["DatasetStats"]["TotalEntries"] == 13
    assert capsys.readouterr().out == ""


def test_csv_is_what_the_csv_module_writes() -> None:
    """The hand-made cells quote exactly as csv.writer's minimal quoting does, and read back."""
    awkward = ["plain", "a,b", 'say "hi"', "two\nlines", " spaced ", "", "é", "x;y",
               "\\ud800"]
    table = {"line": list(range(1, len(awkward) + 1)), "source_ref": [*awkward[:-1], None],
             "dropped": [i % 2 == 0 for i in range(len(awkward))],
             "labels": [tuple(awkward[:i]) for i in range(len(awkward))]}
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(table)
    writer.writerows(zip(table["line"], ["" if v is None else v for v in table["source_ref"]],
                         ["true" if v else "false" for v in table["dropped"]],
                         [json.dumps(list(v), ensure_ascii=False) for v in table["labels"]]))
    assert table_bytes(table, "csv") == expected.getvalue().encode("utf-8")
    # a carriage return is quoted too (csv.writer quotes only its line terminator's characters,
    # and an unquoted one ends the row for csv.reader): every cell reads back as it was
    table["source_ref"][0] = "cr\rhere"
    back = list(csv.reader(io.StringIO(table_bytes(table, "csv").decode("utf-8"), newline="")))
    assert back[1][1] == "cr\rhere"
    assert [json.loads(row[3]) for row in back[1:]] == [list(v) for v in table["labels"]]
