"""COCO mAP/mAR parity with pycocotools, on seeded synthetic sets and edge cases.

pycocotools is the reference (a test dependency). Its ground truth and detections are built in
memory from the same boxes and scores customlabels evaluates; its -1 ("no value") is our NaN.
The precision and recall arrays must be equal element for element, and the twelve statistics
within 1e-9 (they come out equal).

``make_set`` and ``write_files`` are shared with the other metric tests: the synthetic sets are
realistic detection sets (several sizes of boxes, jittered true positives, duplicates, wrong labels,
false positives, tied and untied confidences) with the edge cases switched on by arguments.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from customlabels.metrics import detection
from customlabels.metrics.kernels import COMPILED_AVAILABLE
from customlabels.metrics.matching import DetectionData

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

BACKENDS = ["python", "compiled"] if COMPILED_AVAILABLE else ["python"]
SIZES = ((640, 480), (480, 640), (1024, 768), (320, 240), (4096, 2048))
#: COCO's area-range boundaries: boxes exactly on them are in both neighbouring ranges.
BOUNDARY_SIDES = (32, 96)


@dataclass
class SyntheticSet:
    """A detection test set: boxes in integer pixels, predictions in ratios as DetectCustomLabels.

    ``dt`` rows are (image, label, left, top, width, height ratios, confidence 0-100), listed
    image by image; a label >= ``n_labels`` is absent from the ground truth.
    """

    n_labels: int
    sizes: list[tuple[int, int]]
    gt: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    dt: list[tuple[int, int, float, float, float, float, float]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """Label names that sort in label order."""
        return [f"label-{k:03d}" for k in range(self.n_labels + 3)]

    def pixel_dt(self) -> list[tuple[int, int, float, float, float, float, float]]:
        """Return dt with boxes in pixels and scores 0-1, exactly as customlabels reads them."""
        out = []
        for image, label, left, top, width, height, confidence in self.dt:
            w, h = self.sizes[image]
            out.append((image, label, left * w, top * h, width * w, height * h,
                        confidence / 100.0))
        return out


def make_set(seed: int, n_images: int = 60, n_labels: int = 6, *, tie_grid: float | None = None,
             images_without_predictions: int = 0, labels_without_predictions: int = 0,
             unknown_labels: int = 0, crowded_images: int = 0,
             boundary_boxes: bool = False) -> SyntheticSet:
    """Return a seeded synthetic set.

    Args:
        tie_grid: round confidences to this step (0-100) so that many tie.
        images_without_predictions: the last images get no prediction.
        labels_without_predictions: the last labels are never predicted.
        unknown_labels: predictions of this many labels absent from the ground truth.
        crowded_images: this many images get 150 predictions (more than COCO's 100).
        boundary_boxes: some boxes have areas exactly 32^2 and 96^2.
    """
    rng = np.random.default_rng(seed)
    data = SyntheticSet(n_labels, [SIZES[int(rng.integers(len(SIZES)))] for _ in range(n_images)])
    predicted = n_labels - labels_without_predictions
    for i, (w, h) in enumerate(data.sizes):
        boxes = []
        for _ in range(int(rng.integers(1, 9))):
            side = float(np.exp(rng.normal(np.log(50), 1.0)))
            bw = int(min(max(4, side * np.exp(rng.normal(0, 0.3))), w))
            bh = int(min(max(4, side * np.exp(rng.normal(0, 0.3))), h))
            if boundary_boxes and rng.random() < 0.3:
                bw = bh = BOUNDARY_SIDES[int(rng.integers(2))]
            left, top = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
            label = int(rng.integers(n_labels))
            boxes.append((label, left, top, bw, bh))
            data.gt.append((i, label, left, top, bw, bh))
        if i >= n_images - images_without_predictions:
            continue
        rows = []
        for label, left, top, bw, bh in boxes:
            for copy in range(1 + (rng.random() < 0.3)):
                if rng.random() < 0.15:
                    continue
                jitter = rng.normal(0, 0.1 + 0.1 * copy, 4) * [bw, bh, bw, bh]
                x, y = left + jitter[0], top + jitter[1]
                pw, ph = max(1.0, bw + jitter[2]), max(1.0, bh + jitter[3])
                guess = label if rng.random() > 0.1 else int(rng.integers(n_labels))
                rows.append((guess, x, y, pw, ph, float(rng.uniform(20, 100))))
        for _ in range(int(rng.integers(0, 6)) + (150 if i < crowded_images else 0)):
            pw, ph = float(rng.uniform(2, w / 3)), float(rng.uniform(2, h / 3))
            rows.append((int(rng.integers(n_labels)), float(rng.uniform(0, w - pw)),
                         float(rng.uniform(0, h - ph)), pw, ph, float(rng.uniform(0.5, 60))))
        for _ in range(unknown_labels and int(rng.integers(0, 3))):
            rows.append((n_labels + int(rng.integers(unknown_labels)), float(rng.uniform(0, w / 2)),
                         float(rng.uniform(0, h / 2)), 20.0, 20.0, float(rng.uniform(1, 99))))
        for label, x, y, pw, ph, confidence in rows:
            if label >= predicted and label < n_labels:
                continue
            if tie_grid:
                confidence = max(tie_grid, round(confidence / tie_grid) * tie_grid)
            data.dt.append((i, label, x / w, y / h, pw / w, ph / h, min(confidence, 100.0)))
    return data


def detection_data(data: SyntheticSet) -> DetectionData:
    """Return the set as customlabels' arrays (ground-truth labels only)."""
    dt = [row for row in data.pixel_dt() if row[1] < data.n_labels]
    return DetectionData(
        data.labels[:data.n_labels], len(data.sizes), [g[0] for g in data.gt],
        [g[1] for g in data.gt], [g[2:] for g in data.gt], [d[0] for d in dt],
        [d[1] for d in dt], [d[2:6] for d in dt], [d[6] for d in dt])


def coco_reference(data: SyntheticSet) -> COCOeval:
    """Run pycocotools on the same set; return its evaluated, accumulated, summarized object."""
    dataset = {
        "images": [{"id": i + 1, "width": w, "height": h} for i, (w, h) in enumerate(data.sizes)],
        "annotations": [{"id": n + 1, "image_id": i + 1, "category_id": k + 1,
                         "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0}
                        for n, (i, k, x, y, w, h) in enumerate(data.gt)],
        "categories": [{"id": k + 1, "name": name}
                       for k, name in enumerate(data.labels[:data.n_labels])],
    }
    results = [{"image_id": i + 1, "category_id": k + 1, "bbox": [x, y, w, h], "score": s}
               for i, k, x, y, w, h, s in data.pixel_dt()]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = dataset
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        if not results:  # loadRes cannot take an empty list
            dt.dataset = {"images": dataset["images"], "categories": dataset["categories"],
                          "annotations": []}
            dt.createIndex()
        evaluation = COCOeval(gt, dt, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def ours(data: SyntheticSet, backend: str) -> tuple[detection.DetectionAccumulation,
                                                    detection.CocoSummary]:
    """Run customlabels' three stages on the set."""
    evaluation = detection.evaluate(detection_data(data), backend=backend)
    accumulation = detection.accumulate(evaluation, backend=backend)
    return accumulation, detection.summarize(accumulation)


def nan_for_minus_one(values: np.ndarray) -> np.ndarray:
    """Return pycocotools' array with its -1 ("no value") as NaN, as customlabels writes it."""
    return np.where(values == -1, np.nan, values)


def assert_parity(data: SyntheticSet, backend: str) -> None:
    """Check customlabels' arrays and statistics against pycocotools' on ``data``."""
    reference = coco_reference(data)
    accumulation, summary = ours(data, backend)
    np.testing.assert_array_equal(accumulation.precision,
                                  nan_for_minus_one(reference.eval["precision"]))
    np.testing.assert_array_equal(accumulation.recall, nan_for_minus_one(reference.eval["recall"]))
    np.testing.assert_allclose(summary.stats, nan_for_minus_one(reference.stats), rtol=0,
                               atol=1e-9)


CASES = {
    "plain": dict(),
    "tied scores": dict(tie_grid=5.0),
    "images without predictions": dict(images_without_predictions=15),
    "labels without predictions": dict(labels_without_predictions=2),
    "labels absent from the ground truth": dict(unknown_labels=2),
    "many detections per image": dict(crowded_images=4, tie_grid=0.5),
    "area boundaries": dict(boundary_boxes=True),
    "all at once": dict(tie_grid=10.0, images_without_predictions=5,
                        labels_without_predictions=1, unknown_labels=1, crowded_images=2,
                        boundary_boxes=True),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(CASES))
def test_parity_with_pycocotools(case: str, backend: str) -> None:
    for seed in range(3):
        assert_parity(make_set(seed, **CASES[case]), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_parity_without_any_prediction(backend: str) -> None:
    data = make_set(7, n_images=10, images_without_predictions=10)
    assert not data.dt
    assert_parity(data, backend)
    _, summary = ours(data, backend)
    assert summary.stats[0] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_parity_single_image_and_label(backend: str) -> None:
    assert_parity(make_set(3, n_images=1, n_labels=1), backend)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_parity_larger_sets(backend: str) -> None:
    for seed in range(10, 14):
        assert_parity(make_set(seed, n_images=400, n_labels=12, tie_grid=1.0,
                               crowded_images=3, unknown_labels=1,
                               images_without_predictions=20), backend)


def test_statistics_nan_where_pycocotools_says_minus_one() -> None:
    # no ground-truth box is large: APl and ARl have nothing to average
    data = SyntheticSet(1, [(640, 480)], gt=[(0, 0, 10, 10, 20, 20)],
                        dt=[(0, 0, 10 / 640, 10 / 480, 20 / 640, 20 / 480, 90.0)])
    reference = coco_reference(data)
    _, summary = ours(data, "python")
    assert reference.stats[5] == -1 and np.isnan(summary.stats[5])
    # a perfect prediction: precision 1 / (1 + eps), COCO's guard against 0 / 0
    assert summary.as_dict()["AP"] == reference.stats[0] == pytest.approx(1.0, abs=1e-15)
    assert np.isnan(summary.as_dict()["ARl"])


def write_files(data: SyntheticSet, folder: Path) -> tuple[Path, Path]:
    """Write the set as a test manifest and DetectCustomLabels responses; return both paths."""
    manifest, responses = [], []
    by_image: dict[int, list] = {}
    for row in data.dt:
        by_image.setdefault(row[0], []).append(row)
    for i, (w, h) in enumerate(data.sizes):
        boxes = [g for g in data.gt if g[0] == i]
        used = sorted({g[1] for g in boxes})
        manifest.append(json.dumps({
            "source-ref": f"s3://bucket/test/{i:05d}.jpg",
            "bounding-box": {"image_size": [{"width": w, "height": h, "depth": 3}],
                             "annotations": [{"class_id": k, "left": x, "top": y, "width": bw,
                                              "height": bh} for _, k, x, y, bw, bh in boxes]},
            "bounding-box-metadata": {
                "objects": [{"confidence": 1} for _ in boxes],
                "class-map": {str(k): data.labels[k] for k in used},
                "type": "groundtruth/object-detection", "human-annotated": "yes",
                "creation-date": "2024-01-01T00:00:00", "job-name": "labeling-job/test"}}))
        if i in by_image:
            responses.append(json.dumps({
                "source-ref": f"s3://bucket/test/{i:05d}.jpg",
                "CustomLabels": [{"Name": data.labels[k], "Confidence": c, "Geometry": {
                    "BoundingBox": {"Width": bw, "Height": bh, "Left": x, "Top": y}}}
                    for _, k, x, y, bw, bh, c in by_image[i]]}))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.manifest").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    (folder / "predictions.jsonl").write_text("\n".join(responses) + "\n", encoding="utf-8")
    return folder / "test.manifest", folder / "predictions.jsonl"


@pytest.mark.parametrize("backend", BACKENDS)
def test_files_evaluate_like_pycocotools(tmp_path: Path, backend: str) -> None:
    """The whole path, from the files, gives pycocotools' statistics and per-label AP."""
    from customlabels.metrics import evaluate

    data = make_set(11, tie_grid=2.0, images_without_predictions=4, unknown_labels=1,
                    crowded_images=1, boundary_boxes=True)
    gt, predictions = write_files(data, tmp_path)
    result = evaluate(gt, predictions, backend=backend)
    reference = coco_reference(data)
    assert result.coco is not None and result.accumulation is not None
    np.testing.assert_array_equal(result.accumulation.precision,
                                  nan_for_minus_one(reference.eval["precision"]))
    assert np.max(np.abs(result.coco.stats - reference.stats)) <= 1e-9
    per_label = nan_for_minus_one(reference.eval["precision"])[:, :, :, 0, 2]
    expected = [np.mean(per_label[:, :, k]) for k in range(data.n_labels)]
    assert [r.average_precision for r in result.per_label] == pytest.approx(expected, abs=1e-12)
    assert result.summary["AggregatedEvaluationResults"]["Metrics"]["AveragePrecision"] == (
        pytest.approx(reference.stats[0], abs=1e-12))
    assert result.summary["AggregatedEvaluationResults"]["Metrics"]["AverageRecall"] == (
        pytest.approx(reference.stats[8], abs=1e-12))
