"""Assumed thresholds, precision/recall/F1, aggregates and the confusion matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest

from customlabels.metrics.classification import (ClassificationData, confusion_matrix,
                                                 label_curves)
from customlabels.metrics.thresholds import (assumed_threshold, f1_score, mean_over_labels,
                                             threshold_curve)

NAN = float("nan")


def test_f1_examples_of_the_guide() -> None:
    # L8321-8327: P 0.9, R 1.0 -> 0.947; P 0.30, R 1.0 -> 0.46; P 0.95, R 0.20 -> 0.33
    assert round(f1_score(0.9, 1.0), 3) == 0.947
    assert round(f1_score(0.30, 1.0), 2) == 0.46
    assert round(f1_score(0.95, 0.20), 2) == 0.33
    assert f1_score(0.0, 0.0) == 0.0
    assert f1_score(NAN, 0.0) == 0.0


def test_precision_example_of_the_guide() -> None:
    # L8286-8289: 9 predictions, 8 right -> 0.89; L8304-8306: 8 balls, 5 found -> 0.62
    curve = threshold_curve(np.full(9, 0.8), np.array([True] * 8 + [False]), 8)
    point = assumed_threshold(curve)
    assert round(point.precision, 2) == 0.89 and point.recall == 1.0
    point = assumed_threshold(threshold_curve(np.full(5, 0.8), np.ones(5, bool), 8))
    assert round(point.recall, 2) == 0.62


def test_curve_has_one_point_per_distinct_confidence() -> None:
    scores = np.array([0.9, 0.8, 0.8, 0.8, 0.5, 0.3])
    positive = np.array([True, False, True, True, False, True])
    curve = threshold_curve(scores, positive, 5)
    # a prediction counts at a threshold when its confidence is at least the threshold
    assert curve.thresholds.tolist() == [0.9, 0.8, 0.5, 0.3]
    assert curve.true_positives.tolist() == [1, 3, 3, 4]
    assert curve.false_positives.tolist() == [0, 1, 2, 2]
    assert curve.recall.tolist() == [0.2, 0.6, 0.6, 0.8]
    assert curve.precision.tolist() == [1.0, 0.75, 0.6, 4 / 6]


def test_best_f1_and_its_ties() -> None:
    # F1 = 2TP / (TP + FP + N): at 0.9 -> 2/6, at 0.8 -> 6/10, at 0.5 -> 6/11, at 0.3 -> 8/12
    curve = threshold_curve(np.array([0.9, 0.8, 0.8, 0.8, 0.5, 0.3]),
                            np.array([True, False, True, True, False, True]), 5)
    point = assumed_threshold(curve)
    assert point.threshold == 0.3
    assert (point.true_positives, point.false_positives, point.false_negatives) == (4, 2, 1)
    assert point.f1 == f1_score(4 / 6, 4 / 5)
    # two thresholds with the same F1, 2 / (1 + 0 + 2) at 0.9 and 4 / (2 + 2 + 2) at 0.6: the
    # highest wins
    tied = threshold_curve(np.array([0.9, 0.8, 0.7, 0.6]),
                           np.array([True, False, False, True]), 2)
    exact = [2 * tp / (tp + fp + 2) for tp, fp in zip(tied.true_positives, tied.false_positives)]
    assert exact[0] == exact[3] == 2 / 3 and max(exact) == 2 / 3
    assert assumed_threshold(tied).threshold == 0.9


def test_label_without_prediction() -> None:
    point = assumed_threshold(threshold_curve(np.zeros(0), np.zeros(0, bool), 4))
    assert math.isnan(point.threshold) and math.isnan(point.precision)
    assert (point.recall, point.f1, point.false_negatives) == (0.0, 0.0, 4)


def test_only_wrong_predictions() -> None:
    point = assumed_threshold(threshold_curve(np.array([0.9, 0.2]), np.zeros(2, bool), 3))
    assert point.threshold == 0.9 and point.precision == 0.0 and point.f1 == 0.0


def test_aggregates_of_the_guide_summary() -> None:
    """The guide's aggregates (L8472-8474) are the means of its per-label numbers (L8489-8504)."""
    precision = [0.9819587628865979, 0.961864406779661]
    recall = [0.9769230769230769, 0.9700854700854701]
    f1 = [0.9794344473007711, 0.9659574468085106]
    assert mean_over_labels(precision) == 0.9719115848331294
    assert mean_over_labels(recall) == 0.9735042735042735
    assert mean_over_labels(f1) == 0.9726959470546408
    # and each label's F1 is the harmonic mean of its precision and recall
    assert [f1_score(p, r) for p, r in zip(precision, recall)] == f1
    assert mean_over_labels([0.5, NAN]) == 0.5 and math.isnan(mean_over_labels([NAN]))


def rooms() -> ClassificationData:
    """Twelve single-label images of three rooms, each predicted with every label."""
    labels = ["bathroom", "bedroom", "kitchen"]
    truth_names = ["bathroom"] * 3 + ["bedroom"] * 5 + ["kitchen"] * 4
    # the top prediction of each image: 2/3 bathrooms right (one taken for a kitchen), ...
    top = ["bathroom", "bathroom", "kitchen", "bedroom", "bedroom", "bedroom", "bedroom",
           "bathroom", "kitchen", "kitchen", "kitchen", "bedroom"]
    truth = np.array([[name == label for label in labels] for name in truth_names])
    scores = np.full((12, 3), 0.1)
    for i, name in enumerate(top):
        scores[i, labels.index(name)] = 0.9
    return ClassificationData(labels, [], truth, scores)


def test_confusion_matrix_single_label() -> None:
    data = rooms()
    assert data.single_label
    matrix = confusion_matrix(data, np.full(3, 0.5))
    # columns: ground truth; rows: predicted (as the guide's Rooms table, L8725-8790)
    assert matrix.tolist() == [[2 / 3, 1 / 5, 0.0], [0.0, 4 / 5, 1 / 4], [1 / 3, 0.0, 3 / 4]]
    assert matrix.sum(axis=0).tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_confusion_matrix_multi_label_uses_thresholds() -> None:
    labels = ["flower", "leaves"]
    truth = np.array([[True, True], [True, False], [False, True]])
    scores = np.array([[0.9, 0.4], [0.8, 0.7], [NAN, 0.6]])
    data = ClassificationData(labels, [], truth, scores)
    assert not data.single_label
    matrix = confusion_matrix(data, np.array([0.5, 0.5]))
    # flower images: both predicted flower, one predicted leaves; leaves images: ...
    assert matrix.tolist() == [[1.0, 0.5], [0.5, 0.5]]


def test_confusion_matrix_rows_for_labels_only_predicted() -> None:
    labels = ["cat", "dog"]
    truth = np.array([[True, False], [False, True]])
    scores = np.array([[0.9, NAN, 0.95], [NAN, 0.8, NAN]])  # column 2: "fox", not in the truth
    data = ClassificationData(labels, ["fox"], truth, scores)
    assert confusion_matrix(data, np.array([0.5, 0.5])).tolist() == [[0.0, 0.0], [0.0, 1.0],
                                                                     [1.0, 0.0]]


def test_classification_curves() -> None:
    curves = label_curves(rooms())
    bathroom = assumed_threshold(curves[0])
    # bathroom predicted at 0.9 on 3 images (2 right), at 0.1 on the 9 others (1 right)
    assert (bathroom.threshold, bathroom.true_positives, bathroom.false_positives) == (0.9, 2, 1)
