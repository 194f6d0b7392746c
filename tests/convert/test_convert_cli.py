"""The convert and export commands: one file, batches over globs in parallel, exit statuses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.convert import batch

from .convert_contract import CASES

COCO = CASES / "coco"
PREFIX = "s3://custom-labels-bucket/images/"


def test_single_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.manifest"
    assert main(["convert", "coco", str(COCO / "instances.json"), "--s3-prefix", PREFIX,
                 "-o", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert f"-> {out}: 5 lines" in text
    assert "training: " in text and "passed" in text  # the validator's summary
    assert out.exists()


def test_faulty_file_exits_one_and_prints_places(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "coco", str(COCO / "faulty.json"), "--s3-prefix", PREFIX,
                 "-o", str(tmp_path / "m.manifest"), "--creation-date", "2020-01-01"]) == 1
    text = capsys.readouterr().out
    assert (f"{COCO / 'faulty.json'}: COCO_UNKNOWN_IMAGE The annotation refers to an image id "
            "that no image has; it is skipped.") in text
    assert "- at $.annotations[7].image_id" in text


def test_warnings_fail_only_with_strict(tmp_path: Path) -> None:
    args = ["convert", "coco", str(COCO / "too_many_boxes.json"), "--s3-prefix", PREFIX,
            "-o", str(tmp_path / "m.manifest")]
    assert main(args) == 0
    assert main(args + ["--strict"]) == 1


def test_batch_over_globs_in_parallel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder in ("train", "val"):
        (tmp_path / folder).mkdir()
        shutil.copy(COCO / "instances.json", tmp_path / folder / "instances.json")
    shutil.copy(COCO / "truncated.json", tmp_path / "val" / "broken.json")
    out = tmp_path / "out"
    status = main(["convert", "coco", str(tmp_path / "*" / "*.json"), "--s3-prefix", PREFIX,
                   "--output-dir", str(out), "--jobs", "2", "--no-progress"])
    assert status == 1  # one file failed: the others are converted all the same
    text = capsys.readouterr().out
    assert (out / "train" / "instances.manifest").exists()
    assert (out / "val" / "instances.manifest").exists()
    assert not (out / "val" / "broken.manifest").exists()
    table = text[text.index("FILE"):].splitlines()
    assert table[0].split() == ["FILE", "LINES", "ERRORS", "WARNINGS", "MANIFEST"]
    assert any("broken.json" in row and "not written" in row for row in table)
    assert table[-1] == "failed: 2 of 3 files converted without errors"


def test_batch_json_and_unmatched_glob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["convert", "csv", str(CASES / "csv" / "flowers.csv"),
                   str(tmp_path / "none*.csv"), "--s3-path", "s3://my-bucket/f/",
                   "--output-dir", str(tmp_path), "--format", "json"])
    captured = capsys.readouterr()
    assert status == 2 and "none*.csv: no file matches" in captured.err  # unusable input
    doc = json.loads(captured.out)
    assert doc["results"][0]["ok"] and doc["results"][0]["lines"] == 15


def test_output_paths_keep_folders_apart() -> None:
    paths = batch.output_paths("coco", ["a/x/instances.json", "a/y/instances.json"], "out")
    assert [p.as_posix() for p in paths] == ["out/x/instances.manifest",
                                            "out/y/instances.manifest"]
    assert batch.expand(["no*such*file"]) == ([], ["no*such*file"])


def test_a_crashing_converter_does_not_stop_the_batch(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from customlabels.convert import coco

    def boom(*args, **kwargs):
        raise RuntimeError("simulated defect")

    monkeypatch.setattr(coco, "convert", boom)
    results = batch.convert_many("coco", [str(COCO / "instances.json")], tmp_path, jobs=1)
    assert [p.code for p in results[0].issues] == ["CONVERSION_FAILED"]
    assert results[0].issues[0].context == {"exception": "RuntimeError",
                                            "error": "simulated defect"}


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "coco", str(COCO / "instances.json"), str(COCO / "faulty.json"),
              "-o", "x.manifest"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["convert", "coco", str(COCO / "instances.json"), "--creation-date", "soon"])
    with pytest.raises(SystemExit):
        main(["convert", "coco", str(COCO / "instances.json"), "--label-attribute",
              "a-metadata", "-o", str(tmp_path / "m.manifest")])


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.manifest"
    assert main(["convert", "coco", str(COCO / "instances.json"), "--s3-prefix", PREFIX,
                 "-o", str(manifest)]) == 0
    assert main(["export", "coco", str(manifest), "-o", str(tmp_path / "back.json")]) == 0
    assert "5 images (annotations 7, categories 3, images 5)" in capsys.readouterr().out
    # a manifest of bounding boxes has no image-level label to export: refused, nothing written
    assert main(["export", "csv", str(manifest), "-o", str(tmp_path / "x.csv")]) == 1
    out = capsys.readouterr().out
    assert (f"{manifest}: NOTHING_TO_EXPORT No line of the manifest holds what this format "
            "exports; nothing is written. (all 5 usable lines are without image-level labels, "
            "the first line 1)") in out
    assert not (tmp_path / "x.csv").exists()
    assert main(["export", "groundtruth-multilabel", str(manifest), "-o",
                 str(tmp_path / "g.manifest"), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [i["code"] for i in doc["issues"]] == ["NOTHING_TO_EXPORT"]
    assert not (tmp_path / "g.manifest").exists()
    # and the reverse: image-level labels have no box for COCO
    labels = tmp_path / "labels.manifest"
    assert main(["convert", "csv", str(CASES / "csv" / "flowers.csv"), "--s3-prefix", PREFIX,
                 "-o", str(labels)]) == 0
    assert main(["export", "coco", str(labels), "-o", str(tmp_path / "none.json")]) == 1
    assert "without a bounding-box attribute" in capsys.readouterr().out
    assert not (tmp_path / "none.json").exists()


def test_validate_start_up_does_not_load_the_converters() -> None:
    code = ("import sys; from customlabels.cli.main import main; "
            "main(['validate', sys.argv[1]]); "
            "print(sorted(m for m in ('orjson', 'tqdm', 'polars', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code,
                          str(Path(__file__).parents[1] / "cases" / "valid_classification"
                              / "train.manifest")], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("fmt", ["coco", "csv", "csv-boxes", "groundtruth-multilabel"])
def test_export_survives_lone_surrogates(tmp_path: Path, fmt: str) -> None:
    """A \\ud800 escape in a manifest (valid JSON, not valid UTF-8 text) exports, no traceback."""
    source = Path(__file__).parents[2] / "fuzz" / "corpus" / "13-unicode-escapes.manifest"
    if fmt in ("coco", "csv-boxes"):  # formats of boxes: the same names, as boxes
        source = tmp_path / "boxes.manifest"
        source.write_text("".join(json.dumps({
            "source-ref": f"s3://custom-labels-bucket/images/{i}.jpg",
            "bb": {"image_size": [{"width": 640, "height": 480, "depth": 3}],
                   "annotations": [{"class_id": 0, "left": 1, "top": 1, "width": 50,
                                    "height": 50}]},
            "bb-metadata": {"objects": [{"confidence": 1}], "class-map": {"0": name},
                            "type": "groundtruth/object-detection", "human-annotated": "yes",
                            "creation-date": "2023-05-01T10:00:00"}}) + "\n"
            for i, name in enumerate(["a\ud800b", "caf\u00e9", "\udfff"])))
    out = tmp_path / f"out.{fmt}"
    status = main(["export", fmt, str(source), "-o", str(out)])
    assert status in (0, 1)
    assert out.exists()


@pytest.mark.parametrize("date", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_date_whose_utc_is_past_the_calendar_is_malformed_not_a_crash(
        date: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Its time zone moves it beyond year 9999 (or before 1): what Python's datetime holds."""
    coco = json.loads((COCO / "instances.json").read_text())
    coco["images"][0]["date_captured"] = date
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(coco))
    assert main(["convert", "coco", str(source), "--s3-prefix", PREFIX,
                 "-o", str(tmp_path / "c.manifest"), "--max-issues", "0"]) == 0
    out = capsys.readouterr().out
    assert ("DATE_FALLBACK The date is missing or malformed; the conversion time is used as "
            f"creation-date. (1 image, the first image id {coco['images'][0]['id']!r};") in out

    with pytest.raises(SystemExit) as refused:  # a usage error, from the parser
        main(["convert", "csv", str(CASES / "csv" / "flowers.csv"), "--s3-prefix", PREFIX,
              "-o", str(tmp_path / "f.manifest"), "--creation-date", date])
    assert refused.value.code == 2
    assert "creation_date must be an ISO 8601 date and time" in capsys.readouterr().err

    manifest = tmp_path / "m.manifest"
    lines = (tmp_path / "c.manifest").read_text().splitlines()
    first = json.loads(lines[0])
    first["bounding-box-metadata"]["creation-date"] = date
    manifest.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    assert main(["export", "coco", str(manifest), "-o", str(tmp_path / "back.json")]) == 0
    images = json.loads((tmp_path / "back.json").read_text())["images"]
    assert images[0]["date_captured"] == ""  # not a date: none is made up
