"""Messages name what the user gave, in the user's terms (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from customlabels.cli.main import main

ROOT = Path(__file__).parents[2]
CASES = ROOT / "tests" / "cases" / "valid_classification"


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "afile"
    path.write_text("not a folder\n")
    return path


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_an_output_folder_that_is_a_file_is_named_so(a_file: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "ok.csv"
    csv.write_text("s3://my-bucket/a.jpg,cat\ns3://my-bucket/b.jpg,dog\n")
    train, test = str(CASES / "train.manifest"), str(CASES / "test.manifest")
    runs = {
        "convert": ["convert", "csv", str(csv), "-o", f"{a_file}/x.manifest"],
        "split": ["split", train, "--output-dir", str(a_file)],
        "validate": ["validate", train, "--output-dir", f"{a_file}/r"],
        "describe": ["describe", train, "--format", "csv", "-o", f"{a_file}/t.csv"],
    }
    for name, argv in runs.items():
        assert main(argv) == 2, name
        said = _said(capsys)
        assert f"{a_file} is a file, not a folder" in said, (name, said)
        assert "File exists" not in said and "Not a directory" not in said, (name, said)


def test_a_temporary_file_is_never_named(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest_summary.json").mkdir()  # in the way of the results
    assert main(["validate", str(CASES / "train.manifest"), "--output-dir", str(out)]) == 2
    said = _said(capsys)
    assert "manifest_summary.json: is a folder, not a file" in said
    assert ".customlabels.tmp" not in said


def test_invalid_utf8_in_a_csv_names_its_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "u.csv"
    csv.write_bytes(b"s3://my-bucket/a.jpg,cat\ns3://my-bucket/b.jpg,d\xffg\n")
    assert main(["convert", "csv", str(csv), "-o", str(tmp_path / "u.manifest")]) == 1
    said = _said(capsys)
    assert f"{csv}:2: INPUT_UNREADABLE" in said and "line 2, byte 48" in said


def test_the_digit_limit_is_said_in_our_words(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    line = json.loads((CASES / "train.manifest").read_text().splitlines()[0])
    text = json.dumps(line).replace('"confidence": 1', '"confidence": 1' + "0" * 5000)
    manifest = tmp_path / "huge.manifest"
    manifest.write_text(text + "\n")
    main(["validate", str(manifest)])
    said = _said(capsys)
    assert "a number has more than 4,300 digits" in said
    assert "set_int_max_str_digits" not in said
