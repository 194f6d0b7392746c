"""Read a manifest as a stream of JSON Lines, in fixed-size chunks.

The rules (``docs/decisions.md``, "Reading"):

* a UTF-8 byte order mark at the very start of the file is skipped; anywhere else it is content;
* lines end at ``\\n``; one ``\\r`` before it is part of the terminator (CRLF files);
* the final newline does not make a line, so ``a\\n`` is one line and ``a\\n\\n`` two (spec decision 3);
* line numbers are 1-based;
* a line longer than :data:`MAX_LINE_CHARS` characters is reported, not kept: the reader keeps at
  most :data:`MAX_LINE_BYTES` bytes of any line, so memory stays bounded whatever the input.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO, cast

from ..limits import MAX_LINE_BYTES, MAX_LINE_CHARS

BOM = b"\xef\xbb\xbf"
CHUNK_SIZE = 1 << 20
_CONTINUATION = bytes(range(0x80, 0xC0))  # UTF-8 continuation bytes


def special_kind(path: str | os.PathLike[str]) -> str | None:
    """Return what ``path`` is when it exists and is neither a regular file nor a directory.

    A named pipe (FIFO), a device or a socket would block a reader, or never end: every
    command refuses one by name instead (``"a named pipe (FIFO)"``); None for anything else.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return mode_kind(mode)


def mode_kind(mode: int) -> str | None:
    """Return what a file of ``mode`` (``st_mode``) is when it is neither a regular file nor a
    directory (``"a named pipe (FIFO)"``, ``"a device"``, ...); None for those two."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def check_regular(path: str | os.PathLike[str]) -> None:
    """Raise ``OSError`` (naming ``path``) when it is a pipe, a device or a socket."""
    kind = special_kind(path)
    if kind is not None:
        raise OSError(errno.EINVAL, f"not a regular file: {kind}; give its content on standard "
                      "input (-) instead", os.fspath(path))


def char_length(line: bytes) -> int:
    """Return the number of characters in UTF-8 ``line``: its bytes that start a character."""
    return len(line.translate(None, _CONTINUATION))


def is_too_long(line: bytes | None) -> bool:
    """Tell whether a line read by :func:`iter_lines` exceeds the guide's line length."""
    if line is None:
        return True
    return len(line) > MAX_LINE_CHARS and char_length(line) > MAX_LINE_CHARS


def iter_lines(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes | None]:
    """Yield each line of ``stream`` without its terminator, or ``None`` for an over-long line.

    The stream is read ``chunk_size`` bytes at a time; the whole file is never in memory.
    """
    for block in iter_line_blocks(stream, chunk_size):
        yield from block


def iter_line_blocks(stream: BinaryIO,
                     chunk_size: int = CHUNK_SIZE) -> Iterator[list[bytes | None]]:
    """Yield the lines of ``stream`` a chunk at a time, as lists (see :func:`iter_lines`).

    Splitting a whole chunk at once keeps the per-line work in C; callers that copy lines
    (the validation manifests) handle a list at a time.
    """
    pending = bytearray()
    overflow = False  # the current line already passed MAX_LINE_BYTES; its bytes are dropped
    first = True
    while True:
        chunk = stream.read(chunk_size)
        if first:
            while len(chunk) < len(BOM):  # short reads: make sure the BOM test sees 3 bytes
                more = stream.read(chunk_size)
                if not more:
                    break
                chunk += more
            first = False
            if chunk.startswith(BOM):
                if len(chunk) == len(BOM):  # the BOM alone: read on, it was not the end
                    continue
                chunk = chunk[len(BOM):]
        if not chunk:
            break
        pieces = chunk.split(b"\n")
        tail = pieces.pop()
        if pieces:
            # only look line by line where a CR or an over-long line can be
            may_cr = b"\r" in chunk or pending.endswith(b"\r")
            may_long = len(pending) + len(chunk) > MAX_LINE_BYTES
            if overflow:
                pieces[0] = None  # type: ignore[call-overload]
            elif pending:
                pending += pieces[0]
                pieces[0] = bytes(pending)
            # the same list, holding a None where a line ran over (set above)
            yield _finish_all(cast("list[bytes | None]", pieces), may_cr, may_long)
            pending = bytearray()
            overflow = False
        if not overflow:
            pending += tail
            if len(pending) > MAX_LINE_BYTES + 1:  # +1: a CR that may still end it
                overflow = True
                pending = bytearray()
    if overflow:
        yield [None]
    elif pending:
        yield _finish_all([bytes(pending)], True, True)


def _finish_all(lines: list[bytes | None], may_cr: bool, may_long: bool) -> list[bytes | None]:
    """Strip one CR from each line end and replace over-long lines by None, in place."""
    if may_cr:
        lines[:] = [line[:-1] if line is not None and line.endswith(b"\r") else line
                    for line in lines]
    if may_long:
        lines[:] = [None if line is not None and len(line) > MAX_LINE_BYTES else line
                    for line in lines]
    return lines
