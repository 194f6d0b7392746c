"""The streaming reader: line splitting and the decisions of docs/decisions.md, "Reading"."""

from __future__ import annotations

import io

import pytest

from customlabels.manifest.reader import MAX_LINE_BYTES, MAX_LINE_CHARS, is_too_long, iter_lines

from tests.helpers import Trickle




@pytest.mark.parametrize("data,expected", [
    (b"", []),
    (b"a", [b"a"]),
    (b"a\n", [b"a"]),  # the final newline makes no line
    (b"a\n\n", [b"a", b""]),
    (b"\n", [b""]),
    (b"a\r\nb\r\n", [b"a", b"b"]),  # CRLF
    (b"a\r\r\n", [b"a\r"]),  # only one CR belongs to the terminator
    (b"\xef\xbb\xbfa\n", [b"a"]),  # BOM at the start is skipped
    (b"a\n\xef\xbb\xbfb", [b"a", b"\xef\xbb\xbfb"]),  # elsewhere it is content
    (b"\xef\xbb\xbf", []),
])
@pytest.mark.parametrize("step", [1, 2, 3, 1 << 20])
def test_iter_lines(data: bytes, expected: list[bytes], step: int) -> None:
    assert list(iter_lines(Trickle(data, step), chunk_size=step)) == expected


def test_long_lines() -> None:
    exact = "é" * MAX_LINE_CHARS  # 100,000 characters in 200,000 bytes
    over = "é" * (MAX_LINE_CHARS + 1)
    assert not is_too_long(exact.encode())
    assert is_too_long(over.encode())
    assert is_too_long(None)
    huge = b"x" * (3 * MAX_LINE_BYTES)
    lines = list(iter_lines(io.BytesIO(b"a\n" + huge + b"\nb"), chunk_size=4096))
    assert lines == [b"a", None, b"b"]
