"""Read the ground truth (a test manifest) and the predictions of an evaluation.

Ground truth: the test manifest is checked line by line with the validator's scanner (the
compiled core where built); only the lines it finds valid are testing images, as only usable
images are in the service's snapshot (L8518-8520), and the validator's findings are reported.
Boxes the validator faults (off the frame, too small) and labels with invalid names are left out
of a valid line. The use case is the validator's (the kind with more valid lines); a line with no
label of that kind is not evaluated. Label attributes named ``rekognition-custom-labels-evaluation
...`` are predictions of an earlier evaluation, not ground truth: they are left out.

Predictions: a JSON Lines file, one image a line, each line either

* a DetectCustomLabels response with the image's ``source-ref``: ``{"source-ref", "CustomLabels":
  [{"Name", "Confidence" (0-100), "Geometry": {"BoundingBox": {"Width", "Height", "Left",
  "Top"}} (ratios of the image)}]}`` (L1577-1606, L10287-10352); or
* a line of an evaluation manifest snapshot (L8553-8672), ours or the service's: its
  ``rekognition-custom-labels-evaluation*`` attributes are the predictions (confidence 0-1, boxes
  in pixels of the attribute's ``image_size``).

Every box ends up in pixels of the ground truth's ``image_size`` (see ``iou``); confidences in
0..1. A prediction with confidence 0 is no prediction and is dropped (``thresholds``). Problems
are collected, never raised: each is an issue naming the file, the 1-based line and the JSON path.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..issues import make_issue, make_line_issue
from ..limits import MAX_DEPTH, MAX_LABEL_NAME, MAX_LINE_BYTES, MIN_LABEL_NAME
from ..manifest.jsonline import json_error_text, too_deep, unique_pairs, value_error_text
from ..manifest.reader import iter_lines
from ..manifest.schema import (CLASSIFICATION, DETECTION, EVALUATION_PREFIX, VALID, Finding,
                               attribute_pairs, attribute_type, label_name_ok, usable_boxes,
                               usable_classes)
from ..validation.dataset import CLASSIFICATION_USE, DETECTION_USE, use_case_of
from ..validation.scan import ScanResult, choose_backend, scan
from .kernels import choose_backend as choose_kernels
from .kernels import kernels

#: DetectCustomLabels confidences are percentages; metrics use 0-1 (L8344-8345, L10324-10328).
PERCENT = 100.0
#: A test manifest is read whole: the row limit of a dataset (L3687-3690) is the validator's.
_NO_ROW_LIMIT = 1 << 62
_BOX_KEYS = ("Left", "Top", "Width", "Height")
_PIXEL_KEYS = ("left", "top", "width", "height")

#: An issue as plain data (:func:`customlabels.issues.make_issue`); the result types hold
#: them as :class:`customlabels.Issue`.
IssueData = dict[str, Any]
#: The findings of a line without any (shared, never changed).
_NO_FINDINGS: list[Finding] = []


@dataclass
class TestImage:
    """One testing image: a valid line of the test manifest.

    Attributes:
        line: its 1-based line number.
        source_ref: the image.
        raw: the line as read (copied into the snapshot).
        has_evaluation: the line holds evaluation attributes, which the snapshot replaces.
        jobs: the labelling jobs (``job-name``, else the attribute's name) of its labels.
        image_size: the ``image_size[0]`` object of its first object-detection attribute.
        classes: its image-level labels, each once, in order.
        boxes: its ground-truth boxes as (label, left, top, width, height) in pixels, the
            numbers as the manifest writes them.
    """

    line: int
    source_ref: str
    raw: bytes
    has_evaluation: bool
    jobs: list[str]
    image_size: dict[str, Any] | None
    classes: list[str]
    boxes: list[tuple[str, float, float, float, float]]

    @property
    def size(self) -> tuple[float, float]:
        """Return (width, height) in pixels; (0, 0) for an image without boxes."""
        if self.image_size is None:
            return 0.0, 0.0
        return float(self.image_size["width"]), float(self.image_size["height"])


@dataclass
class TestSet:
    """The usable testing images of a test manifest.

    Attributes:
        path: the manifest.
        use_case: ``IMAGE_LEVEL_LABELS`` or ``OBJECT_LOCALIZATION`` (the validator's names).
        images: the testing images, in manifest order.
        index: source-ref -> position in ``images``.
        labels: the labels with a testing image, sorted.
    """

    path: str
    use_case: str
    images: list[TestImage]
    index: dict[str, int]
    labels: list[str]

    @property
    def detection(self) -> bool:
        """Tell whether this is an object-detection test set."""
        return self.use_case == DETECTION_USE


@dataclass
class PredictionSet:
    """The predictions of the testing images, one item a prediction, each image's together.

    Attributes:
        path: the predictions file.
        names: (P,) each prediction's label.
        scores: (P,) float64 confidences, in (0, 1].
        boxes: (P, 4) float64 boxes, left, top, width, height in pixels of the ground truth's
            image (zeros for classification).
        where: (P,) the JSON path of each prediction's label in its line (for messages).
        spans: image position -> (start, end) of its predictions, as listed.
        lines: image position -> its predictions line.
        dropped: predictions with confidence 0 (not predictions, see ``thresholds``).
    """

    path: str
    names: list[str] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    where: list[tuple[str | int, ...]] = field(default_factory=list)
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    lines: dict[int, int] = field(default_factory=dict)
    dropped: int = 0

    def image_of(self) -> np.ndarray:
        """Return (P,) int64, the image position of each prediction."""
        out = np.zeros(len(self.names), dtype=np.int64)
        for image, (start, end) in self.spans.items():
            out[start:end] = image
        return out


def _os_error(role: str, exc: OSError) -> dict[str, Any]:
    return {"role": role, "error": exc.strerror or str(exc), "errno": exc.errno}


def check_file(path: str, role: str, issues: list[IssueData]) -> bool:
    """Tell whether ``path`` is a readable regular file; report it when not."""
    try:
        info = os.stat(path)
    except OSError as exc:
        issues.append(make_issue("ERROR_EVALUATION_FILE_INACCESSIBLE", path, arg=role,
                                 detail=exc.strerror or str(exc), context=_os_error(role, exc)))
        return False
    if not stat.S_ISREG(info.st_mode):
        issues.append(make_issue("ERROR_EVALUATION_FILE_INACCESSIBLE", path, arg=role,
                                 detail="not a regular file",
                                 context={"role": role, "error": "not a regular file"}))
        return False
    return True


# --- ground truth ----------------------------------------------------------------------------


def scan_manifest(path: str, role: str, issues: list[IssueData],
                  backend: str = "auto") -> ScanResult | None:
    """Check every line of the manifest at ``path`` with the validator's scanner.

    Returns None, with the reason in ``issues``, when the file cannot be read.
    """
    if not check_file(path, role, issues):
        return None
    try:
        with open(path, "rb", buffering=0) as stream:
            return scan(stream, _NO_ROW_LIMIT, None, choose_backend(backend))
    except OSError as exc:
        issues.append(make_issue("ERROR_EVALUATION_FILE_INACCESSIBLE", path, arg=role,
                                 detail=exc.strerror or str(exc), context=_os_error(role, exc)))
        return None


def read_ground_truth(path: str, issues: list[IssueData],
                      backend: str = "auto") -> TestSet | None:
    """Read the usable testing images of the test manifest at ``path``.

    Returns None, with the reason in ``issues``, when there is none.
    """
    result = scan_manifest(path, "ground truth", issues, backend)
    if result is None:
        return None
    problems: dict[int, tuple[int, list[Any]]] = {}
    for line, verdict, findings in result.problems:
        problems[line] = (verdict, findings)
        issues.extend(make_line_issue(path, line, code, where, arg)
                      for code, where, arg in findings)
    if result.counts[0] == 0:
        issues.append(make_issue("ERROR_NO_TESTING_IMAGES", path,
                                 detail=f"none of its {result.total} lines is valid",
                                 context={"lines": result.total, "valid_lines": 0}))
        return None
    use_case = use_case_of(result)
    detection = use_case == DETECTION_USE
    images: list[TestImage] = []
    with open(path, "rb") as stream:
        for lineno, raw in enumerate(iter_lines(stream), start=1):
            verdict, findings = problems.get(lineno, (VALID, _NO_FINDINGS))
            if verdict != VALID or raw is None:
                continue
            image = _test_image(json.loads(raw), lineno, raw, findings)
            if not (image.boxes if detection else image.classes):
                issues.append(make_issue("WARNING_TEST_IMAGE_NOT_EVALUATED", path, lineno, (),
                                         detail=f"the use case is {use_case}",
                                         context={"use_case": use_case}))
                continue
            images.append(image)
    if not images:
        issues.append(make_issue("ERROR_NO_TESTING_IMAGES", path,
                                 detail=f"no valid line has a label of use case {use_case}",
                                 context={"lines": result.total,
                                          "valid_lines": int(result.counts[0]),
                                          "use_case": use_case}))
        return None
    labels = sorted({name for image in images
                     for name in (image.classes if not detection else
                                  [box[0] for box in image.boxes])})
    index = {image.source_ref: i for i, image in enumerate(images)}
    return TestSet(path, use_case if detection else CLASSIFICATION_USE, images, index, labels)


def _name_ok(name: Any) -> bool:
    return isinstance(name, str) and label_name_ok(name)


def _test_image(obj: dict[str, Any], lineno: int, raw: bytes,
                findings: list[Finding]) -> TestImage:
    """Extract the usable labels and boxes of one valid manifest line.

    What is usable is :mod:`customlabels.manifest.schema`'s (``usable_classes``,
    ``usable_boxes``: what the validator did not fault), less the attributes of an earlier
    evaluation, which are predictions, not ground truth.
    """
    used: set[str] = set()
    classes: dict[str, None] = {}
    for attr, label in usable_classes(obj, findings):
        if not attr.startswith(EVALUATION_PREFIX):
            classes[label] = None
            used.add(attr)
    boxes: list[tuple[str, float, float, float, float]] = []
    for attr, _, box, label in usable_boxes(obj, findings):
        if not attr.startswith(EVALUATION_PREFIX):
            boxes.append((label, box["left"], box["top"], box["width"], box["height"]))
            used.add(attr)
    jobs: list[str] = []
    image_size: dict[str, Any] | None = None
    has_evaluation = False
    for attr, meta in attribute_pairs(obj):
        if attr.startswith(EVALUATION_PREFIX):
            has_evaluation = True
            continue
        if image_size is None and attribute_type(obj, meta) == DETECTION:
            image_size = obj[attr]["image_size"][0]
        if attr in used:
            job = obj[meta].get("job-name")
            jobs.append(job if isinstance(job, str) else attr)
    return TestImage(lineno, obj["source-ref"], raw, has_evaluation, list(dict.fromkeys(jobs)),
                     image_size, list(classes), boxes)


# --- predictions -----------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=unique_pairs)

try:  # a faster parser where installed; the results are the same (see _parse_prediction)
    import orjson as _orjson
except ImportError:
    _orjson = None  # type: ignore[assignment]


def _parse_prediction(raw: bytes) -> Any:
    """Parse one predictions line strictly (no NaN or Infinity); raise ValueError if invalid.

    orjson, where installed, parses DetectCustomLabels lines: on those its values are the
    standard library's (it reads integers past 64 bits as floats, which the checks treat alike).
    Any line it rejects, and every snapshot line, is parsed by ``json``, whose messages we report.
    """
    if _orjson is not None:
        try:
            obj = _orjson.loads(raw)
        except _orjson.JSONDecodeError:
            pass
        else:
            if isinstance(obj, dict) and "CustomLabels" in obj and _no_key_lost(raw, obj):
                return obj
            # else another shape, or a key given twice (orjson keeps the last): decided below
    text = raw.decode("utf-8")
    if too_deep(text):
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")  # as in a manifest line
    return _DECODER.decode(text)


def _no_key_lost(raw: bytes, obj: Any) -> bool:
    """Tell whether orjson kept every key of ``raw`` (it keeps the last of a repeated key).

    orjson writes each key followed by ``":`` and escapes every quote inside a string, so the
    line it writes back has as many ``":`` as ``raw`` when no key was dropped (strings holding
    ``":`` count alike on both sides). A line with more lost a key given twice; one with fewer
    spells its JSON otherwise (a space before a colon, a quote as ``\\u0022``): the strict
    parser decides both (and refuses a repeated key, as manifests do).
    """
    return raw.count(b'":') + raw.count(b'" :') == _orjson.dumps(obj).count(b'":')


def _json_ready(value: Any) -> Any:
    """Return ``value`` for a context: an infinite float (``1e999`` parses to one) as text."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def _number(value: Any) -> float | None:
    """Return a finite JSON number as a float, else None."""
    if type(value) is float:  # the common case first
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


class _Line:
    """Collects one predictions line's predictions and problems."""

    __slots__ = ("file", "line", "issues", "names", "scores", "boxes", "where", "dropped")

    def __init__(self, file: str, line: int, issues: list[IssueData]):
        self.file, self.line, self.issues = file, line, issues
        self.names: list[str] = []
        self.scores: Any = []
        self.boxes: Any = []
        self.where: list[tuple[str | int, ...]] = []
        self.dropped = 0

    def bad(self, where: tuple[str | int, ...], detail: str, **context: Any) -> None:
        """Report a faulty prediction field at ``where``; ``context``: the values behind."""
        self.issues.append(make_issue("ERROR_INVALID_PREDICTION", self.file, self.line, where,
                                      detail=detail, context=context))

    def add(self, name: Any, name_at: tuple[str | int, ...], confidence: Any,
            confidence_at: tuple[str | int, ...], scale: float, box: Any) -> None:
        """Check one prediction and keep it; ``box`` is (left, top, width, height) or None."""
        ok = True
        if not _name_ok(name):
            self.bad(name_at, f"the label name must be a string of {MIN_LABEL_NAME} to "
                     f"{MAX_LABEL_NAME} characters", value=name, minimum=MIN_LABEL_NAME,
                     maximum=MAX_LABEL_NAME)
            ok = False
        score = _number(confidence)
        if score is None or not 0 <= score <= scale:
            self.bad(confidence_at, f"the confidence must be a number from 0 to {scale:g}",
                     value=_json_ready(confidence), minimum=0, maximum=scale)
            ok = False
        if ok and score is not None:
            if score == 0:
                self.dropped += 1
            else:
                self.names.append(name)
                self.scores.append(score / scale)
                self.boxes.append(box or (0.0, 0.0, 0.0, 0.0))
                self.where.append(name_at)


#: ``("CustomLabels", i, "Name")`` paths, made once.
_RESPONSE_PATHS: list[tuple[str | int, ...]] = []


def _response_paths(n: int) -> list[tuple[str | int, ...]]:
    while len(_RESPONSE_PATHS) < n:
        _RESPONSE_PATHS.append(("CustomLabels", len(_RESPONSE_PATHS), "Name"))
    return _RESPONSE_PATHS[:n]


def read_predictions(path: str, test: TestSet, issues: list[IssueData],
                     backend: str = "auto") -> PredictionSet:
    """Read the predictions file at ``path`` for the images of ``test``.

    ``backend`` picks the reader of plain DetectCustomLabels arrays (``kernels``); both give the
    same predictions.
    """
    result = PredictionSet(path)
    if not check_file(path, "predictions", issues):
        return result
    reader = kernels(choose_kernels(backend)).read_response
    seen: dict[str, int] = {}
    scores: list[Any] = []
    boxes: list[Any] = []
    try:
        with open(path, "rb") as stream:
            for lineno, raw in enumerate(iter_lines(stream), start=1):
                collected = _read_prediction_line(raw, lineno, path, test, issues, seen, reader)
                if collected is None:
                    continue
                position, line = collected
                start = len(result.names)
                result.names += line.names
                result.where += line.where
                scores.append(np.asarray(line.scores, dtype=np.float64).reshape(-1))
                boxes.append(np.asarray(line.boxes, dtype=np.float64).reshape(-1, 4))
                result.spans[position] = (start, len(result.names))
                result.lines[position] = lineno
                result.dropped += line.dropped
    except OSError as exc:
        issues.append(make_issue("ERROR_EVALUATION_FILE_INACCESSIBLE", path, arg="predictions",
                                 detail=exc.strerror or str(exc),
                                 context=_os_error("predictions", exc)))
    if scores:
        result.scores = np.concatenate(scores)
        result.boxes = np.concatenate(boxes)
    return result


def _read_prediction_line(raw: bytes | None, lineno: int, path: str, test: TestSet,
                          issues: list[IssueData], seen: dict[str, int],
                          reader: Any) -> tuple[int, _Line] | None:
    """Read one predictions line; return its image's position and predictions, if usable."""
    def invalid(detail: str, where: tuple[str | int, ...] = (),
                **context: Any) -> tuple[int, _Line] | None:
        """Report the line as invalid, at ``where``; ``context`` names the ``reason``."""
        issues.append(make_issue("ERROR_INVALID_PREDICTIONS_LINE", path, lineno, where,
                                 detail=detail, context=context))
        return None

    if raw is None:
        return invalid(f"the line is longer than {MAX_LINE_BYTES:,} bytes", reason="too_long",
                       maximum=MAX_LINE_BYTES)
    try:
        obj = _parse_prediction(raw)
    except UnicodeDecodeError as exc:
        return invalid(f"invalid UTF-8 at byte {exc.start + 1}", reason="not_utf8",
                       byte=exc.start + 1)
    except json.JSONDecodeError as exc:
        return invalid(json_error_text(exc), reason="not_json", error=exc.msg,
                       column=exc.colno)
    except ValueError as exc:
        return invalid(value_error_text(exc), reason="not_json", error=value_error_text(exc))
    if not isinstance(obj, dict):
        return invalid("the line is not a JSON object", reason="not_an_object")
    source_ref = obj.get("source-ref")
    if not isinstance(source_ref, str):
        return invalid("source-ref is missing" if source_ref is None else
                       "source-ref is not a string", ("source-ref",) if "source-ref" in obj
                       else (), reason="no_source_ref" if source_ref is None
                       else "source_ref_not_a_string")
    if source_ref in seen:
        issues.append(make_issue("ERROR_DUPLICATE_PREDICTIONS_SOURCE_REF", path, lineno,
                                 ("source-ref",), arg=seen[source_ref],
                                 context={"source_ref": source_ref,
                                          "first_line": seen[source_ref]}))
        return None
    seen[source_ref] = lineno
    position = test.index.get(source_ref)
    if position is None:
        issues.append(make_issue("WARNING_PREDICTIONS_IMAGE_NOT_IN_TEST_DATASET", path, lineno,
                                 ("source-ref",),
                                 detail=f"no usable line of {test.path} has this source-ref",
                                 context={"source_ref": source_ref, "ground_truth": test.path}))
        return None
    image = test.images[position]
    collected = _Line(path, lineno, issues)
    if "CustomLabels" in obj:
        labels = obj["CustomLabels"]
        if not isinstance(labels, list):
            return invalid("CustomLabels is not an array", ("CustomLabels",),
                           reason="custom_labels_not_an_array")
        width, height = image.size
        plain = reader(labels, test.detection, width, height, MAX_LABEL_NAME, PERCENT)
        if plain is None:  # something to report, or to drop: field by field
            _read_response(labels, image, test.detection, collected)
        else:
            collected.names, collected.scores, collected.boxes = plain
            collected.where = _response_paths(len(collected.names))
    else:
        keys = [k for k in obj if k.startswith(EVALUATION_PREFIX) and not k.endswith("-metadata")]
        if not keys:
            return invalid("the line has neither a CustomLabels array nor a "
                           f"{EVALUATION_PREFIX} attribute (is it ground truth?)",
                           reason="no_predictions")
        for key in keys:
            _read_snapshot_attribute(obj, key, image, test.detection, collected)
    return position, collected


def _read_response(labels: list[Any], image: TestImage, detection: bool,
                   collected: _Line) -> None:
    """Read a DetectCustomLabels ``CustomLabels`` array (L10287-10352)."""
    width, height = image.size
    for i, entry in enumerate(labels):
        where = ("CustomLabels", i)
        if not isinstance(entry, dict):
            collected.bad(where, "a custom label must be an object")
            continue
        box = None
        if detection:
            geometry = entry.get("Geometry")
            if not isinstance(geometry, dict):
                collected.bad(where + ("Geometry",), "object detection needs Geometry.BoundingBox")
                continue
            bounding = geometry.get("BoundingBox")
            if not isinstance(bounding, dict):
                collected.bad(where + ("Geometry", "BoundingBox"),
                              "object detection needs Geometry.BoundingBox")
                continue
            values = [_number(bounding.get(key)) for key in _BOX_KEYS]
            bad_keys = [key for key, v in zip(_BOX_KEYS, values) if v is None
                        or (key in ("Width", "Height") and v < 0)]
            if bad_keys:
                for key in bad_keys:
                    collected.bad(where + ("Geometry", "BoundingBox", key),
                                  f"{key} must be a finite number"
                                  + (" of at least 0" if key in ("Width", "Height") else ""))
                continue
            left, top, w, h = values
            # ratios of the image to pixels of the ground truth's image (L10291-10296)
            box = (left * width, top * height, w * width, h * height)  # type: ignore[operator]
            if not all(map(math.isfinite, box)):
                collected.bad(where + ("Geometry", "BoundingBox"), "the box is out of range")
                continue
        collected.add(entry.get("Name"), where + ("Name",), entry.get("Confidence"),
                      where + ("Confidence",), PERCENT, box)


def _read_snapshot_attribute(obj: dict[str, Any], key: str, image: TestImage, detection: bool,
                             collected: _Line) -> None:
    """Read one ``rekognition-custom-labels-evaluation*`` attribute of a snapshot line."""
    meta_key = key + "-metadata"
    meta = obj.get(meta_key)
    if not isinstance(meta, dict):
        collected.bad((meta_key,) if meta_key in obj else (key,),
                      f"the attribute needs a {meta_key} object")
        return
    kind = meta.get("type")
    if kind == CLASSIFICATION:
        if detection:
            collected.bad((key,), "object detection needs bounding boxes, not an image label")
            return
        collected.add(meta.get("class-name"), (meta_key, "class-name"), meta.get("confidence"),
                      (meta_key, "confidence"), 1.0, None)
        return
    if kind != DETECTION:
        collected.bad((meta_key, "type"), f'type must be "{CLASSIFICATION}" or "{DETECTION}"')
        return
    value = obj[key]
    annotations = value.get("annotations") if isinstance(value, dict) else None
    sizes = value.get("image_size") if isinstance(value, dict) else None
    class_map, objects = meta.get("class-map"), meta.get("objects")
    if not isinstance(annotations, list):
        collected.bad((key, "annotations"), "annotations must be an array")
        return
    if not isinstance(class_map, dict):
        collected.bad((meta_key, "class-map"), "class-map must be an object")
        return
    if not isinstance(objects, list) or len(objects) != len(annotations):
        collected.bad((meta_key, "objects"), "objects must be an array with one object an "
                      "annotation")
        return
    size = sizes[0] if isinstance(sizes, list) and len(sizes) == 1 else None
    own = (_number(size.get("width")), _number(size.get("height"))) if isinstance(
        size, dict) else (None, None)
    if detection:
        if not isinstance(size, dict):
            collected.bad((key, "image_size"), "image_size must be one {width, height} object")
            return
        for side, number in zip(("width", "height"), own):
            if number is None:
                collected.bad((key, "image_size", 0, side), f"image_size {side} must be a number")
                return
            if number < 1:  # a smaller size would scale the boxes past any float
                collected.bad((key, "image_size", 0, side),
                              f"image_size {side} must be at least 1 pixel, not {number:g}")
                return
    target = image.size
    for i, box in enumerate(annotations):
        where = (key, "annotations", i)
        if not isinstance(box, dict):
            collected.bad(where, "an annotation must be an object")
            continue
        class_id = box.get("class_id")
        name = class_map.get(str(class_id)) if type(class_id) is int else None
        if name is None:
            collected.bad(where + ("class_id",), "class_id must be an integer in class-map")
            continue
        pixels = None
        if detection:
            values = [_number(box.get(k)) for k in _PIXEL_KEYS]
            bad_keys = [k for k, v in zip(_PIXEL_KEYS, values) if v is None
                        or (k in ("width", "height") and v < 0)]
            if bad_keys:
                for k in bad_keys:
                    collected.bad(where + (k,), f"{k} must be a finite number")
                continue
            left, top, w, h = values
            if own == target:
                pixels = (left, top, w, h)
            else:  # the snapshot's pixels to the ground truth's
                sx, sy = target[0] / own[0], target[1] / own[1]  # type: ignore[operator]
                pixels = (left * sx, top * sy, w * sx, h * sy)  # type: ignore[operator]
                if not all(map(math.isfinite, pixels)):
                    collected.bad(where, "the box is out of range")
                    continue
        item = objects[i]
        confidence = item.get("confidence") if isinstance(item, dict) else None
        collected.add(name, where + ("class_id",), confidence,
                      (meta_key, "objects", i, "confidence"), 1.0, pixels)
