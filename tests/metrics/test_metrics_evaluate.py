"""customlabels.evaluate end to end: files in, the summary file and the snapshot out.

Covers the guide's summary example reproduced from data, the shapes of both documents, the
snapshot's outcomes, re-evaluating a snapshot, both backends, outputs and faulty inputs. Case
folders under ``tests/metrics_cases`` hold a test manifest, predictions and the expected issues
and summary; after a deliberate change, rewrite them with ``CUSTOMLABELS_REGEN_CASES=1 pytest
tests/metrics/test_metrics_evaluate.py`` and review the diff.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest

import customlabels
from customlabels.codes import CODES
from customlabels.metrics import EvaluationResult, evaluate
from customlabels.metrics.kernels import COMPILED_AVAILABLE

from .test_metrics_coco import make_set, write_files

BACKENDS = ["python", "compiled"] if COMPILED_AVAILABLE else ["python"]
CASES = Path(__file__).parents[1] / "metrics_cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
WHEN = "2024-01-01T00:00:00.000000"
EVALUATION = "rekognition-custom-labels-evaluation"
DETAILS = "rekognition-custom-labels-evaluation-details"


def compact(result: EvaluationResult) -> list[str]:
    """Return the issues as ``FILE:LINE CODE PATH`` strings (file name only)."""
    out = []
    for issue in result.issues:
        where = Path(issue.file).name + ("" if issue.line is None else f":{issue.line}")
        out.append(f"{where} {issue.code}" + (f" {issue.path}" if issue.path else ""))
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(name: str, backend: str, tmp_path: Path) -> None:
    folder = CASES / name
    result = evaluate(folder / "test.manifest", folder / "predictions.jsonl",
                      output_dir=tmp_path, timestamp=WHEN, backend=backend)
    got = {"ok": result.ok, "issues": compact(result), "summary": result.summary}
    expected_file = folder / "expected.json"
    if os.environ.get("CUSTOMLABELS_REGEN_CASES") == "1":
        expected_file.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_file.read_text())
    # the evaluation still ran on what was usable, and wrote both files
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "EvaluationManifestSnapshot-project-version.manifest",
        "EvaluationSummary-project-version.json"]


# --- the guide's summary, reproduced from data -----------------------------------------------


def _classification_line(i: int, label: str) -> str:
    return json.dumps({
        "source-ref": f"s3://bucket/products/{i:04d}.jpg", "product": 1,
        "product-metadata": {"confidence": 1, "class-name": label, "human-annotated": "yes",
                             "creation-date": "2019-11-01T00:00:00",
                             "type": "groundtruth/image-classification",
                             "job-name": "rekognition-custom-labels-training-job"}})


def _prediction_line(i: int, label: str, confidence: float) -> str:
    """A classification prediction in the snapshot's shape (confidence 0-1, L8568-8586)."""
    return json.dumps({
        "source-ref": f"s3://bucket/products/{i:04d}.jpg", f"{EVALUATION}-0": 1,
        f"{EVALUATION}-0-metadata": {
            "confidence": confidence, "job-name": "rekognition-custom-labels-evaluation-job",
            "class-name": label, "human-annotated": "no",
            "creation-date": "2019-11-21T07:30:23", "type": "groundtruth/image-classification"}})


def guide_example(folder: Path) -> tuple[Path, Path, Path]:
    """Write a test set whose counts are those behind the guide's summary (L8447-8509).

    390 CAP and 234 WATCH testing images (624); CAP: 381 right, 7 WATCH images taken for caps;
    WATCH: 227 right, 9 CAP images taken for watches. Wrong predictions are more confident than
    right ones, so the best F1 is at the right ones' confidences: the guide's thresholds.
    """
    cap_threshold, watch_threshold = 0.9879502058029175, 0.014450683258473873
    truth, predictions = [], []
    for i in range(390):
        truth.append(_classification_line(i, "CAP"))
        predictions.append(_prediction_line(i, "CAP", cap_threshold) if i < 381 else
                           _prediction_line(i, "WATCH", 0.5))
    for i in range(390, 624):
        truth.append(_classification_line(i, "WATCH"))
        predictions.append(_prediction_line(i, "WATCH", watch_threshold) if i < 617 else
                           _prediction_line(i, "CAP", 0.999))
    train = [_classification_line(10_000 + i, "CAP" if i % 2 else "WATCH") for i in range(5216)]
    paths = folder / "test.manifest", folder / "predictions.manifest", folder / "train.manifest"
    for path, lines in zip(paths, (truth, predictions, train)):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


@pytest.mark.parametrize("backend", BACKENDS)
def test_guide_summary_reproduced(tmp_path: Path, backend: str) -> None:
    test, predictions, train = guide_example(tmp_path)
    arn = "arn:aws:rekognition:us-east-1:nnnnnnnnn:project/my-project/version/v0/1574317227432"
    result = evaluate(test, predictions, train=train, project="my-project", version="v0",
                      project_version_arn=arn, timestamp="2019-11-21T07:30:23.910943",
                      output_dir=tmp_path / "out", backend=backend)
    assert result.ok and result.issues == []
    summary = result.summary
    assert summary is not None
    # L8447-8509, but for the Metrics object of the reference (L9052-9053) and our matrix
    metrics = summary["AggregatedEvaluationResults"]["Metrics"]
    assert (metrics["F1Score"], metrics["Precision"], metrics["Recall"]) == (
        0.9726959470546408, 0.9719115848331294, 0.9735042735042735)
    assert summary["Version"] == 1
    assert summary["EvaluationDetails"] == {
        "ProjectVersionArn": arn, "EvaluationEndTimestamp": "2019-11-21T07:30:23.910943",
        "Labels": ["CAP", "WATCH"], "NumberOfTrainingImages": 5216,
        "NumberOfTestingImages": 624}
    assert summary["LabelEvaluationResults"] == [
        {"Label": "CAP", "NumberOfTestingImages": 390,
         "Metrics": {"Threshold": 0.9879502058029175, "Precision": 0.9819587628865979,
                     "Recall": 0.9769230769230769, "F1Score": 0.9794344473007711}},
        {"Label": "WATCH", "NumberOfTestingImages": 234,
         "Metrics": {"Threshold": 0.014450683258473873, "Precision": 0.961864406779661,
                     "Recall": 0.9700854700854701, "F1Score": 0.9659574468085106}}]
    assert metrics["ConfusionMatrix"] == [
        {"GroundTruthLabel": "CAP", "PredictedLabel": "CAP", "Value": 381 / 390},
        {"GroundTruthLabel": "CAP", "PredictedLabel": "WATCH", "Value": 9 / 390},
        {"GroundTruthLabel": "WATCH", "PredictedLabel": "CAP", "Value": 7 / 234},
        {"GroundTruthLabel": "WATCH", "PredictedLabel": "WATCH", "Value": 227 / 234}]
    assert "AveragePrecision" not in metrics and result.multi_label is False
    written = json.loads((tmp_path / "out" / "EvaluationSummary-my-project-v0.json").read_text())
    assert written == summary


# --- document shapes ---------------------------------------------------------------------------


def test_detection_documents(tmp_path: Path) -> None:
    data = make_set(21, n_images=30, unknown_labels=1, images_without_predictions=3)
    gt, predictions = write_files(data, tmp_path / "in")
    result = evaluate(gt, predictions, output_dir=tmp_path / "out", project="pets",
                      version="v2", timestamp=WHEN)
    summary = result.summary
    assert list(summary) == ["Version", "EvaluationDetails", "AggregatedEvaluationResults",
                             "LabelEvaluationResults"]  # L9041-9084
    assert list(summary["EvaluationDetails"]) == [
        "ProjectVersionArn", "EvaluationEndTimestamp", "Labels", "NumberOfTrainingImages",
        "NumberOfTestingImages"]
    assert summary["EvaluationDetails"]["NumberOfTrainingImages"] is None
    assert list(summary["AggregatedEvaluationResults"]["Metrics"]) == [
        "Precision", "Recall", "F1Score", "AveragePrecision", "AverageRecall"]
    ranked = summary["LabelEvaluationResults"]
    assert [list(r) for r in ranked] == [["Label", "NumberOfTestingImages", "Metrics"]] * len(
        ranked)
    assert [list(r["Metrics"]) for r in ranked] == [
        ["Threshold", "Precision", "Recall", "F1Score"]] * len(ranked)
    f1 = [r["Metrics"]["F1Score"] for r in ranked]
    assert f1 == sorted(f1, reverse=True)  # sorted by F1 (L9034-9036)
    assert result.outputs == [str(tmp_path / "out" / "EvaluationSummary-pets-v2.json"),
                              str(tmp_path / "out" / "EvaluationManifestSnapshot-pets-v2.manifest")]

    lines = (tmp_path / "out" / "EvaluationManifestSnapshot-pets-v2.manifest").read_bytes()
    snapshot = [json.loads(line) for line in lines.splitlines()]
    assert snapshot == list(result.snapshot())
    assert len(snapshot) == len(data.sizes)
    thresholds = {r.label: r.threshold for r in result.per_label}
    tp = fn = 0
    for i, line in enumerate(snapshot):
        assert line["source-ref"] == f"s3://bucket/test/{i:05d}.jpg"
        assert "bounding-box" in line and "bounding-box-metadata" in line  # the ground truth
        meta = line[f"{EVALUATION}-metadata"]
        assert list(meta) == ["confidence", "job-name", "class-map", "human-annotated",
                              "objects", "creation-date", "type"]  # L8645-8670
        assert meta["type"] == "groundtruth/object-detection" and meta["human-annotated"] == "no"
        value = line[EVALUATION]
        assert value["image_size"] == line["bounding-box"]["image_size"]
        assert len(value["annotations"]) == len(meta["objects"])
        for box, item in zip(value["annotations"], meta["objects"]):
            assert list(box) == ["class_id", "width", "top", "height", "left"]
            details = item[DETAILS]
            assert list(details) == ["version", "ground-truth-labelling-jobs", "is-true-positive",
                                     "is-true-negative", "is-false-positive", "is-false-negative",
                                     "is-present-in-ground-truth"]  # L8526-8534
            assert details["version"] == 1
            assert details["ground-truth-labelling-jobs"] == ["labeling-job/test"]
            flags = [details[k] for k in ("is-true-positive", "is-true-negative",
                                          "is-false-positive", "is-false-negative")]
            assert sum(flags) == 1
            name = meta["class-map"][str(box["class_id"])]
            counted = item["confidence"] >= thresholds.get(name, 0.0) if not math.isnan(
                thresholds.get(name, 0.0)) else False
            if name not in thresholds:  # a label absent from the ground truth
                assert details["is-false-positive"] and not details["is-present-in-ground-truth"]
            elif item["confidence"] > 0:
                assert details["is-true-positive"] == (counted and details[
                    "is-present-in-ground-truth"])
            tp += details["is-true-positive"]
            fn += details["is-false-negative"]
    # every ground-truth box the validator passes is a true positive or a false negative, once
    assert tp + fn == sum(r.ground_truth for r in result.per_label) == len(data.gt) - sum(
        i.code == "ERROR_BOUNDING_BOX_TOO_SMALL" for i in result.issues)
    assert tp == sum(r.true_positives for r in result.per_label)


def test_missed_boxes_are_false_negatives(tmp_path: Path) -> None:
    data = make_set(2, n_images=4, images_without_predictions=4)
    gt, predictions = write_files(data, tmp_path)
    predictions.write_text("")  # an empty predictions file: nothing predicted
    result = evaluate(gt, predictions, timestamp=WHEN)
    assert [i.code for i in result.issues] == ["WARNING_TEST_IMAGES_WITHOUT_PREDICTIONS"]
    assert result.issues[0].context == {"images": 4, "testing_images": 4, "first_line": 1}
    for line, image_boxes in zip(result.snapshot(), range(4)):
        objects = line[f"{EVALUATION}-metadata"]["objects"]
        assert objects and all(o["confidence"] == 0.0 and o[DETAILS]["is-false-negative"]
                               for o in objects)
        boxes = [(a["left"], a["top"], a["width"], a["height"])
                 for a in line[f"{EVALUATION}"]["annotations"]]
        assert boxes == [g[2:] for g in data.gt if g[0] == image_boxes]
    assert all(math.isnan(r.threshold) and r.recall == 0.0 for r in result.per_label)
    assert result.coco is not None and result.coco.stats[0] == 0.0


@pytest.mark.parametrize("kind", ["detection", "classification"])
def test_snapshot_evaluates_to_the_same_result(tmp_path: Path, kind: str) -> None:
    """A snapshot given as predictions gives the same metrics (its false negatives are inert)."""
    if kind == "detection":
        gt, predictions = write_files(make_set(8, tie_grid=1.0, unknown_labels=1), tmp_path)
    else:
        gt, predictions, _ = guide_example(tmp_path)
    first = evaluate(gt, predictions, output_dir=tmp_path / "one", timestamp=WHEN)
    snapshot = next((tmp_path / "one").glob("*.manifest"))
    second = evaluate(gt, snapshot, output_dir=tmp_path / "two", timestamp=WHEN)
    assert second.summary == first.summary
    assert [r.as_dict() for r in second.per_label] == [r.as_dict() for r in first.per_label]
    if kind == "detection":
        assert second.coco.stats.tolist() == first.coco.stats.tolist()
    # and the snapshot of a snapshot is the snapshot
    again = next((tmp_path / "two").glob("*.manifest"))
    assert again.read_bytes() == snapshot.read_bytes()


def test_backend_write_the_same_bytes(tmp_path: Path) -> None:
    if not COMPILED_AVAILABLE:
        pytest.skip("customlabels._metrics is not built")
    gt, predictions = write_files(make_set(4, crowded_images=1, unknown_labels=1), tmp_path)
    outputs = []
    for backend in ("python", "compiled"):
        evaluate(gt, predictions, output_dir=tmp_path / backend, timestamp=WHEN, backend=backend)
        outputs.append([p.read_bytes() for p in sorted((tmp_path / backend).iterdir())])
    assert outputs[0] == outputs[1]


def flowers(folder: Path) -> tuple[Path, Path]:
    """A multi-label classification set: each flower image also says whether it has leaves."""
    truth, responses = [], []
    spec = [("camellia", "with_leaves", [("camellia", 95.0), ("with_leaves", 80.0)]),
            ("camellia", "without_leaves", [("camellia", 90.0), ("with_leaves", 60.0)]),
            ("jonquil", "with_leaves", [("jonquil", 85.0), ("with_leaves", 75.5)]),
            ("jonquil", "without_leaves", [("camellia", 55.0), ("without_leaves", 70.0)]),
            ("helleborus", "with_leaves", [("helleborus", 88.0), ("rose", 40.0)]),
            ("helleborus", "without_leaves", [])]
    for i, (flower, leaves, predicted) in enumerate(spec):
        line: dict = {"source-ref": f"s3://bucket/flowers/{i}.jpg"}
        for attribute, name in (("flower", flower), ("leaves", leaves)):
            line[attribute] = 1
            line[f"{attribute}-metadata"] = {
                "confidence": 1, "class-name": name, "human-annotated": "yes",
                "creation-date": "2024-01-01T00:00:00", "job-name": f"labeling-job/{attribute}",
                "type": "groundtruth/image-classification"}
        truth.append(json.dumps(line))
        responses.append(json.dumps({"source-ref": f"s3://bucket/flowers/{i}.jpg",
                                     "CustomLabels": [{"Name": n, "Confidence": c}
                                                      for n, c in predicted]}))
    (folder / "test.manifest").write_text("\n".join(truth) + "\n")
    (folder / "predictions.jsonl").write_text("\n".join(responses) + "\n")
    return folder / "test.manifest", folder / "predictions.jsonl"


def test_multi_label_classification(tmp_path: Path) -> None:
    result = evaluate(*flowers(tmp_path), timestamp=WHEN)
    assert result.use_case == "IMAGE_LEVEL_LABELS" and result.multi_label is True
    assert result.labels == ["camellia", "helleborus", "jonquil", "with_leaves",
                             "without_leaves"]
    assert [i.code for i in result.issues] == ["WARNING_PREDICTED_LABEL_NOT_IN_TEST_DATASET"]
    assert result.issues[0].context == {"label": "rose"}
    camellia = result.label("camellia")
    # camellia predicted on 3 images (2 right): best F1 at 0.90 -> 2 of 2, precision 1
    assert (camellia.threshold, camellia.precision, camellia.recall) == (0.9, 1.0, 1.0)
    assert result.label("without_leaves").testing_images == 3
    rows = result.confusion_rows
    assert rows[-1] == "rose"  # only predicted: no row in a multi-label matrix (no threshold)
    assert result.confusion_matrix[rows.index("rose")].tolist() == [0.0] * 5
    with_leaves = result.confusion_matrix[rows.index("with_leaves")]
    # with_leaves (threshold 0.755) on 2 of the 3 with_leaves images, on no other
    assert with_leaves[result.labels.index("with_leaves")] == 2 / 3
    lines = list(result.snapshot())
    first = [v for k, v in lines[0].items() if k.startswith(EVALUATION) and k.endswith("metadata")]
    assert [m["class-name"] for m in first] == ["camellia", "with_leaves"]
    assert list(first[0]) == ["confidence", "job-name", "class-name", "human-annotated",
                              "creation-date", "type", DETAILS]  # L8569-8585
    assert first[0][DETAILS]["ground-truth-labelling-jobs"] == ["labeling-job/flower",
                                                                 "labeling-job/leaves"]
    # an image without predictions: its labels are false negatives at confidence 0
    last = [v for k, v in lines[5].items() if k.startswith(EVALUATION) and k.endswith("metadata")]
    assert [(m["class-name"], m["confidence"], m[DETAILS]["is-false-negative"]) for m in last] == [
        ("helleborus", 0.0, True), ("without_leaves", 0.0, True)]


# --- inputs and outputs ------------------------------------------------------------------------


def test_missing_files(tmp_path: Path) -> None:
    result = evaluate(tmp_path / "nope.manifest", tmp_path / "nope.jsonl")
    assert compact(result) == ["nope.manifest ERROR_EVALUATION_FILE_INACCESSIBLE"]
    assert result.summary is None and not result.ok and result.snapshot_lines == []
    gt, _ = write_files(make_set(1, n_images=3), tmp_path)
    result = evaluate(gt, tmp_path)  # a directory
    assert compact(result)[0] == f"{tmp_path.name} ERROR_EVALUATION_FILE_INACCESSIBLE"
    assert result.issues[0].context["role"] == "predictions"
    assert result.issues[0].message == "The predictions file cannot be read."  # the {} filled
    result = evaluate(gt, gt.with_suffix(".jsonl"), train=tmp_path / "train.manifest")
    assert [i.context.get("role") for i in result.issues] == [
        "predictions", "training manifest", None]
    assert [i.code for i in result.issues] == ["ERROR_EVALUATION_FILE_INACCESSIBLE"] * 2 + [
        "WARNING_TEST_IMAGES_WITHOUT_PREDICTIONS"]
    assert result.summary["EvaluationDetails"]["NumberOfTrainingImages"] is None


def test_no_testing_images(tmp_path: Path) -> None:
    empty = tmp_path / "empty.manifest"
    empty.write_bytes(b"")
    assert compact(evaluate(empty, empty)) == ["empty.manifest ERROR_NO_TESTING_IMAGES"]
    bad = tmp_path / "bad.manifest"
    bad.write_text('{"source-ref": "s3://bucket/a.jpg"}\nnot json\n')
    assert compact(evaluate(bad, empty)) == [
        "bad.manifest:1 WARNING_UNANNOTATED_RECORD $", "bad.manifest:2 ERROR_INVALID_JSON_LINE $",
        "bad.manifest ERROR_NO_TESTING_IMAGES"]


def test_outputs_never_overwrite_an_input(tmp_path: Path) -> None:
    gt, predictions = write_files(make_set(1, n_images=3), tmp_path)
    target = tmp_path / "EvaluationManifestSnapshot-project-version.manifest"
    predictions.rename(target)
    before = target.read_bytes()
    result = evaluate(gt, target, output_dir=tmp_path)
    assert compact(result) == [f"{target.name} ERROR_EVALUATION_OUTPUT_NOT_WRITABLE"]
    assert target.read_bytes() == before and result.outputs == []
    assert not (tmp_path / "EvaluationSummary-project-version.json").exists()


def test_output_directory_not_writable(tmp_path: Path) -> None:
    gt, predictions = write_files(make_set(1, n_images=3), tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = evaluate(gt, predictions, output_dir=blocker / "out")
    assert [i.code for i in result.issues] == ["ERROR_EVALUATION_OUTPUT_NOT_WRITABLE"]
    assert result.issues[0].context["reason"] == "os_error"
    assert result.summary is not None and result.outputs == []


def test_names_must_fit_file_names(tmp_path: Path) -> None:
    gt, predictions = write_files(make_set(1, n_images=2), tmp_path)
    with pytest.raises(ValueError, match="project"):
        evaluate(gt, predictions, project="../escape")


def test_every_evaluate_code_is_exercised() -> None:
    """Each code of the evaluate command is raised by some test here (codes are API)."""
    seen = set()
    for name in CASE_NAMES:
        expected = json.loads((CASES / name / "expected.json").read_text())
        seen.update(item.split()[1] for item in expected["issues"])
    # raised by the tests above, which a file system set-up or no usable image needs
    seen |= {"ERROR_EVALUATION_FILE_INACCESSIBLE", "ERROR_NO_TESTING_IMAGES",
             "ERROR_EVALUATION_OUTPUT_NOT_WRITABLE"}
    assert {c.name for c in CODES.values() if c.raised_by == "evaluate"} - seen == set()


def test_public_api_is_lazy() -> None:
    """``import customlabels`` leaves numpy out; ``customlabels.evaluate`` brings it in."""
    import subprocess

    code = ("import sys, customlabels; assert 'numpy' not in sys.modules; "
            "from customlabels.cli.main import build_parser; build_parser(); "
            "assert 'numpy' not in sys.modules; customlabels.evaluate; "
            "assert 'numpy' in sys.modules; print(customlabels.EvaluationResult.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "EvaluationResult"
    assert "evaluate" in customlabels.__all__ and "EvaluationResult" in customlabels.__all__


@pytest.mark.parametrize("fast_parser", [True, False])
def test_unusual_prediction_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  fast_parser: bool) -> None:
    """orjson, where installed, and json read every line alike; each fault has its place."""
    from customlabels.metrics import inputs

    if not fast_parser:
        monkeypatch.setattr(inputs, "_orjson", None)
    gt, _ = write_files(make_set(1, n_images=4), tmp_path)
    refs = [json.loads(line)["source-ref"] for line in gt.read_text().splitlines()]
    box = {"Geometry": {"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0, "Top": 0}}}
    lines = [
        json.dumps({"source-ref": refs[0], "CustomLabels": [  # a lone surrogate: valid JSON
            {"Name": "\ud800", "Confidence": 50, **box}]}).encode(),
        b"x" * 500_000,
        b'\xff{"source-ref": 1}',
        (f'{{"source-ref": "{refs[1]}", "CustomLabels": [{{"Name": "label-000", '
         f'"Confidence": 1{"0" * 30}, "Geometry": {json.dumps(box["Geometry"])}}}]}}').encode(),
        f'{{"source-ref": "{refs[2]}", "CustomLabels": [{{"Name": "a", "Confidence": NaN}}]}}'
        .encode(),
        f'{{"source-ref": "{refs[3]}", "CustomLabels": [{{"Name": "label-000", '
        f'"Confidence": 1e999, "Geometry": {json.dumps(box["Geometry"])}}}]}}'.encode(),
    ]
    predictions = tmp_path / "unusual.jsonl"
    predictions.write_bytes(b"\n".join(lines) + b"\n")
    result = evaluate(gt, predictions, output_dir=tmp_path / "out", timestamp=WHEN)
    assert compact(result) == [
        "unusual.jsonl:2 ERROR_INVALID_PREDICTIONS_LINE $",
        "unusual.jsonl:3 ERROR_INVALID_PREDICTIONS_LINE $",
        "unusual.jsonl:4 ERROR_INVALID_PREDICTION $.CustomLabels[0].Confidence",
        "unusual.jsonl:5 ERROR_INVALID_PREDICTIONS_LINE $",
        "unusual.jsonl:6 ERROR_INVALID_PREDICTION $.CustomLabels[0].Confidence",
        "test.manifest:3 WARNING_TEST_IMAGES_WITHOUT_PREDICTIONS",  # the NaN line's image
        "unusual.jsonl:1 WARNING_PREDICTED_LABEL_NOT_IN_TEST_DATASET $.CustomLabels[0].Name"]
    contexts = [i.context for i in result.issues]
    assert float(contexts[2].pop("value")) == 1e30  # an integer, or a float from orjson
    assert contexts[:4] == [
        {"reason": "too_long", "maximum": 400_000}, {"reason": "not_utf8", "byte": 1},
        {"minimum": 0, "maximum": 100.0},
        {"reason": "not_json", "error": "NaN is not a JSON value"}]
    assert contexts[4] == {"value": "inf", "minimum": 0, "maximum": 100.0}
    assert contexts[-1] == {"label": "\ud800"}
    json.dumps(result.as_dict(), allow_nan=False)  # contexts are JSON-ready
    snapshot = (tmp_path / "out" / "EvaluationManifestSnapshot-project-version.manifest")
    assert b"\\ud800" in snapshot.read_bytes()  # escaped: the file stays valid UTF-8
    snapshot.read_bytes().decode("utf-8")


@pytest.mark.parametrize("width, said", [(1e-300, "image_size width must be at least 1 pixel"),
                                         (0, "image_size width must be at least 1 pixel"),
                                         ("640", "image_size width must be a number")])
def test_a_snapshot_image_size_that_cannot_scale_boxes_is_that_lines_error(
        tmp_path: Path, width: object, said: str) -> None:
    """1e-300 gave infinite areas and a numpy overflow warning; 0 a wrong message (issue 9)."""
    import warnings

    gt, predictions = write_files(make_set(4), tmp_path)
    first = evaluate(gt, predictions, output_dir=tmp_path / "one", timestamp=WHEN)
    assert first.ok
    snapshot = next((tmp_path / "one").glob("*.manifest"))
    lines = snapshot.read_text().splitlines()
    line = json.loads(lines[0])
    line[EVALUATION]["image_size"][0]["width"] = width
    lines[0] = json.dumps(line)
    bad = tmp_path / "bad.manifest"
    bad.write_text("\n".join(lines) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow
        result = evaluate(gt, bad, output_dir=tmp_path / "two", timestamp=WHEN)
    mine = [i for i in result.issues if i.file == str(bad) and i.line == 1]
    assert [i.code for i in mine] == ["ERROR_INVALID_PREDICTION"]
    assert said in (mine[0].detail or "")
