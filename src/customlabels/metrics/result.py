"""The result of an evaluation: per-label metrics, aggregates, curves and the two documents."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..issues import IssueViews
from ..validation.report import Issue
from .detection import CocoSummary, DetectionAccumulation
from .thresholds import ThresholdCurve


def jsonable(value: Any) -> Any:
    """Return ``value`` with numpy scalars as Python numbers and NaN as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass
class LabelResult:
    """One label's metrics at its assumed threshold.

    Attributes:
        label: the label.
        testing_images: testing images with the label.
        ground_truth: its ground-truth items: boxes for detection, images for classification.
        predictions: its predictions (confidence above 0).
        threshold: the assumed threshold, 0-1 (NaN: the label has no prediction).
        precision, recall, f1: at the threshold (precision NaN without a prediction).
        true_positives, false_positives, false_negatives: counts at the threshold.
        average_precision: COCO AP at IoU 0.50:0.95 (detection; NaN for classification).
        average_precision_50: COCO AP at IoU 0.5 (detection; NaN for classification).
        curve: the raw precision/recall points the threshold was chosen from.
    """

    label: str
    testing_images: int
    ground_truth: int
    predictions: int
    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    average_precision: float
    average_precision_50: float
    curve: ThresholdCurve

    def as_dict(self) -> dict[str, Any]:
        """Return the metrics as plain data (no curve; NaN as None)."""
        return jsonable({
            "label": self.label, "testing_images": self.testing_images,
            "ground_truth": self.ground_truth, "predictions": self.predictions,
            "threshold": self.threshold, "precision": self.precision, "recall": self.recall,
            "f1": self.f1, "true_positives": self.true_positives,
            "false_positives": self.false_positives, "false_negatives": self.false_negatives,
            "average_precision": self.average_precision,
            "average_precision_50": self.average_precision_50})


@dataclass
class EvaluationResult(IssueViews):
    """Everything an evaluation computed; fields are empty or None when it could not run.

    Attributes:
        use_case: ``OBJECT_LOCALIZATION`` or ``IMAGE_LEVEL_LABELS`` (None: nothing evaluated).
        multi_label: for classification, whether some testing image has several labels.
        labels: the ground-truth labels, sorted.
        per_label: one :class:`LabelResult` a label, in ``labels`` order.
        precision, recall, f1: the means over the labels (L8438-8510); a label without any
            prediction has no precision and is left out of that mean.
        testing_images: the testing images evaluated.
        coco: detection only: COCO's twelve statistics and per-label AP.
        accumulation: detection only: COCO's precision (T, R, K, A, M) and recall (T, K, A, M).
        confusion_matrix: classification only: (K + U, K) fractions, predicted label (row,
            ``confusion_rows``) by ground-truth label (column, ``labels``).
        confusion_rows: the row labels: ``labels`` then labels only predicted.
        summary: the ``EvaluationSummary`` document (L9006-9086).
        snapshot_lines: the evaluation manifest snapshot, one JSON Line a testing image (made
            on first use).
        issues: every problem found, as :class:`customlabels.Issue` (code, severity, scope,
            file, line, path, message, detail and context), as in a validation report.
        outputs: the files written.
        backend: the kernels used, ``compiled`` or ``python``.
        files: the input files.
    """

    use_case: str | None = None
    multi_label: bool | None = None
    labels: list[str] = field(default_factory=list)
    per_label: list[LabelResult] = field(default_factory=list)
    precision: float = float("nan")
    recall: float = float("nan")
    f1: float = float("nan")
    testing_images: int = 0
    coco: CocoSummary | None = None
    accumulation: DetectionAccumulation | None = None
    confusion_matrix: np.ndarray | None = None
    confusion_rows: list[str] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    snapshot_factory: Callable[[], list[bytes]] | None = field(default=None, repr=False)
    issues: list[Issue] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    backend: str = "python"
    files: dict[str, str | None] = field(default_factory=dict)
    _snapshot: list[bytes] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def snapshot_lines(self) -> list[bytes]:
        """Return the snapshot's lines (built on first use: it can be large)."""
        if self._snapshot is None:
            self._snapshot = [] if self.snapshot_factory is None else self.snapshot_factory()
        return self._snapshot

    @property
    def ok(self) -> bool:
        """Tell whether the evaluation ran without any error in its inputs."""
        return self.summary is not None and not any(
            i.severity == "error" for i in self.issues)

    def label(self, name: str) -> LabelResult:
        """Return the result of label ``name`` (KeyError when it is not a testing label)."""
        for result in self.per_label:
            if result.label == name:
                return result
        raise KeyError(name)

    def snapshot(self) -> Iterator[dict[str, Any]]:
        """Yield the snapshot's lines as objects."""
        for line in self.snapshot_lines:
            yield json.loads(line)

    def as_dict(self) -> dict[str, Any]:
        """Return the report document: plain data, NaN as None (what ``--format json`` prints)."""
        coco = None
        if self.coco is not None:
            coco = {"stats": self.coco.as_dict(),
                    "per_label_ap": dict(zip(self.labels, self.coco.per_label_ap.tolist()))}
        return jsonable({
            "ok": self.ok, "backend": self.backend, "files": self.files,
            "use_case": self.use_case, "multi_label": self.multi_label,
            "testing_images": self.testing_images, "labels": self.labels,
            "precision": self.precision, "recall": self.recall, "f1": self.f1,
            "per_label": [r.as_dict() for r in self.per_label], "coco": coco,
            "summary": self.summary, "issues": [i.model_dump() for i in self.issues],
            "outputs": self.outputs})
