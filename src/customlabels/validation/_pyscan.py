"""The pure-Python scanner: reads a manifest and applies every per-line rule.

This is the reference the compiled core (``ext/_core.pyx``) must agree with exactly; the
differential tests compare both on generated manifests. Both return a :class:`ScanResult` of plain
data. Policy (messages, severities, dataset rules, rendering) lives in the callers.

A finding is ``(code_index, path, arg)``: the index of the code in
:data:`customlabels.codes.CODE_NAMES`, the JSON path of the problem inside the line as a tuple of
keys and indices, and an optional argument for the message (the first line of a duplicate).
The order of a line's findings is part of the contract: first-tier errors grouped in the guide's
order (L6732-6746), each group in the order met; then the second-tier findings in the order met.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, BinaryIO

from ..codes import CODE_NAMES, TIER1_ORDER
from ..manifest.reader import is_too_long, iter_lines

VALID, INVALID, IGNORED = 0, 1, 2
VERDICT_NAMES = ("valid", "invalid", "ignored")

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
RESERVED_KEYS = frozenset(("source-ref", "errors", "warnings"))
#: Deepest nesting of arrays and objects accepted in a line; deeper lines are invalid JSON.
MAX_DEPTH = 64
MAX_BOXES = 50  # L17957-17959
MAX_LABELS_PER_IMAGE = 50  # L17944
MAX_LABEL_NAME = 256  # L8162-8174
MIN_SIDE, MAX_SIDE, MAX_ASPECT = 64, 4096, 20  # L17961-17967
SCALE_SIDE = 1280  # L7743-7760: images are scaled so no side exceeds 1280 px

_C = {name: i for i, name in enumerate(CODE_NAMES)}
_TIER1_RANK = {_C[name]: rank for rank, name in enumerate(TIER1_ORDER)}
LINE_TOO_LONG = _C["ERROR_LINE_TOO_LONG"]
INVALID_JSON_LINE = _C["ERROR_INVALID_JSON_LINE"]
DUPLICATE_SOURCE_REF = _C["ERROR_DUPLICATE_SOURCE_REF"]
MISSING_SOURCE_REF = _C["ERROR_MISSING_SOURCE_REF"]
INVALID_SOURCE_REF_FORMAT = _C["ERROR_INVALID_SOURCE_REF_FORMAT"]
NO_LABEL_ATTRIBUTES = _C["ERROR_NO_LABEL_ATTRIBUTES"]
ATTRIBUTE_FORMAT = _C["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"]
METADATA_FORMAT = _C["ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"]
MISSING_CONFIDENCE = _C["ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"]
MISSING_CLASS_MAP_ID = _C["ERROR_MISSING_CLASS_MAP_ID"]
NO_VALID_LABEL_ATTRIBUTES = _C["ERROR_NO_VALID_LABEL_ATTRIBUTES"]
INVALID_BOUNDING_BOX = _C["ERROR_INVALID_BOUNDING_BOX"]
BOX_TOO_SMALL = _C["ERROR_BOUNDING_BOX_TOO_SMALL"]
NO_VALID_ANNOTATIONS = _C["ERROR_NO_VALID_ANNOTATIONS"]
TOO_MANY_BOXES = _C["ERROR_TOO_MANY_BOUNDING_BOXES"]
IMAGE_DIMENSION = _C["ERROR_INVALID_IMAGE_DIMENSION"]
UNSUPPORTED_TYPE = _C["ERROR_UNSUPPORTED_USE_CASE_TYPE"]
LABEL_NAME_LENGTH = _C["ERROR_INVALID_LABEL_NAME_LENGTH"]
TOO_MANY_LABELS = _C["ERROR_TOO_MANY_LABELS_PER_IMAGE"]
UNANNOTATED = _C["WARNING_UNANNOTATED_RECORD"]
NO_ANNOTATIONS = _C["WARNING_NO_ANNOTATIONS"]
NO_ATTRIBUTE_ANNOTATIONS = _C["WARNING_NO_ATTRIBUTE_ANNOTATIONS"]
#: Codes that make the whole line invalid wherever they are attached (besides first-tier codes).
LINE_ERRORS = frozenset((LINE_TOO_LONG, DUPLICATE_SOURCE_REF, IMAGE_DIMENSION, TOO_MANY_BOXES,
                         TOO_MANY_LABELS, NO_VALID_LABEL_ATTRIBUTES))
#: Terminal content errors: the line is dropped when the dataset is created (L5403-5420).
DROPPED = frozenset((LINE_TOO_LONG, INVALID_JSON_LINE, MISSING_SOURCE_REF,
                     INVALID_SOURCE_REF_FORMAT, DUPLICATE_SOURCE_REF))

Path = tuple[str | int, ...]
Finding = tuple[int, Path, Any]


class ScanResult:
    """What a scan of one manifest found; plain data, the same from both scanners.

    Attributes:
        total: lines read and validated (at most ``max_lines``).
        exceeded: the file has more lines than ``max_lines``; reading stopped there.
        counts: ``[valid, invalid, ignored]``.
        dropped: lines with a terminal content error (also counted as invalid).
        problems: ``(line, verdict, findings)`` for every line with at least one finding.
        labels: label -> ``[classification images, detection images, images]`` over valid lines;
            a label referenced on a line that passed the first tier but has no valid image has
            zeros. Insertion order is first reference.
        kind_lines: ``[classification, detection]``: valid lines with a usable label of that kind.
        buckets: bucket -> first line it appears on, for every well-formed source-ref.
        overlaps: ``(line, line in the other manifest)`` for each image also in ``other``.
        refs: source-ref -> first line; pass it as ``other`` when scanning the testing manifest.
    """

    # A plain class rather than a dataclass: the command line imports this module at start-up.
    __slots__ = ("total", "exceeded", "counts", "dropped", "problems", "labels", "kind_lines",
                 "buckets", "overlaps", "refs")

    def __init__(self, total: int = 0, exceeded: bool = False, counts: list[int] | None = None,
                 dropped: int = 0, problems: list[tuple[int, int, list[Finding]]] | None = None,
                 labels: dict[str, list[int]] | None = None, kind_lines: list[int] | None = None,
                 buckets: dict[str, int] | None = None,
                 overlaps: list[tuple[int, int]] | None = None, refs: Any = None):
        self.total, self.exceeded, self.dropped, self.refs = total, exceeded, dropped, refs
        self.counts = [0, 0, 0] if counts is None else counts
        self.problems = [] if problems is None else problems
        self.labels = {} if labels is None else labels
        self.kind_lines = [0, 0] if kind_lines is None else kind_lines
        self.buckets = {} if buckets is None else buckets
        self.overlaps = [] if overlaps is None else overlaps

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"ScanResult({fields})"


def scan(stream: BinaryIO, max_lines: int, other: Any = None) -> ScanResult:
    """Scan ``stream`` line by line; ``other`` is the ``refs`` of an earlier scan, if any."""
    result = ScanResult(refs={})
    refs: dict[str, int] = result.refs
    for lineno, raw in enumerate(iter_lines(stream), start=1):
        if lineno > max_lines:
            result.exceeded = True
            break
        result.total = lineno
        verdict, findings, info = check_line(raw, lineno, refs)
        result.counts[verdict] += 1
        if findings:
            result.problems.append((lineno, verdict, findings))
            if any(code in DROPPED for code, _, _ in findings):
                result.dropped += 1
        if info is None:
            continue
        sref, bucket, declared, cls, det = info
        result.buckets.setdefault(bucket, lineno)
        if other is not None and sref in other:
            result.overlaps.append((lineno, other[sref]))
        _count_labels(result, verdict, declared, cls, det)
    return result


def _count_labels(result: ScanResult, verdict: int, declared: Iterable[str],
                  cls: list[str], det: list[str]) -> None:
    labels = result.labels
    for name in declared:
        if name not in labels:
            labels[name] = [0, 0, 0]
    if verdict != VALID:
        return
    for name in cls:
        labels[name][0] += 1
    for name in det:
        labels[name][1] += 1
    for name in dict.fromkeys(cls + det):
        labels[name][2] += 1
    if cls:
        result.kind_lines[0] += 1
    if det:
        result.kind_lines[1] += 1


# --- parsing ---------------------------------------------------------------------------------


class _BadJSON(ValueError):
    pass


def _pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(items)
    if len(obj) != len(items):
        seen: set[str] = set()
        dup = next(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _BadJSON(f"duplicate key {dup!r}")
    return obj


def _constant(name: str) -> Any:
    raise _BadJSON(f"{name} is not a JSON value")


class NumberLiteral:
    """A number too large for a float, kept as written so that output can reproduce it."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _float_or_literal(text: str) -> float | NumberLiteral:
    value = float(text)
    return NumberLiteral(text) if math.isinf(value) else value


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)
#: For rewriting lines: like _DECODER, but numbers that overflow a float stay as written.
_KEEPING_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant,
                                    parse_float=_float_or_literal)


def _depth(text: str) -> int:
    """Return the deepest nesting of arrays and objects in ``text``, strings skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_line(raw: bytes, keep_literals: bool = False) -> dict[str, Any]:
    """Parse one line strictly: UTF-8, one JSON object, no NaN/Infinity, no duplicate keys.

    With ``keep_literals``, a number that overflows a float (``1e400``) becomes a
    :class:`NumberLiteral` instead of an infinity. Raises ValueError with a short reason when
    the line is not such an object.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadJSON(f"invalid UTF-8 at byte {exc.start + 1}") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise _BadJSON(f"nested more than {MAX_DEPTH} levels deep")
    stripped = text.strip(" \t\r\n")
    if not stripped:
        raise _BadJSON("blank line")
    try:
        obj, end = (_KEEPING_DECODER if keep_literals else _DECODER).raw_decode(stripped)
    except json.JSONDecodeError as exc:
        raise _BadJSON(f"{exc.msg} at column {exc.colno}") from None
    if end != len(stripped):
        raise _BadJSON(f"extra data at column {end + 1}")
    if not isinstance(obj, dict):
        raise _BadJSON("the line is not a JSON object")
    return obj


# --- value helpers ---------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """Return a JSON number as a float (huge integers become infinities), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def _is_integer(value: Any) -> bool:
    """Tell whether ``value`` came from a JSON integer literal (no fraction, no exponent)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_confidence(value: Any) -> bool:
    number = _number(value)
    return number is not None and 0 <= number <= 1


_BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def source_ref_bucket(value: Any) -> str | None:
    """Return the bucket of a well-formed ``s3://bucket/key`` source-ref, else None.

    Bucket names follow S3's rules: 3-63 lowercase letters, digits, dots and hyphens, starting
    and ending with a letter or digit. The key must not be empty.
    """
    if not isinstance(value, str) or not value.startswith("s3://"):
        return None
    bucket, slash, key = value[5:].partition("/")
    if not slash or not key or not 3 <= len(bucket) <= 63:
        return None
    if not set(bucket) <= _BUCKET_CHARS or not bucket[0].isalnum() or not bucket[-1].isalnum():
        return None
    return bucket


def _name_ok(name: str) -> bool:
    return 1 <= len(name) <= MAX_LABEL_NAME


# --- the line rules --------------------------------------------------------------------------


def check_line(raw: bytes | None, lineno: int, refs: dict[str, int]):
    """Apply every per-line rule to one line.

    Returns ``(verdict, findings, info)``; ``info`` is None unless the line has a well-formed
    source-ref, else ``(source_ref, bucket, declared_labels, classification_labels,
    detection_labels)``. ``refs`` maps the source-refs seen so far to their first line and is
    updated here (spec decision 5: the first occurrence stays valid).
    """
    if raw is None or is_too_long(raw):
        return INVALID, [(LINE_TOO_LONG, (), None)], None
    try:
        obj = parse_line(raw)
    except ValueError as exc:
        return INVALID, [(INVALID_JSON_LINE, (), str(exc))], None

    first: list[Finding] = []
    sref = obj.get("source-ref")
    bucket = None
    if "source-ref" not in obj:
        first.append((MISSING_SOURCE_REF, (), None))
    else:
        bucket = source_ref_bucket(sref)
        if bucket is None:
            first.append((INVALID_SOURCE_REF_FORMAT, ("source-ref",), None))
        elif sref in refs:  # dropped at import: no other rule runs, nothing is counted
            return INVALID, [(DUPLICATE_SOURCE_REF, ("source-ref",), refs[sref])], None
        else:
            refs[sref] = lineno

    keys = [k for k in obj if k not in RESERVED_KEYS]
    pairs = [(k, k + "-metadata") for k in keys
             if not k.endswith("-metadata") and k + "-metadata" in obj]
    if keys and not pairs:
        first.append((NO_LABEL_ATTRIBUTES, (), None))

    types: list[str | None] = []
    for attr, meta in pairs:
        types.append(_check_pair_format(obj[attr], obj[meta], attr, meta, first))

    if first:
        first.sort(key=lambda f: _TIER1_RANK[f[0]])  # stable: each group keeps its order
        return INVALID, first, None if bucket is None else (sref, bucket, (), [], [])

    if not keys:
        return IGNORED, [(UNANNOTATED, (), None)], (sref, bucket, (), [], [])

    second: list[Finding] = []
    declared: dict[str, None] = {}
    cls: dict[str, None] = {}
    det: dict[str, None] = {}
    pair_error = False
    boxes = 0
    too_many_at: str | None = None
    for (attr, meta), kind in zip(pairs, types):
        metadata = obj[meta]
        if kind == CLASSIFICATION:
            name = metadata["class-name"]
            if _name_ok(name):
                declared[name] = None
                cls[name] = None
            else:
                second.append((LABEL_NAME_LENGTH, (meta, "class-name"), None))
                pair_error = True
        elif kind == DETECTION:
            value = obj[attr]
            size = value["image_size"][0]
            width, height = _number(size["width"]), _number(size["height"])
            if not _dimension_ok(width, height):
                second.append((IMAGE_DIMENSION, (attr, "image_size", 0), None))
            annotations = value.get("annotations")
            if not annotations:
                second.append((NO_ATTRIBUTE_ANNOTATIONS, (attr,), None))
                continue
            boxes += len(annotations)
            if boxes > MAX_BOXES and too_many_at is None:
                too_many_at = attr
            usable = _check_boxes(annotations, metadata["class-map"], width, height,
                                  attr, meta, second, declared, det)
            if not usable:
                second.append((NO_VALID_ANNOTATIONS, (attr,), None))
                pair_error = True
        else:
            second.append((UNSUPPORTED_TYPE, (meta, "type"), None))
            pair_error = True

    if too_many_at is not None:
        second.append((TOO_MANY_BOXES, (too_many_at, "annotations"), None))
    if len(dict.fromkeys([*cls, *det])) > MAX_LABELS_PER_IMAGE:
        second.append((TOO_MANY_LABELS, (), None))
    if not cls and not det:
        if pair_error:
            second.append((NO_VALID_LABEL_ATTRIBUTES, (), None))
        elif not any(code in LINE_ERRORS for code, _, _ in second):
            second.append((NO_ANNOTATIONS, (), None))
    if any(code in LINE_ERRORS for code, _, _ in second):
        verdict = INVALID
    elif cls or det:
        verdict = VALID
    else:
        verdict = IGNORED
    return verdict, second, (sref, bucket, list(declared), list(cls), list(det))


def _dimension_ok(width: float | None, height: float | None) -> bool:
    if width is None or height is None:
        return False
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return False
    return max(width, height) <= MAX_ASPECT * min(width, height)


def _check_boxes(annotations: list[dict[str, Any]], class_map: dict[str, str],
                 width: Any, height: Any, attr: str, meta: str,
                 out: list[Finding], declared: dict[str, None], det: dict[str, None]) -> bool:
    """Check each box of a detection attribute (spec decision 7); return whether one is usable.

    The first tier has already made sure every number below is present.
    """
    longest = max(width, height)
    scale = 1.0 if longest <= SCALE_SIDE else SCALE_SIDE / longest
    reported: set[str] = set()
    usable = False
    for i, box in enumerate(annotations):
        key = str(box["class_id"])
        name = class_map[key]
        name_ok = _name_ok(name)
        if name_ok:
            declared[name] = None
        elif key not in reported:
            reported.add(key)
            out.append((LABEL_NAME_LENGTH, (meta, "class-map", key), None))
        left, top = _number(box["left"]), _number(box["top"])
        w, h = _number(box["width"]), _number(box["height"])
        if left < 0 or top < 0 or w < 0 or h < 0 or left + w > width or top + h > height:
            out.append((INVALID_BOUNDING_BOX, (attr, "annotations", i), None))
        elif w * scale <= 1 or h * scale <= 1:
            out.append((BOX_TOO_SMALL, (attr, "annotations", i), None))
        elif name_ok:
            usable = True
            det[name] = None
    return usable


def _check_pair_format(value: Any, metadata: Any, attr: str, meta: str,
                       out: list[Finding]) -> str | None:
    """Apply the first-tier format rules to one attribute and its metadata.

    Returns the metadata's type when it is a string, else None.
    """
    if not isinstance(metadata, dict):
        out.append((METADATA_FORMAT, (meta,), None))
        return None
    kind = metadata.get("type")
    if not isinstance(kind, str):
        out.append((METADATA_FORMAT, (meta, "type"), None))
        return None
    if kind == CLASSIFICATION:
        if not _is_integer(value):
            out.append((ATTRIBUTE_FORMAT, (attr,), None))
        if not _is_confidence(metadata.get("confidence")):
            out.append((METADATA_FORMAT, (meta, "confidence"), None))
        if not isinstance(metadata.get("class-name"), str):
            out.append((METADATA_FORMAT, (meta, "class-name"), None))
        _check_common_metadata(metadata, meta, out)
    elif kind == DETECTION:
        annotations = _check_detection_value(value, attr, out)
        objects = metadata.get("objects")
        objects_ok = isinstance(objects, list)
        if not objects_ok:
            out.append((METADATA_FORMAT, (meta, "objects"), None))
        else:
            for i, item in enumerate(objects):
                if not isinstance(item, dict):
                    out.append((METADATA_FORMAT, (meta, "objects", i), None))
                elif "confidence" in item and not _is_confidence(item["confidence"]):
                    out.append((METADATA_FORMAT, (meta, "objects", i, "confidence"), None))
        class_map = metadata.get("class-map")
        map_ok = isinstance(class_map, dict)
        if not map_ok:
            out.append((METADATA_FORMAT, (meta, "class-map"), None))
        else:
            for key, name in class_map.items():
                if not isinstance(name, str):
                    out.append((METADATA_FORMAT, (meta, "class-map", key), None))
        _check_common_metadata(metadata, meta, out)
        if annotations is not None and objects_ok:
            for i in range(len(annotations)):
                if i >= len(objects) or (isinstance(objects[i], dict)
                                         and "confidence" not in objects[i]):
                    out.append((MISSING_CONFIDENCE, (meta, "objects", i), None))
        if annotations is not None and map_ok:
            for i, box in enumerate(annotations):
                class_id = box.get("class_id") if isinstance(box, dict) else None
                if _is_integer(class_id) and str(class_id) not in class_map:
                    out.append((MISSING_CLASS_MAP_ID, (attr, "annotations", i, "class_id"), None))
    return kind


def _check_common_metadata(metadata: dict[str, Any], meta: str, out: list[Finding]) -> None:
    if metadata.get("human-annotated") not in ("yes", "no"):
        out.append((METADATA_FORMAT, (meta, "human-annotated"), None))
    if not isinstance(metadata.get("creation-date"), str):
        out.append((METADATA_FORMAT, (meta, "creation-date"), None))
    if "job-name" in metadata and not isinstance(metadata["job-name"], str):
        out.append((METADATA_FORMAT, (meta, "job-name"), None))


_BOX_FIELDS = ("class_id", "top", "left", "width", "height")
_SIZE_FIELDS = ("width", "height", "depth")


def _check_detection_value(value: Any, attr: str, out: list[Finding]) -> list[Any] | None:
    """Check a detection attribute's shape; return its annotations when they are a list."""
    if not isinstance(value, dict):
        out.append((ATTRIBUTE_FORMAT, (attr,), None))
        return None
    size = value.get("image_size")
    if not isinstance(size, list) or len(size) != 1 or not isinstance(size[0], dict):
        out.append((ATTRIBUTE_FORMAT, (attr, "image_size"), None))
    else:
        for name in _SIZE_FIELDS:
            if _number(size[0].get(name)) is None:
                out.append((ATTRIBUTE_FORMAT, (attr, "image_size", 0, name), None))
    if "annotations" not in value:
        return None
    annotations = value["annotations"]
    if not isinstance(annotations, list):
        out.append((ATTRIBUTE_FORMAT, (attr, "annotations"), None))
        return None
    for i, box in enumerate(annotations):
        if not isinstance(box, dict):
            out.append((ATTRIBUTE_FORMAT, (attr, "annotations", i), None))
            continue
        for name in _BOX_FIELDS:
            item = box.get(name)
            ok = _is_integer(item) if name == "class_id" else _number(item) is not None
            if not ok:
                out.append((ATTRIBUTE_FORMAT, (attr, "annotations", i, name), None))
    return annotations
