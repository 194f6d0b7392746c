"""SageMaker Ground Truth multi-label classification output to manifests and back (L4352-4528).

A Ground Truth multi-label line holds one attribute ``JOB`` whose value is the list of class
ids of the image, and ``JOB-metadata`` with ``class-map`` (id -> name) and ``confidence-map``
(id -> confidence). A Custom Labels manifest holds one classification attribute per label
(L3474-3498). As in the guide's script (L4415-4482), label ``i`` of the list becomes the
attribute ``JOBi`` (value ``i``) with metadata ``class-name``, ``confidence``, ``type``,
``job-name``, ``human-annotated`` and ``creation-date``, in that order, taken from the line.

Unlike the script, which reads the whole file, picks the last key that is not ``source-ref`` or
metadata, and stops with a ``KeyError`` on the first incomplete line, this converter streams the
file, takes every attribute whose metadata says ``groundtruth/image-classification-multilabel``,
and reports each line with a missing or invalid key by its number, leaving it out. A missing
``job-name`` (optional, L3453-3455) is left out; a missing ``creation-date`` gets the
conversion time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..limits import MAX_LINE_CHARS
from ..manifest.jsonline import parse_line
from ..manifest.reader import is_too_long, iter_lines
from ..manifest.schema import CLASSIFICATION, IGNORED, VALID, attribute_pairs, attribute_type
from . import _common as C
from ._common import ConversionResult, Job

NAME = "groundtruth-multilabel"
DESCRIPTION = "SageMaker Ground Truth multi-label image classification output (JSON Lines)"
MULTILABEL = "groundtruth/image-classification-multilabel"
#: The attribute name :func:`export` writes by default.
DEFAULT_ATTRIBUTE = "multi-label"


def _multilabel_attributes(obj: dict[str, Any]) -> list[str]:
    return [attr for attr, meta in attribute_pairs(obj) if attribute_type(obj, meta) == MULTILABEL]


def detect(head: bytes) -> bool:
    """Tell whether the first line is a Ground Truth multi-label line."""
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        obj = parse_line(first)
    except ValueError:
        return False
    return bool(_multilabel_attributes(obj))


def default_output(source: str | os.PathLike[str]) -> Path:
    """Return the manifest written when none is named: ``custom_labels_NAME`` (L4433)."""
    path = Path(source)
    return path.with_name(f"custom_labels_{path.name}")


def convert(source: str | os.PathLike[str], output: str | os.PathLike[str] | None = None, *,
            creation_date: str | None = None, progress: bool | None = False,
            validate: bool = True) -> ConversionResult:
    """Convert a Ground Truth multi-label output manifest into a Custom Labels manifest.

    Args:
        source: the Ground Truth ``output.manifest``.
        output: the manifest (default: ``custom_labels_NAME`` beside the input, as the script).
        creation_date: the creation-date of lines whose metadata has none (default: the time
            of the conversion).
        progress: show a progress bar (None: when stderr is a terminal).
        validate: validate the manifest written.
    """
    fallback = C.fallback_date(creation_date)
    job = Job(NAME, source, output if output is not None else default_output(source))
    with job:
        try:
            stream = open(job.source, "rb")
            empty = os.fstat(stream.fileno()).st_size == 0
        except OSError as exc:
            raise job.fatal("INPUT_UNREADABLE", exc.strerror or str(exc),
                            context=C.os_error(exc)) from None
        if empty:
            stream.close()
            raise job.fatal("INPUT_EMPTY")
        bar = C.Progress(0, Path(job.source).name, progress, unit="line")
        seen: dict[str, int] = {}
        dates = labels = lineno = 0
        with stream, job.open_output(lines_needed=True) as out:
            for lineno, raw in enumerate(iter_lines(stream), start=1):
                bar.update(1)
                obj = _line(job, lineno, raw, seen)
                if obj is None:
                    continue
                new, missing_dates = _convert_line(job, lineno, obj, fallback)
                if new is None:
                    continue
                dates += missing_dates
                labels += (len(new) - 1) // 2
                out.write(C.dump_line(new))
                job.lines += 1
        bar.close()
        job.count("input_lines", lineno)
        if dates:
            job.add("DATE_FALLBACK", path="$.JOB-metadata['creation-date']",
                    detail=f"{dates} labels; creation-date {fallback} is used",
                    context={"labels": dates, "creation_date": fallback})
        job.count("labels", labels)
    return job.result(validate)


def _line(job: Job, lineno: int, raw: bytes | None, seen: dict[str, int]
          ) -> dict[str, Any] | None:
    """Parse one input line and check its source-ref; report and return None when unusable."""
    if raw is None or is_too_long(raw):
        job.add("INPUT_INVALID_JSON_LINE", line=lineno,
                detail=f"longer than {MAX_LINE_CHARS:,} characters",
                context={"error": "too long", "maximum": MAX_LINE_CHARS})
        return None
    try:
        obj = parse_line(raw)
    except ValueError as exc:
        job.add("INPUT_INVALID_JSON_LINE", line=lineno, detail=str(exc),
                context={"error": str(exc)})
        return None
    sref = obj.get("source-ref")
    if sref is None:
        job.add("GT_MISSING_KEY", line=lineno, arg="source-ref", path="$",
                context={"key": "source-ref"})
        return None
    if not isinstance(sref, str) or not C.is_source_ref(sref):
        job.add("SOURCE_REF_INVALID", line=lineno, path="$['source-ref']", detail=repr(sref),
                context={"source_ref": sref})
        return None
    if sref in seen:
        job.add("SOURCE_REF_DUPLICATE", line=lineno, path="$['source-ref']",
                detail=f"{sref} is on line {seen[sref]}",
                context={"source_ref": sref, "first_line": seen[sref]})
        return None
    seen[sref] = lineno
    return obj


def _convert_line(job: Job, lineno: int, obj: dict[str, Any], fallback: str
                  ) -> tuple[dict[str, Any] | None, int]:
    """Return the Custom Labels line for a Ground Truth line, and how many dates fell back."""
    attributes = _multilabel_attributes(obj)
    if not attributes:
        job.add("GT_NO_MULTILABEL_ATTRIBUTE", line=lineno,
                detail="keys: " + ", ".join(repr(k) for k in list(obj)[:6]),
                context={"keys": list(obj)})
        return None, 0
    new: dict[str, Any] = {"source-ref": obj["source-ref"]}
    missing_dates = 0
    names: set[str] = set()
    for attr in attributes:
        meta = obj[attr + "-metadata"]
        where = f"$[{attr + '-metadata'!r}]"
        ids = obj[attr]
        if not isinstance(ids, list) or not all(type(i) is int for i in ids):
            job.add("GT_BAD_VALUE", line=lineno, path=f"$[{attr!r}]", arg=repr(attr),
                    detail="not a list of class ids", context={"key": attr, "value": ids})
            return None, 0
        class_map, confidences = meta.get("class-map"), meta.get("confidence-map")
        for key, value in (("class-map", class_map), ("confidence-map", confidences)):
            if not isinstance(value, dict):
                job.add("GT_MISSING_KEY" if value is None else "GT_BAD_VALUE", line=lineno,
                        path=f"{where}[{key!r}]", arg=key,
                        context={"key": key} if value is None else {"key": key,
                                                                     "value": value})
                return None, 0
        human = meta.get("human-annotated")
        if human not in ("yes", "no"):
            job.add("GT_MISSING_KEY" if human is None else "GT_BAD_VALUE", line=lineno,
                    path=f"{where}['human-annotated']", arg="human-annotated",
                    detail=None if human is None else f"{human!r}: yes or no",
                    context={"key": "human-annotated"} if human is None else {
                        "key": "human-annotated", "value": human, "allowed": ["yes", "no"]})
            return None, 0
        date = meta.get("creation-date")
        if not isinstance(date, str):
            date = fallback
            missing_dates += len(ids)
        for index, class_id in enumerate(ids):
            key = str(class_id)
            if key not in class_map or key not in confidences:
                missing = "class-map" if key not in class_map else "confidence-map"
                job.add("GT_MISSING_KEY", line=lineno, path=f"{where}[{missing!r}][{key!r}]",
                        arg=f"{missing} {key!r}", context={"key": missing, "class_id": key})
                return None, 0
            name, confidence = class_map[key], confidences[key]
            if not isinstance(name, str) or not C.label_name_ok(name):
                job.add("LABEL_NAME_LENGTH" if isinstance(name, str) else "GT_BAD_VALUE",
                        line=lineno, path=f"{where}['class-map'][{key!r}]",
                        arg=len(name) if isinstance(name, str) else f"class-map {key!r}",
                        context={"class_id": key, **C.name_length(len(name))}
                        if isinstance(name, str) else {"key": "class-map", "class_id": key,
                                                       "value": name})
                return None, 0
            if not C.is_number(confidence) or not 0 <= confidence <= 1:
                job.add("GT_BAD_VALUE", line=lineno, path=f"{where}['confidence-map'][{key!r}]",
                        arg=f"confidence-map {key!r}", detail=f"{confidence!r}: a number in 0..1",
                        context={"key": "confidence-map", "class_id": key, "value": confidence})
                return None, 0
            names.add(name)
            name_key = f"{attr}{index}"
            while name_key in new:  # JOB1 + index 0 and JOB + index 10 would clash
                name_key += "_"
            metadata = {"class-name": name, "confidence": confidence, "type": CLASSIFICATION}
            if isinstance(meta.get("job-name"), str):
                metadata["job-name"] = meta["job-name"]
            metadata["human-annotated"] = human
            metadata["creation-date"] = date
            new[name_key] = index
            new[name_key + "-metadata"] = metadata
    if len(names) > C.MAX_LABELS_PER_IMAGE:
        job.add("TOO_MANY_LABELS", line=lineno, detail=f"{len(names)} labels",
                context={"labels": len(names), "maximum": C.MAX_LABELS_PER_IMAGE})
        return None, 0
    return new, missing_dates


# --- export: manifest -> Ground Truth multi-label ---------------------------------------------


def export(manifest: str | os.PathLike[str], output: str | os.PathLike[str], *,
           label_attribute: str = DEFAULT_ATTRIBUTE, progress: bool | None = False
           ) -> ConversionResult:
    """Write the image-level labels of a manifest as Ground Truth multi-label lines.

    Class ids number the labels from 0 in order of first appearance; ``human-annotated`` and
    ``creation-date`` are those of the line's first label. Invalid lines and lines without
    image-level labels are reported and left out; an ignored line with only ``source-ref``
    gives an empty label list.
    """
    C.check_label_attribute(label_attribute)
    job = Job("groundtruth-multilabel-export", manifest, output)
    with job:
        ids: dict[str, int] = {}
        other: list[int] = []
        lines: list[bytes] = []
        meta_key = label_attribute + "-metadata"
        for rec, obj in C.exportable_records(job, progress):
            labels = _classes(obj, rec) if rec.verdict == VALID else []
            if (rec.verdict == VALID and not labels) or (rec.verdict == IGNORED and len(obj) > 1):
                other.append(rec.line)
                continue
            first_meta = labels[0][1] if labels else {}
            class_map = {str(ids.setdefault(name, len(ids))): name for name, _ in labels}
            lines.append(C.dump_line({
                "source-ref": rec.source_ref,
                label_attribute: [ids[name] for name, _ in labels],
                meta_key: {
                    "job-name": f"labeling-job/{label_attribute}",
                    "class-map": class_map,
                    "human-annotated": first_meta.get("human-annotated", "yes"),
                    "creation-date": first_meta.get("creation-date", C.now_date()),
                    "type": MULTILABEL,
                    "confidence-map": {str(ids[name]): m.get("confidence", 1)
                                       for name, m in labels}}}))
        C.finish_export(job, other, "without image-level labels", b"".join(lines), len(lines))
    return job.result(validate=False)


def _classes(obj: dict[str, Any], rec: Any) -> list[tuple[str, dict[str, Any]]]:
    """Return (label, metadata) for the usable image-level labels of a valid line, distinct."""
    from ..manifest.schema import usable_classes

    out: dict[str, dict[str, Any]] = {}
    for attr, name in usable_classes(obj, rec.findings):
        out.setdefault(name, obj[attr + "-metadata"])
    return list(out.items())
