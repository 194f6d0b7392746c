"""The one problem shape every command and API reports, built by :func:`make_issue`.

An issue is plain data first: :func:`make_issue` returns a ``dict`` with exactly the fields of
:class:`Issue`, so that the validator, run as a pre-commit hook, builds and prints thousands of
them without importing pydantic; ``customlabels.Issue`` (a pydantic model) gives the same
data types for Python callers (``Issue.model_validate(d)``). Every issue has:

* ``code``: a catalogue code (:data:`customlabels.codes.CODES`), the API tests assert on;
* ``severity`` and ``scope``: from the catalogue, never chosen by the caller (except where a
  command's option turns a catalogued warning into an error, ``severity=``);
* ``file``, ``line`` (1-based, or None), ``path`` (a JSONPath rooted at the line, or None): where;
* ``message``: the catalogue's text, ``detail``: what exactly was found, in our words;
* ``context``: the values behind the message and the detail (a duplicate's first line, the
  labels a split could not place, the limit that was passed...), as JSON-ready data, so that
  tests and programs read values instead of parsing prose.

Standard library only, nothing imported at module level beyond the catalogue.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .codes import CODES

if TYPE_CHECKING:
    from .validation.report import Issue, ValidationReport

#: The keys of an issue, in the order they are printed in JSON.
FIELDS = ("code", "severity", "scope", "file", "line", "path", "message", "detail", "context")


@lru_cache(maxsize=4096)  # faulty manifests repeat the same few paths thousands of times
def render_path(path: tuple[str | int, ...]) -> str:
    """Render a path as JSONPath: ``$['bounding-box'].annotations[3].width``."""
    out = ["$"]
    for step in path:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif step.isidentifier():
            out.append(f".{step}")
        else:
            out.append("['" + step.replace("\\", "\\\\").replace("'", "\\'") + "']")
    return "".join(out)


def make_issue(code: str, file: str, line: int | None = None,
               path: str | tuple[str | int, ...] | None = None, *, arg: object = None,
               message: str | None = None, detail: str | None = None,
               severity: str | None = None, context: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    """Return one issue as plain data (the fields of :class:`Issue`).

    Args:
        code: a code of :data:`customlabels.codes.CODES`; severity and scope come from it.
        file: the file the issue is about.
        line: its 1-based line, or None for file, dataset and pair issues.
        path: where in the line: a JSONPath string or a tuple of keys and indexes.
        arg: fills the ``{}`` of the catalogue's message (when ``message`` is not given).
        message: the message, already rendered (the validator renders its own).
        detail: what exactly was found, in our words.
        severity: only for an option that raises a catalogued warning to an error.
        context: the values behind message and detail (JSON-ready).
    """
    row = CODES[code]
    if isinstance(path, tuple):
        path = render_path(path)
    return {"code": code, "severity": severity or row.severity, "scope": row.scope,
            "file": file, "line": line, "path": path,
            "message": row.format(arg) if message is None else message, "detail": detail,
            "context": {} if context is None else context}


#: The context key of a line finding's value (the ``{}`` of its message, or its argument);
#: other codes' values are named ``value``.
LINE_CONTEXT_KEYS = {"ERROR_DUPLICATE_SOURCE_REF": "first_line",
                     "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT": "attribute",
                     "ERROR_UNSUPPORTED_USE_CASE_TYPE": "metadata",
                     "ERROR_INVALID_JSON_LINE": "reason"}


#: Per code index: name, severity, scope, message, whether it has a ``{}``, context key.
_LINE_ROWS: tuple[tuple[str, str, str, str, bool, str], ...] = tuple(
    (name, row.severity, row.scope, row.message, "{}" in row.message,
     LINE_CONTEXT_KEYS.get(name, "value")) for name, row in CODES.items())


def line_message(code: int, where: tuple[str | int, ...], arg: Any
                 ) -> tuple[str, str | None, dict[str, Any]]:
    """Return the message, detail and context of a scanner's finding ``(code index, path, arg)``.

    The message's ``{}`` takes ``arg``, else the path's first key; a message without ``{}``
    keeps ``arg`` as the detail. The value is in the context (``{"first_line": 3}`` for a
    duplicate source-ref, the parser's reason for invalid JSON); a finding whose place says it
    all has an empty context.
    """
    _, _, _, message, fill, key = _LINE_ROWS[code]
    if fill:
        value = where[0] if arg is None else arg
        return message.format(value), None, {key: value}
    if arg is None:
        return message, None, {}
    return message, str(arg), {key: arg}


def make_line_issue(file: str, line: int, code: int, where: tuple[str | int, ...],
                    arg: Any) -> dict[str, Any]:
    """Return the issue of one finding of a scanner: ``(code index, path, argument)``.

    The same issue as :func:`make_issue` builds (see :func:`line_message`), made for the
    validator's hot loop: a faulty manifest has thousands.
    """
    # line_message, inlined: this runs once per finding
    name, severity, scope, message, fill, key = _LINE_ROWS[code]
    if fill:
        value = where[0] if arg is None else arg
        message, detail, context = message.format(value), None, {key: value}
    elif arg is None:
        detail, context = None, {}
    else:
        detail, context = str(arg), {key: arg}
    return {"code": name, "severity": severity, "scope": scope, "file": file, "line": line,
            "path": render_path(where), "message": message, "detail": detail,
            "context": context}


def issue_counts(issues: list[dict[str, Any]]) -> tuple[int, int]:
    """Return ``(errors, warnings)`` among plain-data issues."""
    errors = sum(1 for i in issues if i["severity"] == "error")
    return errors, len(issues) - errors


def as_data(item: Any) -> dict[str, Any]:
    """Return an issue or a report as plain data: a ``dict`` as it is, a pydantic model dumped.

    Fields a model was not given (a report's absent testing statistics) stay absent, so the
    data is what the command line prints for it.
    """
    return item if isinstance(item, dict) else item.model_dump(exclude_unset=True)


def issue_message(issue: Any) -> str:
    """Return an issue's message with its detail and path: ``message (detail) - at PATH``."""
    return _message(issue if type(issue) is dict else as_data(issue))


def _message(issue: dict[str, Any]) -> str:
    text = issue["message"]
    if issue["detail"]:
        text += f" ({issue['detail']})"
    if issue["path"] and issue["path"] != "$":
        text += f" - at {issue['path']}"
    return text


def issue_text(issue: Any) -> str:
    """Return one issue, compiler style: ``FILE:LINE: CODE message (detail) - at PATH``."""
    if type(issue) is not dict:
        issue = as_data(issue)
    where = issue["file"] if issue["line"] is None else f"{issue['file']}:{issue['line']}"
    return f"{where}: {issue['code']} {_message(issue)}"


def typed_issues(issues: list[Any]) -> list[Issue]:
    """Return issues as :class:`customlabels.Issue`: plain data typed, models as they are."""
    if not issues:
        return []  # nothing to type: pydantic stays unimported
    from .validation.report import Issue

    return [i if isinstance(i, Issue) else Issue.model_validate(i) for i in issues]


def typed_report(doc: dict[str, Any] | None) -> ValidationReport | None:
    """Return a report document as :class:`customlabels.ValidationReport` (None stays None)."""
    if doc is None:
        return None
    from .validation.report import ValidationReport

    return ValidationReport.model_validate(doc)


class IssueViews:
    """The ``errors`` and ``warnings`` of a result's ``issues`` (validation, conversion,
    evaluation results share them)."""

    if TYPE_CHECKING:
        issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        """Return the issues of severity error."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Return the issues of severity warning."""
        return [i for i in self.issues if i.severity == "warning"]
