"""Render issues and reports (validation, evaluation, conversion) as text, JSON or annotations.

The issue renderers live with the issue shape, in :mod:`customlabels.issues` (standard library
only: ``customlabels validate`` uses them); they take plain data or the typed models alike.
Here are the command line's conventions on top of them (docs/cli.md): at most ``--max-issues``
problems of a code, then one line with how many more; ``--quiet`` shows none; the closing line
says ``passed`` exactly when the exit status is 0.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..issues import as_data, issue_message, issue_text

__all__ = ["Shown", "as_data", "closing", "github_lines", "issue_message", "issue_text",
           "json_text", "plural", "problem_lines"]


@dataclass(frozen=True)
class Shown:
    """How many problems text and github output show: ``--max-issues`` and ``--quiet``.

    ``per_code`` 0 shows them all. The default is the command line's default.
    """

    per_code: int = 10
    quiet: bool = False

    @classmethod
    def of(cls, args: Any) -> Shown:
        """Return the choice made on the command line (``args`` of any subcommand)."""
        return cls(getattr(args, "max_issues", cls.per_code), getattr(args, "quiet", False))


#: Everything, as the API's callers of the renderers get by default.
ALL = Shown(per_code=0)


def plural(n: int, word: str, words: str | None = None) -> str:
    """Return ``1 error``, ``2 errors``: ``n`` and the word agreeing with it."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _capped(issues: Iterable[Any], shown: Shown) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Return the issues to show and the number of each code in all."""
    kept: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for issue in issues:
        p = as_data(issue)
        seen[p["code"]] += 1
        if p["scope"] == "file" or not shown.quiet and (
                not shown.per_code or seen[p["code"]] <= shown.per_code):
            kept.append(p)  # a file's own error (why nothing was read or written) always
    return kept, seen


def _more(seen: Counter[str], shown: Shown) -> list[tuple[str, int, int]]:
    """Return (code, in all, not shown) for each code some of whose problems are not shown."""
    if shown.quiet:
        return []
    return [(code, n, n - shown.per_code) for code, n in seen.items()
            if shown.per_code and n > shown.per_code]


def more_text(code: str, total: int, left: int) -> str:
    """Return the line that counts the problems of ``code`` not shown."""
    return (f"... {code}: {total:,} in all, {left:,} more not shown "
            "(--max-issues 0 shows all, --format json has all)")


def problem_lines(issues: Iterable[Any], shown: Shown = ALL) -> list[str]:
    """Return the issues as text lines, at most ``shown.per_code`` of each code, then counts.

    ``issues`` are :class:`customlabels.Issue` objects or their plain data.
    """
    kept, seen = _capped(issues, shown)
    return [issue_text(p) for p in kept] + [more_text(*m) for m in _more(seen, shown)]


#: What a renderer may add to an issue's text: a note in brackets, or nothing ("").
Note = Callable[[dict[str, Any]], str]


def _noted(text: str, issue: dict[str, Any], note: Note | None) -> str:
    extra = note(issue) if note else ""
    return f"{text} [{extra}]" if extra else text


def split_problem_lines(issues: Iterable[Any], shown: Shown = ALL, note: Note | None = None
                        ) -> tuple[list[str], list[str]]:
    """Return (line problems, file problems) as text: file problems go to standard error.

    ``note`` adds a bracketed note to an issue's line (what an error does to its line).
    """
    kept, seen = _capped(issues, shown)
    out = [_noted(issue_text(p), p, note) for p in kept if p["scope"] != "file"]
    err = [issue_text(p) for p in kept if p["scope"] == "file"]
    return out + [more_text(*m) for m in _more(seen, shown)], err


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_lines(issues: Iterable[Any], shown: Shown = ALL, note: Note | None = None
                 ) -> list[str]:
    """Return GitHub Actions workflow commands: one annotation a problem, then counts.

    ``note`` adds a bracketed note to an annotation's message, as for text.
    """
    kept, seen = _capped(issues, shown)
    out = []
    for issue in kept:
        props = [f"file={_escape(issue['file'], True)}"]
        if issue["line"] is not None:
            props.append(f"line={issue['line']}")
        props.append(f"title={_escape(issue['code'], True)}")
        message = _noted(issue_message(issue), issue, note)
        out.append(f"::{issue['severity']} {','.join(props)}::{_escape(message)}")
    for code, total, left in _more(seen, shown):
        out.append(f"::notice title={_escape(code, True)}::"
                   f"{_escape(more_text(code, total, left)[4:])}")
    return out


def counts(issues: Iterable[Any]) -> tuple[int, int]:
    """Return ``(errors, warnings)`` among issues (models or plain data)."""
    errors = warnings = 0
    for issue in issues:
        if as_data(issue)["severity"] == "error":
            errors += 1
        else:
            warnings += 1
    return errors, warnings


def closing(subject: str, errors: int, warnings: int, status: int, strict: bool = False,
            what: str = "") -> str:
    """Return a command's closing line: ``SUBJECT: passed|failed: N errors, M warnings``.

    ``passed`` exactly when ``status`` (the exit status) is 0, so that the words and the
    status never disagree; ``(--strict)`` says why warnings alone failed; ``what`` (such as
    ``evaluated``) says what was done, before the counts.
    """
    verdict = "passed" if status == 0 else "failed"
    if status != 0 and strict and not errors and warnings:
        verdict += " (--strict: warnings fail)"
    done = f"{what}, " if what else ""
    return f"{subject}: {verdict}: {done}{plural(errors, 'error')}, {plural(warnings, 'warning')}"


def write_report(fmt: str, shown: Shown, doc: Any, issues: Iterable[Any],
                 render: Callable[[Shown], tuple[str, str]]) -> None:
    """Print a result as ``--format`` asks: ``doc`` as JSON, ``issues`` as GitHub annotations,
    or ``render(shown)``'s (stdout, stderr) texts."""
    if fmt == "json":
        sys.stdout.write(json_text(doc))
    elif fmt == "github":
        sys.stdout.write("".join(f"{line}\n" for line in github_lines(issues, shown)))
    else:
        stdout, stderr = render(shown)
        sys.stdout.write(stdout)
        sys.stdout.flush()
        if stderr:
            sys.stderr.write(stderr)


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
