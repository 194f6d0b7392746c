"""Render issues and reports (validation, evaluation, conversion) as text.

The renderers live with the issue shape, in :mod:`customlabels.issues` (standard library only:
``customlabels validate`` uses them); they take plain data or the typed models alike.
"""

from __future__ import annotations

from typing import Any

from ..issues import as_data, issue_message, issue_text

__all__ = ["as_data", "issue_message", "issue_text", "json_text"]


def json_text(doc: Any, indent: int = 2) -> str:
    """Return ``doc`` as indented JSON text and a newline, non-ASCII characters as they are.

    A lone surrogate (a ``\\ud800`` escape in an input, kept in a label name or a context)
    cannot be written as UTF-8: then every non-ASCII character is escaped instead.
    """
    import json

    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(doc, indent=indent)
    return text + "\n"
