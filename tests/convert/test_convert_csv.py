"""CSV (image-level labels and boxes) <-> manifest: the contract, the guide's script, faults."""

from __future__ import annotations

import csv
import shutil
import struct
from pathlib import Path

from customlabels.convert import convert, export
from customlabels.convert._imagesize import image_size

from tests.convert_cases import guide_scripts
from .convert_contract import CASES, DATE, ConverterContract, codes, manifest_lines, without_dates

CSV = CASES / "csv"
BOXES = CASES / "csv_boxes"
S3 = "s3://my-bucket/flowers/train/"


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [row for row in csv.reader(f) if row]


class TestCsvContract(ConverterContract):
    fmt = "csv"
    sample = CSV / "flowers.csv"
    options = {"s3_path": S3}
    export_options = {"s3_path": S3}
    bad_inputs = [
        (CSV / "duplicates.csv", {}, {"CSV_DUPLICATE_IMAGE", "CSV_DUPLICATES_FOUND"}),
        (CSV / "mixed.csv", {}, {"CSV_MIXED_PATHS"}),
        (CSV / "flowers.csv", {"s3_path": None}, {"CSV_NO_S3_PATH"}),
        (CSV / "s3_paths.csv", {}, {"CSV_S3_PATH_NOT_NEEDED"}),
        (CSV / "flowers.csv", {"s3_path": "s3://x/"}, {"S3_PREFIX_INVALID"}),
        (CSV / "faulty.csv", {}, {"CSV_EMPTY_IMAGE", "CSV_LABEL_WHITESPACE",
                                  "LABEL_ATTRIBUTE_RENAMED", "LABEL_NAME_LENGTH",
                                  "TOO_MANY_LABELS", "CSV_BAD_ROW"}),
    ]

    def same_content(self, original: Path, exported: Path) -> None:
        assert _rows(exported) == _rows(original)


def test_lines_equal_the_guide_script(tmp_path: Path) -> None:
    """Issue 3.5: the script's keys and values, line for line, creation-date aside."""
    ours = convert("csv", CSV / "flowers.csv", tmp_path / "f.manifest", s3_path=S3)
    theirs = guide_scripts.csv_create_manifest(str(CSV / "flowers.csv"), S3)
    assert without_dates(manifest_lines(ours.output)) == without_dates(theirs)
    assert [list(x) for x in manifest_lines(ours.output)] == [list(x) for x in theirs]


def test_guide_example_line(tmp_path: Path) -> None:
    """The JSON Line the guide shows for camellia1.jpg (L4580-4587)."""
    result = convert("csv", CSV / "flowers.csv", tmp_path / "f.manifest",
                     s3_path="s3://bucket/flowers/train/", creation_date="2022-01-21T14:21:05")
    assert manifest_lines(result.output)[0] == {
        "source-ref": "s3://bucket/flowers/train/camellia1.jpg", "camellia": 1,
        "camellia-metadata": {"confidence": 1, "job-name": "labeling-job/camellia",
                              "class-name": "camellia", "human-annotated": "yes",
                              "creation-date": "2022-01-21T14:21:05",
                              "type": "groundtruth/image-classification"},
        "with_leaves": 1,
        "with_leaves-metadata": {"confidence": 1, "job-name": "labeling-job/with_leaves",
                                 "class-name": "with_leaves", "human-annotated": "yes",
                                 "creation-date": "2022-01-21T14:21:05",
                                 "type": "groundtruth/image-classification"}}


def test_duplicates_as_the_guide_script(tmp_path: Path) -> None:
    """First occurrence kept; NAME-deduplicated.csv and NAME-duplicates.csv as the script."""
    source = tmp_path / "duplicates.csv"
    shutil.copy(CSV / "duplicates.csv", source)
    result = convert("csv", source, tmp_path / "out" / "d.manifest", s3_path=S3)
    assert result.output is None and not (tmp_path / "out" / "d.manifest").exists()
    duplicates = [p for p in result.issues if p.code == "CSV_DUPLICATE_IMAGE"]
    assert [p.line for p in duplicates] == [3, 6]
    assert all(p.context["first_line"] < p.line for p in duplicates)
    ref = tmp_path / "ref"
    ref.mkdir()
    assert guide_scripts.csv_check_duplicates(str(source), str(ref / "dedup.csv"),
                                              str(ref / "dups.csv"))
    assert _rows(tmp_path / "out" / "duplicates-deduplicated.csv") == _rows(ref / "dedup.csv")
    assert _rows(tmp_path / "out" / "duplicates-duplicates.csv") == _rows(ref / "dups.csv")
    kept = convert("csv", source, tmp_path / "k.manifest", s3_path=S3, keep_first=True)
    assert kept.ok and [x["source-ref"] for x in manifest_lines(kept.output)] == [
        S3 + "camellia1.jpg", S3 + "camellia2.jpg", S3 + "jonquil1.jpg"]
    assert {p.severity for p in kept.issues} == {"warning"}


def test_faulty_rows(tmp_path: Path) -> None:
    result = convert("csv", CSV / "faulty.csv", tmp_path / "f.manifest", s3_path=S3,
                     creation_date=DATE)
    at = {(p.code, p.line) for p in result.issues}
    assert {("CSV_EMPTY_IMAGE", 2), ("CSV_LABEL_WHITESPACE", 3), ("LABEL_NAME_LENGTH", 5),
            ("TOO_MANY_LABELS", 6), ("CSV_BAD_ROW", 8)} <= at
    lines = {x["source-ref"]: x for x in manifest_lines(result.output)}
    # a real CSV parser: the quoted name and label keep their commas, the BOM is gone
    quoted = lines[S3 + "spring, garden.jpg"]
    assert quoted["with, leaves-metadata"]["class-name"] == "with, leaves"
    # labels that cannot be keys get another attribute name; class-name keeps the label
    odd = lines[S3 + "odd.jpg"]
    assert odd["source-ref"] == S3 + "odd.jpg"
    assert {odd[k]["class-name"] for k in odd if k.endswith("-metadata")} == {
        "source-ref", "errors", "x-metadata"}
    assert lines[S3 + "long.jpg"]["jonquil-metadata"]["class-name"] == "jonquil"
    assert lines[S3 + "unlabeled.jpg"] == {"source-ref": S3 + "unlabeled.jpg"}
    assert S3 + "last.jpg" in lines and S3 + "many.jpg" not in lines
    assert result.validation is not None and not result.validation.errors
    context = {p.code: p.context for p in result.issues}
    assert context["TOO_MANY_LABELS"]["labels"] > context["TOO_MANY_LABELS"]["maximum"]
    assert context["LABEL_NAME_LENGTH"]["length"] > context["LABEL_NAME_LENGTH"]["maximum"]
    assert context["CSV_LABEL_WHITESPACE"]["label"].strip() != context[
        "CSV_LABEL_WHITESPACE"]["label"]


class TestCsvBoxesContract(ConverterContract):
    fmt = "csv-boxes"
    sample = BOXES / "boxes.csv"
    options = {"s3_path": "s3://street-bucket/photos/"}
    export_options = {"s3_path": "s3://street-bucket/photos/"}
    bad_inputs = [
        (BOXES / "faulty.csv", {}, {"CSV_DUPLICATE_BOX", "CSV_IMAGE_SIZE_CONFLICT",
                                    "CSV_BAD_NUMBER", "CSV_BAD_ROW", "BOX_VANISHED",
                                    "CSV_IMAGE_SIZE_MISSING", "IMAGE_DIMENSION",
                                    "LABEL_NAME_LENGTH"}),
        (BOXES / "from_files.csv", {"images_dir": "/nonexistent"}, {"IMAGE_UNREADABLE"}),
    ]

    def same_content(self, original: Path, exported: Path) -> None:
        def boxes(rows: list[list[str]]) -> list[tuple[str, ...]]:
            return sorted((r[0], r[1], *(str(round(float(v))) for v in r[2:])) for r in rows[1:])
        assert boxes(_rows(exported)) == boxes(_rows(original))


def _png(path: Path, width: int, height: int) -> None:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0" * 4)


def _jpeg(path: Path, width: int, height: int) -> None:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    path.write_bytes(b"\xff\xd8" + app0 + b"\xff\xff" + sof + b"\xff\xda\x00\x02\xff\xd9")


def test_image_size_from_files(tmp_path: Path) -> None:
    _png(tmp_path / "photo1.png", 640, 480)
    _jpeg(tmp_path / "photo2.jpg", 300, 200)
    (tmp_path / "text.jpg").write_bytes(b"not an image")
    assert image_size(tmp_path / "photo1.png") == (640, 480)
    assert image_size(tmp_path / "photo2.jpg") == (300, 200)
    assert image_size(tmp_path / "text.jpg") is None
    result = convert("csv-boxes", BOXES / "from_files.csv", tmp_path / "m.manifest",
                     s3_path="s3://pets-bucket/", images_dir=tmp_path)
    assert result.ok, result.issues
    first, second = manifest_lines(result.output)
    assert first["bounding-box"]["image_size"] == [{"width": 640, "depth": 3, "height": 480}]
    assert first["bounding-box-metadata"]["class-map"] == {"0": "cat", "1": "dog"}
    assert second["bounding-box"]["annotations"] == [
        {"left": 20, "top": 30, "width": 60, "height": 60, "class_id": 1}]
    assert second["bounding-box-metadata"]["class-map"] == {"1": "dog"}


def test_boxes_rows_group_by_image(tmp_path: Path) -> None:
    result = convert("csv-boxes", BOXES / "boxes.csv", tmp_path / "m.manifest",
                     s3_path="s3://street-bucket/photos/")
    lines = manifest_lines(result.output)
    assert [x["source-ref"].rsplit("/", 1)[1] for x in lines] == [
        "street1.jpg", "street2.jpg", "street3.jpg", "street4.jpg"]
    assert lines[0]["bounding-box"]["annotations"][1] == {
        "left": 300, "top": 51, "width": 40, "height": 120, "class_id": 1}
    assert codes(result) == []


def test_export_of_an_image_level_manifest_to_boxes(tmp_path: Path) -> None:
    flowers = convert("csv", CSV / "flowers.csv", tmp_path / "f.manifest", s3_path=S3)
    result = export("csv-boxes", flowers.output, tmp_path / "b.csv")
    assert codes(result) == ["NOTHING_TO_EXPORT"] and result.lines == 0
    assert result.issues[0].context == {"lines": 15, "first_line": 1,
                                        "without": "without bounding boxes"}
    assert not (tmp_path / "b.csv").exists()


def test_a_header_row_is_skipped_and_said(tmp_path: Path) -> None:
    """A spreadsheet's export starts with its column names; the guide's format has none."""
    source = tmp_path / "with_header.csv"
    source.write_text("Image,Label\n" + (CSV / "flowers.csv").read_text())
    result = convert("csv", source, tmp_path / "h.manifest", s3_path=S3)
    plain = convert("csv", CSV / "flowers.csv", tmp_path / "p.manifest", s3_path=S3)
    assert codes(result) == ["CSV_HEADER_SKIPPED"] + codes(plain)
    assert result.issues[0].line == 1 and result.issues[0].context == {"header": ["Image", "Label"]}
    # the same manifest as without the header: no image s3://.../Image labelled "Label"
    assert without_dates(manifest_lines(result.output)) == without_dates(
        manifest_lines(plain.output))


def test_what_is_a_header_row() -> None:
    from customlabels.convert.csv_labels import is_header

    for row in (["image", "label"], ["file_name", "labels", "more"], ["path", "x"],
                ["photo"], ["pic", "Class"], [" Source-Ref ", "category"]):
        assert is_header(row), row
    for row in (["image.jpg", "label"], ["s3://bucket/image", "label"], ["cat", "dog"],
                ["images/label", "x"], ["", "label"], [], ["camellia1.jpg", "camellia"],
                ["folder/image.png", "class"]):
        assert not is_header(row), row
