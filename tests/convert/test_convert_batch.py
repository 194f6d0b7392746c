"""Batches plan every output before writing: no job writes over another's input or output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.convert import batch

from .convert_contract import CASES

GT = CASES / "groundtruth" / "output.manifest"
COCO = CASES / "coco" / "instances.json"
PREFIX = "s3://custom-labels-bucket/images/"


def test_an_output_that_is_another_input_is_refused(tmp_path: Path) -> None:
    """convert groundtruth-multilabel x.manifest custom_labels_x.manifest: x's result would
    replace the second input (its dataset lost)."""
    first = tmp_path / "x.manifest"
    shutil.copy(GT, first)
    second = tmp_path / "custom_labels_x.manifest"
    shutil.copy(GT, second)
    before = second.read_bytes()
    results = batch.convert_many("groundtruth-multilabel", [str(first), str(second)],
                                 tmp_path, jobs=1)
    assert [i.code for i in results[0].issues] == ["OUTPUT_IS_INPUT"]
    assert results[0].issues[0].context == {"output": str(second), "input": str(second)}
    assert second.read_bytes() == before  # the second input is intact
    assert results[1].ok  # and converted itself, to custom_labels_custom_labels_x.manifest
    assert (tmp_path / "custom_labels_custom_labels_x.manifest").exists()


def test_a_glob_run_twice_keeps_the_first_outputs(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(GT, tmp_path / "x.manifest")
    pattern = str(tmp_path / "*.manifest")
    assert main(["convert", "groundtruth-multilabel", pattern, "--output-dir", str(tmp_path),
                 "--no-progress"]) == 0
    made = (tmp_path / "custom_labels_x.manifest").read_bytes()
    capsys.readouterr()
    # the second run's glob matches the first run's output: it is an input now
    assert main(["convert", "groundtruth-multilabel", pattern, "--output-dir", str(tmp_path),
                 "--no-progress"]) == 1
    assert "OUTPUT_IS_INPUT" in capsys.readouterr().out
    assert (tmp_path / "custom_labels_x.manifest").read_bytes() == made


def test_two_inputs_with_one_output_name_collide(tmp_path: Path) -> None:
    """a.json and a.JSON both become a.manifest: the second is refused, not silently lost."""
    shutil.copy(COCO, tmp_path / "a.json")
    shutil.copy(COCO, tmp_path / "a.JSON")
    out = tmp_path / "out"
    results = batch.convert_many("coco", [str(tmp_path / "a.json"), str(tmp_path / "a.JSON")],
                                 out, jobs=2, s3_prefix=PREFIX)
    assert results[0].ok and results[0].output == str(out / "a.manifest")
    assert [i.code for i in results[1].issues] == ["OUTPUT_COLLISION"]
    assert results[1].issues[0].context == {"output": str(out / "a.manifest"),
                                            "other_input": str(tmp_path / "a.json")}
    assert results[1].output is None
