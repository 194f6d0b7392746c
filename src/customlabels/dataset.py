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

Images, labels, valid and error lines mean what they mean to the validator: every operation
reads the manifest as records (:mod:`customlabels.manifest.records`, through the compiled core
when it is built), and parses a line only where it rewrites it. The operations that change a
dataset write their result atomically (to the manifest itself by default, as the API changes the
dataset, or to ``output``) and validate it; lines they do not change are copied byte for byte.

Problems in the data (a changes file with unusable lines, images that several merged manifests
name) are the ``issues`` of the result, and nothing is written; :class:`DatasetError` is for an
operation that cannot be done as asked (an output that is an input, a label no line has, a line
too long to copy).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .codes import CODE_NAMES
from .errors import DatasetError
from .issues import make_issue, typed_issues, typed_report
from .limits import MAX_LINE_BYTES, MAX_LINE_CHARS
from .manifest.jsonline import parse_line
from .manifest.reader import iter_lines
from .manifest.records import (Record, has_errors, is_dropped, iter_records, iter_rows,
                               may_contain)
from .manifest.schema import (CLASSIFICATION, DETECTION, VALID, attribute_pairs, attribute_type,
                              source_ref_bucket)
from .manifest.writer import atomic_write, dumps_line, edit_lock

if TYPE_CHECKING:
    from .validation.report import Issue, ValidationReport

__all__ = ["ChangeResult", "DatasetError", "DatasetStats", "LabelStats", "describe",
           "list_entries", "list_labels", "merge", "remove_label", "update_entries"]

_INVALID_SOURCE_REF_FORMAT = CODE_NAMES.index("ERROR_INVALID_SOURCE_REF_FORMAT")
_SOURCE_REF_PATH = "$['source-ref']"


# --- reading ----------------------------------------------------------------------------------


def list_entries(manifest: str | os.PathLike[str], *, has_errors: bool | None = None,
                 source_ref_contains: str | None = None, labels: list[str] | None = None,
                 backend: str = "auto") -> Iterator[tuple[Record, bytes]]:
    """Yield ``(record, line)`` for each entry matching every filter given (ListDatasetEntries).

    Args:
        has_errors: True for lines with an error only, False for lines without.
        source_ref_contains: keep lines whose source-ref contains this text.
        labels: keep lines that have one of these labels (usable, on a valid line).
        backend: ``auto``, ``compiled`` or ``python`` (see :func:`iter_records`).

    The line is the manifest's, with the validator's findings attached when it has any.
    """
    from .validation.pipeline import annotate

    wanted = set(labels or ())
    for rec in iter_records(manifest, backend=backend):
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


def list_labels(manifest: str | os.PathLike[str], *, backend: str = "auto",
                progress: bool | None = False) -> list[LabelStats]:
    """Return the labels of a dataset with image and box counts, by name (ListDatasetLabels).

    ``progress`` as in :func:`describe`.
    """
    from .convert._common import counted

    images: Counter[str] = Counter()
    boxes: Counter[str] = Counter()
    rows = counted(iter_rows(manifest, backend=backend), Path(manifest).name, progress)
    for _line, _raw, verdict, _findings, _ref, labels, box_labels in rows:
        if verdict == VALID:
            images.update(labels)
            boxes.update(box_labels)
    return [LabelStats(name, images[name], boxes[name]) for name in sorted(images.keys() | boxes)]


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


def describe(manifest: str | os.PathLike[str], *, backend: str = "auto",
             progress: bool | None = False) -> DatasetStats:
    """Return the ``DatasetStats`` of a manifest (DescribeDataset).

    ``progress``: a bar counting the lines read, on stderr (None: when it is a terminal).
    """
    from .convert._common import counted

    stats = DatasetStats()
    labels: set[str] = set()
    lines = dropped = labeled = errors = 0
    rows = counted(iter_rows(manifest, backend=backend), Path(manifest).name, progress)
    for _line, _raw, verdict, findings, _ref, line_labels, _boxes in rows:
        lines += 1
        if findings:
            if is_dropped(findings):
                dropped += 1
                continue
            errors += has_errors(findings)
        if verdict == VALID:
            labeled += 1
            labels.update(line_labels)
    stats.DroppedLines, stats.TotalEntries = dropped, lines - dropped
    stats.LabeledEntries, stats.ErrorEntries, stats.TotalLabels = labeled, errors, len(labels)
    return stats


# --- changing ---------------------------------------------------------------------------------


@dataclass
class ChangeResult:
    """What an operation that changes a dataset did.

    Attributes:
        output: the manifest written; None when the operation was refused (see ``issues``).
        replaced, added, removed, changed: lines replaced, appended, left out, rewritten.
        details: counts particular to the operation (boxes removed...).
        issues: the problems that refused the operation, as :class:`customlabels.Issue` (codes
            and ``context`` values; plain data given to the constructor is typed); empty when
            the manifest was written.
        validation_doc: the validator's report on the manifest written, as plain data (what
            ``--format json`` prints); None when nothing was validated. :attr:`validation` is
            the same report typed.
    """

    output: str | None
    replaced: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    details: dict[str, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    validation_doc: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.issues = typed_issues(self.issues)

    @cached_property
    def validation(self) -> ValidationReport | None:
        """Return the validator's report on the manifest written, typed (None when not run).

        Typed on first use: the command line prints the plain data, without pydantic.
        """
        return typed_report(self.validation_doc)

    @property
    def ok(self) -> bool:
        """Tell whether the manifest was written and validates."""
        return self.output is not None and not self.issues and (
            self.validation_doc is None or self.validation_doc["ok"])

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain data (what ``--format json`` prints)."""
        return {"ok": self.ok, "output": self.output, "replaced": self.replaced,
                "added": self.added, "removed": self.removed, "changed": self.changed,
                "details": self.details, "issues": [i.model_dump() for i in self.issues],
                "validation": self.validation_doc}


def _read_changes(changes: str | os.PathLike[str]
                  ) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Return (source-ref -> line, issues) of a changes file; each line must be a usable entry.

    Every line that is not one is an issue (all of them, not the first only).
    """
    path = os.fspath(changes)
    out: dict[str, bytes] = {}
    first: dict[str, int] = {}
    issues: list[dict[str, Any]] = []
    with open(changes, "rb") as stream:
        for lineno, raw in enumerate(iter_lines(stream), start=1):
            if raw is None:  # the reader keeps no line over MAX_LINE_BYTES
                issues.append(make_issue(
                    "ERROR_LINE_TOO_LONG", path, lineno,
                    detail=f"the line is longer than {MAX_LINE_CHARS:,} characters",
                    context={"max_chars": MAX_LINE_CHARS}))
                continue
            try:
                obj = parse_line(raw)
            except ValueError as exc:
                issues.append(make_issue("ERROR_INVALID_JSON_LINE", path, lineno,
                                         detail=f"not a JSON object ({exc})",
                                         context={"reason": str(exc)}))
                continue
            sref = obj.get("source-ref")
            if not isinstance(sref, str) or source_ref_bucket(sref) is None:
                code = ("ERROR_MISSING_SOURCE_REF" if "source-ref" not in obj
                        else "ERROR_INVALID_SOURCE_REF_FORMAT")
                issues.append(make_issue(
                    code, path, lineno, None if "source-ref" not in obj else _SOURCE_REF_PATH,
                    detail=f"source-ref is missing or not s3://bucket/key (found {sref!r})",
                    context={"source_ref": sref}))
                continue
            if sref in first:
                issues.append(make_issue(
                    "ERROR_DUPLICATE_SOURCE_REF", path, lineno, _SOURCE_REF_PATH,
                    arg=first[sref], detail=f"{sref} is also on line {first[sref]}",
                    context={"source_ref": sref, "first_line": first[sref]}))
                continue
            first[sref] = lineno
            out[sref] = raw
    return out, issues


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


def _editing(manifest: str | os.PathLike[str], output: str | os.PathLike[str] | None
             ) -> AbstractContextManager[None]:
    """Lock ``manifest`` for an in-place edit (no ``output``): a second edit waits its turn
    and starts from the first one's result (:func:`~customlabels.manifest.writer.edit_lock`)."""
    return edit_lock([manifest]) if output is None else nullcontext()


def _finish(result: ChangeResult, validate: bool, backend: str) -> ChangeResult:
    if validate and result.output is not None:
        from .validation.pipeline import validate_files

        result.validation_doc = validate_files(result.output, backend=backend)
    return result


def _copy_rows(manifest: str | os.PathLike[str], backend: str
               ) -> Iterator[tuple[int, bytes, int, list[Any], str | None, tuple[str, ...]]]:
    """Yield ``(line, raw, verdict, findings, source_ref, labels)`` of each line to copy.

    :class:`DatasetError` for a line the reader did not keep (over the length limit).
    """
    for lineno, raw, verdict, findings, sref, labels, _boxes in iter_rows(manifest,
                                                                          backend=backend):
        if raw is None:
            raise DatasetError(f"{os.fspath(manifest)}:{lineno}: the line is longer than "
                               f"{MAX_LINE_BYTES:,} bytes and cannot be copied "
                               "(ERROR_LINE_TOO_LONG); remove it first")
        yield lineno, raw, verdict, findings, sref, labels


def _any_source_ref(raw: bytes, findings: list[Any], sref: str | None) -> str | None:
    """Return the line's source-ref when it is a string, well formed or not.

    The record has it when it is well formed; a malformed one (a string all the same) is read
    from the line, which is parsed only then.
    """
    if sref is not None or not any(code == _INVALID_SOURCE_REF_FORMAT for code, _, _ in findings):
        return sref
    value = parse_line(raw).get("source-ref")
    return value if isinstance(value, str) else None


def update_entries(manifest: str | os.PathLike[str], changes: str | os.PathLike[str], *,
                   output: str | os.PathLike[str] | None = None, validate: bool = True,
                   backend: str = "auto") -> ChangeResult:
    """Apply a file of JSON Lines to a manifest, as UpdateDatasetEntries does (L12604-12624).

    A change whose source-ref is on a line of the manifest replaces that line (its first
    occurrence); any other is appended, in the changes' order. Every change must be a JSON
    object with a valid source-ref, each source-ref once: otherwise the result's ``issues``
    name every line that is not (``ERROR_INVALID_JSON_LINE``, ``ERROR_MISSING_SOURCE_REF``,
    ``ERROR_INVALID_SOURCE_REF_FORMAT``, ``ERROR_DUPLICATE_SOURCE_REF``,
    ``ERROR_LINE_TOO_LONG``) and nothing is written. The result replaces ``manifest``
    atomically, or goes to ``output``.
    """
    updates, issues = _read_changes(changes)
    target = _target(manifest, output, (changes,))
    if issues:
        return ChangeResult(None, issues=typed_issues(issues))
    result = ChangeResult(str(target))
    used: set[str] = set()
    with _editing(manifest, output), atomic_write(target) as out:
        for _lineno, raw, _verdict, _findings, sref, _labels in _copy_rows(manifest, backend):
            # a change's source-ref is well formed, so the record's source-ref finds its line
            if sref is not None and sref in updates and sref not in used:
                used.add(sref)
                raw = updates[sref]
                result.replaced += 1
            out.write(raw + b"\n")
        for sref, raw in updates.items():
            if sref not in used:
                out.write(raw + b"\n")
                result.added += 1
    return _finish(result, validate, backend)


def remove_label(manifest: str | os.PathLike[str], label: str, *,
                 output: str | os.PathLike[str] | None = None, validate: bool = True,
                 backend: str = "auto") -> ChangeResult:
    """Remove a label from every line, consistently (L5380-5388).

    Classification: the attribute (and its metadata) whose ``class-name`` is ``label``.
    Detection: each annotation whose class maps to ``label``, the ``objects`` entry of the same
    index, and the ``class-map`` entries of ``label``; the attribute stays, possibly with no
    box. The image stays in the dataset. :class:`DatasetError` when no line uses the label.
    """
    target = _target(manifest, output)
    result = ChangeResult(str(target))
    totals = [0, 0, 0]
    with _editing(manifest, output), atomic_write(target) as out:
        for _lineno, raw, _verdict, _findings, _sref, _labels in _copy_rows(manifest, backend):
            if may_contain(raw, label):  # only lines that may name the label are parsed
                try:
                    obj = parse_line(raw, keep_literals=True)
                except ValueError:
                    obj = None
                removed = _remove_from_line(obj, label) if obj is not None else (0, 0, 0)
                if any(removed):
                    raw = dumps_line(obj)
                    result.changed += 1
                    totals = [a + b for a, b in zip(totals, removed)]
            out.write(raw + b"\n")
        if not result.changed:  # raised inside: the temporary file is removed
            raise DatasetError(f"{os.fspath(manifest)}: no line has the label {label!r}")
    result.details = {"boxes_removed": totals[0], "attributes_removed": totals[1],
                      "class_map_entries_removed": totals[2]}
    return _finish(result, validate, backend)


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
          on_duplicate: str = "error", validate: bool = True,
          backend: str = "auto") -> ChangeResult:
    """Join manifests into ``output``, in order.

    ``on_duplicate``: ``error`` (default) refuses images that several lines name (each such
    line is an ``ERROR_DUPLICATE_SOURCE_REF`` issue of the result, whose context names the
    first line; nothing is written), ``first`` keeps the first line of each image, ``last`` the
    last one (at the first one's place). Lines that are not JSON objects with a string
    source-ref are copied as they are.
    """
    if on_duplicate not in ("error", "first", "last"):
        raise DatasetError(f"on_duplicate must be error, first or last, not {on_duplicate!r}")
    target = _target(output, None, tuple(manifests))
    result = ChangeResult(str(target))
    seen: dict[str, tuple[str, int, int]] = {}  # source-ref -> (file, line, index in lines)
    lines: list[bytes] = []
    clashes: list[dict[str, Any]] = []
    for manifest in manifests:
        name = os.fspath(manifest)
        for lineno, raw, _verdict, findings, sref, _labels in _copy_rows(manifest, backend):
            sref = _any_source_ref(raw, findings, sref)
            if sref is None or sref not in seen:
                if sref is not None:
                    seen[sref] = (name, lineno, len(lines))
                lines.append(raw)
                continue
            where, first_line, index = seen[sref]
            clashes.append(make_issue(
                "ERROR_DUPLICATE_SOURCE_REF", name, lineno, _SOURCE_REF_PATH,
                # "first used on line 3" in the same file, "on line 3 of A.manifest" in another
                arg=first_line if where == name else f"{first_line} of {where}",
                detail=f"{sref} is also {where}:{first_line}",
                context={"source_ref": sref, "first_file": where, "first_line": first_line}))
            result.removed += 1
            if on_duplicate == "last":
                lines[index] = raw
                result.replaced += 1
    if clashes and on_duplicate == "error":
        return ChangeResult(None, issues=typed_issues(clashes))
    with atomic_write(target) as out:
        for raw in lines:
            out.write(raw + b"\n")
    result.added = len(lines)
    return _finish(result, validate, backend)
