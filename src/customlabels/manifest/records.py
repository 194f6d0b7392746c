"""Typed records of manifest lines, as the validator sees them.

Every tool that works on the *content* of a manifest (export, split, the dataset operations)
reads it through :func:`iter_records`, which applies the validator's own line rules to each line,
with the compiled core when it is built (:func:`customlabels.validation.scan.records_compiled`)
or the pure-Python line check (:func:`customlabels.validation._pyscan.check_line`), with the
same records. So "an image", "a valid line" and "the labels of a line" mean exactly what they
mean to ``customlabels validate``: the labels of a line are the classification ``class-name``\\ s
and the ``class-map`` names of usable boxes on a valid line (``docs/decisions.md``, "Dataset
rules").

A record carries what the commands need without parsing the line again: its verdict, findings,
source-ref, labels and the label of each usable box. A command parses a line only where it needs
the object itself (the coordinates of the boxes it exports, a line it rewrites), with
:func:`load_object`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import chain
from typing import Any, NamedTuple, TypeVar

from ..codes import CODE_NAMES, CODES, DROPPED_CODES
from .jsonline import parse_line
from .reader import iter_lines
from .schema import INVALID, VALID, Finding, attribute_pairs, usable_boxes, usable_classes

_ERROR_CODES = frozenset(i for i, name in enumerate(CODE_NAMES) if CODES[name].severity == "error")
_DROPPED = frozenset(CODE_NAMES.index(name) for name in DROPPED_CODES)
_DUPLICATE_SOURCE_REF = CODE_NAMES.index("ERROR_DUPLICATE_SOURCE_REF")
#: Lines the validator did not read as JSON: not a strict JSON object, or over the length limit.
_NOT_READ = frozenset(CODE_NAMES.index(name)
                      for name in ("ERROR_INVALID_JSON_LINE", "ERROR_LINE_TOO_LONG"))
#: Re-exported: what the tools that read records derive from a line and its findings.
__all__ = ["Record", "Row", "attribute_pairs", "has_errors", "is_dropped", "iter_batches",
           "iter_records", "iter_rows", "load_object", "may_contain", "usable_boxes",
           "usable_classes"]

#: One record as a plain tuple, the fields of :class:`Record` in order (what the scanners yield).
Row = tuple[int, bytes | None, int, list[Finding], str | None, tuple[str, ...], tuple[str, ...]]
T = TypeVar("T")


class Record(NamedTuple):
    """One line of a manifest with the validator's verdict on it.

    A named tuple: the scanners yield plain tuples in this order, and wrapping one costs no copy.

    Attributes:
        line: 1-based line number.
        raw: the line's bytes without its terminator; None for a line over the length limit
            that the reader did not keep (see :mod:`customlabels.manifest.reader`).
        verdict: ``VALID`` (0), ``INVALID`` (1) or ``IGNORED`` (2), as in the summary.
        findings: the validator's findings on the line (code index, JSON path, argument).
        source_ref: the line's source-ref when it is well formed (duplicates included), else
            None.
        labels: the line's usable labels, distinct, in order (empty unless the line is valid).
        box_labels: the label of each usable box, in attribute and annotation order, repeats
            included (empty unless the line is valid); what
            :func:`~customlabels.manifest.schema.usable_boxes` yields for the line.
    """

    line: int
    raw: bytes | None
    verdict: int
    findings: list[Finding]
    source_ref: str | None
    labels: tuple[str, ...]
    box_labels: tuple[str, ...]

    @property
    def valid(self) -> bool:
        """Tell whether the line is valid (it carries at least one usable label)."""
        return self.verdict == VALID

    @property
    def dropped(self) -> bool:
        """Tell whether the service drops the line at import (L5403-5420)."""
        return bool(self.findings) and any(code in _DROPPED for code, _, _ in self.findings)

    @property
    def has_errors(self) -> bool:
        """Tell whether the line carries an error (at any level)."""
        return bool(self.findings) and any(code in _ERROR_CODES for code, _, _ in self.findings)

    @property
    def duplicate_of(self) -> int | None:
        """Return the first line of this line's source-ref when this line repeats it."""
        for code, _, arg in self.findings:
            if code == _DUPLICATE_SOURCE_REF:
                return arg  # type: ignore[no-any-return]
        return None

    def object(self) -> dict[str, Any] | None:
        """Return the line parsed (strictly), or None when it is not a JSON object.

        A line the validator read as JSON is parsed fast (:func:`load_object`), with the same
        result.
        """
        if self.raw is None:
            return None
        if self.findings and any(code in _NOT_READ for code, _, _ in self.findings):
            try:  # not JSON, or too long to have been read: parse_line decides
                return parse_line(self.raw)
            except ValueError:
                return None
        return load_object(self.raw)


def is_dropped(findings: list[Finding]) -> bool:
    """Tell whether findings drop their line at import (:attr:`Record.dropped` for a row)."""
    return any(code in _DROPPED for code, _, _ in findings)


def has_errors(findings: list[Finding]) -> bool:
    """Tell whether findings hold an error (:attr:`Record.has_errors` for a row)."""
    return any(code in _ERROR_CODES for code, _, _ in findings)


def iter_records(path: str | os.PathLike[str], *, backend: str = "auto") -> Iterator[Record]:
    """Yield a :class:`Record` for each line of the manifest at ``path``, streaming.

    ``backend``: ``auto`` (the compiled core when built), ``compiled`` or ``python``; both give
    the same records. ``OSError`` propagates (callers report unreadable files) when the
    iteration starts.
    """
    return map(partial(tuple.__new__, Record), iter_rows(path, backend=backend))


def iter_rows(path: str | os.PathLike[str], *, backend: str = "auto") -> Iterator[Row]:
    """Yield each line's record as a plain tuple in :class:`Record`'s order (the fast loop).

    For commands that go through every line of large manifests: a tuple unpacks faster than a
    record's attributes read. Same arguments as :func:`iter_records`. The compiled core gives
    its records in lists, which are chained in C: no Python frame runs between two records.
    """
    from ..validation import scan
    from .reader import check_regular

    check_regular(path)  # a pipe would block the reader
    records = getattr(scan, "records_compiled", None)  # None in a core built before records
    if scan.choose_backend(backend) == "compiled" and records is not None:
        return chain.from_iterable(_compiled_batches(path, records))
    return _python_rows(path)


def iter_batches(path: str | os.PathLike[str], *, backend: str = "auto", size: int = 4096,
                 numbers: bool = False, declared: bool = False
                 ) -> tuple[str, Iterator[list[Row]]]:
    """Return the backend that reads the manifest at ``path`` and its records in lists.

    For commands that hand whole batches to compiled code: the compiled core gives the lists it
    makes (the lines of one piece of the input); the pure-Python path, lists of ``size`` rows.
    The backend is ``"compiled"`` or ``"python"`` (``backend`` as :func:`iter_records`). With
    ``numbers``, the compiled core's rows of valid lines have an eighth field, the numbers of
    their boxes (see ``customlabels._core.records``); the first seven are the row. With
    ``declared``, the compiled core's rows leave the bytes and the box labels out (raw ``b""``,
    box_labels ``()``) and have an eighth field, the labels each line declares (the same
    place).
    """
    from ..validation import scan

    records = getattr(scan, "records_compiled", None)
    if scan.choose_backend(backend) == "compiled" and records is not None:
        if numbers or declared:
            records = partial(records, numbers=numbers, declared=declared)
        return "compiled", _compiled_batches(path, records)
    return "python", chunks(_python_rows(path), size)


def chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield the items of ``rows`` in lists of ``size`` (the last one shorter)."""
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _compiled_batches(path: str | os.PathLike[str], records: Any) -> Iterator[list[Row]]:
    """Yield the compiled core's records of the manifest at ``path``, a list at a time."""
    with open(path, "rb") as stream:
        yield from records(stream)


def _python_rows(path: str | os.PathLike[str]) -> Iterator[Row]:
    """Yield the records of the pure-Python line check (the reference for the compiled ones)."""
    from ..validation._pyscan import check_line

    refs: dict[str, int] = {}
    with open(path, "rb") as stream:
        for lineno, raw in enumerate(iter_lines(stream), start=1):
            verdict, findings, info = check_line(raw, lineno, refs)
            if info is not None:
                sref, _bucket, _declared, cls, det = info
                if verdict != VALID:
                    yield lineno, raw, verdict, findings, sref, (), ()
                    continue
                boxes: tuple[str, ...] = ()
                if det:  # the line's usable boxes, in order: only its object has them
                    obj = parse_line(raw)  # type: ignore[arg-type]
                    boxes = tuple(label for _, _, _, label in usable_boxes(obj, findings))
                labels = tuple(dict.fromkeys([*cls, *det]))
                yield lineno, raw, verdict, findings, sref, labels, boxes
                continue
            sref = None
            if verdict == INVALID and findings and findings[0][0] == _DUPLICATE_SOURCE_REF:
                sref = parse_line(raw)["source-ref"]  # type: ignore[arg-type]
            yield lineno, raw, verdict, findings, sref, (), ()


# --- parsing a line the validator accepted ------------------------------------------------------


def may_contain(raw: bytes, text: str | bytes) -> bool:
    """Tell whether a JSON line may hold the string ``text``; False only where it cannot.

    A line without a backslash spells every string as its plain UTF-8 bytes, so when the bytes
    of ``text`` are not in it, no key or value of the line is ``text``: the line need not be
    parsed to know. ``text`` may be given as its UTF-8 bytes already (for loops).
    """
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    return text in raw or b"\\" in raw

#: Digits to "0", everything else to " ": a run of 19 zeros is an integer literal orjson may not
#: keep exact (it gives a float past the 64-bit range, where parse_line keeps the integer).
_DIGITS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_NUMBER = b"0" * 19


def load_object(raw: bytes) -> dict[str, Any]:
    """Return a line that is a strict JSON object (the validator said so) as parse_line does.

    Uses orjson, about five times faster than :func:`~customlabels.manifest.jsonline.parse_line`,
    where it gives the same object: everywhere but lone surrogates (orjson refuses them) and
    integer literals of 19 digits or more (orjson may turn them into floats), where the line is
    parsed by ``parse_line``. Only for lines the validator did not find invalid JSON (no
    ``ERROR_INVALID_JSON_LINE``): orjson does not refuse repeated keys.
    """
    import orjson

    if _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)  # type: ignore[no-any-return]
        except orjson.JSONDecodeError:
            pass
    return parse_line(raw)
