"""CSV inputs users really have: other separators, sloppy numbers, numbers beyond any box."""

from __future__ import annotations

from pathlib import Path

import pytest

import customlabels


def _convert(fmt: str, tmp_path: Path, text: str) -> customlabels.ConversionResult:
    source = tmp_path / "in.csv"
    source.write_text(text)
    return customlabels.convert_file(fmt, source, tmp_path / "out.manifest")


@pytest.mark.parametrize("sep, name", [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")])
@pytest.mark.parametrize("fmt", ["csv", "csv-boxes"])
def test_another_separator_is_refused_by_name(tmp_path: Path, fmt: str, sep: str,
                                             name: str) -> None:
    rows = [["s3://my-bucket/a.jpg", "cat"], ["s3://my-bucket/b.jpg", "dog"]]
    if fmt == "csv-boxes":
        rows = [row + ["1", "1", "10", "10", "100", "100"] for row in rows]
    result = _convert(fmt, tmp_path, "".join(sep.join(row) + "\n" for row in rows))
    assert [i.code for i in result.issues] == ["CSV_WRONG_SEPARATOR"]
    assert name in (result.issues[0].detail or "")
    assert result.output is None and not (tmp_path / "out.manifest").exists()


def test_a_comma_file_with_a_semicolon_in_a_name_still_converts(tmp_path: Path) -> None:
    result = _convert("csv", tmp_path, "s3://my-bucket/a.jpg,x;y\ns3://my-bucket/b.jpg,z\n")
    assert result.output is not None and result.lines == 2


@pytest.mark.parametrize("value", ["1_000", " 10 ", "10 ", "infinity", "nan", "0x10", "1e999"])
def test_numbers_are_read_strictly(tmp_path: Path, value: str) -> None:
    result = _convert("csv-boxes", tmp_path, f"s3://my-bucket/a.jpg,cat,{value},1,10,10,100,100\n"
                                             "s3://my-bucket/b.jpg,cat,1,1,10,10,100,100\n")
    bad = [i for i in result.issues if i.code == "CSV_BAD_NUMBER"]
    assert len(bad) == 1 and bad[0].line == 1 and bad[0].path == "left"
    assert result.lines == 1


@pytest.mark.parametrize("row", ["1e308,1,1e308,10", "1,1e308,10,1e308"])
def test_a_box_beyond_any_number_is_a_bad_number(tmp_path: Path, row: str) -> None:
    result = _convert("csv-boxes", tmp_path, f"s3://my-bucket/a.jpg,cat,{row},100,100\n"
                                             "s3://my-bucket/b.jpg,cat,1,1,10,10,100,100\n")
    assert [i.code for i in result.issues if i.severity == "error"] == ["CSV_BAD_NUMBER"]
    assert result.lines == 1  # was OverflowError


@pytest.mark.parametrize("value", ["-5", "+1.5e3", "0.25", ".5", "7."])
def test_ordinary_numbers_still_read(tmp_path: Path, value: str) -> None:
    result = _convert("csv-boxes", tmp_path, f"s3://my-bucket/a.jpg,cat,{value},1,10,10,100,100\n")
    assert not [i for i in result.issues if i.code == "CSV_BAD_NUMBER"]
