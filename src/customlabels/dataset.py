"""Dataset operations on manifest files, mirroring the service's dataset API (L18355-18372).

* :func:`list_entries` is ``ListDatasetEntries``: the lines, filtered by errors, source-ref and
  label, each with the validator's ``errors`` and ``warnings`` attached as in a validation
  manifest (L5433-5435);
* :func:`list_labels` is ``ListDatasetLabels``: each label with its image and box counts;
* :func:`update_entries` is ``UpdateDatasetEntries`` (L12604-12624): a line whose source-ref is
  in the dataset replaces it, any other is added;
* :func:`describe` is ``DescribeDataset``'s ``DatasetStats`` (L13417-13421, L13513-13531);
* :func:`remove_label` deletes a label the way L5380-5388 and L5044-5054 say: the classification
  attribute that names it, or its boxes with their ``objects`` entries and its ``class-map``
  entry;
* :func:`merge` joins manifests into one.

Images, labels, valid and error lines mean what they mean to the validator
(:mod:`customlabels.manifest.records`). The operations that change a dataset write their result
atomically (to the manifest itself by default, as the API changes the dataset, or to ``output``)
and validate it; lines they do not change are copied byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DatasetError
from .manifest.reader import iter_lines
from .manifest.jsonline import parse_line
from .manifest.records import Record, iter_records
from .manifest.schema import (CLASSIFICATION, DETECTION, attribute_pairs, attribute_type,
                              source_ref_bucket, usable_boxes)
from .manifest.writer import atomic_write, dumps_line


# --- reading ----------------------------------------------------------------------------------


def list_entries(manifest: str | os.PathLike[str], *, has_errors: bool | None = None,
                 source_ref_contains: str | None = None,
                 labels: list[str] | None = None) -> Iterator[tuple[Record, bytes]]:
    """Yield ``(record, line)`` for each entry matching every filter given (ListDatasetEntries).

    Args:
        has_errors: True for lines with an error only, False for lines without.
        source_ref_contains: keep lines whose source-ref contains this text.
        labels: keep lines that have one of these labels (usable, on a valid line).

    The line is the manifest's, with the validator's findings attached when it has any.
    """
    from .validation.pipeline import annotate

    wanted = set(labels or ())
    for rec in iter_records(manifest):
        if has_errors is not None and rec.has_errors != has_errors:
            continue
        if source_ref_contains is not None and (
                rec.source_ref is None or source_ref_contains not in rec.source_ref):
            continue
        if wanted and not wanted.intersection(rec.labels):
            continue
        line = annotate(rec.raw, rec.findings) if rec.findings else rec.raw
        yield rec, line if line is not None else b"{}"


@dataclass
class LabelStats:
    """One label of a dataset: images (valid lines using it) and usable boxes."""

    name: str
    images: int = 0
    boxes: int = 0


def list_labels(manifest: str | os.PathLike[str]) -> list[LabelStats]:
    """Return the labels of a dataset with image and box counts, by name (ListDatasetLabels)."""
    stats: dict[str, LabelStats] = {}
    for rec in iter_records(manifest):
        if not rec.valid:
            continue
        for label in rec.labels:
            stats.setdefault(label, LabelStats(label)).images += 1
        obj = rec.object()
        if obj is not None:
            for _attr, _i, _box, label in usable_boxes(obj, rec.findings):
                stats.setdefault(label, LabelStats(label)).boxes += 1
    return sorted(stats.values(), key=lambda s: s.name)


@dataclass
class DatasetStats:
    """``DatasetStats`` of DescribeDataset, computed from a manifest.

    Attributes:
        LabeledEntries: entries with at least one usable label (valid lines).
        TotalEntries: entries the service keeps at import (lines not dropped, L5403-5420).
        TotalLabels: labels with at least one valid image.
        ErrorEntries: kept entries with at least one error.
        DroppedLines: lines the service drops at import (not entries; for information).
    """

    LabeledEntries: int = 0
    TotalEntries: int = 0
    TotalLabels: int = 0
    ErrorEntries: int = 0
    DroppedLines: int = 0

    def to_dict(self) -> dict[str, int]:
        """Return the statistics as a dict, in the API's order."""
        return dict(self.__dict__)


def describe(manifest: str | os.PathLike[str]) -> DatasetStats:
    """Return the ``DatasetStats`` of a manifest (DescribeDataset)."""
    stats = DatasetStats()
    labels: dict[str, None] = {}
    for rec in iter_records(manifest):
        if rec.dropped:
            stats.DroppedLines += 1
            continue
        stats.TotalEntries += 1
        if rec.valid:
            stats.LabeledEntries += 1
            labels.update(dict.fromkeys(rec.labels))
        if rec.has_errors:
            stats.ErrorEntries += 1
    stats.TotalLabels = len(labels)
    return stats


# --- changing ---------------------------------------------------------------------------------


@dataclass
class ChangeResult:
    """What an operation that changes a dataset did.

    Attributes:
        output: the manifest written.
        replaced, added, removed, changed: lines replaced, appended, left out, rewritten.
        details: counts particular to the operation (boxes removed...).
        validation: the validator's report on the manifest written.
    """

    output: str
    replaced: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    details: dict[str, int] = field(default_factory=dict)
    validation: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the manifest written validates."""
        return self.validation is None or self.validation["ok"]

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain data."""
        return {"ok": self.ok, "output": self.output, "replaced": self.replaced,
                "added": self.added, "removed": self.removed, "changed": self.changed,
                "details": self.details, "validation": self.validation}


def _source_ref(raw: bytes | None) -> str | None:
    """Return the line's source-ref when it is a JSON object with a string source-ref."""
    if raw is None:
        return None
    try:
        value = parse_line(raw).get("source-ref")
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _read_changes(changes: str | os.PathLike[str]) -> dict[str, bytes]:
    """Return source-ref -> line of a changes file; every line must be a usable entry."""
    out: dict[str, bytes] = {}
    first: dict[str, int] = {}
    with open(changes, "rb") as stream:
        for lineno, raw in enumerate(iter_lines(stream), start=1):
            where = f"{os.fspath(changes)}:{lineno}"
            if raw is None:
                raise DatasetError(f"{where}: the line is longer than 100,000 characters")
            try:
                obj = parse_line(raw)
            except ValueError as exc:
                raise DatasetError(f"{where}: not a JSON object ({exc})") from None
            sref = obj.get("source-ref")
            if not isinstance(sref, str) or source_ref_bucket(sref) is None:
                raise DatasetError(f"{where}: source-ref is missing or not s3://bucket/key "
                                   f"(found {sref!r}) - at $['source-ref']")
            if sref in first:
                raise DatasetError(f"{where}: {sref} is also on line {first[sref]} - at "
                                   "$['source-ref']")
            first[sref] = lineno
            out[sref] = raw
    return out


def _target(manifest: str | os.PathLike[str], output: str | os.PathLike[str] | None,
            inputs: tuple[str | os.PathLike[str], ...] = ()) -> Path:
    target = Path(manifest if output is None else output)
    for other in inputs:
        try:
            if Path(other).exists() and target.exists() and target.samefile(other):
                raise DatasetError(f"{target} is an input file; it is never overwritten")
        except OSError:
            pass
    return target


def _finish(result: ChangeResult, validate: bool) -> ChangeResult:
    if validate:
        from .validation.pipeline import validate_files

        result.validation = validate_files(result.output)
    return result


def _copy_lines(manifest: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    with open(manifest, "rb") as stream:
        for lineno, raw in enumerate(iter_lines(stream), start=1):
            if raw is None:
                raise DatasetError(f"{os.fspath(manifest)}:{lineno}: the line is longer than "
                                   "400,000 bytes and cannot be copied (ERROR_LINE_TOO_LONG); "
                                   "remove it first")
            yield lineno, raw


def update_entries(manifest: str | os.PathLike[str], changes: str | os.PathLike[str], *,
                   output: str | os.PathLike[str] | None = None,
                   validate: bool = True) -> ChangeResult:
    """Apply a file of JSON Lines to a manifest, as UpdateDatasetEntries does (L12604-12624).

    A change whose source-ref is on a line of the manifest replaces that line (its first
    occurrence); any other is appended, in the changes' order. Every change must be a JSON
    object with a valid source-ref, each source-ref once (:class:`DatasetError` otherwise,
    nothing written). The result replaces ``manifest`` atomically, or goes to ``output``.
    """
    updates = _read_changes(changes)
    target = _target(manifest, output, (changes,))
    result = ChangeResult(str(target))
    used: set[str] = set()
    lines = []
    for _lineno, raw in _copy_lines(manifest):
        sref = _source_ref(raw)
        if sref in updates and sref not in used:
            used.add(sref)
            lines.append(updates[sref])
            result.replaced += 1
        else:
            lines.append(raw)
    for sref, raw in updates.items():
        if sref not in used:
            lines.append(raw)
            result.added += 1
    with atomic_write(target) as out:
        for raw in lines:
            out.write(raw + b"\n")
    return _finish(result, validate)


def remove_label(manifest: str | os.PathLike[str], label: str, *,
                 output: str | os.PathLike[str] | None = None,
                 validate: bool = True) -> ChangeResult:
    """Remove a label from every line, consistently (L5380-5388).

    Classification: the attribute (and its metadata) whose ``class-name`` is ``label``.
    Detection: each annotation whose class maps to ``label``, the ``objects`` entry of the same
    index, and the ``class-map`` entries of ``label``; the attribute stays, possibly with no
    box. The image stays in the dataset. :class:`DatasetError` when no line uses the label.
    """
    target = _target(manifest, output)
    result = ChangeResult(str(target))
    totals = [0, 0, 0]
    lines = []
    for _lineno, raw in _copy_lines(manifest):
        try:
            obj = parse_line(raw, keep_literals=True)
        except ValueError:
            lines.append(raw)
            continue
        removed = _remove_from_line(obj, label)
        if any(removed):
            lines.append(dumps_line(obj))
            result.changed += 1
            totals = [a + b for a, b in zip(totals, removed)]
        else:
            lines.append(raw)
    if not result.changed:
        raise DatasetError(f"{os.fspath(manifest)}: no line has the label {label!r}")
    with atomic_write(target) as out:
        for raw in lines:
            out.write(raw + b"\n")
    result.details = {"boxes_removed": totals[0], "attributes_removed": totals[1],
                      "class_map_entries_removed": totals[2]}
    return _finish(result, validate)


def _remove_from_line(obj: dict[str, Any], label: str) -> tuple[int, int, int]:
    """Remove ``label`` from one parsed line in place.

    Returns (boxes, classification attributes, class-map entries) removed.
    """
    boxes = attributes = entries = 0
    for attr, meta in attribute_pairs(obj):
        kind = attribute_type(obj, meta)
        metadata = obj[meta]
        if kind == CLASSIFICATION and metadata.get("class-name") == label:
            del obj[attr], obj[meta]
            attributes += 1
            continue
        if kind != DETECTION or not isinstance(metadata.get("class-map"), dict):
            continue
        class_map = metadata["class-map"]
        ids = [key for key, name in class_map.items() if name == label]
        for key in ids:
            del class_map[key]
        entries += len(ids)
        value = obj[attr]
        annotations = value.get("annotations") if isinstance(value, dict) else None
        if ids and isinstance(annotations, list):
            keep = [i for i, box in enumerate(annotations)
                    if not (isinstance(box, dict) and str(box.get("class_id")) in ids)]
            boxes += len(annotations) - len(keep)
            value["annotations"] = [annotations[i] for i in keep]
            objects = metadata.get("objects")
            if isinstance(objects, list):  # objects map to annotations by index (L3635, L3976-3978)
                metadata["objects"] = ([objects[i] for i in keep if i < len(objects)]
                                       + objects[len(annotations):])
    return boxes, attributes, entries


def merge(manifests: list[str | os.PathLike[str]], output: str | os.PathLike[str], *,
          on_duplicate: str = "error", validate: bool = True) -> ChangeResult:
    """Join manifests into ``output``, in order.

    ``on_duplicate``: ``error`` (default) refuses images that several lines name (the message
    lists them), ``first`` keeps the first line of each image, ``last`` the last one (at the
    first one's place). Lines that are not JSON objects with a source-ref are copied as they are.
    """
    if on_duplicate not in ("error", "first", "last"):
        raise ValueError(f"on_duplicate must be error, first or last, not {on_duplicate!r}")
    target = _target(output, None, tuple(manifests))
    result = ChangeResult(str(target))
    seen: dict[str, tuple[str, int, int]] = {}  # source-ref -> (file, line, index in lines)
    lines: list[bytes | None] = []
    clashes: list[str] = []
    for manifest in manifests:
        for lineno, raw in _copy_lines(manifest):
            sref = _source_ref(raw)
            if sref is None or sref not in seen:
                if sref is not None:
                    seen[sref] = (os.fspath(manifest), lineno, len(lines))
                lines.append(raw)
                continue
            where, first_line, index = seen[sref]
            clashes.append(f"{os.fspath(manifest)}:{lineno}: {sref} is also {where}:{first_line}")
            result.removed += 1
            if on_duplicate == "last":
                lines[index] = raw
                result.replaced += 1
    if clashes and on_duplicate == "error":
        shown = "\n".join(clashes[:20]) + (f"\n... and {len(clashes) - 20} more"
                                           if len(clashes) > 20 else "")
        raise DatasetError(f"{len(clashes)} lines name an image already merged (use "
                           f"on_duplicate first or last):\n{shown}")
    with atomic_write(target) as out:
        for raw in lines:
            out.write(raw + b"\n")  # type: ignore[operator]
    result.added = len(lines)
    return _finish(result, validate)
