"""Render one issue or problem (validation, evaluation, conversion) as a line of text.

Standard library only, and nothing at all imported: ``customlabels validate`` uses it.
"""

from __future__ import annotations

from typing import Any


def issue_message(issue: dict[str, Any]) -> str:
    """Return an issue's message with its detail and path: ``message (detail) - at PATH``."""
    text = issue["message"]
    if issue["detail"]:
        text += f" ({issue['detail']})"
    if issue["path"] and issue["path"] != "$":
        text += f" - at {issue['path']}"
    return text


def issue_text(issue: dict[str, Any]) -> str:
    """Return one issue, compiler style: ``FILE:LINE: CODE message (detail) - at PATH``."""
    where = issue["file"] if issue["line"] is None else f"{issue['file']}:{issue['line']}"
    return f"{where}: {issue['code']} {issue_message(issue)}"
