"""Write files atomically, and annotate JSON Lines with their errors and warnings."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    Readers see the old file or the whole new one, never a part; on error the temporary file is
    removed and ``path`` is left as it was.
    """
    import tempfile  # only when writing: keeps the command's start-up short

    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as stream:
            yield stream
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# A number literal goes through json.dumps as a marked string, then the marks are removed. The
# random token keeps any string a manifest may hold from looking like a mark.
_TOKEN = os.urandom(8).hex()
_MARK = f"\x00{_TOKEN}:"
_MARKED = re.compile(rb'"\\u0000' + _TOKEN.encode() + rb':([-+.eE0-9]+)\\u0000"')


def _literal(value: Any) -> str:
    text = getattr(value, "text", None)  # validation._pyscan.NumberLiteral
    if text is None:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
    return f"{_MARK}{text}\x00"


def dumps_line(obj: Any) -> bytes:
    """Serialise one JSON Line as UTF-8 (escaping only what UTF-8 cannot hold).

    Numbers read as :class:`~customlabels.validation._pyscan.NumberLiteral` are written as they
    were read, so a line never gains a non-JSON ``Infinity``.
    """
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_literal)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \\uD800-style escapes
        text = json.dumps(obj, allow_nan=False, default=_literal)
        data = text.encode("ascii")
    if _TOKEN.encode() in data:
        data = _MARKED.sub(rb"\1", data)
    return data


def attach(obj: dict[str, Any], where: tuple[str | int, ...], key: str,
           entry: dict[str, str]) -> None:
    """Append ``entry`` to the ``key`` list ("errors" or "warnings") of the object at ``where``.

    ``where`` walks from the line down; where it stops being an object, the entry goes into the
    deepest object reached, the line itself at worst.
    """
    node: dict[str, Any] = obj
    current: Any = obj
    for step in where:
        if isinstance(current, dict) and isinstance(step, str):
            current = current.get(step)
        elif isinstance(current, list) and isinstance(step, int) and 0 <= step < len(current):
            current = current[step]
        else:
            break
        if isinstance(current, dict):
            node = current
    existing = node.get(key, [])
    node[key] = (existing if isinstance(existing, list) else [existing]) + [entry]
