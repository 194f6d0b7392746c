"""What a manifest line means: its schema, verdicts, label attributes, usable boxes and labels.

One place for the semantics every tool shares with the validator (validate, convert, split, the
dataset operations, evaluation, and next image checks and training), so that "a valid line", "a
label attribute", "a usable box" and "the labels of a line" mean the same everywhere
(``docs/decisions.md``, "Label attributes" and "Dataset rules"). The rules that decide them live
in the scanners (:mod:`customlabels.validation._pyscan` and the compiled core); this module holds
the vocabulary and the derivations from a line and its findings.

Standard library only: ``customlabels validate`` imports this at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ..codes import CODE_NAMES
from ..limits import MAX_ASPECT, MAX_LABEL_NAME, MAX_SIDE, MIN_LABEL_NAME, MIN_SIDE, SCALE_SIDE

#: Verdicts of a line, as the summary counts them (L6206-6284).
VALID, INVALID, IGNORED = 0, 1, 2
VERDICT_NAMES = ("valid", "invalid", "ignored")

#: The two use cases of a metadata ``type`` (L7357-7391).
CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
#: Label attributes of an evaluation, as the guide's snapshot names them (L8568, L8626).
EVALUATION_PREFIX = "rekognition-custom-labels-evaluation"
#: Keys of a line that are never label attributes.
RESERVED_KEYS = frozenset(("source-ref", "errors", "warnings"))
METADATA_SUFFIX = "-metadata"
#: The fields of a box and of ``image_size`` (L7316-7355).
BOX_FIELDS = ("class_id", "top", "left", "width", "height")
SIZE_FIELDS = ("width", "height", "depth")

#: A finding: ``(code index, JSON path inside the line, argument of the message)``.
Path = tuple[str | int, ...]
Finding = tuple[int, Path, Any]

_LABEL_NAME_LENGTH = CODE_NAMES.index("ERROR_INVALID_LABEL_NAME_LENGTH")
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


def number(value: Any) -> float | None:
    """Return a JSON number as a float (huge integers become infinities), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def is_integer(value: Any) -> bool:
    """Tell whether ``value`` came from a JSON integer literal (no fraction, no exponent)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_confidence(value: Any) -> bool:
    """Tell whether ``value`` is a number from 0 to 1."""
    n = number(value)
    return n is not None and 0 <= n <= 1


def label_name_ok(name: str) -> bool:
    """Tell whether a label name has a valid length (L8162-8174)."""
    return MIN_LABEL_NAME <= len(name) <= MAX_LABEL_NAME


def dimension_ok(width: float | None, height: float | None) -> bool:
    """Tell whether an image size is within the side and aspect-ratio limits (L17961-17967)."""
    if width is None or height is None:
        return False
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return False
    return max(width, height) <= MAX_ASPECT * min(width, height)


def box_scale(width: float, height: float) -> float:
    """Return the factor that scales an image to at most SCALE_SIDE px a side (L7743-7760)."""
    longest = max(width, height)
    return 1.0 if longest <= SCALE_SIDE else SCALE_SIDE / longest


def box_too_small(w: float, h: float, scale: float) -> bool:
    """Tell whether the service drops a box as too small once scaled (spec decision 7)."""
    return w * scale <= 1 or h * scale <= 1


def attribute_pairs(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the line's ``(attribute, metadata)`` key pairs, as the validator pairs them.

    A key is a label attribute when it is not reserved, does not end in ``-metadata`` and
    ``KEY-metadata`` exists (``docs/decisions.md``, "Label attributes").
    """
    return [(k, k + METADATA_SUFFIX) for k in obj
            if k not in RESERVED_KEYS and not k.endswith(METADATA_SUFFIX)
            and k + METADATA_SUFFIX in obj]


def attribute_type(obj: dict[str, Any], meta: str) -> str | None:
    """Return the ``type`` of a metadata object, or None."""
    metadata = obj.get(meta)
    return metadata.get("type") if isinstance(metadata, dict) else None


def usable_boxes(obj: dict[str, Any], findings: list[Finding]
                 ) -> Iterator[tuple[str, int, dict[str, Any], str]]:
    """Yield ``(attribute, index, box, label)`` for each box the service trains on.

    Only meaningful on a valid line: a box is usable when no finding points at it and its
    class-map name has a valid length (no ERROR_INVALID_LABEL_NAME_LENGTH names its class-map
    entry).
    """
    flagged = {(path[0], path[2]) for _, path, _ in findings
               if len(path) >= 3 and path[1] == "annotations"}
    bad_names = {(path[0], path[2]) for code, path, _ in findings
                 if code == _LABEL_NAME_LENGTH and len(path) == 3 and path[1] == "class-map"}
    for attr, meta in attribute_pairs(obj):
        if attribute_type(obj, meta) != DETECTION:
            continue
        class_map = obj[meta]["class-map"]
        for i, box in enumerate(obj[attr].get("annotations") or ()):
            key = str(box["class_id"])
            if (attr, i) in flagged or (meta, key) in bad_names:
                continue
            yield attr, i, box, class_map[key]


def usable_classes(obj: dict[str, Any], findings: list[Finding]) -> Iterator[tuple[str, str]]:
    """Yield ``(attribute, label)`` for each usable image-level label of a valid line."""
    bad = {path[0] for code, path, _ in findings if code == _LABEL_NAME_LENGTH}
    for attr, meta in attribute_pairs(obj):
        if attribute_type(obj, meta) == CLASSIFICATION and meta not in bad:
            yield attr, obj[meta]["class-name"]
