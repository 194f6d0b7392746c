"""Terminal manifest file errors and the result files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from customlabels.manifest.reader import MAX_LINE_BYTES
from customlabels.validation import pipeline
from customlabels.validation.pipeline import validate_files

from tests.helpers import BACKENDS

CASES = Path(__file__).parents[1] / "cases"
GOOD = CASES / "valid_classification" / "train.manifest"
GOOD_TEST = CASES / "valid_classification" / "test.manifest"


def codes(report: dict) -> list[str]:
    return [i["code"] for i in report["issues"]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_file(tmp_path: Path, backend: str) -> None:
    report = validate_files(str(tmp_path / "nope.manifest"), backend=backend)
    assert codes(report) == ["ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"]
    assert report["summary"] is None and not report["ok"]


def test_directory_and_no_extension(tmp_path: Path) -> None:
    (tmp_path / "dir.manifest").mkdir()
    bare = tmp_path / "train"
    bare.write_bytes(GOOD.read_bytes())
    assert codes(validate_files(str(tmp_path / "dir.manifest"))) == [
        "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"]
    report = validate_files(str(bare))
    assert codes(report) == ["ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"]
    assert report["issues"][0]["context"] == {"reason": "no_extension"}


def test_size_too_large(tmp_path: Path) -> None:
    big = tmp_path / "big.manifest"
    with open(big, "wb") as f:  # sparse: costs no disk
        f.truncate(pipeline.MAX_MANIFEST_BYTES + 1)
    report = validate_files(str(big), output_dir=str(tmp_path / "out"))
    assert codes(report) == ["ERROR_MANIFEST_SIZE_TOO_LARGE"]
    assert not (tmp_path / "out").exists()  # a terminal file error writes nothing


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # root reads any file, so the refusal is simulated where the backend opens the manifest
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pipeline, "open", refuse, raising=False)
    report = validate_files(str(GOOD))
    assert codes(report) == ["ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET"]


def test_terminal_error_in_test_stops_both(tmp_path: Path) -> None:
    empty = tmp_path / "test.manifest"
    empty.write_bytes(b"")
    report = validate_files(str(GOOD), str(empty), output_dir=str(tmp_path / "out"))
    assert codes(report) == ["ERROR_MANIFEST_EMPTY"]
    assert report["summary"] is None
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs(tmp_path: Path, backend: str) -> None:
    case = CASES / "bounding_boxes" / "train.manifest"
    out = tmp_path / "out"
    report = validate_files(str(case), str(GOOD_TEST), output_dir=str(out), backend=backend)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["manifest_summary.json", "testing_manifest_with_validation.json",
                     "training_manifest_with_validation.json"]
    summary = json.loads((out / "manifest_summary.json").read_text())
    assert summary == report["summary"]
    assert list(summary["statistics"]["training"]) == [
        "use_case", "total_json_lines", "valid_json_lines", "invalid_json_lines",
        "ignored_json_lines", "error_json_line_indices", "errors"]
    lines = (out / "training_manifest_with_validation.json").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == summary["statistics"]["training"]["total_json_lines"]
    source = case.read_bytes().split(b"\n")
    assert lines[0] == source[0]  # clean lines are copied byte for byte
    off = json.loads(lines[3])  # line 4: one box off frame, attached to that annotation
    assert off["bounding-box"]["annotations"][1]["errors"][0]["code"] == "ERROR_INVALID_BOUNDING_BOX"
    assert "errors" not in off and "errors" not in off["bounding-box"]
    neg = json.loads(lines[4])  # line 5: annotation, attribute and line levels
    assert neg["bounding-box"]["annotations"][0]["errors"][0]["code"] == "ERROR_INVALID_BOUNDING_BOX"
    assert neg["bounding-box"]["errors"][0]["code"] == "ERROR_NO_VALID_ANNOTATIONS"
    assert neg["errors"][0]["code"] == "ERROR_NO_VALID_LABEL_ATTRIBUTES"
    empty = json.loads(lines[10])  # line 11: the guide's warning example (L7927-7985)
    assert empty["bounding-box"]["warnings"] == [{"code": "WARNING_NO_ATTRIBUTE_ANNOTATIONS",
                                                  "message": "No attribute annotations were found."}]
    assert empty["warnings"] == [{"code": "WARNING_NO_ANNOTATIONS",
                                  "message": "No annotations were found."}]
    assert summary["statistics"]["training"]["error_json_line_indices"] == [4, 5, 6, 7, 8, 9, 10]


@pytest.mark.parametrize("backend", BACKENDS)
def test_invalid_json_line_is_replaced(tmp_path: Path, backend: str) -> None:
    case = CASES / "invalid_json" / "train.manifest"
    validate_files(str(case), output_dir=str(tmp_path), backend=backend)
    lines = (tmp_path / "training_manifest_with_validation.json").read_text().splitlines()
    assert json.loads(lines[2]) == {"errors": [{
        "code": "ERROR_INVALID_JSON_LINE",
        "message": "The JSON Line has an invalid format. "
                   "(Expecting property name enclosed in double quotes at column 59)"}]}
    assert len(lines) == 31 and json.loads(lines[1])["errors"][0]["message"].endswith(
        "(blank line)")


def test_metadata_level_errors(tmp_path: Path) -> None:
    validate_files(str(CASES / "label_attributes" / "train.manifest"), output_dir=str(tmp_path))
    lines = (tmp_path / "training_manifest_with_validation.json").read_text().splitlines()
    bad = json.loads(lines[7])  # line 8: three bad metadata fields, attached to the metadata
    assert [e["code"] for e in bad["animal-metadata"]["errors"]] == [
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"] * 3
    not_object = json.loads(lines[12])  # line 13: metadata is a string: the line takes it
    assert not_object["errors"][0]["code"] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"


def test_never_overwrites_an_input(tmp_path: Path) -> None:
    train = tmp_path / "training_manifest_with_validation.json"
    original = GOOD.read_bytes()
    train.write_bytes(original)
    report = validate_files(str(train), output_dir=str(tmp_path))
    assert codes(report) == ["ERROR_OUTPUT_NOT_WRITABLE"]
    assert train.read_bytes() == original


def test_output_dir_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    report = validate_files(str(GOOD), output_dir=str(blocker / "out"))
    assert codes(report) == ["ERROR_OUTPUT_NOT_WRITABLE"]


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest_summary.json").write_text("old")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "_dump_summary", fail)
    report = validate_files(str(GOOD), output_dir=str(out))
    assert codes(report) == ["ERROR_OUTPUT_NOT_WRITABLE"]
    assert (out / "manifest_summary.json").read_text() == "old"
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_line_does_not_grow_memory(tmp_path: Path, backend: str) -> None:
    """A 20 MB line is reported as too long without being held whole."""
    manifest = tmp_path / "huge.manifest"
    manifest.write_bytes(GOOD.read_bytes() + b"{" + b"x" * (20 * MAX_LINE_BYTES) + b"}\n"
                         + GOOD_TEST.read_bytes())
    report = validate_files(str(manifest), backend=backend)
    assert [(i["code"], i["line"]) for i in report["issues"]] == [("ERROR_LINE_TOO_LONG", 5)]
    assert report["summary"]["statistics"]["training"]["total_json_lines"] == 7


@pytest.mark.parametrize("backend", BACKENDS)
def test_rewritten_lines_stay_json(tmp_path: Path, backend: str) -> None:
    """A number too large for a float is written back as it was read, never as Infinity."""
    from customlabels.validation._pyscan import parse_line

    manifest = tmp_path / "big-number.manifest"
    line = ('{"source-ref":"s3://bucket/a.jpg","a":1,"a-metadata":{"confidence":-1e400,'
            '"class-name":"cat","human-annotated":"yes","creation-date":"d",'
            '"type":"groundtruth/image-classification","note":"\\u0000a:5\\u0000"}}')
    manifest.write_text(line + "\n")
    validate_files(str(manifest), output_dir=str(tmp_path / "out"), backend=backend)
    written = (tmp_path / "out" / "training_manifest_with_validation.json").read_bytes()
    assert b"-1e400" in written and b"Infinity" not in written
    obj = parse_line(written.rstrip(b"\n"))  # strict: would reject Infinity
    assert obj["a-metadata"]["note"] == "\x00a:5\x00"
    assert obj["a-metadata"]["errors"][0]["code"] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
