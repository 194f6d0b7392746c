"""Typed records of manifest lines, as the validator sees them.

Every tool that works on the *content* of a manifest (export, split, the dataset operations)
reads it through :func:`iter_records`, which runs the validator's own line rules
(:func:`customlabels.validation._pyscan.check_line`) on each line. So "an image", "a valid line"
and "the labels of a line" mean exactly what they mean to ``customlabels validate``: the labels
of a line are the classification ``class-name``\\ s and the ``class-map`` names of usable boxes on
a valid line (``docs/decisions.md``, "Dataset rules").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..codes import CODE_NAMES, CODES, DROPPED_CODES
from ..validation._pyscan import check_line
from .jsonline import parse_line
from .reader import iter_lines
from .schema import INVALID, VALID, Finding, attribute_pairs, usable_boxes, usable_classes

_ERROR_CODES = frozenset(i for i, name in enumerate(CODE_NAMES) if CODES[name].severity == "error")
_DROPPED = frozenset(CODE_NAMES.index(name) for name in DROPPED_CODES)
_DUPLICATE_SOURCE_REF = CODE_NAMES.index("ERROR_DUPLICATE_SOURCE_REF")
#: Re-exported: what the tools that read records derive from a line and its findings.
__all__ = ["Record", "attribute_pairs", "iter_records", "usable_boxes", "usable_classes"]


@dataclass(slots=True)
class Record:
    """One line of a manifest with the validator's verdict on it.

    Attributes:
        line: 1-based line number.
        raw: the line's bytes without its terminator; None for a line over the length limit
            that the reader did not keep (see :mod:`customlabels.manifest.reader`).
        verdict: ``VALID`` (0), ``INVALID`` (1) or ``IGNORED`` (2), as in the summary.
        findings: the validator's findings on the line (code index, JSON path, argument).
        source_ref: the line's source-ref when it is well formed (duplicates included), else
            None.
        labels: the line's usable labels, distinct, in order (empty unless the line is valid).
    """

    line: int
    raw: bytes | None
    verdict: int
    findings: list[Finding]
    source_ref: str | None
    labels: tuple[str, ...]

    @property
    def valid(self) -> bool:
        """Tell whether the line is valid (it carries at least one usable label)."""
        return self.verdict == VALID

    @property
    def dropped(self) -> bool:
        """Tell whether the service drops the line at import (L5403-5420)."""
        return any(code in _DROPPED for code, _, _ in self.findings)

    @property
    def has_errors(self) -> bool:
        """Tell whether the line carries an error (at any level)."""
        return any(code in _ERROR_CODES for code, _, _ in self.findings)

    @property
    def duplicate_of(self) -> int | None:
        """Return the first line of this line's source-ref when this line repeats it."""
        for code, _, arg in self.findings:
            if code == _DUPLICATE_SOURCE_REF:
                return arg
        return None

    def object(self) -> dict[str, Any] | None:
        """Return the line parsed (strictly), or None when it is not a JSON object."""
        if self.raw is None:
            return None
        try:
            return parse_line(self.raw)
        except ValueError:
            return None


def iter_records(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Yield a :class:`Record` for each line of the manifest at ``path``, streaming.

    ``OSError`` propagates (callers report unreadable files).
    """
    refs: dict[str, int] = {}
    with open(path, "rb") as stream:
        for lineno, raw in enumerate(iter_lines(stream), start=1):
            verdict, findings, info = check_line(raw, lineno, refs)
            if info is not None:
                sref, _bucket, _declared, cls, det = info
                labels = tuple(dict.fromkeys([*cls, *det])) if verdict == VALID else ()
                yield Record(lineno, raw, verdict, findings, sref, labels)
                continue
            sref = None
            if verdict == INVALID and findings and findings[0][0] == _DUPLICATE_SOURCE_REF:
                sref = parse_line(raw)["source-ref"]  # type: ignore[arg-type]
            yield Record(lineno, raw, verdict, findings, sref, ())
