"""CSV files of bounding boxes to manifests and back.

One box per row: ``image,label,left,top,width,height`` in pixels, optionally followed by
``image_width,image_height``; a header row of exactly these names is allowed. The guide has no
script for this flavour; the lines are those of the COCO converter (the same keys in the same
order, the same box rule), one per image in order of first appearance. Class ids number the
labels from 0 in order of first appearance, the same throughout the file, and each line's
``class-map`` names the labels it uses (as the guide's COCO script does).

The image size comes from the two extra columns or, without them, from the image file in
``images_dir`` (PNG or JPEG header; the file is the image field's last path component). Rows
follow the CSV rules of :mod:`customlabels.convert.csv_labels` for image locations.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..manifest.schema import (DETECTION, VALID, attribute_pairs, attribute_type, box_too_small,
                               usable_boxes)
from . import _common as C
from ._common import ConversionResult, Job
from ._imagesize import image_size
from .csv_labels import (_csv_bytes, check_separator, image_locations, image_source_ref,
                         read_rows)

NAME = "csv-boxes"
DESCRIPTION = "CSV rows image,label,left,top,width,height[,image_width,image_height]"
COLUMNS = ("image", "label", "left", "top", "width", "height", "image_width", "image_height")
DEFAULT_ATTRIBUTE = "bounding-box"
_CONFIDENCE = {"confidence": 1}


#: A number as JSON and spreadsheets write it: no spaces, no ``_``, no ``inf`` or ``nan``.
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBERS = re.compile(f"{_NUMBER}(?:,{_NUMBER})*")


def _numbers(fields: list[str]) -> list[float] | None:
    """Return the fields as finite numbers, or None when one is not strictly a number
    (Python's ``float`` would take ``1_000``, `` 10 `` and ``infinity``)."""
    if _NUMBERS.fullmatch(",".join(fields)) is None:
        return None
    values = list(map(float, fields))
    return values if all(map(math.isfinite, values)) else None


def detect(head: bytes) -> bool:
    """Tell whether the file starts with box rows (6 or 8 fields, numbers from the third)."""
    import csv
    import io

    try:
        text = head.decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        text = head[:exc.start].decode("utf-8-sig", errors="ignore")
    if not text.strip() or text.lstrip()[0] in "{[":
        return False
    rows = [r for r in csv.reader(io.StringIO(text)) if "".join(r).strip()][:3]
    if rows and [f.strip().lower() for f in rows[0]] in (list(COLUMNS[:6]), list(COLUMNS)):
        rows = rows[1:]
    return bool(rows) and all(len(r) in (6, 8) and _numbers(r[2:]) is not None
                              for r in rows[:2])


def default_output(source: str | os.PathLike[str]) -> Path:
    """Return the manifest written when none is named: NAME.manifest beside the CSV."""
    return Path(source).with_suffix(".manifest")


class _Image:
    __slots__ = ("line", "name", "size", "boxes", "seen")

    def __init__(self, line: int, name: str):
        self.line, self.name = line, name
        self.size: tuple[float, float] | None = None
        self.boxes: list[tuple[int, str, float, float, float, float]] = []
        self.seen: set[tuple[str, float, float, float, float]] = set()


def convert(source: str | os.PathLike[str], output: str | os.PathLike[str] | None = None, *,
            s3_path: str | None = None, images_dir: str | os.PathLike[str] | None = None,
            label_attribute: str = DEFAULT_ATTRIBUTE, job_name: str | None = None,
            too_many_boxes: str = "skip", creation_date: str | None = None,
            progress: bool | None = False, validate: bool = True) -> ConversionResult:
    """Convert a CSV file of bounding boxes (one a row) into a manifest; validate it.

    Args:
        source: the CSV file.
        output: the manifest (default: NAME.manifest beside the CSV).
        s3_path: ``s3://bucket/folder/`` put before bare image names.
        images_dir: where the image files are, for rows without ``image_width,image_height``.
        label_attribute: the label attribute's name.
        job_name: the metadata ``job-name`` (default ``labeling-job/`` + the attribute).
        too_many_boxes: ``skip`` an image with more than 50 boxes, or keep its 50 ``largest``.
        creation_date: creation-date of every line (default: the time of the conversion).
        progress: accepted for a uniform interface; CSV files convert in one pass.
        validate: validate the manifest written.
    """
    from .coco import TOO_MANY_BOXES_POLICIES, _largest

    if too_many_boxes not in TOO_MANY_BOXES_POLICIES:
        raise UsageError(f"too_many_boxes must be one of {TOO_MANY_BOXES_POLICIES}")
    C.check_label_attribute(label_attribute)
    date = C.fallback_date(creation_date)
    job = Job(NAME, source, output if output is not None else default_output(source))
    with job:
        job.check_input()
        rows = list(read_rows(job))
        if rows and [f.strip().lower() for f in rows[0][1]] in (list(COLUMNS[:6]),
                                                                 list(COLUMNS)):
            rows = rows[1:]
        check_separator(job, rows)
        folder = image_locations(job, rows, s3_path)
        images = _collect(job, rows)
        class_ids: dict[str, int] = {}
        names: list[str] = []  # by class id
        meta = label_attribute + "-metadata"
        with job.open_output(lines_needed=True) as out:
            boxes_out = 0
            for image in images.values():
                sref = image_source_ref(job, image.line, image.name, folder)
                if sref is None:
                    continue
                size = image.size or _size_from_file(job, image, images_dir)
                if size is None:
                    continue
                width, height = int(size[0]), int(size[1])
                if not C.dimension_ok(width, height):
                    job.add("IMAGE_DIMENSION", line=image.line, detail=f"{width}x{height}",
                            context=C.dimension(width, height))
                    continue
                scale = C.box_scale(width, height)
                boxes = []
                for line, label, x, y, w, h in image.boxes:
                    left, top, bw, bh = C.pixel_box(x, y, w, h, width, height)
                    if bw <= 0 or bh <= 0:
                        job.add("BOX_VANISHED", line=line,
                                detail=f"{x:g},{y:g},{w:g},{h:g} in a {width}x{height} image",
                                context={"box": [x, y, w, h], "image_width": width,
                                         "image_height": height})
                        continue
                    if box_too_small(bw, bh, scale):
                        job.add("BOX_TOO_SMALL", line=line,
                                detail=f"{bw}x{bh} px in a {width}x{height} image",
                                context=C.too_small(bw, bh, width, height))
                        continue
                    cid = class_ids.get(label)
                    if cid is None:
                        cid = class_ids[label] = len(names)
                        names.append(label)
                    boxes.append({"left": left, "top": top, "width": bw, "height": bh,
                                  "class_id": cid})
                if len(boxes) > C.MAX_BOXES:
                    if too_many_boxes == "skip":
                        job.add("TOO_MANY_BOXES", line=image.line, arg="the image is skipped",
                                detail=f"{len(boxes)} boxes",
                                context={"boxes": len(boxes), "maximum": C.MAX_BOXES,
                                         "policy": too_many_boxes})
                        continue
                    job.add("TOO_MANY_BOXES", line=image.line,
                            arg=f"its {C.MAX_BOXES} largest boxes are kept",
                            detail=f"{len(boxes)} boxes",
                            context={"boxes": len(boxes), "maximum": C.MAX_BOXES,
                                     "policy": too_many_boxes})
                    boxes = _largest(boxes, C.MAX_BOXES)
                class_map = {str(b["class_id"]): names[b["class_id"]] for b in boxes}
                boxes_out += len(boxes)
                out.write(C.dump_line({
                    "source-ref": sref,
                    label_attribute: {"annotations": boxes, "image_size": [
                        {"width": width, "depth": C.DEPTH, "height": height}]},
                    meta: {"job-name": job_name or f"labeling-job/{label_attribute}",
                           "class-map": class_map, "human-annotated": "yes",
                           "objects": [_CONFIDENCE] * len(boxes), "creation-date": date,
                           "type": DETECTION}}))
                job.lines += 1
            job.count("rows", len(rows))
            job.count("images", len(images))
            job.count("boxes", boxes_out)
    return job.result(validate)


def _collect(job: Job, rows: list[tuple[int, list[str]]]) -> dict[str, _Image]:
    """Group the rows by image, in order of first appearance, checking each row."""
    images: dict[str, _Image] = {}
    for line, row in rows:
        if len(row) not in (6, 8):
            job.add("CSV_BAD_ROW", line=line,
                    detail=f"{len(row)} fields; a row has 6 ({','.join(COLUMNS[:6])}) or 8 "
                           "(with image_width,image_height)",
                    context={"fields": len(row), "expected": [6, 8]})
            continue
        values = _numbers(row[2:])  # one call for the row; the field at fault only if any
        if values is None:
            for field, text in zip(COLUMNS[2:], row[2:]):
                if _numbers([text]) is None:
                    job.add("CSV_BAD_NUMBER", line=line, path=field, arg=field,
                            detail=repr(text), context={"field": field, "value": text})
                    break
        else:
            label = row[1]
            if not C.label_name_ok(label):
                job.add("LABEL_NAME_LENGTH", line=line, path="label", arg=len(label),
                        context={"field": "label", **C.name_length(len(label))})
                continue
            x, y, w, h = values[:4]
            if w < 0 or h < 0:
                job.add("CSV_BAD_NUMBER", line=line, path="width" if w < 0 else "height",
                        arg="width" if w < 0 else "height", detail="negative",
                        context={"field": "width" if w < 0 else "height",
                                 "value": row[4] if w < 0 else row[5]})
                continue
            if not (math.isfinite(x + w) and math.isfinite(y + h)):  # 1e308 + 1e308
                field = "width" if not math.isfinite(x + w) else "height"
                job.add("CSV_BAD_NUMBER", line=line, path=field, arg=field,
                        detail="the box's far edge is beyond any number",
                        context={"field": field, "value": row[4] if field == "width" else row[5]})
                continue
            sref = row[0]
            image = images.get(sref)
            if image is None:
                image = images[sref] = _Image(line, sref)
            if len(values) == 6:
                size = (values[4], values[5])
                if size[0] <= 0 or size[1] <= 0 or not size[0].is_integer() \
                        or not size[1].is_integer():
                    job.add("CSV_BAD_NUMBER", line=line, path="image_width",
                            arg="image_width", detail="image sizes are positive integers",
                            context={"field": "image_width", "value": row[6],
                                     "image_height": row[7]})
                    continue
                if image.size is None:
                    image.size = size
                elif image.size != size:
                    job.add("CSV_IMAGE_SIZE_CONFLICT", line=line,
                            detail=f"{size[0]:g}x{size[1]:g}; line {image.line} says "
                                   f"{image.size[0]:g}x{image.size[1]:g}",
                            context={"size": list(size), "first_line": image.line,
                                     "first_size": list(image.size)})
                    continue
            key = (label, x, y, w, h)
            if key in image.seen:
                job.add("CSV_DUPLICATE_BOX", line=line,
                        context={"image": sref, "label": label, "box": [x, y, w, h]})
                continue
            image.seen.add(key)
            image.boxes.append((line, label, x, y, w, h))
    return images


def _size_from_file(job: Job, image: _Image, images_dir: str | os.PathLike[str] | None
                    ) -> tuple[int, int] | None:
    if images_dir is None:
        job.add("CSV_IMAGE_SIZE_MISSING", line=image.line, detail=image.name,
                context={"image": image.name})
        return None
    path = Path(images_dir) / image.name.rsplit("/", 1)[-1]
    try:
        size = image_size(path)
    except OSError as exc:
        job.add("IMAGE_UNREADABLE", line=image.line, detail=f"{path}: {exc.strerror or exc}",
                context={"image_file": str(path), **C.os_error(exc)})
        return None
    if size is None:
        job.add("IMAGE_UNREADABLE", line=image.line, detail=f"{path}: not a PNG or JPEG",
                context={"image_file": str(path), "error": "not a PNG or JPEG"})
    return size


# --- export: manifest -> CSV of boxes -------------------------------------------------------


def export(manifest: str | os.PathLike[str], output: str | os.PathLike[str], *,
           s3_path: str | None = None, keep_formulas: bool = False,
           progress: bool | None = False) -> ConversionResult:
    """Write the usable boxes of a manifest as CSV rows, one box a row, with a header.

    Rows are ``image,label,left,top,width,height,image_width,image_height``; ``s3_path`` is
    removed from the start of each source-ref. Images without a usable box have no row.
    Images and labels that a spreadsheet would run as formulas are escaped as by
    :func:`customlabels.convert.csv_labels.export`, unless ``keep_formulas``.
    """
    safe = (lambda cell: cell) if keep_formulas else C.formula_safe
    job = Job("csv-boxes-export", manifest, output)
    with job:
        folder = "" if s3_path is None else C.s3_folder(s3_path)
        if folder is None:
            raise job.fatal("S3_PREFIX_INVALID", repr(s3_path))
        rows: list[list[Any]] = [list(COLUMNS)]
        other = []
        for rec, obj in C.exportable_records(job, progress):
            pairs = [p for p in attribute_pairs(obj) if attribute_type(obj, p[1]) == DETECTION]
            if not pairs:
                other.append(rec.line)
                continue
            ref = rec.source_ref
            if folder and ref.startswith(folder):
                ref = ref[len(folder):]
            if rec.verdict != VALID:
                continue
            for attr, _i, box, label in usable_boxes(obj, rec.findings):
                size = obj[attr]["image_size"][0]
                rows.append([safe(ref), safe(label)] + [_g(box[k]) for k in COLUMNS[2:6]]
                            + [_g(size["width"]), _g(size["height"])])
        C.finish_export(job, other, "without bounding boxes", _csv_bytes(rows), len(rows) - 1)
    return job.result(validate=False)


def _g(value: Any) -> str:
    """Return a number as CSV text: integers without a fraction, floats exactly (repr)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)
