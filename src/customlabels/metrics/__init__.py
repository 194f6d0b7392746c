"""Model evaluation: IoU, matching, assumed thresholds, precision/recall/F1, mAP/mAR, outputs.

Modules: ``iou`` (boxes and their overlap), ``matching`` (greedy matching by confidence),
``thresholds`` (assumed thresholds and the raw precision/recall points), ``classification``
(per-label outcomes, confusion matrix), ``detection`` (COCO mAP/mAR: evaluate -> accumulate ->
summarize), ``summary`` and ``snapshot`` (the two output documents), ``inputs`` (reading the test
manifest and the predictions) and ``backend`` (all of it, in order).
"""

from __future__ import annotations

import os

from .evaluation import DEFAULT_PROJECT, DEFAULT_VERSION, evaluate_files
from .result import EvaluationResult, LabelResult


def evaluate(ground_truth: str | os.PathLike[str], predictions: str | os.PathLike[str], *,
             output_dir: str | os.PathLike[str] | None = None, project: str = DEFAULT_PROJECT,
             version: str = DEFAULT_VERSION, train: str | os.PathLike[str] | None = None,
             project_version_arn: str | None = None, timestamp: str | None = None,
             backend: str = "auto") -> EvaluationResult:
    """Evaluate predictions against a test manifest, as the service tests a model.

    Args:
        ground_truth: the test manifest (SageMaker Ground Truth format).
        predictions: a JSON Lines file of DetectCustomLabels responses, each with the image's
            ``source-ref``, or an evaluation manifest snapshot.
        output_dir: where to write ``EvaluationSummary-<project>-<version>.json`` and
            ``EvaluationManifestSnapshot-<project>-<version>.manifest``; nothing when None.
        project, version: the names in those file names (letters, digits, ``_.-``).
        train: a training manifest, to fill NumberOfTrainingImages.
        project_version_arn: ProjectVersionArn for the summary file.
        timestamp: EvaluationEndTimestamp (the current UTC time when None).
        backend: ``auto`` (the compiled kernels when built), ``compiled`` or ``python``.

    Returns:
        The result; problems in the inputs never raise, they are in ``result.issues``.
    """
    def path(value: str | os.PathLike[str] | None) -> str | None:
        """Return ``value`` as a string path, None kept."""
        return None if value is None else os.fspath(value)

    return evaluate_files(os.fspath(ground_truth), os.fspath(predictions),
                          output_dir=path(output_dir), project=project, version=version,
                          train=path(train), project_version_arn=project_version_arn,
                          timestamp=timestamp, backend=backend)


__all__ = ["EvaluationResult", "LabelResult", "evaluate"]
