"""Image-level classification metrics: per-label outcomes and the confusion matrix.

Each label is scored on its own over the testing images (L8213-8246): an image that has the label
and is predicted with it is a true positive, one predicted with it without having it a false
positive; the assumed threshold and the metrics at it come from ``thresholds``. This holds for
single-label and multi-label models alike (L2314-2341).

The confusion matrix (L8725-8790) is for classification only. Rows are predicted labels, columns
ground-truth labels, and a cell is the fraction of the testing images of the column's label that
were predicted as the row's label:

* single-label (every testing image has exactly one label, L2404): an image is predicted as its
  highest-confidence label, whatever the threshold, so each column sums to 1 when every image has
  a prediction (the guide's Rooms table); on equal confidence, the label first in the label order;
* multi-label: an image is predicted as every label at or above that label's assumed threshold,
  so a column may sum to more or less than 1.

Labels predicted but absent from the ground truth have rows of their own in single-label
matrices (they are confusions too); in multi-label ones they have no threshold and no row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .thresholds import ThresholdCurve, threshold_curve


@dataclass
class ClassificationData:
    """A classification test set as arrays.

    Attributes:
        labels: the K ground-truth labels (columns of ``truth``).
        extra_labels: the U labels only predicted (columns K.. of ``scores``).
        truth: (N, K) bool, whether image ``i`` has label ``k``.
        scores: (N, K + U) float64, the confidence with which image ``i`` is predicted with a
            label, in (0, 1]; NaN where it is not (the highest when predicted twice).
    """

    labels: list[str]
    extra_labels: list[str]
    truth: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.truth = np.asarray(self.truth, dtype=bool)
        self.scores = np.asarray(self.scores, dtype=np.float64)
        n, k = len(self.truth), len(self.labels)
        if self.truth.shape != (n, k) or self.scores.shape != (n, k + len(self.extra_labels)):
            raise ValueError("truth must be (N, K) and scores (N, K + U)")

    @property
    def single_label(self) -> bool:
        """Tell whether every testing image has exactly one label."""
        return bool(np.all(self.truth.sum(axis=1) == 1))


def label_curves(data: ClassificationData) -> list[ThresholdCurve]:
    """Return each ground-truth label's precision/recall points over the testing images."""
    curves = []
    for k in range(len(data.labels)):
        predicted = ~np.isnan(data.scores[:, k])
        curves.append(threshold_curve(data.scores[predicted, k], data.truth[predicted, k],
                                      int(data.truth[:, k].sum())))
    return curves


def confusion_matrix(data: ClassificationData, thresholds: np.ndarray) -> np.ndarray:
    """Return the (K + U, K) matrix: predicted label (row) by ground-truth label (column).

    Args:
        data: the test set.
        thresholds: (K,) the assumed thresholds (NaN: the label is never predicted); used for
            multi-label sets only.

    Returns:
        (K + U, K) float64 fractions of each column's testing images.
    """
    n_images, k = data.truth.shape
    rows = data.scores.shape[1]
    if data.single_label:
        predicted = np.zeros((n_images, rows), dtype=bool)
        has = ~np.all(np.isnan(data.scores), axis=1)
        top = np.argmax(np.where(np.isnan(data.scores), -np.inf, data.scores), axis=1)
        predicted[np.flatnonzero(has), top[has]] = True
    else:
        predicted = np.zeros((n_images, rows), dtype=bool)
        with np.errstate(invalid="ignore"):
            predicted[:, :k] = data.scores[:, :k] >= np.asarray(thresholds)[None, :]
    counts = predicted.T.astype(np.int64) @ data.truth.astype(np.int64)
    per_label = data.truth.sum(axis=0)
    return counts / np.maximum(per_label, 1)[None, :]
