"""Write files atomically, and annotate JSON Lines with their errors and warnings."""

from __future__ import annotations

import json
import os
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


def dumps_line(obj: Any) -> bytes:
    """Serialise one JSON Line as UTF-8 (escaping only what UTF-8 cannot hold)."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \\uD800-style escapes
        return json.dumps(obj).encode("ascii")


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
