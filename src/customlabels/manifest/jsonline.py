"""Parse one JSON Line strictly, as the service reads it.

UTF-8, one JSON object, no NaN or Infinity, no duplicate keys, at most
:data:`customlabels.limits.MAX_DEPTH` levels of nesting (``docs/decisions.md``, "Reading").
Every tool that reads a manifest line as an object uses :func:`parse_line`; the compiled core has
its own parser with the same verdicts, and returns lines it rejects as raw bytes, whose reason
:func:`invalid_reason` gives in the same words.

Standard library only: ``customlabels validate`` imports this at start-up.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from ..limits import MAX_DEPTH


class BadJSON(ValueError):
    """The line is not one strict JSON object; the message is a short reason."""



def json_error_text(exc: json.JSONDecodeError) -> str:
    """Return json's reason with its column: ``Expecting ',' delimiter at column 12``.

    Some of json's reasons end with "at" already ("Unterminated string starting at"): the
    column then follows without a second one.
    """
    joint = "" if exc.msg.endswith(" at") else " at"
    return f"{exc.msg}{joint} column {exc.colno}"

def value_error_text(exc: ValueError) -> str:
    """Return a parser's ``ValueError`` in our words: Python's limit on integer digits says
    to call ``sys.set_int_max_str_digits()``, which a user of the command line cannot."""
    text = str(exc)
    if "integer string conversion" in text:
        return (f"a number has more than {sys.get_int_max_str_digits():,} digits (at most "
                f"{sys.get_int_max_str_digits():,} are read)")
    return text


def unique_pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(items)
    if len(obj) != len(items):
        seen: set[str] = set()
        dup = next(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise BadJSON(f"duplicate key {dup!r}")
    return obj


def _constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON value")


class NumberLiteral:
    """A number too large for a float, kept as written so that output can reproduce it."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _float_or_literal(text: str) -> float | NumberLiteral:
    value = float(text)
    return NumberLiteral(text) if math.isinf(value) else value


_DECODER = json.JSONDecoder(object_pairs_hook=unique_pairs, parse_constant=_constant)
#: For rewriting lines: like _DECODER, but numbers that overflow a float stay as written.
_KEEPING_DECODER = json.JSONDecoder(object_pairs_hook=unique_pairs, parse_constant=_constant,
                                    parse_float=_float_or_literal)


def _depth(text: str) -> int:
    """Return the deepest nesting of arrays and objects in ``text``, strings skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def too_deep(text: str) -> bool:
    """Tell whether ``text`` nests arrays and objects more than MAX_DEPTH levels (the count of
    brackets first: only a line with that many is measured)."""
    return text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH


def parse_line(raw: bytes, keep_literals: bool = False) -> dict[str, Any]:
    """Parse one line strictly: UTF-8, one JSON object, no NaN/Infinity, no duplicate keys.

    With ``keep_literals``, a number that overflows a float (``1e400``) becomes a
    :class:`NumberLiteral` instead of an infinity. Raises :class:`BadJSON` (a ValueError) with a
    short reason when the line is not such an object.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJSON(f"invalid UTF-8 at byte {exc.start + 1}") from None
    if too_deep(text):
        raise BadJSON(f"nested more than {MAX_DEPTH} levels deep")
    stripped = text.strip(" \t\r\n")
    if not stripped:
        raise BadJSON("blank line")
    try:
        obj, end = (_KEEPING_DECODER if keep_literals else _DECODER).raw_decode(stripped)
    except json.JSONDecodeError as exc:
        raise BadJSON(json_error_text(exc)) from None
    except BadJSON:
        raise
    except ValueError as exc:  # Python's own limit on the digits of an integer
        raise BadJSON(value_error_text(exc)) from None
    if end != len(stripped):
        raise BadJSON(f"extra data at column {end + 1}")
    if not isinstance(obj, dict):
        raise BadJSON("the line is not a JSON object")
    return obj


def invalid_reason(raw: bytes) -> str:
    """Return why ``raw`` is not a strict JSON object (it must not be one)."""
    try:
        parse_line(raw)
    except ValueError as exc:  # BadJSON, or Python's own limit on integer digits
        return str(exc)
    raise RuntimeError(f"the compiled parser rejects a line that parse_line accepts (please "
                       f"report): {raw[:200]!r}")
