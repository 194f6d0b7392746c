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

from collections.abc import Iterable
from typing import Any, BinaryIO, cast

from ..codes import CODE_NAMES, DROPPED_CODES, INVALIDATING_CODES, TIER1_ORDER
from ..limits import MAX_BOXES, MAX_LABELS_PER_IMAGE
from ..manifest.jsonline import parse_line
from ..manifest.reader import is_too_long, iter_lines
from ..manifest.schema import (BOX_FIELDS, CLASSIFICATION, DETECTION, IGNORED, INVALID,
                               RESERVED_KEYS, SIZE_FIELDS, VALID, Finding, box_scale,
                               box_too_small, dimension_ok, is_confidence, is_integer,
                               label_name_ok, number, source_ref_bucket)
from .scan import ScanResult

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
#: Codes that make the whole line invalid wherever they are attached (the catalogue's effect).
LINE_ERRORS = frozenset(_C[name] for name in INVALIDATING_CODES)
#: Terminal content errors: the line is dropped when the dataset is created (L5403-5420).
DROPPED = frozenset(_C[name] for name in DROPPED_CODES)


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
    sref: Any = obj.get("source-ref")  # any JSON value; a str where bucket is not None
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
            if label_name_ok(name):
                declared[name] = None
                cls[name] = None
            else:
                second.append((LABEL_NAME_LENGTH, (meta, "class-name"), None))
                pair_error = True
        elif kind == DETECTION:
            value = obj[attr]
            size = value["image_size"][0]
            width, height = number(size["width"]), number(size["height"])
            if not dimension_ok(width, height):
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


def _check_boxes(annotations: list[dict[str, Any]], class_map: dict[str, str],
                 width: Any, height: Any, attr: str, meta: str,
                 out: list[Finding], declared: dict[str, None], det: dict[str, None]) -> bool:
    """Check each box of a detection attribute (spec decision 7); return whether one is usable.

    The first tier has already made sure every number below is present.
    """
    scale = box_scale(width, height)
    reported: set[str] = set()
    usable = False
    for i, box in enumerate(annotations):
        key = str(box["class_id"])
        name = class_map[key]
        name_ok = label_name_ok(name)
        if name_ok:
            declared[name] = None
        elif key not in reported:
            reported.add(key)
            out.append((LABEL_NAME_LENGTH, (meta, "class-map", key), None))
        # the first tier made sure these are numbers: number() returns no None here
        left, top = cast(float, number(box["left"])), cast(float, number(box["top"]))
        w, h = cast(float, number(box["width"])), cast(float, number(box["height"]))
        if left < 0 or top < 0 or w < 0 or h < 0 or left + w > width or top + h > height:
            out.append((INVALID_BOUNDING_BOX, (attr, "annotations", i), None))
        elif box_too_small(w, h, scale):
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
        if not is_integer(value):
            out.append((ATTRIBUTE_FORMAT, (attr,), None))
        if not is_confidence(metadata.get("confidence")):
            out.append((METADATA_FORMAT, (meta, "confidence"), None))
        if not isinstance(metadata.get("class-name"), str):
            out.append((METADATA_FORMAT, (meta, "class-name"), None))
        _check_common_metadata(metadata, meta, out)
    elif kind == DETECTION:
        annotations = _check_detection_value(value, attr, out)
        objects: Any = metadata.get("objects")  # JSON; objects_ok says whether a list
        objects_ok = isinstance(objects, list)
        if not objects_ok:
            out.append((METADATA_FORMAT, (meta, "objects"), None))
        else:
            for i, item in enumerate(objects):
                if not isinstance(item, dict):
                    out.append((METADATA_FORMAT, (meta, "objects", i), None))
                elif "confidence" in item and not is_confidence(item["confidence"]):
                    out.append((METADATA_FORMAT, (meta, "objects", i, "confidence"), None))
        class_map: Any = metadata.get("class-map")  # JSON; map_ok says whether an object
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
                if is_integer(class_id) and str(class_id) not in class_map:
                    out.append((MISSING_CLASS_MAP_ID, (attr, "annotations", i, "class_id"), None))
    return kind


def _check_common_metadata(metadata: dict[str, Any], meta: str, out: list[Finding]) -> None:
    if metadata.get("human-annotated") not in ("yes", "no"):
        out.append((METADATA_FORMAT, (meta, "human-annotated"), None))
    if not isinstance(metadata.get("creation-date"), str):
        out.append((METADATA_FORMAT, (meta, "creation-date"), None))
    if "job-name" in metadata and not isinstance(metadata["job-name"], str):
        out.append((METADATA_FORMAT, (meta, "job-name"), None))


def _check_detection_value(value: Any, attr: str, out: list[Finding]) -> list[Any] | None:
    """Check a detection attribute's shape; return its annotations when they are a list."""
    if not isinstance(value, dict):
        out.append((ATTRIBUTE_FORMAT, (attr,), None))
        return None
    size = value.get("image_size")
    if not isinstance(size, list) or len(size) != 1 or not isinstance(size[0], dict):
        out.append((ATTRIBUTE_FORMAT, (attr, "image_size"), None))
    else:
        for name in SIZE_FIELDS:
            if number(size[0].get(name)) is None:
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
        for name in BOX_FIELDS:
            item = box.get(name)
            ok = is_integer(item) if name == "class_id" else number(item) is not None
            if not ok:
                out.append((ATTRIBUTE_FORMAT, (attr, "annotations", i, name), None))
    return annotations
