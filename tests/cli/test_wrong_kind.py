"""A COCO or CSV file where a manifest is read, a label the dataset lacks: said, not zeros.

Before, ``describe flowers.csv`` and ``labels instances.json`` printed zeros and exited 0, and
``entries --label nosuch`` printed ``0 entries`` with status 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.manifest.kind import sniff

CASES = Path(__file__).parents[1] / "convert_cases"
COCO = CASES / "coco" / "instances.json"
CSV = CASES / "csv" / "flowers.csv"
EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize(("argv", "kind"), [
    ("describe {csv}", "CSV"), ("labels {coco}", "COCO"), ("entries {coco}", "COCO"),
    ("split {coco} --output-dir {out}", "COCO"), ("export csv {coco} -o {out}.csv", "COCO"),
    ("merge {train} {csv} -o {out}.manifest", "CSV"),
    ("remove-label {csv} camellia -o {out}.manifest", "CSV"),
    ("evaluate --test {coco} --predictions {predictions}", "COCO"),
    ("update {train} --changes {csv} -o {out}.manifest", "CSV"),
])
def test_a_file_of_another_kind_is_refused_with_the_convert_that_makes_it(
        argv: str, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argv.format(csv=CSV, coco=COCO, out=tmp_path / "out", train=EXAMPLES / "train.manifest",
                       predictions=EXAMPLES / "predictions.jsonl").split()
    assert main(args) == 2
    out, err = capsys.readouterr()
    path = COCO if kind == "COCO" else CSV
    assert err == (f"customlabels: {path} is a {kind} file, not a manifest (JSON Lines, one "
                   f"image a line); make a manifest of it first: customlabels convert "
                   f"{kind.lower()} {path} --s3-prefix s3://BUCKET/IMAGES/ -o NAME.manifest"
                   + (" (image-level labels), or convert csv-boxes (bounding boxes)"
                      if kind == "CSV" else "") + "\n")
    assert out == ""
    assert not list(tmp_path.iterdir())  # nothing written


def test_validate_reports_as_the_service_and_says_what_the_file_is(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(COCO), "--max-issues", "1"]) == 1
    out, err = capsys.readouterr()
    assert err.startswith(f"customlabels: note: {COCO} is a COCO file, not a manifest")
    assert f"customlabels convert coco {COCO}" in err
    assert "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" in out  # what the service would say


@pytest.mark.parametrize(("data", "kind"), [
    (COCO.read_bytes(), "coco"),
    (b'\xef\xbb\xbf\n  {\n  "info": {}, "images": []}', "coco"),  # a BOM, pretty-printed
    (b'{"images":[],"annotations":[],"categories":[]}', "coco"),  # one line
    (CSV.read_bytes(), "csv"),
    (b"image,label\n\xe7\x8c\xab.jpg,\xe7\x8c\xab\n", "csv"),
    ((EXAMPLES / "train.manifest").read_bytes(), None),
    (b'{"images": [], "source-ref": "s3://bucket/a.jpg"}\n', None),  # a line that names images
    (b'{"source-ref": "s3://bucket/a.jpg"}\nnot json, at all\n', None),  # a damaged manifest
    (b"", None), (b"\xef\xbb\xbf", None), (bytes(range(256)), None),
    (b"\xff\xfe,\xfa,x\n", None),  # not UTF-8: not a CSV file we can name
    (b"just some text\n", None),
    (b'"quoted",json\n', None),
])
def test_sniff(data: bytes, kind: str | None, tmp_path: Path) -> None:
    path = tmp_path / "input.manifest"
    path.write_bytes(data)
    assert sniff(path) == kind


def test_sniff_reads_only_the_head(tmp_path: Path) -> None:
    """A character cut at 64 KiB is not a decoding error."""
    path = tmp_path / "big.csv"
    path.write_bytes(("\u732b.jpg,\u732b\n" * 20_000).encode())  # 3-byte characters
    assert sniff(path) == "csv"


def test_entries_of_a_label_the_dataset_lacks(capsys: pytest.CaptureFixture[str]) -> None:
    train = EXAMPLES / "train.manifest"
    assert main(["entries", str(train), "--label", "nosuch"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("0 entries\n"
                   f"customlabels: {train}: no image has the label 'nosuch'; its labels are "
                   "'Echo', 'Echo Dot' (customlabels labels counts them)\n")
    # one label the dataset has: its entries, status 0
    assert main(["entries", str(train), "--label", "Echo", "--label", "nosuch"]) == 0
    assert capsys.readouterr().err == "8 entries\n"
    # a label it has, no entry through the other filters: 0 entries, status 0
    assert main(["entries", str(train), "--label", "Echo", "--source-ref-contains", "zzz"]) == 0
    assert capsys.readouterr().err == "0 entries\n"
