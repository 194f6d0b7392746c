"""The summary file, ``EvaluationSummary-<project>-<version>.json`` (L9006-9086).

Its shape is the guide's reference (L9040-9085), key for key: ``Version``, ``EvaluationDetails``,
``AggregatedEvaluationResults.Metrics`` (precision, recall and F1 as means over the labels; mAP
and mAR for object detection; the confusion matrix for classification) and
``LabelEvaluationResults`` sorted by F1, best first (L9034-9036; ties by label). The guide's
example (L8447-8509) puts the aggregated metrics directly under ``AggregatedEvaluationResults``;
we follow the reference, which names the object ``Metrics``.

``AveragePrecision`` is COCO's AP at IoU 0.50:0.95 and ``AverageRecall`` COCO's AR at 100
predictions an image. Values the test set cannot give are ``null``: a label's threshold and
precision when it has no prediction, ``ProjectVersionArn`` and ``NumberOfTrainingImages`` unless
given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .result import LabelResult, jsonable

#: The summary's format version, as in the guide's example (L8448).
VERSION = 1


def summary_name(project: str, version: str) -> str:
    """Return the summary's file name (L9038-9039)."""
    return f"EvaluationSummary-{project}-{version}.json"


def confusion_cells(labels: list[str], rows: list[str],
                    matrix: np.ndarray) -> list[dict[str, Any]]:
    """Return the matrix as the summary's cells, by ground-truth then predicted label.

    Every pair of testing labels has a cell, zeros included (as in L8450-8470); a label only
    predicted has cells where it is not zero.
    """
    cells = []
    for g, truth in enumerate(labels):
        for r, predicted in enumerate(rows):
            value = float(matrix[r, g])
            if r < len(labels) or value:
                cells.append({"GroundTruthLabel": truth, "PredictedLabel": predicted,
                              "Value": value})
    return cells


def build_summary(*, labels: list[str], per_label: list[LabelResult], precision: float,
                  recall: float, f1: float, testing_images: int, timestamp: str,
                  project_version_arn: str | None, training_images: int | None,
                  average_precision: float | None = None, average_recall: float | None = None,
                  confusion: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return the summary document; NaN values become null."""
    metrics: dict[str, Any] = {"Precision": precision, "Recall": recall, "F1Score": f1}
    if confusion is None:
        metrics["AveragePrecision"] = average_precision
        metrics["AverageRecall"] = average_recall
    else:
        metrics["ConfusionMatrix"] = confusion
    ranked = sorted(per_label, key=lambda r: (-r.f1, r.label))
    return jsonable({
        "Version": VERSION,
        "EvaluationDetails": {
            "ProjectVersionArn": project_version_arn,
            "EvaluationEndTimestamp": timestamp,
            "Labels": labels,
            "NumberOfTrainingImages": training_images,
            "NumberOfTestingImages": testing_images,
        },
        "AggregatedEvaluationResults": {"Metrics": metrics},
        "LabelEvaluationResults": [
            {"Label": r.label, "NumberOfTestingImages": r.testing_images,
             "Metrics": {"Threshold": r.threshold, "Precision": r.precision,
                         "Recall": r.recall, "F1Score": r.f1}}
            for r in ranked],
    })
