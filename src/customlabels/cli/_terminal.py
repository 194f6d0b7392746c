"""Strings from a dataset reach a terminal escaped: no control sequence is ever printed raw.

A label name, a file name or a source-ref can hold ``\\u001b]0;pwned\\u0007``: printed raw, the
terminal would run it (retitle the window, recolour or rewrite what is shown, in some
terminals worse). When standard output or standard error is a terminal, :func:`guarded`
wraps it so that every C0 and C1 control character except tab and newline, DEL, and the
bidirectional overrides that reorder text on screen, are written as escapes (``\\x1b``,
``\\u202e``), whatever command printed them. Pipes and files get the bytes as they are: they are
data, and ``--format json`` already escapes control characters.

The progress bars draw with carriage returns and escape sequences of their own: they write to
the stream beneath (:func:`raw`), and their texts are escaped by their makers.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_CONTROLS = [c for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)]
#: Bidirectional formatting characters ("Trojan source", CVE-2021-42574).
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_TABLE = {c: f"\\x{c:02x}" for c in _CONTROLS} | {c: f"\\u{c:04x}" for c in _BIDI}
_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]"
                    rb"|\xe2\x81[\xa6-\xa9]")


def escape_controls(text: str) -> str:
    """Return ``text`` with control and bidirectional formatting characters escaped."""
    return text.translate(_TABLE)


def _escape_match(match: re.Match[bytes]) -> bytes:
    char = match.group().decode("utf-8")
    return escape_controls(char).encode("ascii")


def escape_control_bytes(data: bytes) -> bytes:
    """Return UTF-8 ``data`` with the characters :func:`escape_controls` escapes escaped."""
    return _BYTES.sub(_escape_match, data)


class _GuardedBytes:
    """A binary stream whose writes are escaped (``sys.stdout.buffer`` of a terminal)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        self._stream.write(escape_control_bytes(bytes(data)))
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Guarded:
    """A text stream whose writes are escaped; the rest is the stream's own."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.raw_terminal = stream
        buffer = getattr(stream, "buffer", None)
        self.buffer = None if buffer is None else _GuardedBytes(buffer)

    def write(self, text: str) -> int:
        self._stream.write(text.translate(_TABLE))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def raw(stream: Any) -> Any:
    """Return the stream beneath a guarded one (for progress bars), else ``stream``."""
    return getattr(stream, "raw_terminal", stream)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


@contextmanager
def guarded() -> Iterator[None]:
    """Escape what is written to standard output and error while they are terminals."""
    saved = sys.stdout, sys.stderr
    if _is_terminal(sys.stdout):
        sys.stdout = _Guarded(sys.stdout)  # type: ignore[assignment]
    if _is_terminal(sys.stderr):
        sys.stderr = _Guarded(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (ValueError, OSError):
                pass
        sys.stdout, sys.stderr = saved
