"""The evaluation manifest snapshot (L8511-8672): each testing line with its predictions.

Each line of the test manifest that was evaluated is copied as it was, with the predictions added
as label attributes in SageMaker Ground Truth's format, each prediction carrying
``rekognition-custom-labels-evaluation-details`` (L8526-8551):

* object detection: one attribute ``rekognition-custom-labels-evaluation`` holding the predicted
  boxes in pixels (``annotations``, ``image_size`` as the ground truth's) and its metadata with one
  ``objects`` entry a box (L8588-8670);
* classification: one attribute ``rekognition-custom-labels-evaluation-<n>`` a predicted label,
  its value the label's class id (L8556-8586).

The outcome of a prediction is taken at its label's assumed threshold: counted (confidence at or
above it) and present in the ground truth is a true positive, counted and absent a false positive,
not counted and present a false negative, neither a true negative. ``is-present-in-ground-truth``
says whether the ground truth has it regardless of the threshold (L8541-8544): for a box, whether
it matched a ground-truth box at IoU 0.5. Ground truth no prediction found appears as a false
negative with confidence 0 (a box: the ground-truth box itself; a label: the label). Predictions
of labels absent from the testing dataset have no threshold: they are false positives.
``ground-truth-labelling-jobs`` lists the ``job-name`` of the line's ground-truth attributes (the
attribute's name when it has none), as the guide's example shows (L8546-8547, L8578).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from ..manifest.writer import dumps_line
from ..manifest.schema import CLASSIFICATION, DETECTION
from .inputs import EVALUATION_PREFIX, TestImage

#: The details' format version (L8529, L8538-8539).
DETAILS_VERSION = 1
#: The job name the guide's snapshot gives the evaluation attributes (L8571, L8647).
EVALUATION_JOB = "rekognition-custom-labels-evaluation-job"
DETAILS_KEY = "rekognition-custom-labels-evaluation-details"
_ANNOTATIONS_HEAD = f', "{EVALUATION_PREFIX}": {{"annotations": ['.encode()


def snapshot_name(project: str, version: str) -> str:
    """Return the snapshot's file name (ours: the guide names only the summary file)."""
    return f"EvaluationManifestSnapshot-{project}-{version}.manifest"


@lru_cache(maxsize=4096)
def _text(value: str) -> str:
    """Return a JSON string, UTF-8 where it can be (lone surrogates are escaped)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def outcome_index(present: bool, counted: bool) -> int:
    """Return the index of a (present, counted) outcome in :func:`details_texts`."""
    return 2 * present + counted


@lru_cache(maxsize=256)
def details_texts(jobs: tuple[str, ...]) -> tuple[bytes, bytes, bytes, bytes]:
    """Return the details object of each outcome, by :func:`outcome_index`, for these jobs."""
    listed = "[" + ", ".join(_text(job) for job in jobs) + "]"
    out = []
    for present in (False, True):
        for counted in (False, True):
            flags = {"is-true-positive": present and counted,
                     "is-true-negative": not present and not counted,
                     "is-false-positive": not present and counted,
                     "is-false-negative": present and not counted,
                     "is-present-in-ground-truth": present}
            out.append((f'{{"version": {DETAILS_VERSION}, "ground-truth-labelling-jobs": '
                        f"{listed}, "
                        + ", ".join(f'"{k}": {"true" if v else "false"}' for k, v in flags.items())
                        + "}").encode("utf-8"))
    return out[0], out[1], out[2], out[3]


def _body(image: TestImage) -> bytes:
    """Return the ground-truth line without its closing brace (earlier evaluations dropped)."""
    if image.has_evaluation:
        obj: dict[str, Any] = json.loads(image.raw)
        kept = {k: v for k, v in obj.items() if not k.startswith(EVALUATION_PREFIX)}
        return dumps_line(kept)[:-1]
    return image.raw.strip(b" \t\r\n")[:-1].rstrip()


class DetectionLines:
    """Writes the snapshot lines of an object-detection test set; constant parts rendered once.

    Args:
        labels: every label by class id (the testing labels, then labels only predicted).
        timestamp: the evaluation's time, for ``creation-date``.
    """

    def __init__(self, labels: list[str], timestamp: str):
        self.class_ids = {name: i for i, name in enumerate(labels)}
        self.entries = [f'"{i}": {_text(name)}' for i, name in enumerate(labels)]
        self.tail = (f'], "creation-date": {_text(timestamp)}, '
                     f'"type": "{DETECTION}"}}}}').encode("utf-8")
        self.sizes: dict[tuple[tuple[str, Any], ...], str] = {}

    def line(self, image: TestImage, annotations: bytes, objects: bytes, top_score: float,
             used: set[int], missed: list[tuple[str, Any, Any, Any, Any]]) -> bytes:
        """Return one snapshot line.

        Args:
            image: the testing image.
            annotations, objects: its predictions' array items, as
                ``kernels.format_detections`` writes them (empty when it has none).
            top_score: its highest confidence (0 when it has no prediction).
            used: the class ids of its predictions.
            missed: the ground-truth boxes (label, left, top, width, height) nothing matched.
        """
        all_annotations = [annotations] if annotations else []
        all_objects = [objects] if objects else []
        if missed:
            used = set(used)
            details = details_texts(tuple(image.jobs))[outcome_index(True, False)].decode()
            for name, left, top, width, height in missed:
                class_id = self.class_ids[name]
                used.add(class_id)
                all_annotations.append(
                    f'{{"class_id": {class_id}, "width": {width!r}, "top": {top!r}, '
                    f'"height": {height!r}, "left": {left!r}}}'.encode())
                all_objects.append(f'{{"confidence": 0.0, "{DETAILS_KEY}": {details}}}'.encode())
        key = tuple(image.image_size.items()) if image.image_size else ()
        size = self.sizes.get(key)
        if size is None:
            size = self.sizes[key] = json.dumps(image.image_size, ensure_ascii=False)
        listed = ", ".join([self.entries[i] for i in sorted(used)])
        middle = (f'], "image_size": [{size}]}}, "{EVALUATION_PREFIX}-metadata": {{'
                  f'"confidence": {top_score!r}, "job-name": "{EVALUATION_JOB}", '
                  f'"class-map": {{{listed}}}, "human-annotated": "no", "objects": [')
        return b"".join((_body(image), _ANNOTATIONS_HEAD, b", ".join(all_annotations),
                         middle.encode("utf-8"), b", ".join(all_objects), self.tail))


def classification_line(image: TestImage, predictions: list[tuple[str, float]],
                        flags: list[tuple[bool, bool]], missed: list[str],
                        class_ids: dict[str, int], timestamp: str) -> bytes:
    """Return one snapshot line of a classification test set.

    Args:
        image: the testing image.
        predictions: (label, confidence 0-1), each label once, as listed.
        flags: (present, counted) of each prediction.
        missed: the image's ground-truth labels that were not predicted.
        class_ids: label -> class id.
        timestamp: the evaluation's time, for ``creation-date``.
    """
    details = details_texts(tuple(image.jobs))
    entries = [(name, score, present, counted)
               for (name, score), (present, counted) in zip(predictions, flags)]
    entries += [(name, 0.0, True, False) for name in missed]
    parts = []
    for n, (name, score, present, counted) in enumerate(entries):
        key = f"{EVALUATION_PREFIX}-{n}"
        parts.append(
            f', "{key}": {class_ids[name]}, "{key}-metadata": {{"confidence": {score!r}, '
            f'"job-name": "{EVALUATION_JOB}", "class-name": {_text(name)}, '
            f'"human-annotated": "no", "creation-date": {_text(timestamp)}, '
            f'"type": "{CLASSIFICATION}", "{DETAILS_KEY}": '
            f'{details[outcome_index(present, counted)].decode()}}}')
    return _body(image) + ("".join(parts) + "}").encode("utf-8")
