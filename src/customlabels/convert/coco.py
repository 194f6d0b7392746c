"""COCO object detection files to manifests and back (guide L3781-4350).

The mapping is the guide's (L3808-4010): one JSON Line per image, in the order of ``images``;
``source-ref`` is ``--s3-prefix`` + ``file_name`` (or an ``s3://`` ``coco_url``); ``image_size``
is the image's width and height with depth 3; each annotation becomes a box ``left = bbox[0]``,
``top = bbox[1]``, ``width = bbox[2]``, ``height = bbox[3]`` whose ``class_id`` is the
``category_id``, with the category names of the image in ``class-map`` and one
``{"confidence": 1}`` in ``objects`` per box; ``creation-date`` is ``date_captured``. Keys come in
the order the guide's script writes them, so the lines equal its lines (``docs/decisions.md``).

Where the guide's script writes lines the service rejects, or stops with a traceback, this
converter writes valid lines and reports what it changed (``docs/convert.md``): float boxes are
rounded to whole pixels and clipped (:func:`~customlabels.convert._common.pixel_box`), boxes that
vanish or that the service finds too small are dropped, crowd annotations are skipped, images
over 50 boxes, of an unusable size, or repeating a ``file_name`` are skipped, and references to
unknown images or categories are reported by their position in the file.

Memory: the COCO document is parsed whole (orjson); beyond it the converter keeps one list of
annotation references per image and streams the lines out.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import UsageError
from ..manifest.jsonline import parse_line
from ..manifest.records import Record, iter_batches, may_contain
from ..manifest.schema import (DETECTION, IGNORED, VALID, attribute_pairs, attribute_type,
                               box_too_small, usable_boxes)
from . import _common as C
from ._common import ConversionResult, Job

NAME = "coco"
DESCRIPTION = "COCO object detection JSON (instances_*.json)"
#: The label attribute name of the guide's script (L4218).
DEFAULT_ATTRIBUTE = "bounding-box"
TOO_MANY_BOXES_POLICIES = ("skip", "largest")
_PROGRESS_STEP = 8192
#: One ``objects`` entry; the service needs a confidence and does not use it (L3982).
_CONFIDENCE = {"confidence": 1}


def detect(head: bytes) -> bool:
    """Tell whether the start of a file looks like a COCO document (an object with images)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"{") and b'"images"' in head and b"\n{" not in text[:4096]


def default_output(source: str | os.PathLike[str]) -> Path:
    """Return the manifest written when none is named: the input with ``.manifest``."""
    return Path(source).with_suffix(".manifest")


def convert(source: str | os.PathLike[str], output: str | os.PathLike[str] | None = None, *,
            s3_prefix: str | None = None, label_attribute: str = DEFAULT_ATTRIBUTE,
            job_name: str | None = None, include_crowd: bool = False,
            too_many_boxes: str = "skip", creation_date: str | None = None,
            progress: bool | None = False, validate: bool = True) -> ConversionResult:
    """Convert a COCO object detection file into a manifest; validate it.

    Args:
        source: the COCO JSON file.
        output: the manifest to write (default: ``source`` with ``.manifest``).
        s3_prefix: ``s3://bucket/folder/`` put before each ``file_name``; when None, each
            image's ``coco_url`` must be an ``s3://`` URL (L3935-3937).
        label_attribute: the label attribute's name (the guide's ``bounding-box``).
        job_name: the metadata ``job-name`` (default ``labeling-job/`` + the attribute).
        include_crowd: convert ``iscrowd`` annotations too (skipped and counted by default:
            a crowd region is not one object).
        too_many_boxes: ``skip`` an image with more than 50 boxes (default), or keep its 50
            ``largest`` boxes by area.
        creation_date: the creation-date where ``date_captured`` is missing or malformed
            (default: the time of the conversion, UTC).
        progress: show a progress bar (None: when stderr is a terminal).
        validate: validate the manifest written.

    Returns:
        The result: output, counts, problems found, and the validator's report.
    """
    if too_many_boxes not in TOO_MANY_BOXES_POLICIES:
        raise UsageError(f"too_many_boxes must be one of {TOO_MANY_BOXES_POLICIES}, "
                         f"not {too_many_boxes!r}")
    C.check_label_attribute(label_attribute)
    fallback = C.fallback_date(creation_date)
    job = Job(NAME, source, output if output is not None else default_output(source))
    with job, C.gc_paused():
        folder = None
        if s3_prefix is not None:
            folder = C.s3_folder(s3_prefix)
            if folder is None:
                raise job.fatal("S3_PREFIX_INVALID", repr(s3_prefix),
                                context={"s3_prefix": s3_prefix})
        images, annotations, categories = _sections(job, _load(job))
        cats = _categories(job, categories)
        kept, index = _images(job, images, folder)
        bar = C.Progress(len(annotations) + len(kept), f"{Path(job.source).name}", progress,
                         unit="item")
        try:
            groups = _group(job, annotations, index, cats, include_crowd, bar)
            del index
            with job.open_output(lines_needed=True) as out:
                _write(job, out, kept, groups, annotations, cats, label_attribute,
                       job_name or f"labeling-job/{label_attribute}", too_many_boxes,
                       fallback, bar)
        finally:
            bar.close()
        # free the document before validating; the references first, so that the annotations
        # are freed in file (allocation) order, several times faster than in image order
        del groups, kept
        del images, annotations, categories
    return job.result(validate)


def _load(job: Job) -> Any:
    import orjson

    data = job.read_bytes()
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise job.fatal("INPUT_NOT_JSON", str(exc),
                        context={"error": exc.msg, "position": exc.pos}) from None


def _sections(job: Job, doc: Any) -> tuple[list[Any], list[Any], list[Any]]:
    if not isinstance(doc, dict):
        raise job.fatal("COCO_MISSING_SECTION", "the document is not a JSON object", "images",
                        context={"section": "images", "document": C.json_type(doc)})
    found = []
    for key in ("images", "annotations", "categories"):
        value = doc.get(key)
        if not isinstance(value, list):
            raise job.fatal("COCO_MISSING_SECTION",
                            None if value is None else f"{key} is not a list", key,
                            context={"section": key, "found": C.json_type(value)})
        found.append(value)
    return found[0], found[1], found[2]


def _categories(job: Job, categories: list[Any]) -> dict[int, tuple[str, str] | None]:
    """Return category id -> (class-map key, name), or None for an unusable category."""
    cats: dict[int, tuple[str, str] | None] = {}
    for i, cat in enumerate(categories):
        where = f"$.categories[{i}]"
        if not isinstance(cat, dict):
            job.add("COCO_BAD_CATEGORY", path=where, detail="not an object",
                    context={"index": i, "field": None})
            continue
        cid = cat.get("id")
        if type(cid) is not int:
            job.add("COCO_BAD_CATEGORY", path=where, detail="id is not an integer",
                    context={"index": i, "field": "id"})
            continue
        if cid in cats:
            job.add("COCO_DUPLICATE_CATEGORY_ID", path=where, detail=f"category id {cid}",
                    context={"index": i, "category_id": cid})
            continue
        name = cat.get("name")
        if not isinstance(name, str):
            job.add("COCO_BAD_CATEGORY", path=where, detail=f"category id {cid}: name is not a "
                    "string", context={"index": i, "category_id": cid, "field": "name"})
            cats[cid] = None
        elif not C.label_name_ok(name):
            job.add("LABEL_NAME_LENGTH", path=f"{where}.name", arg=len(name),
                    detail=f"category id {cid}",
                    context={"index": i, "category_id": cid, **C.name_length(len(name))})
            cats[cid] = None
        else:
            cats[cid] = (str(cid), name)
    return cats


#: A kept image: (image record, source-ref, width, height).
_Image = tuple[dict[str, Any], str, int, int]


def _images(job: Job, images: list[Any], folder: str | None
            ) -> tuple[list[_Image], dict[Any, int]]:
    """Return the images to write and image id -> position in them (-1: skipped image)."""
    kept: list[_Image] = []
    index: dict[Any, int] = {}
    seen_refs: dict[str, int] = {}
    no_location: list[int] = []
    for i, img in enumerate(images):
        where = f"$.images[{i}]"
        if not isinstance(img, dict):
            job.add("COCO_BAD_IMAGE", path=where, detail="not an object",
                    context={"index": i, "field": None})
            continue
        image_id = img.get("id")
        if type(image_id) not in (int, str):
            job.add("COCO_BAD_IMAGE", path=f"{where}.id", detail="id is not an integer",
                    context={"index": i, "field": "id"})
            continue
        if image_id in index:
            job.add("COCO_DUPLICATE_IMAGE_ID", path=f"{where}.id", detail=f"image id {image_id}",
                    context={"index": i, "image_id": image_id})
            continue
        index[image_id] = -1  # until kept: its annotations are dropped silently
        width, height = _size(img.get("width")), _size(img.get("height"))
        if width is None or height is None:
            job.add("COCO_BAD_IMAGE", path=where,
                    detail=f"image id {image_id}: width and height must be positive integers",
                    context={"index": i, "image_id": image_id,
                             "field": "width" if width is None else "height",
                             "width": img.get("width"), "height": img.get("height")})
            continue
        if folder is not None:
            name = img.get("file_name")
            if not isinstance(name, str) or not name:
                job.add("COCO_BAD_IMAGE", path=f"{where}.file_name",
                        detail=f"image id {image_id}: file_name is not a non-empty string",
                        context={"index": i, "image_id": image_id, "field": "file_name"})
                continue
            key, why = C.image_key(name)
            if key is None:
                job.add("COCO_BAD_IMAGE", path=f"{where}.file_name",
                        detail=f"image id {image_id}: {why} ({name!r})",
                        context={"index": i, "image_id": image_id, "field": "file_name",
                                 "file_name": name})
                continue
            sref = folder + key
        else:
            url = img.get("coco_url")
            if not isinstance(url, str) or not C.is_source_ref(url):
                no_location.append(i)
                continue
            sref = url
        first = seen_refs.get(sref)
        if first is not None:
            job.add("COCO_DUPLICATE_FILE_NAME", path=where,
                    detail=f"image id {image_id}: {sref} is also $.images[{first}]",
                    context={"index": i, "image_id": image_id, "source_ref": sref,
                             "first_index": first})
            continue
        seen_refs[sref] = i
        if not C.dimension_ok(width, height):
            job.add("IMAGE_DIMENSION", path=where, detail=f"image id {image_id}: {width}x{height}",
                    context={"index": i, "image_id": image_id, **C.dimension(width, height)})
            continue
        index[image_id] = len(kept)
        kept.append((img, sref, width, height))
    if no_location:
        raise job.fatal("COCO_NO_S3_LOCATION", f"{len(no_location)} of {len(images)} images, "
                        f"the first $.images[{no_location[0]}]",
                        context={"images_without": len(no_location), "images": len(images),
                                 "first_index": no_location[0]})
    job.count("images", len(images))
    job.count("images_skipped", len(images) - len(kept))
    return kept, index


def _size(value: Any) -> int | None:
    if type(value) is float and value.is_integer():
        value = int(value)
    return value if type(value) is int and value > 0 else None


def _group(job: Job, annotations: list[Any], index: dict[Any, int],
           cats: dict[int, tuple[str, str] | None], include_crowd: bool,
           bar: C.Progress) -> list[list[dict[str, Any]]]:
    """Return, per kept image, its annotations in file order (references, not copies)."""
    groups: list[list[dict[str, Any]]] = [[] for _ in range(max(index.values(), default=-1) + 1)]
    position = index.get
    category = cats.get
    crowd = skipped = 0
    for start in range(0, len(annotations), _PROGRESS_STEP):
        chunk = annotations[start:start + _PROGRESS_STEP]
        for j, ann in enumerate(chunk, start):
            if type(ann) is not dict:
                job.add("COCO_BAD_ANNOTATION", path=f"$.annotations[{j}]", detail="not an object",
                        context={"index": j, "field": None})
                continue
            if not include_crowd and ann.get("iscrowd"):
                crowd += 1
                continue
            image_id = ann.get("image_id")
            # an id is matched as it is typed: image_id 1.0 is not image 1 (an image id of
            # 1.0 is refused too), nor True
            pos = position(image_id) if type(image_id) in (int, str) else None
            if pos is None:
                job.add("COCO_UNKNOWN_IMAGE", path=f"$.annotations[{j}].image_id",
                        detail=_ann_detail(ann), context=_ann_context(ann, j))
                continue
            cid = ann.get("category_id")
            cat = category(cid, False) if type(cid) is int else False
            if cat is False:
                job.add("COCO_UNKNOWN_CATEGORY", path=f"$.annotations[{j}].category_id",
                        detail=_ann_detail(ann), context=_ann_context(ann, j))
                continue
            if pos < 0 or cat is None:  # its image or category is skipped, and reported
                skipped += 1
                continue
            groups[pos].append(ann)
        bar.update(len(chunk))
    job.count("annotations", len(annotations))
    job.count("crowd_skipped", crowd)
    job.count("annotations_of_skipped_images_or_categories", skipped)
    return groups


def _ann_detail(ann: dict[str, Any]) -> str:
    return (f"annotation id {ann.get('id')!r}, image_id {ann.get('image_id')!r}, "
            f"category_id {ann.get('category_id')!r}")


def _ann_context(ann: dict[str, Any], index: int) -> dict[str, Any]:
    """Return the context of a problem of the annotation at ``index``."""
    return {"index": index, "annotation_id": ann.get("id"), "image_id": ann.get("image_id"),
            "category_id": ann.get("category_id")}


def _write(job: Job, out: BinaryIO, kept: list[_Image], groups: list[list[dict[str, Any]]],
           annotations: list[Any], cats: dict[int, tuple[str, str] | None], attr: str,
           job_name: str, policy: str, fallback: str, bar: C.Progress) -> None:
    """Write one line per kept image, in the order of ``images``.

    The box rule is :func:`~customlabels.convert._common.pixel_box`, inlined: this loop runs
    once per annotation (860,000 times for train2017).
    """
    import orjson

    dumps = orjson.dumps
    floor = math.floor
    F, I = float, int  # noqa: E741  (the only number types orjson makes)
    meta = attr + "-metadata"
    # problems of single annotations wait here until their index in the file is known
    pending: dict[int, list[tuple[str, str, dict[str, Any]]]] = {}

    def report(code: str, ann: dict[str, Any], detail: str, context: dict[str, Any]) -> None:
        """Keep a problem of ``ann`` until its index is known."""
        pending.setdefault(id(ann), []).append((code, detail, context))

    boxes_out = vanished = small = bad_dates = clipped = 0
    first_bad_date = None
    for start in range(0, len(kept), _PROGRESS_STEP):
        buffer: list[bytes] = []
        for n in range(start, min(start + _PROGRESS_STEP, len(kept))):
            img, sref, width, height = kept[n]
            scale = C.box_scale(width, height)
            boxes: list[dict[str, int]] = []
            class_map: dict[str, str] = {}
            anns = groups[n]
            for ann in anns:
                try:
                    x, y, w, h = ann["bbox"]
                    tx, ty, tw, th = type(x), type(y), type(w), type(h)
                    if ((tx is not F and tx is not I) or (ty is not F and ty is not I)
                            or (tw is not F and tw is not I) or (th is not F and th is not I)
                            or w < 0 or h < 0):
                        raise TypeError
                    # pixel_box: edges to the nearest pixel (halves up), clipped to the image
                    left, top = floor(x + 0.5), floor(y + 0.5)
                    right, bottom = floor(x + w + 0.5), floor(y + h + 0.5)
                except (KeyError, TypeError, ValueError, OverflowError):  # not 4 finite numbers
                    report("COCO_BAD_ANNOTATION", ann, f"bbox {ann.get('bbox')!r}",
                           {"field": "bbox", "bbox": ann.get("bbox")})
                    continue
                if left < 0 or top < 0 or right > width or bottom > height:
                    clipped += 1
                    left = 0 if left < 0 else width if left > width else left
                    top = 0 if top < 0 else height if top > height else top
                    right = 0 if right < 0 else width if right > width else right
                    bottom = 0 if bottom < 0 else height if bottom > height else bottom
                w, h = right - left, bottom - top
                if w <= 0 or h <= 0:
                    vanished += 1
                    report("BOX_VANISHED", ann, f"bbox {ann['bbox']} in a {width}x{height} image",
                           {"bbox": ann["bbox"], "image_width": width, "image_height": height})
                    continue
                if box_too_small(w, h, scale):  # spec decision 7
                    small += 1
                    report("BOX_TOO_SMALL", ann, f"{w}x{h} px in a {width}x{height} image",
                           C.too_small(w, h, width, height))
                    continue
                cid = ann["category_id"]
                key, name = cats[cid]  # type: ignore[misc]
                boxes.append({"left": left, "top": top, "width": w, "height": h,
                              "class_id": cid})
                class_map[key] = name
            image_id = img["id"]
            if len(boxes) > C.MAX_BOXES:
                if policy == "skip":
                    job.add("TOO_MANY_BOXES", path=f"$.images[?(@.id=={image_id!r})]",
                            arg="the image is skipped",
                            detail=f"image id {image_id!r}: {len(boxes)} boxes",
                            context={"image_id": image_id, "boxes": len(boxes),
                                     "maximum": C.MAX_BOXES, "policy": policy})
                    continue
                job.add("TOO_MANY_BOXES", path=f"$.images[?(@.id=={image_id!r})]",
                        arg=f"its {C.MAX_BOXES} largest boxes are kept",
                        detail=f"image id {image_id!r}: {len(boxes)} boxes",
                        context={"image_id": image_id, "boxes": len(boxes),
                                 "maximum": C.MAX_BOXES, "policy": policy})
                boxes = _largest(boxes, C.MAX_BOXES)
                class_map = {str(b["class_id"]): cats[b["class_id"]][1]  # type: ignore[index]
                             for b in boxes}
            elif not anns:
                job.add("COCO_NO_ANNOTATIONS", path=f"$.images[?(@.id=={image_id!r})]",
                        detail=f"image id {image_id!r}, {sref}",
                        context={"image_id": image_id, "source_ref": sref})
            date = C.parse_date(img.get("date_captured"))
            if date is None:
                bad_dates += 1
                first_bad_date = first_bad_date or image_id
                date = fallback
            boxes_out += len(boxes)
            # key order as in the guide's script (L4222-4252), so the lines match its lines
            buffer.append(dumps({
                "source-ref": sref,
                attr: {"annotations": boxes,
                       "image_size": [{"width": width, "depth": C.DEPTH, "height": height}]},
                meta: {"job-name": job_name, "class-map": class_map, "human-annotated": "yes",
                       "objects": [_CONFIDENCE] * len(boxes), "creation-date": date,
                       "type": DETECTION},
            }))
            buffer.append(b"\n")
            job.lines += 1
        out.write(b"".join(buffer))
        bar.update(min(_PROGRESS_STEP, len(kept) - start))
    if pending:
        for j, ann in enumerate(annotations):
            for code, detail, context in pending.get(id(ann), ()):
                job.add(code, path=f"$.annotations[{j}].bbox",
                        detail=f"{_ann_detail(ann)}: {detail}",
                        context={**_ann_context(ann, j), **context})
    if bad_dates:
        job.add("DATE_FALLBACK", path="$.images[*].date_captured",
                detail=f"{bad_dates} image{'s' * (bad_dates != 1)}, the first image id "
                       f"{first_bad_date!r}; "
                       f"creation-date {fallback} is used",
                context={"images": bad_dates, "first_image_id": first_bad_date,
                         "creation_date": fallback})
    job.count("boxes", boxes_out)
    job.count("boxes_clipped", clipped)
    job.count("boxes_vanished", vanished)
    job.count("boxes_too_small", small)


def _largest(boxes: list[dict[str, int]], keep: int) -> list[dict[str, int]]:
    """Return the ``keep`` largest boxes by area (ties: first in the file), in file order."""
    order = sorted(range(len(boxes)), key=lambda i: -boxes[i]["width"] * boxes[i]["height"])
    return [boxes[i] for i in sorted(order[:keep])]


# --- export: manifest -> COCO ---------------------------------------------------------------

#: Annotations serialised at a time: small enough to keep memory flat, large enough that
#: orjson, not Python, does the work.
_EXPORT_BATCH = 4096


def export(manifest: str | os.PathLike[str], output: str | os.PathLike[str], *,
           s3_prefix: str | None = None, progress: bool | None = False,
           backend: str = "auto") -> ConversionResult:
    """Export the bounding boxes of a manifest as a COCO object detection file.

    Each valid or ignored line with a bounding-box attribute becomes an image (``file_name``
    is its source-ref without ``s3_prefix``, by default the longest folder all source-refs
    share; ``coco_url`` is the source-ref), each usable box an annotation (``bbox`` as
    ``[left, top, width, height]``, its box as the polygon). Categories keep the manifest's
    class ids when every name has one id throughout, else are numbered from 1 in order of
    first use. Invalid lines are reported and left out, as are lines with image-level labels
    only.

    Memory stays flat whatever the manifest's size: the records come from the validator
    (``backend``: ``auto``, ``compiled`` or ``python``), only lines that can hold boxes are
    parsed, and the annotations are serialised as they come, into a temporary file, then
    copied into the output after the images (which need the folder all source-refs share).
    """
    job = Job("coco-export", manifest, output)
    with job:
        folder = None
        if s3_prefix is not None:
            folder = C.s3_folder(s3_prefix)
            if folder is None:
                raise job.fatal("S3_PREFIX_INVALID", repr(s3_prefix),
                                context={"s3_prefix": s3_prefix})
        # A manifest's class ids are kept unless two labels share one or a label has two; that
        # shows only part way, and so does a string orjson cannot write (then the whole file
        # is written by json, ASCII, as C.dump_json does): start again knowing it.
        ranked = ascii_only = False
        issues = len(job.issues)
        while True:
            try:
                _export_to(job, folder, ranked, ascii_only, progress, backend)
                break
            except _Restart as again:
                del job.issues[issues:]
                job.stats.clear()
                ranked, ascii_only = ranked or again.ranked, ascii_only or again.ascii_only
    return job.result(validate=False)


class _Restart(Exception):
    """Export again: the class ids cannot be kept (``ranked``), or orjson cannot write a value."""

    def __init__(self, ranked: bool = False, ascii_only: bool = False):
        super().__init__()
        self.ranked, self.ascii_only = ranked, ascii_only


def _dumps_json(value: Any) -> bytes:
    """Serialise like C.dump_json's fallback: json, compact, ASCII."""
    import json

    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")


def _dumps_orjson(value: Any) -> bytes:
    """Serialise with orjson; a value it cannot write means the file is written by json."""
    import orjson

    try:
        return orjson.dumps(value)
    except TypeError:
        raise _Restart(ascii_only=True) from None


class _Categories:
    """Category ids as the boxes come: the class id while every label keeps one id (a
    one-to-one map), else the label's place in order of first use (``ranked``)."""

    def __init__(self, ranked: bool):
        self.ranked = ranked
        self.ids: dict[str, Any] = {}  # label -> its category id
        self.labels: dict[Any, str] = {}  # class id -> label (kept ids only)

    def id(self, label: str, class_id: Any) -> Any:
        """Return the category of a box; :class:`_Restart` when the class ids cannot be kept."""
        known = self.ids.get(label)
        if known is None:
            if self.ranked:
                known = self.ids[label] = len(self.ids) + 1
            elif class_id in self.labels:
                raise _Restart(ranked=True)
            else:
                known = self.ids[label] = class_id
                self.labels[class_id] = label
        elif not self.ranked and known != class_id:
            raise _Restart(ranked=True)
        return known

    def records(self) -> list[dict[str, Any]]:
        """Return the categories, by id."""
        return [{"id": number, "name": label, "supercategory": ""}
                for label, number in sorted(self.ids.items(), key=lambda item: item[1])]


def _export_to(job: Job, folder: str | None, ranked: bool, ascii_only: bool,
               progress: bool | None, backend: str) -> None:
    """Make one pass over the manifest and write the COCO file (see :func:`export`).

    With the compiled core, the records come in batches with the numbers of their boxes, and
    its ``CocoLines`` exports every line that needs no Python (a valid line without findings,
    whole-number boxes, a plain date), writing the same bytes this loop writes; this loop takes
    the others,
    in line order, appending to the same lists and counting on the same annotation ids. Once
    the class ids cannot be kept (``ranked``), this loop does it all.
    """
    import tempfile

    dumps = _dumps_json if ascii_only else _dumps_orjson
    categories = _Categories(ranked)
    known, ranked = categories.ids, categories.ranked
    which, batches = iter_batches(job.source, backend=backend, numbers=not ranked)
    lines = None
    if which == "compiled" and not ranked:
        from .._core import CocoLines

        lines = CocoLines(known, categories.labels)
    # (source-ref, width, height, date_captured) of each image
    images: list[tuple[str, Any, Any, str]] = [] if lines is None else lines.images
    other_lines: list[int] = [] if lines is None else lines.other_lines
    batch: list[dict[str, Any]] = []
    annotations = 0
    detection = DETECTION.encode()
    bar = C.Progress(0, Path(job.source).name, progress, unit="line")
    # gc paused: the loop makes a million short-lived dicts and no cycle (C.gc_paused)
    with tempfile.TemporaryFile() as spool, C.gc_paused():
        try:
            for rows in batches:
                bar.update(len(rows))
                at, count = 0, len(rows)
                while at < count:
                    if lines is not None:
                        lines.annotations = annotations
                        at = lines.feed(rows, at)
                        if lines.conflict:
                            raise _Restart(ranked=True)
                        lines.write_to(spool)
                        annotations = lines.annotations
                        if at == count:
                            break
                    rec = tuple.__new__(Record, rows[at][:7])
                    at += 1
                    if rec.verdict not in (VALID, IGNORED):
                        codes = C.error_code_list(rec)
                        job.add("MANIFEST_LINE_INVALID", line=rec.line, detail=", ".join(codes),
                                context={"codes": codes})
                        continue
                    # only a line that spells "object-detection" (or may, escaped) has boxes
                    if not may_contain(rec.raw, detection):  # type: ignore[arg-type]
                        other_lines.append(rec.line)
                        continue
                    obj, pairs, boxes = _detection(rec)
                    if not pairs:
                        other_lines.append(rec.line)
                        continue
                    size = obj[pairs[0][0]]["image_size"][0]
                    date = C.parse_date(obj[pairs[0][1]].get("creation-date"))
                    # a valid or ignored line has a well-formed source-ref: never None here
                    images.append((rec.source_ref, _int(size["width"]),  # type: ignore[arg-type]
                                   _int(size["height"]),
                                   "" if date is None else date.replace("T", " ")))
                    image_id = len(images)
                    # the annotations, written out here: without the compiled core this loop
                    # runs once a box (800,000 in the benchmark manifest); tuples serialise as
                    # arrays, as lists do
                    for box, label in boxes:
                        class_id = box["class_id"]
                        category = known.get(label)
                        if category is None or (category != class_id and not ranked):
                            category = categories.id(label, class_id)
                        left, top, width, height = (box["left"], box["top"], box["width"],
                                                    box["height"])
                        if not (type(left) is int and type(top) is int and type(width) is int
                                and type(height) is int):
                            left, top, width, height = _int(left), _int(top), _int(width), \
                                _int(height)
                        right, bottom = left + width, top + height
                        annotations += 1
                        batch.append({"id": annotations, "image_id": image_id,
                                      "category_id": category,
                                      "bbox": (left, top, width, height),
                                      "area": width * height, "iscrowd": 0,
                                      "segmentation": ((left, top, right, top, right, bottom,
                                                        left, bottom),)})
                    # written before the compiled lines that follow it, or when many
                    if batch and (lines is not None or len(batch) >= _EXPORT_BATCH):
                        _spool(spool, dumps(batch), annotations > len(batch))
                        batch.clear()
        except OSError as exc:
            raise job.fatal("INPUT_UNREADABLE", exc.strerror or str(exc),
                            context=C.os_error(exc)) from None
        finally:
            bar.close()
        if batch:
            _spool(spool, dumps(batch), annotations > len(batch))
        if folder is None:
            folder = _common_folder([image[0] for image in images])
        without = "without a bounding-box attribute"
        if not images:
            raise C.nothing_to_export(job, other_lines, without)
        if other_lines:
            job.add("MANIFEST_LINE_NOT_EXPORTED", line=other_lines[0],
                    detail=f"{len(other_lines)} lines {without}, the first line "
                           f"{other_lines[0]}",
                    context={"lines": len(other_lines), "first_line": other_lines[0],
                             "without": without})
        info = {"description": f"Exported by customlabels from {Path(job.source).name}"}
        with job.open_output() as out:
            out.write(b'{"info":' + dumps(info) + b',"licenses":[],"images":[')
            written = None
            if lines is not None and not ascii_only:  # the same bytes as orjson's, or None
                from .._core import coco_images

                written = coco_images(images, folder)
            if written is not None:
                out.write(written)
            else:
                _write_images(out, images, folder, dumps)
            out.write(b'],"annotations":[')
            _copy_spool(spool, out)
            out.write(b'],"categories":' + dumps(categories.records()) + b"}")
        job.lines = len(images)
        job.count("images", len(images))
        job.count("annotations", annotations)
        job.count("categories", len(categories.ids))


def _copy_spool(spool: Any, out: BinaryIO) -> None:
    """Append the spooled annotations to ``out``: by the kernel (``copy_file_range``) where it
    can, else through a buffer."""
    import io

    spool.flush()
    out.flush()
    size = spool.tell()
    copy = getattr(os, "copy_file_range", None)
    if copy is not None:
        start = out.tell()
        try:
            done = 0
            while done < size:
                step = copy(spool.fileno(), out.fileno(), size - done, done)
                if step == 0:
                    break
                done += step
        except (OSError, io.UnsupportedOperation):  # a file system or kernel that refuses
            done = -1
        if done == size:
            out.seek(start + size)
            return
        out.seek(start)
        out.truncate()
    spool.seek(0)
    while chunk := spool.read(1 << 20):
        out.write(chunk)


def _spool(spool: Any, data: bytes, more: bool) -> None:
    """Append a serialised batch of annotations (a JSON array) as array items."""
    if more:
        spool.write(b",")
    spool.write(data[1:-1])


def _write_images(out: BinaryIO, images: list[tuple[str, Any, Any, str]], folder: str,
                  dumps: Any) -> None:
    """Write the images, a JSON array's items, ``file_name`` relative to ``folder``."""
    for start in range(0, len(images), _EXPORT_BATCH):
        batch = [{"id": k, "file_name": ref[len(folder):] if ref.startswith(folder) else ref,
                  "coco_url": ref, "width": width, "height": height, "date_captured": date}
                 for k, (ref, width, height, date) in enumerate(
                     images[start:start + _EXPORT_BATCH], start + 1)]
        if start:
            out.write(b",")
        out.write(dumps(batch)[1:-1])


def _detection(rec: Any) -> tuple[dict[str, Any], list[tuple[str, str]],
                                    list[tuple[dict[str, Any], str]]]:
    """Return a valid or ignored line's object, detection pairs and ``(box, label)`` exported.

    The object is what parse_line gives, parsed by orjson where the two agree. The line is a
    strict JSON object (the validator said so), and the numbers exported are bounded by the
    image size on such a line, so orjson keeps them exact; but a class id is any integer, and
    orjson makes one past 64 bits a float: such a line, and one with a lone surrogate (which
    orjson refuses), is parsed by parse_line. The boxes are the usable ones of a valid line:
    without findings every box, with the record's labels; else :func:`usable_boxes` says.
    """
    import orjson

    try:
        obj = orjson.loads(rec.raw)
    except orjson.JSONDecodeError:
        obj = parse_line(rec.raw)
    pairs = [(a, m) for a, m in attribute_pairs(obj) if attribute_type(obj, m) == DETECTION]
    every = [box for attr, _ in pairs for box in obj[attr].get("annotations") or ()]
    if any(type(box["class_id"]) is not int for box in every):
        obj = parse_line(rec.raw)
        every = [box for attr, _ in pairs for box in obj[attr].get("annotations") or ()]
    if rec.verdict != VALID or not pairs:
        return obj, pairs, []
    if rec.findings:
        return obj, pairs, [(box, label)
                            for _, _, box, label in usable_boxes(obj, rec.findings)]
    return obj, pairs, list(zip(every, rec.box_labels))


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _common_folder(refs: list[str]) -> str:
    """Return the longest ``s3://bucket/folder/`` every source-ref starts with."""
    if not refs:
        return ""
    common = os.path.commonprefix(refs)
    return common[:common.rfind("/") + 1] if common.count("/") >= 3 else ""
