"""The evaluate command: exit statuses, the table, JSON output and outputs on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from customlabels.cli.main import main

from .test_metrics_coco import make_set, write_files

CASES = Path(__file__).parents[1] / "metrics_cases"
FAULTY = CASES / "faulty_detection"


def test_clean_evaluation_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, predictions = write_files(make_set(5, n_images=20), tmp_path)
    status = main(["evaluate", "--ground-truth", str(gt), "--predictions", str(predictions),
                   "--output-dir", str(tmp_path / "out"), "--project", "pets", "--version",
                   "v1.2"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "OBJECT_LOCALIZATION, 20 testing images" in out
    assert "Label" in out and "Threshold" in out and "AP50" in out and "COCO: AP " in out
    assert f"{gt}: passed: evaluated, 0 errors, 0 warnings" in out
    assert f"wrote {tmp_path / 'out' / 'EvaluationSummary-pets-v1.2.json'}" in out
    assert (tmp_path / "out" / "EvaluationManifestSnapshot-pets-v1.2.manifest").exists()


def test_faulty_inputs_exit_one_with_compiler_style_lines(
        capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["evaluate", "--ground-truth", str(FAULTY / "test.manifest"),
                   "--predictions", str(FAULTY / "predictions.jsonl")])
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert (f"{FAULTY / 'predictions.jsonl'}:9: ERROR_INVALID_PREDICTION The prediction is "
            "invalid; it is not evaluated. (Width must be a finite number of at least 0) - at "
            "$.CustomLabels[1].Geometry.BoundingBox.Width") in out
    assert out[-1] == (f"{FAULTY / 'test.manifest'}: failed: evaluated what is usable, "
                       "13 errors, 7 warnings")


def test_classification_table_has_a_confusion_matrix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from .test_metrics_evaluate import flowers

    gt, predictions = flowers(tmp_path)
    main(["evaluate", "--ground-truth", str(gt), "--predictions", str(predictions)])
    out = capsys.readouterr().out
    assert "IMAGE_LEVEL_LABELS, multi-label, 6 testing images, 5 labels" in out
    assert "Confusion matrix (rows: predicted, columns: ground truth" in out


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt, predictions = write_files(make_set(6, n_images=10), tmp_path)
    assert main(["evaluate", "--ground-truth", str(gt), "--predictions", str(predictions),
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and doc["use_case"] == "OBJECT_LOCALIZATION"
    assert list(doc["coco"]["stats"]) == ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1",
                                          "AR10", "AR100", "ARs", "ARm", "ARl"]
    assert doc["summary"]["Version"] == 1 and doc["outputs"] == []


def test_missing_file_is_reported_on_stderr(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["evaluate", "--ground-truth", str(tmp_path / "no.manifest"),
                   "--predictions", str(tmp_path / "no.jsonl")])
    captured = capsys.readouterr()
    assert status == 2  # unusable input
    assert captured.err == (f"customlabels: {tmp_path / 'no.manifest'}: "
                            "ERROR_EVALUATION_FILE_INACCESSIBLE The ground truth file cannot be "
                            "read. (No such file or directory)\n")
    assert captured.out == f"{tmp_path / 'no.manifest'}: failed: not evaluated, 1 error, 0 warnings\n"


@pytest.mark.parametrize("argv", [
    ["evaluate", "--predictions", "p.jsonl"],
    ["evaluate", "--ground-truth", "t.manifest", "--predictions", "p.jsonl", "--project", "a/b"],
])
def test_usage_errors_exit_two(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err
