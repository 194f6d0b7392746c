"""Hypothesis strategies for manifests: realistic valid lines, one fault per rule, raw mutations.

A line is built as a JSON *model* first, then serialised, so that tests can re-serialise the same
line with its keys in another order. The model is plain JSON data plus three helpers that
``json`` cannot express:

* :class:`Obj`: an object as a list of ``(key, value)`` pairs, so it can hold duplicate keys;
* :class:`Raw`: a token written as is (``NaN``, ``1e400``, a 400-digit integer, ``1.0``);
* :class:`Esc`: a string (key or value) written with every character ``\\u``-escaped; it is equal
  to the plain string once parsed.

A manifest (:class:`Manifest`) is a list of lines, each a model or raw ``bytes``, plus the file's
byte order mark, per-line terminators (LF or CRLF) and whether the last line ends with a newline.
:func:`manifests` draws one; :func:`manifest_bytes` draws its bytes.

Formats and limits follow ``shared/spec/validation.md`` (guide L3305-3660, L17913-18032).
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

CLASSIFICATION = "groundtruth/image-classification"
DETECTION = "groundtruth/object-detection"
BUCKET = "custom-labels-datasets"
OTHER_BUCKET = "another-bucket-2"
BOM = b"\xef\xbb\xbf"

#: Labels a dataset draws from: a small pool so that labels repeat across lines and datasets.
LABELS = ("cat", "dog", "bird", "Tree", "café", "犬", "two words", "x" * 256)
#: Label attribute names (never ending in -metadata, never reserved).
ATTRIBUTES = ("cat-dog", "labels", "bounding-box", "my_boxes", "étiquette", "ラベル", "a", "job 1")
DATES = ("2020-10-18T22:18:13.527256", "2023-01-01T00:00:00", "2019-12-31")
JOB_NAMES = ("labeling-job/cat-dog", "labeling-job/boxes", "")


# --- the JSON model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A JSON token written verbatim."""

    text: str


class Esc(str):
    """A string written with every character as a ``\\u`` escape."""

    __slots__ = ()


@dataclass
class Obj:
    """A JSON object as ordered pairs; may hold duplicate keys."""

    pairs: list[tuple[str, Any]] = field(default_factory=list)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _dump_str(text: str) -> str:
    if isinstance(text, Esc):
        out = []
        for ch in text:
            code = ord(ch)
            if code >= 0x10000:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        return '"' + "".join(out) + '"'
    if _SURROGATE.search(text):
        return json.dumps(text)  # lone surrogates cannot be written as UTF-8: keep the escapes
    return json.dumps(text, ensure_ascii=False)


def dumps(value: Any, spaced: bool = False) -> str:
    """Serialise a JSON model; ``spaced`` puts a space after ``,`` and ``:``."""
    comma, colon = (", ", ": ") if spaced else (",", ":")
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        items = value.pairs
    elif isinstance(value, dict):
        items = list(value.items())
    else:
        items = None
    if items is not None:
        return "{" + comma.join(_dump_str(k) + colon + dumps(v, spaced) for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + comma.join(dumps(v, spaced) for v in value) + "]"
    if isinstance(value, str):
        return _dump_str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return json.dumps(value)


def to_obj(value: Any) -> Any:
    """Return ``value`` with every dict turned into an :class:`Obj` (recursively)."""
    if isinstance(value, dict):
        return Obj([(k, to_obj(v)) for k, v in value.items()])
    if isinstance(value, Obj):
        return Obj([(k, to_obj(v)) for k, v in value.pairs])
    if isinstance(value, list):
        return [to_obj(v) for v in value]
    return value


def shuffle_keys(value: Any, rnd: random.Random) -> Any:
    """Return ``value`` with the keys of every object in a random order (arrays keep theirs)."""
    if isinstance(value, (dict, Obj)):
        pairs = list(value.items()) if isinstance(value, dict) else list(value.pairs)
        rnd.shuffle(pairs)
        return Obj([(k, shuffle_keys(v, rnd)) for k, v in pairs])
    if isinstance(value, list):
        return [shuffle_keys(v, rnd) for v in value]
    return value


# --- manifests --------------------------------------------------------------------------------


@dataclass
class Manifest:
    """A manifest under construction: lines (models or raw bytes) and how the file is laid out."""

    lines: list[Any]
    crlf: list[bool]
    bom: bool = False
    final_newline: bool = True
    spaced: bool = False

    def line_bytes(self, index: int, rnd: random.Random | None = None) -> bytes:
        line = self.lines[index]
        if isinstance(line, bytes):
            return line
        if rnd is not None:
            line = shuffle_keys(line, rnd)
        return dumps(line, self.spaced).encode("utf-8")

    def to_bytes(self, rnd: random.Random | None = None) -> bytes:
        """Return the file; with ``rnd``, every model line has its keys shuffled."""
        out = bytearray(BOM if self.bom else b"")
        for i in range(len(self.lines)):
            out += self.line_bytes(i, rnd)
            last = i == len(self.lines) - 1
            if not last or self.final_newline:
                out += b"\r\n" if self.crlf[i] else b"\n"
        return bytes(out)


def split_lines(data: bytes) -> list[bytes]:
    """Split a manifest into lines by the reader's documented rules, independently of it.

    A BOM at the very start is skipped, lines end at LF with one CR before it dropped, and the
    final newline does not make a line.
    """
    if data.startswith(BOM):
        data = data[len(BOM):]
    if not data:
        return []
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts]


def count_lines(data: bytes) -> int:
    """Return the number of lines of a manifest (see :func:`split_lines`)."""
    return len(split_lines(data))


# --- valid lines ------------------------------------------------------------------------------
#
# Lines are built by plain functions from a ``random.Random`` seeded by one Hypothesis draw: a
# manifest costs a few draws a line instead of hundreds, which keeps the test modules fast.
# Hypothesis still chooses (and shrinks) the number of lines, which are faulty and how.

SEEDS = st.integers(0, 2**32 - 1)
_SPECIAL_CONFIDENCES = (0, 1, 0.0, 1.0, 0.5, 0.95, 5e-324, 0.9999999999999999)


def source_ref(index: int, bucket: str = BUCKET, prefix: str = "img") -> str:
    """Return the source-ref of image ``index``: unique per (bucket, prefix, index)."""
    return f"s3://{bucket}/images/{prefix}-{index:05d}.jpg"


def confidence(rnd: random.Random) -> float:
    """Return a confidence in 0..1: a boundary value or a random float."""
    return rnd.choice(_SPECIAL_CONFIDENCES) if rnd.random() < 0.5 else rnd.random()


def image_size(rnd: random.Random) -> tuple[int, int]:
    """Return a width and height in 64..4096 with an aspect ratio of at most 20:1."""
    width = rnd.choice((64, 4096, 1280, 1281)) if rnd.random() < 0.2 else rnd.randint(64, 4096)
    low, high = max(64, -(-width // 20)), min(4096, width * 20)
    height = rnd.choice((low, high)) if rnd.random() < 0.2 else rnd.randint(low, high)
    return width, height


def min_box_side(width: float, height: float) -> int:
    """Return the smallest whole box side that is more than 1 px once scaled to 1280 px."""
    longest = max(width, height)
    scale = 1.0 if longest <= 1280 else 1280 / longest
    side = int(1 / scale) + 1
    while side * scale <= 1:
        side += 1
    return side


def box(rnd: random.Random, width: int, height: int, class_ids: list[int]) -> dict[str, Any]:
    """Return one annotation inside the image and large enough after scaling."""
    least = min_box_side(width, height)
    bw = least if rnd.random() < 0.1 else rnd.randint(least, width)
    bh = least if rnd.random() < 0.1 else rnd.randint(least, height)
    left = rnd.randint(0, width - bw)
    top = rnd.randint(0, height - bh)
    out: dict[str, Any] = {"class_id": rnd.choice(class_ids), "top": top, "left": left,
                           "width": bw, "height": bh}
    if rnd.random() < 0.2 and left + bw + 0.5 <= width:  # pixel values may be floats
        out["left"] = left + 0.5
    return out


def classification_pair(rnd: random.Random, attr: str) -> dict[str, Any]:
    """Return an image-level label attribute and its metadata (L3446-3475)."""
    meta: dict[str, Any] = {
        "confidence": confidence(rnd),
        "class-name": rnd.choice(LABELS),
        "human-annotated": rnd.choice(("yes", "no")),
        "creation-date": rnd.choice(DATES),
        "type": CLASSIFICATION,
    }
    if rnd.random() < 0.5:
        meta["job-name"] = rnd.choice(JOB_NAMES)
    return {attr: rnd.choice((0, 1, 2, 17)), attr + "-metadata": meta}


def detection_pair(rnd: random.Random, attr: str, n_boxes: int | None = None) -> dict[str, Any]:
    """Return a bounding-box label attribute and its metadata (L3586-3657)."""
    width, height = image_size(rnd)
    names = [rnd.choice(LABELS) for _ in range(rnd.randint(1, 4))]
    if rnd.random() < 0.5:
        keys = list(range(len(names)))
    else:  # sparse class ids
        keys = [3 * i + 1 for i in range(len(names))]
    class_map = {str(k): name for k, name in zip(keys, names)}
    count = rnd.randint(1, 5) if n_boxes is None else n_boxes
    annotations = [box(rnd, width, height, keys) for _ in range(count)]
    objects = [{"confidence": confidence(rnd)} for _ in range(count)]
    if rnd.random() < 0.1:
        objects.append({"confidence": 0.5})  # extra objects entries are harmless
    meta: dict[str, Any] = {
        "objects": objects,
        "class-map": class_map,
        "type": DETECTION,
        "human-annotated": rnd.choice(("yes", "no")),
        "creation-date": rnd.choice(DATES),
    }
    if rnd.random() < 0.5:
        meta["job-name"] = rnd.choice(JOB_NAMES)
    value = {"image_size": [{"width": width, "height": height, "depth": rnd.choice((1, 3))}],
             "annotations": annotations}
    return {attr: value, attr + "-metadata": meta}


def valid_line(rnd: random.Random, ref: str,
               kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Return a valid line: a source-ref and one to three label attributes.

    ``kinds`` fixes the kind of each attribute (``"cls"`` or ``"det"``).
    """
    if kinds is None:
        n = rnd.choice((1, 1, 1, 1, 2, 3))
        kinds = tuple(rnd.choice(("cls", "det")) for _ in range(n))
    attrs = rnd.sample(ATTRIBUTES, len(kinds))
    line: dict[str, Any] = {"source-ref": ref}
    for attr, kind in zip(attrs, kinds):
        line.update(classification_pair(rnd, attr) if kind == "cls"
                    else detection_pair(rnd, attr))
    return line


def valid_lines(ref: str, kinds: tuple[str, ...] | None = None) -> st.SearchStrategy[dict]:
    """Draw a valid line (see :func:`valid_line`)."""
    return SEEDS.map(lambda seed: valid_line(random.Random(seed), ref, kinds))


def _pairs_of(line: dict[str, Any], kind: str | None = None) -> list[str]:
    """Return the label attributes of a line (of one metadata type when ``kind`` is given)."""
    return [k for k in line if isinstance(line.get(k + "-metadata"), dict)
            and (kind is None or line[k + "-metadata"].get("type") == kind)]


# --- faults -----------------------------------------------------------------------------------


def _nested(depth: int, kind: str) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value] if kind == "array" else {"k": value}
    return value


_INTERESTING = (b'"', b"{", b"}", b"[", b"]", b",", b":", b"\\", b"\r", b"\n", b"\x00", b"\xff",
                b"\xc3", b"\xe2\x80", b" ", b"-", b"e", b"0", BOM)


def mutate(rnd: random.Random, raw: bytes) -> bytes:
    """Apply one to four raw-byte mutations (flip, delete, insert, truncate, repeat)."""
    data = bytearray(raw)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.choice(("flip", "delete", "insert", "truncate", "repeat"))
        pos = rnd.randint(0, len(data))
        if op == "flip" and pos < len(data):
            data[pos] ^= 1 << rnd.randint(0, 7)
        elif op == "delete":
            del data[pos:pos + rnd.randint(1, 8)]
        elif op == "insert":
            data[pos:pos] = (rnd.choice(_INTERESTING) if rnd.random() < 0.7
                             else bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3))))
        elif op == "truncate":
            del data[pos:]
        elif op == "repeat":
            data[pos:pos] = data[pos:pos + rnd.randint(1, 16)]
    return bytes(data)


def raw_mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """Draw a raw-byte mutation of ``data`` (a line or a whole manifest)."""
    return SEEDS.map(lambda seed: mutate(random.Random(seed), data))


#: Every fault :func:`faulty_line` knows, one or more per rule.
FAULTS = (
    "invalid_json", "blank", "bom_inside", "not_an_object", "missing_source_ref",
    "invalid_source_ref", "duplicate_source_ref", "missing_metadata", "missing_attribute",
    "metadata_not_object", "metadata_field", "unsupported_type", "attribute_format",
    "box_off_frame", "tiny_box", "missing_class_map_id", "missing_confidence", "too_many_boxes",
    "bad_dimensions", "empty_annotations", "only_source_ref", "unicode_keys", "escaped_keys",
    "nan", "big_numbers", "duplicate_keys", "deep_nesting", "label_name_length",
    "too_many_labels", "reserved_keys", "float_ints", "lone_surrogate", "unpaired_extra_key",
    "line_too_long", "raw_mutation",
)
_DETECTION_FAULTS = frozenset(("box_off_frame", "tiny_box", "missing_class_map_id",
                               "missing_confidence", "bad_dimensions", "empty_annotations"))


def faulty_lines(ref: str, fault: str | None = None,
                 earlier: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Draw a line with one fault (see :func:`faulty_line`); the fault from :data:`FAULTS`."""
    faults = st.just(fault) if fault is not None else st.sampled_from(FAULTS)
    return st.tuples(faults, SEEDS).map(
        lambda fs: faulty_line(random.Random(fs[1]), ref, fs[0], earlier))


def faulty_line(rnd: random.Random, ref: str, fault: str, earlier: tuple[str, ...] = ()) -> Any:
    """Return a line with ``fault``: a JSON model or raw bytes.

    ``earlier`` are the source-refs of the lines before, which a duplicate source-ref repeats
    (without any, the line is valid).
    """
    if fault == "duplicate_source_ref":
        return valid_line(rnd, rnd.choice(earlier) if earlier else ref)
    if fault == "blank":
        return rnd.choice((b"", b" ", b"\t", b"\r", b"  \t "))
    if fault == "not_an_object":
        return rnd.choice((b"[]", b"null", b"1", b'"s3://b/x.jpg"', b"true",
                           b'[{"source-ref": "s3://abc/x.jpg"}]'))
    if fault == "only_source_ref":
        return {"source-ref": ref}
    if fault == "too_many_labels":
        line: dict[str, Any] = {"source-ref": ref}
        for i in range(rnd.randint(50, 52)):
            line[f"attr-{i}"] = 1
            line[f"attr-{i}-metadata"] = {"confidence": 1, "class-name": f"label-{i}",
                                          "human-annotated": "yes",
                                          "creation-date": DATES[0], "type": CLASSIFICATION}
        return line
    if fault == "too_many_boxes":
        line = {"source-ref": ref}
        total = rnd.randint(49, 56)
        if rnd.random() < 0.5:  # two attributes whose boxes add up past the limit
            line.update(detection_pair(rnd, "boxes-a", n_boxes=total // 2))
            line.update(detection_pair(rnd, "boxes-b", n_boxes=total - total // 2))
        else:
            line.update(detection_pair(rnd, "boxes", n_boxes=total))
        return line

    kinds = None
    if fault in _DETECTION_FAULTS:
        kinds = ("det",) if rnd.random() < 0.5 else ("det", rnd.choice(("cls", "det")))
    line = valid_line(rnd, ref, kinds)
    attrs = _pairs_of(line)
    attr = rnd.choice(attrs)
    meta = line[attr + "-metadata"]
    dets = _pairs_of(line, DETECTION)
    det = dets[0] if dets else None
    if fault == "invalid_json":
        raw = dumps(line).encode("utf-8")
        how = rnd.choice(("truncate", "trailing_comma", "single_quotes", "two_objects",
                          "missing_colon", "bad_escape", "control_char", "bad_utf8",
                          "comment"))
        if how == "truncate":
            return raw[:rnd.randint(0, len(raw) - 1)]
        if how == "trailing_comma":
            return raw[:-1] + b",}"
        if how == "single_quotes":
            return raw.replace(b'"source-ref"', b"'source-ref'")
        if how == "two_objects":
            return raw + b" {}"
        if how == "missing_colon":
            return raw.replace(b'"source-ref":', b'"source-ref" ', 1)
        if how == "bad_escape":
            return raw.replace(b'"source-ref"', b'"source\\x-ref"', 1)
        if how == "control_char":
            return raw.replace(b"s3://", b"s3:\x01//", 1)
        if how == "bad_utf8":
            return raw.replace(b"s3://", rnd.choice((b"\xff", b"\xc3(", b"\xed\xa0\x80",
                                                     b"\xe2\x82")) + b"s3://", 1)
        return raw[:-1] + b"/* note */}"
    if fault == "bom_inside":
        return BOM + dumps(line).encode("utf-8")
    if fault == "raw_mutation":
        return mutate(rnd, dumps(line).encode("utf-8"))
    if fault == "missing_source_ref":
        del line["source-ref"]
        if rnd.random() < 0.5:
            line["source_ref"] = ref  # a misspelt key is an unpaired extra key
    elif fault == "invalid_source_ref":
        line["source-ref"] = rnd.choice([
            "http://bucket/x.jpg", "s3://", "s3://" + BUCKET, "s3://" + BUCKET + "/",
            "s3://Bad_Bucket/x.jpg", "s3://ab/x.jpg", "s3://-bucket/x.jpg", "s3://bucket-/x.jpg",
            "s3://" + "b" * 64 + "/x.jpg", "S3://bucket/x.jpg", "s3://buc ket/x.jpg", "",
            123, None, True, ["s3://bucket/x.jpg"], {"s3": "x"}])
    elif fault == "missing_metadata":
        del line[attr + "-metadata"]
    elif fault == "missing_attribute":
        del line[attr]
    elif fault == "metadata_not_object":
        line[attr + "-metadata"] = rnd.choice([None, [], "meta", 1, [meta]])
    elif fault == "metadata_field":
        name = rnd.choice(("confidence", "class-name", "human-annotated",
                           "creation-date", "job-name", "type", "objects", "class-map"))
        value = rnd.choice([None, -0.1, 1.5, "0.9", "maybe", 7, [], {}, True, "yes"])
        if rnd.random() < 0.5:
            meta.pop(name, None)
        else:
            meta[name] = value
    elif fault == "unsupported_type":
        meta["type"] = rnd.choice((
            "groundtruth/semantic-segmentation", "groundtruth/Image-Classification", "",
            "groundtruth/object-detection ", "custom"))
    elif fault == "attribute_format":
        if meta.get("type") == CLASSIFICATION:
            line[attr] = rnd.choice(["1", 1.0, 1.5, None, True, [1], {"v": 1}, -3])
        else:
            value = line[attr]
            what = rnd.choice(("not_object", "image_size", "size_field",
                               "annotations", "box", "box_field"))
            if what == "not_object":
                line[attr] = rnd.choice([[], 1, "boxes", None])
            elif what == "image_size":
                value["image_size"] = rnd.choice([
                    [], value["image_size"] * 2, value["image_size"][0], [1], None])
            elif what == "size_field":
                name = rnd.choice(("width", "height", "depth"))
                if rnd.random() < 0.5:
                    del value["image_size"][0][name]
                else:
                    value["image_size"][0][name] = rnd.choice(["640", None, True, []])
            elif what == "annotations":
                value["annotations"] = rnd.choice(({}, "none", 0, None))
            elif what == "box":
                value["annotations"][0] = rnd.choice([[], 1, None, "box"])
            else:
                name = rnd.choice(("class_id", "top", "left", "width", "height"))
                if rnd.random() < 0.5:
                    del value["annotations"][0][name]
                else:
                    value["annotations"][0][name] = rnd.choice(
                        ["0", None, False, [], 0.5 if name == "class_id" else "1"])
    elif fault in ("box_off_frame", "tiny_box", "missing_class_map_id", "missing_confidence",
                   "bad_dimensions", "empty_annotations"):
        value, dmeta = line[det], line[det + "-metadata"]
        size = value["image_size"][0]
        width, height = size["width"], size["height"]
        annotations = value["annotations"]
        i = rnd.randint(0, len(annotations) - 1)
        box = annotations[i]
        if fault == "box_off_frame":
            how = rnd.choice(("left", "top", "width", "height", "right", "bottom"))
            if how in ("left", "top", "width", "height"):
                box[how] = rnd.choice((-1, -0.5, -1e-9, -1000))
            elif how == "right":
                box["left"] = width - box["width"] + rnd.choice((0.5, 1, 100))
            else:
                box["top"] = height - box["height"] + rnd.choice((0.5, 1, 100))
            if rnd.random() < 0.5:  # every box broken: no valid annotation left
                for other in annotations:
                    other["left"] = width + 1
        elif fault == "tiny_box":
            limit = min_box_side(width, height)
            side = rnd.choice(("width", "height", "both"))
            small = rnd.choice((0, 1, limit - 1, 1280 / max(width, height, 1280)))
            for name in (("width", "height") if side == "both" else (side,)):
                box[name] = small
        elif fault == "missing_class_map_id":
            how = rnd.choice(("unknown_id", "drop_key", "int_key"))
            if how == "unknown_id":
                box["class_id"] = rnd.choice((99, -1, 2 ** 31))
            elif how == "drop_key":
                dmeta["class-map"].pop(str(box["class_id"]), None)
            else:
                dmeta["class-map"] = Obj([(" " + k, v) for k, v in dmeta["class-map"].items()])
        elif fault == "missing_confidence":
            objects = dmeta["objects"]
            if rnd.random() < 0.5:
                del objects[min(i, len(objects) - 1):]
            else:
                objects[i] = rnd.choice(({}, {"conf": 0.5}, {"confidence": 2},
                                         {"confidence": None}, 0.5))
        elif fault == "bad_dimensions":
            size["width"], size["height"] = rnd.choice((
                (63, 100), (64, 64), (4096, 4096), (4097, 1000), (100, 4097), (64, 1281),
                (64, 1280), (4096, 204), (4096, 205), (0, 0), (-640, 480), (63.9, 100),
                (Raw("1e400"), 100), (640.0, 480.0)))
        else:
            how = rnd.choice(("empty", "missing"))
            if how == "empty":
                value["annotations"] = []
                dmeta["objects"] = []
            else:
                del value["annotations"]
    elif fault == "unicode_keys":
        name = rnd.choice(("ラベル-😀", "e\u0301tiquette", "\u2028sep", "tab\tkey",
                           "quote\"key", "back\\slash", "nul\u0000key", "Ω"))
        line[name] = line.pop(attr)
        line[name + "-metadata"] = line.pop(attr + "-metadata")
        if rnd.randint(0, 3) == 0:  # NFD metadata name: no longer the same key
            line.pop(name + "-metadata")
            line[name.replace("e\u0301", "\u00e9") + "x-metadata"] = meta
    elif fault == "escaped_keys":
        which = rnd.choice(("source-ref", "metadata", "type", "value"))
        if which == "source-ref":
            line = {(Esc(k) if k == "source-ref" else k): v for k, v in line.items()}
        elif which == "metadata":
            line = {(Esc(k) if k == attr + "-metadata" else k): v for k, v in line.items()}
        elif which == "type":
            meta["type"] = Esc(meta["type"])
        else:
            line["source-ref"] = Esc(ref)
    elif fault == "nan":
        token = Raw(rnd.choice(("NaN", "Infinity", "-Infinity", "nan", "inf")))
        where = rnd.choice(("confidence", "extra", "width"))
        if where == "confidence":
            meta["confidence"] = token
        elif where == "width" and det is not None:
            line[det]["image_size"][0]["width"] = token
        else:
            line["extra"] = token
    elif fault == "big_numbers":
        token = Raw(rnd.choice((
            "1e400", "-1e400", "1" + "0" * 400, "1" * 4301, "1E2", "-0", "0e0", "1.0e-400",
            "123456789012345678901234567890")))
        if det is not None:
            field_name = rnd.choice(("width", "height", "left", "class_id"))
            if field_name in ("width", "height"):
                line[det]["image_size"][0][field_name] = token
            else:
                line[det]["annotations"][0][field_name] = token
        else:
            target = rnd.choice(("value", "confidence"))
            if target == "value":
                line[attr] = token
            else:
                meta["confidence"] = token
    elif fault == "duplicate_keys":
        obj = to_obj(line)
        where = rnd.choice(("source-ref", "metadata", "escaped"))
        if where == "source-ref":
            obj.pairs.append(("source-ref", ref))
        elif where == "metadata":
            for k, v in obj.pairs:
                if k == attr + "-metadata" and isinstance(v, Obj):
                    v.pairs.append(("type", CLASSIFICATION))
        else:
            obj.pairs.append((Esc("source-ref"), ref))
        return obj
    elif fault == "deep_nesting":
        depth = rnd.randint(60, 68)
        kind = rnd.choice(("array", "object", "in_string"))
        if kind == "in_string":
            line["note"] = "[" * 100 + '\\"{' * 10
        else:
            line["deep"] = _nested(depth, kind)
    elif fault == "label_name_length":
        name = rnd.choice(("", "x" * 257, "é" * 257, "😀" * 256))
        if meta.get("type") == CLASSIFICATION:
            meta["class-name"] = name
        else:
            key = next(iter(meta["class-map"]))
            meta["class-map"][key] = name
    elif fault == "reserved_keys":
        line[rnd.choice(("errors", "warnings"))] = rnd.choice(
            ["n/a", [], [1, "x"], {"note": "kept"}])
    elif fault == "float_ints":
        if det is not None:
            line[det]["annotations"][0]["class_id"] = Raw(rnd.choice(("0.0", "0e0",
                                                                      "-0", "true")))
        else:
            line[attr] = Raw(rnd.choice(("1.0", "1e0", "-0", "10E-1")))
    elif fault == "lone_surrogate":
        where = rnd.choice(("class-name", "key", "source-ref", "job-name"))
        text = rnd.choice(("\ud800", "a\udfffb", "\udc00\ud800"))
        if where == "class-name" and meta.get("type") == CLASSIFICATION:
            meta["class-name"] = text
        elif where == "key":
            line[text] = 1
        elif where == "source-ref":
            line["source-ref"] = ref[:-4] + text + ".jpg"
        else:
            meta["job-name"] = text
    elif fault == "unpaired_extra_key":
        extra = rnd.choice(("extra", attr + "-metadata-metadata", "x-metadata",
                            "-metadata", attr + "-Metadata"))
        line[extra] = rnd.choice((1, "v", {"type": CLASSIFICATION}))
        if rnd.randint(0, 3) == 0:  # only the unpaired keys are left
            for a in attrs:
                line.pop(a, None)
                line.pop(a + "-metadata", None)
    elif fault == "line_too_long":
        # Around the 100,000-character limit (L5411-5412), in ASCII and in 2-byte characters;
        # the last one also passes the reader's 400,000-byte cap.
        base = len(dumps({**line, "job-name-x": ""}).encode("utf-8"))
        kind = rnd.choice(("ascii_over", "ascii_at", "wide_under", "huge"))
        if kind == "ascii_over":
            line["job-name-x"] = "j" * (100_001 - base)
        elif kind == "ascii_at":
            line["job-name-x"] = "j" * (100_000 - base)
        elif kind == "wide_under":
            line["job-name-x"] = "é" * (99_000 - base)
        else:
            line["job-name-x"] = "j" * 400_010
    else:  # pragma: no cover - a fault without a branch is a bug in this module
        raise AssertionError(fault)
    return line


# --- whole manifests --------------------------------------------------------------------------


@st.composite
def manifests(draw: Any, *, min_lines: int = 0, max_lines: int = 25, fault_rate: float = 0.3,
              prefix: str = "img", layout: bool = True) -> Manifest:
    """Draw a manifest: mostly valid lines, about ``fault_rate`` of them faulty.

    ``prefix`` names the images (a testing manifest drawn with the training prefix shares some);
    ``layout`` allows a BOM, CRLF terminators, a missing final newline and a second bucket.
    """
    n = draw(st.integers(min_lines, max_lines))
    threshold = int(round(fault_rate * 100))
    rnd = random.Random(draw(SEEDS, label="layout seed"))
    two_buckets = layout and rnd.random() < 0.1
    lines: list[Any] = []
    refs: list[str] = []
    for i in range(n):
        bucket = OTHER_BUCKET if two_buckets and rnd.random() < 0.25 else BUCKET
        ref = source_ref(i, bucket, prefix)
        if draw(st.integers(0, 99)) >= threshold:
            lines.append(draw(valid_lines(ref)))
        else:
            lines.append(draw(faulty_lines(ref, earlier=tuple(refs))))
        refs.append(ref)
    crlf_mode = rnd.choice(("lf", "lf", "crlf", "mixed")) if layout else "lf"
    crlf = [crlf_mode == "crlf" or (crlf_mode == "mixed" and rnd.random() < 0.5)
            for _ in range(n)]
    return Manifest(lines=lines, crlf=crlf, bom=layout and rnd.random() < 0.2,
                    final_newline=not layout or rnd.random() < 0.8, spaced=rnd.random() < 0.5)


def manifest_bytes(**kwargs: Any) -> st.SearchStrategy[bytes]:
    """Draw the bytes of a manifest (see :func:`manifests`)."""
    return manifests(**kwargs).map(lambda m: m.to_bytes())


@st.composite
def dataset_pairs(draw: Any, fault_rate: float = 0.3) -> tuple[bytes, bytes | None]:
    """Draw a training manifest and, half of the time, a testing one.

    The testing manifest sometimes names the training images (image overlap) and draws labels
    from the same small pool, so label overlap rules go both ways.
    """
    train = draw(manifest_bytes(min_lines=1, fault_rate=fault_rate))
    if not draw(st.booleans()):
        return train, None
    prefix = draw(st.sampled_from(["img", "test", "test"]))
    return train, draw(manifest_bytes(min_lines=1, max_lines=12, fault_rate=fault_rate,
                                      prefix=prefix))


# --- settings ---------------------------------------------------------------------------------


def fixed_settings(max_examples: int) -> Any:
    """Return deterministic settings: derandomized, no example database, no deadline.

    ``CUSTOMLABELS_HYPOTHESIS_SCALE`` (a float, default 1) multiplies ``max_examples`` for longer
    local runs; CI leaves it unset so every run sees the same examples.
    """
    import os

    from hypothesis import HealthCheck, settings

    scale = float(os.environ.get("CUSTOMLABELS_HYPOTHESIS_SCALE", "1"))
    return settings(max_examples=max(1, int(max_examples * scale)), derandomize=True,
                    database=None, deadline=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])
