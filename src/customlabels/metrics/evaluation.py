"""Evaluate predictions against a test manifest, as the service tests a model (L8196-9090).

The order: read the ground truth and the predictions (``inputs``), match and score them
(``detection`` and ``thresholds``, or ``classification``), then build the summary file and the
evaluation manifest snapshot and write both, atomically, when an output directory is given.
Problems in the inputs never raise: they are issues in the result, and the evaluation runs on
what is usable.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..manifest.writer import dumps_document, os_error_text, public_name, replace_all
from ..store import NAME_RE  # project and version names become parts of file names
from ..validation.pipeline import choose_backend as choose_scanner
from . import classification, detection, inputs, snapshot, summary
from ..issues import make_issue
from .inputs import IssueData, PredictionSet, TestSet
from .iou import IOU_THRESHOLD
from .kernels import choose_backend, kernels
from .matching import DetectionData
from .result import EvaluationResult, LabelResult
from .thresholds import assumed_threshold, mean_over_labels, threshold_curve

DEFAULT_PROJECT, DEFAULT_VERSION = "project", "version"


def check_name(value: str, what: str) -> str:
    """Return ``value`` when it can name a file; else raise ValueError."""
    if not NAME_RE.fullmatch(value) or value in (".", ".."):
        raise ValueError(f"the {what} name {value!r} must be letters, digits, '_', '.' or '-'")
    return value


def evaluate_files(ground_truth: str, predictions: str, *, output_dir: str | None = None,
                   project: str = DEFAULT_PROJECT, version: str = DEFAULT_VERSION,
                   train: str | None = None, project_version_arn: str | None = None,
                   timestamp: str | None = None, backend: str = "auto") -> EvaluationResult:
    """Evaluate the predictions file against the test manifest; return the result.

    Args:
        ground_truth: the test manifest.
        predictions: DetectCustomLabels responses or an evaluation snapshot, one image a line.
        output_dir: where to write the summary file and the snapshot; nothing when None.
        project, version: the names in the output files' names.
        train: a training manifest whose valid lines are counted as NumberOfTrainingImages.
        project_version_arn: ProjectVersionArn for the summary (null when None).
        timestamp: EvaluationEndTimestamp and the snapshot's creation-date (now when None).
        backend: kernels and scanner, ``auto``, ``compiled`` or ``python`` (same results).
    """
    check_name(project, "project")
    check_name(version, "version")
    backend = choose_backend(backend)
    scanner_backend = "python" if backend == "python" else choose_scanner("auto")
    result = EvaluationResult(backend=backend, files={"ground_truth": ground_truth,
                                                    "predictions": predictions, "train": train})
    issues: list[IssueData] = []  # plain data while collected; typed in the result
    test = inputs.read_ground_truth(ground_truth, issues, scanner_backend)
    if test is None:
        return _finish(result, issues)
    preds = inputs.read_predictions(predictions, test, issues, backend)
    training_images = None if train is None else _count_training(train, issues, scanner_backend)
    _report_coverage(test, preds, issues)
    when = timestamp or datetime.now(timezone.utc).replace(tzinfo=None).isoformat(
        timespec="microseconds")

    result.use_case = test.use_case
    result.labels = list(test.labels)
    result.testing_images = len(test.images)
    extra = sorted(set(preds.names) - set(test.labels))
    class_ids = {name: i for i, name in enumerate([*test.labels, *extra])}
    if test.detection:
        factory, aggregate = _detection(test, preds, result, class_ids, when, backend)
    else:
        factory, aggregate = _classification(test, preds, result, class_ids, extra, when)
    result.snapshot_factory = factory
    result.precision = mean_over_labels([r.precision for r in result.per_label])
    result.recall = mean_over_labels([r.recall for r in result.per_label])
    result.f1 = mean_over_labels([r.f1 for r in result.per_label])
    result.summary = summary.build_summary(
        labels=result.labels, per_label=result.per_label, precision=result.precision,
        recall=result.recall, f1=result.f1, testing_images=result.testing_images,
        timestamp=when, project_version_arn=project_version_arn,
        training_images=training_images, **aggregate)
    if output_dir is not None:
        _write(result, issues, output_dir, project, version,
               [p for p in (ground_truth, predictions, train) if p is not None])
    return _finish(result, issues)


def _finish(result: EvaluationResult, issues: list[IssueData]) -> EvaluationResult:
    """Return ``result`` with the issues collected, typed."""
    from ..validation.report import Issue

    result.issues = [Issue.model_validate(issue) for issue in issues]
    return result


def _count_training(path: str, issues: list[IssueData], scanner_backend: str) -> int | None:
    """Return the valid lines of a training manifest: its training images."""
    scan = inputs.scan_manifest(path, "training manifest", issues, scanner_backend)
    return None if scan is None else int(scan.counts[0])


def _report_coverage(test: TestSet, preds: PredictionSet, issues: list[IssueData]) -> None:
    """Report testing images without predictions and labels only predicted."""
    missing = [image for i, image in enumerate(test.images) if i not in preds.lines]
    if missing:
        issues.append(make_issue(
            "WARNING_TEST_IMAGES_WITHOUT_PREDICTIONS", test.path, missing[0].line,
            arg=len(missing), detail=f"{len(missing)} of {len(test.images)}; the first is on "
                                     f"line {missing[0].line}",
            context={"images": len(missing), "testing_images": len(test.images),
                     "first_line": missing[0].line}))
    unknown = set(preds.names) - set(test.labels)
    if not unknown:
        return
    reported: set[str] = set()
    for image, (start, end) in preds.spans.items():  # in the order of the file
        for j in range(start, end):
            name = preds.names[j]
            if name in unknown and name not in reported:
                reported.add(name)
                issues.append(make_issue("WARNING_PREDICTED_LABEL_NOT_IN_TEST_DATASET",
                                         preds.path, preds.lines[image], preds.where[j],
                                         arg=repr(name), context={"label": name}))


def _label_result(name: str, images: int, n_gt: int, n_pred: int, curve: Any,
                  ap: float = float("nan"), ap50: float = float("nan")) -> LabelResult:
    point = assumed_threshold(curve)
    return LabelResult(name, images, n_gt, n_pred, point.threshold, point.precision,
                       point.recall, point.f1, point.true_positives, point.false_positives,
                       point.false_negatives, ap, ap50, curve)


def _detection(test: TestSet, preds: PredictionSet, result: EvaluationResult,
               class_ids: dict[str, int], when: str,
               backend: str) -> tuple[Callable[[], list[bytes]], dict[str, Any]]:
    """Score an object-detection test set; return the snapshot's maker and the aggregates."""
    n_labels, images = len(test.labels), test.images
    gt_image = [i for i, image in enumerate(images) for _ in image.boxes]
    gt_label = [class_ids[box[0]] for image in images for box in image.boxes]
    gt_box = [box[1:] for image in images for box in image.boxes]
    pred_class = np.array([class_ids[name] for name in preds.names], dtype=np.int64)
    pred_image = preds.image_of()
    known = pred_class < n_labels  # labels only predicted are false positives, matched to none
    data = DetectionData(test.labels, len(images), np.asarray(gt_image, dtype=np.int64),
                         np.asarray(gt_label, dtype=np.int64),
                         np.asarray(gt_box, dtype=np.float64).reshape(-1, 4),
                         pred_image[known], pred_class[known], preds.boxes[known],
                         preds.scores[known])
    evaluation = detection.evaluate(data, backend=backend)
    accumulation = detection.accumulate(evaluation, backend=backend)
    coco = detection.summarize(accumulation)
    result.coco, result.accumulation = coco, accumulation
    params = evaluation.params
    t = int(np.flatnonzero(params.iou_thresholds == IOU_THRESHOLD)[0])
    a = params.area_labels.index("all")
    matched, found = evaluation.matches.matched_at(a, t)

    images_per_label = np.zeros(n_labels, dtype=np.int64)
    if len(data.gt_label):
        pairs = np.unique(data.gt_label * len(images) + data.gt_image)
        images_per_label = np.bincount(pairs // len(images), minlength=n_labels)
    by_label = np.argsort(data.dt_label, kind="stable")
    starts = np.searchsorted(data.dt_label[by_label], np.arange(n_labels + 1))
    thresholds = np.full(len(class_ids), -np.inf)  # labels only predicted: always counted
    for k, name in enumerate(test.labels):
        members = by_label[starts[k]:starts[k + 1]]
        n_gt = int(evaluation.n_gt[k, a])
        curve = threshold_curve(data.dt_score[members], matched[members], n_gt)
        label = _label_result(name, int(images_per_label[k]), n_gt, len(members), curve,
                              float(coco.per_label_ap[k]), float(coco.per_label_ap50[k]))
        result.per_label.append(label)
        thresholds[k] = label.threshold

    present = np.zeros(len(pred_class), dtype=bool)
    present[known] = matched
    counted = preds.scores >= thresholds[pred_class]
    outcome = (2 * present + counted).astype(np.uint8)  # snapshot.outcome_index

    def lines() -> list[bytes]:
        """Return the snapshot's lines, one a testing image."""
        order = np.argsort(pred_image, kind="stable")  # image by image, each as listed
        offsets = np.searchsorted(pred_image[order], np.arange(len(images) + 1)).astype(np.int64)
        annotations, objects = kernels(backend).format_detections(
            pred_class[order], preds.scores[order], np.ascontiguousarray(preds.boxes[order]),
            outcome[order], [snapshot.details_texts(tuple(image.jobs)) for image in images],
            offsets)
        class_list = pred_class[order].tolist()
        score_list = preds.scores[order].tolist()
        hits = found.tolist()
        writer = snapshot.DetectionLines(list(class_ids), when)
        out, g = [], 0
        for i, image in enumerate(images):
            start, end = int(offsets[i]), int(offsets[i + 1])
            missed = [box for box, hit in zip(image.boxes, hits[g:g + len(image.boxes)])
                      if not hit]
            g += len(image.boxes)
            out.append(writer.line(image, annotations[i], objects[i],
                                   max(score_list[start:end], default=0.0),
                                   set(class_list[start:end]), missed))
        return out

    return lines, {"average_precision": float(coco.stats[0]),
                   "average_recall": float(coco.stats[8])}


def _classification(test: TestSet, preds: PredictionSet, result: EvaluationResult,
                    class_ids: dict[str, int], extra: list[str],
                    when: str) -> tuple[Callable[[], list[bytes]], dict[str, Any]]:
    """Score a classification test set; return the snapshot's maker and the aggregates."""
    n_labels = len(test.labels)
    truth = np.zeros((len(test.images), n_labels), dtype=bool)
    scores = np.full((len(test.images), len(class_ids)), np.nan)
    merged: dict[int, dict[str, float]] = {}  # image -> label -> highest confidence, as listed
    for i, image in enumerate(test.images):
        for name in image.classes:
            truth[i, class_ids[name]] = True
    for i, (start, end) in preds.spans.items():
        best = merged[i] = {}
        for name, score in zip(preds.names[start:end], preds.scores[start:end].tolist()):
            if score > best.get(name, 0.0):
                best[name] = score
        for name, score in best.items():
            scores[i, class_ids[name]] = score
    data = classification.ClassificationData(test.labels, extra, truth, scores)
    curves = classification.label_curves(data)
    thresholds = np.full(len(class_ids), -np.inf)  # labels only predicted: always counted
    for k, (name, curve) in enumerate(zip(test.labels, curves)):
        n_images = int(truth[:, k].sum())
        label = _label_result(name, n_images, n_images, int((~np.isnan(scores[:, k])).sum()),
                              curve)
        result.per_label.append(label)
        thresholds[k] = label.threshold
    result.multi_label = not data.single_label
    result.confusion_matrix = classification.confusion_matrix(data, thresholds[:n_labels])
    result.confusion_rows = [*test.labels, *extra]

    def lines() -> list[bytes]:
        """Return the snapshot's lines, one a testing image."""
        out = []
        for i, image in enumerate(test.images):
            best = merged.get(i, {})
            own = set(image.classes)
            flags = [(name in own, score >= thresholds[class_ids[name]])
                     for name, score in best.items()]
            missed = [name for name in image.classes if name not in best]
            out.append(snapshot.classification_line(image, list(best.items()), flags, missed,
                                                    class_ids, when))
        return out

    cells = summary.confusion_cells(test.labels, result.confusion_rows, result.confusion_matrix)
    return lines, {"confusion": cells}


def _write(result: EvaluationResult, issues: list[IssueData], output_dir: str, project: str,
           version: str, sources: list[str]) -> None:
    """Write the summary file and the snapshot, both or neither; never over an input."""
    directory = Path(output_dir)
    targets = [directory / summary.summary_name(project, version),
               directory / snapshot.snapshot_name(project, version)]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        inputs_ = {Path(p).resolve() for p in sources}
        for target in targets:
            if target.resolve() in inputs_:
                issues.append(make_issue(
                    "ERROR_EVALUATION_OUTPUT_NOT_WRITABLE", str(target),
                    detail="it is an input file; inputs are never overwritten",
                    context={"reason": "is_input", "output": str(target)}))
                return
        # the pair as one (issue 9): a new summary never sits beside an old snapshot; not
        # fsynced, as both can be made again from the inputs
        with replace_all(targets, durable=False) as (summary_out, snapshot_out):
            summary_out.write(dumps_document(result.summary))
            for line in result.snapshot_lines:
                snapshot_out.write(line)
                snapshot_out.write(b"\n")
    except OSError as exc:
        issues.append(make_issue("ERROR_EVALUATION_OUTPUT_NOT_WRITABLE",
                                 public_name(exc.filename) if exc.filename else output_dir,
                                 detail=os_error_text(exc, output_dir),
                                 context={"reason": "os_error", "error": exc.strerror or str(exc),
                                          "errno": exc.errno}))
        return
    result.outputs = [str(t) for t in targets]


__all__ = ["evaluate_files", "check_name"]
