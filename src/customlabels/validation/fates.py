"""What becomes of each line with problems: dropped, invalid, ignored, or kept without a part.

A validation report lists problems one by one, and an error does not always cost its line: a box
off the frame is left out and the line trains with its other boxes (spec decision 13, guide
L5425-5431, "Non-terminal errors"), while a missing class-map id makes the line invalid and an
invalid JSON Line is dropped from the dataset. :func:`line_fates` says which, from the line's
codes and the catalogue's ``effect`` column, by the scanner's own rule
(``validation._pyscan.check_line``): a line is invalid when one of its codes invalidates it
(dropped, when one drops it at dataset creation), ignored when it has nothing usable and no such
code (``WARNING_UNANNOTATED_RECORD``, ``WARNING_NO_ANNOTATIONS``), else valid; a valid line with
an error kept only its other parts. A test holds these fates to the summary's counts.

Standard library only: ``customlabels validate`` renders with it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..codes import CODES, DROPPED_CODES, INVALIDATING_CODES

__all__ = ["DROPPED", "IGNORED", "INVALID", "KEPT", "fate_counts", "fate_note", "line_fates"]

#: The line is removed when the dataset is created (and counts as invalid).
DROPPED = "dropped"
#: The line is invalid: it stays in the dataset, and it does not train or test.
INVALID = "invalid"
#: The line has nothing usable left (only warnings): neither valid nor invalid.
IGNORED = "ignored"
#: The line is valid, without the box, label or label attribute an error names.
KEPT = "kept"

#: The warnings that mark a line with nothing usable.
_IGNORING = frozenset({"WARNING_UNANNOTATED_RECORD", "WARNING_NO_ANNOTATIONS"})
#: The scopes of problems inside one manifest line.
_LINE_SCOPES = frozenset({"line", "attribute", "annotation", "metadata"})
#: What a ``local`` error leaves out of a line that is kept, by its scope.
_PART = {"annotation": "box", "attribute": "label attribute", "metadata": "label"}
#: ... and by its code, where the scope does not say it.
_CODE_PART = {"ERROR_UNSUPPORTED_USE_CASE_TYPE": "label attribute"}


def line_fates(issues: Iterable[dict[str, Any]]) -> dict[tuple[str, int], str]:
    """Return the fate of every line with a problem, by ``(file, line)``.

    ``issues`` are a validation report's (plain data). Lines with warnings only that still
    train are ``valid``: they are left out, as are lines without problems.
    """
    codes: dict[tuple[str, int], set[str]] = {}
    for issue in issues:
        if issue["line"] is not None and issue["scope"] in _LINE_SCOPES:
            codes.setdefault((issue["file"], issue["line"]), set()).add(issue["code"])
    fates = {}
    for where, found in codes.items():
        if found & DROPPED_CODES:
            fates[where] = DROPPED
        elif found & INVALIDATING_CODES:
            fates[where] = INVALID
        elif found & _IGNORING:
            fates[where] = IGNORED
        elif any(CODES[code].severity == "error" for code in found):
            fates[where] = KEPT
    return fates


def fate_counts(fates: dict[tuple[str, int], str], file: str) -> Counter[str]:
    """Return how many lines of ``file`` have each fate."""
    return Counter(fate for (name, _), fate in fates.items() if name == file)


def fate_note(issue: dict[str, Any], fates: dict[tuple[str, int], str]) -> str:
    """Return what an error does to its line, as text (``"box left out, line kept"``).

    Empty for warnings and for problems that are not about one line.
    """
    if issue["severity"] != "error" or issue["line"] is None:
        return ""
    fate = fates.get((issue["file"], issue["line"]))
    if fate == DROPPED:
        return "line dropped from the dataset"
    if fate == INVALID:
        return "line invalid: not used"
    if fate == IGNORED:
        return "line ignored: nothing usable left"
    if fate == KEPT:
        part = _CODE_PART.get(issue["code"]) or _PART.get(issue["scope"], "label")
        return f"{part} left out, line kept"
    return ""
