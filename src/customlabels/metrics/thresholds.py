"""Assumed thresholds: the confidence at which a label's F1 on the test set is best.

The service sets each label's assumed threshold from "the best F1 score achieved on the test
dataset" (L8258-8264); a prediction counts at a threshold when its confidence is at least the
threshold. The candidates are the distinct confidences of the label's predictions, so the curve
holds the raw precision/recall points, one per candidate, with no interpolation.

* F1 is compared exactly, as ``2 TP / (TP + FP + N)`` over the counts (N ground-truth items),
  which is the harmonic mean of precision and recall and is 0 when TP is 0.
* Ties in F1: the highest threshold wins (the fewest predictions for the same F1).
* The F1 reported is the harmonic mean of the reported precision and recall, ``2PR / (P + R)``,
  as the guide computes it: this reproduces the guide's summary to the last bit (L8480-8505).
* A label with no prediction has no threshold: threshold and precision are NaN, recall and F1 0.

A prediction with confidence 0 is no prediction: it never counts at any threshold (the readers
drop it), which also makes the false negatives a snapshot records at confidence 0 inert when a
snapshot is evaluated again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ThresholdCurve:
    """Precision, recall and F1 at each candidate threshold of one label.

    Attributes:
        thresholds: (P,) the distinct confidences, decreasing.
        true_positives, false_positives: (P,) int64 predictions with confidence >= threshold
            that are right, wrong.
        n_positive: the label's ground-truth items (boxes, or images for classification).
        precision, recall, f1: (P,) float64 at each threshold.
    """

    thresholds: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    n_positive: int
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray


@dataclass(frozen=True)
class OperatingPoint:
    """A label's metrics at its assumed threshold (NaN threshold: the label has no prediction)."""

    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int


def f1_score(precision: float, recall: float) -> float:
    """Return the harmonic mean of precision and recall; 0 when both are 0 (L8311-8330)."""
    if precision != precision or recall != recall:  # NaN
        return 0.0 if recall == 0 else float("nan")
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def threshold_curve(scores: np.ndarray, positive: np.ndarray, n_positive: int) -> ThresholdCurve:
    """Return the raw precision/recall points of one label.

    Args:
        scores: (N,) confidences of the label's predictions, each in (0, 1].
        positive: (N,) bool, whether each prediction is right (a true positive when counted).
        n_positive: the label's ground-truth items.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    scores, positive = scores[order], positive[order]
    tp = np.cumsum(positive, dtype=np.int64)
    fp = np.arange(1, len(scores) + 1, dtype=np.int64) - tp
    # a threshold counts every prediction at or above it: the last of each run of equal scores
    last = np.flatnonzero(np.append(scores[1:] != scores[:-1], True)) if len(scores) else (
        np.zeros(0, dtype=np.int64))
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / n_positive if n_positive else np.full(len(tp), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
    return ThresholdCurve(scores[last], tp, fp, n_positive, precision, recall, f1)


def assumed_threshold(curve: ThresholdCurve) -> OperatingPoint:
    """Return the point of best F1 on ``curve``; on ties, the highest threshold."""
    n = curve.n_positive
    if len(curve.thresholds) == 0:
        return OperatingPoint(float("nan"), float("nan"), 0.0 if n else float("nan"), 0.0,
                              0, 0, n)
    # exact F1 from the counts: 2 TP / (TP + FP + N); distinct fractions of counts below 2**26
    # differ by more than a float64 rounding, equal ones round alike, so argmax is exact
    exact = 2 * curve.true_positives / (curve.true_positives + curve.false_positives + n)
    best = int(np.argmax(exact))  # the first maximum: thresholds decrease, so the highest
    tp, fp = int(curve.true_positives[best]), int(curve.false_positives[best])
    precision = tp / (tp + fp)
    recall = tp / n if n else float("nan")
    return OperatingPoint(float(curve.thresholds[best]), precision, recall,
                          f1_score(precision, recall), tp, fp, n - tp)


def mean_over_labels(values: list[float]) -> float:
    """Return the mean of per-label values, leaving out NaN (a label with no prediction).

    The guide's aggregates are exactly these means (L8438-8510: e.g. Precision 0.97191... is the
    mean of 0.98195... and 0.96186...).
    """
    kept = [v for v in values if v == v]
    return sum(kept) / len(kept) if kept else float("nan")
