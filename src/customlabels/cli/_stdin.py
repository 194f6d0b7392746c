"""``-`` as an input file: read standard input (docs/cli.md, "Standard input").

The readers map, scan twice or seek (the validator reads a manifest again to write its
validation manifest), so standard input is first copied to a private temporary file, named
with the extension the command expects; the command reads that file. Every line the command
prints names it ``<stdin>``, as compilers do, and the file is removed at the end.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._options import STDIN

#: How the printed lines name standard input.
LABEL = "<stdin>"
#: The extension of the copy, by convert's input format (a manifest otherwise).
SUFFIX = {"coco": ".json", "csv": ".csv", "csv-boxes": ".csv"}


def copy_path() -> str | None:
    """Return the path of standard input's copy while a command reads it, else None (what
    a file the command writes, as the HTML report, names as :data:`LABEL`)."""
    return getattr(sys.stdout, "path", None) if isinstance(sys.stdout, _Relabel) else None


class StdinError(Exception):
    """``-`` given where standard input cannot stand for the file (a usage error)."""


class _Relabel(io.TextIOBase):
    """A text stream that writes ``path`` as :data:`LABEL` (standard output or error)."""

    def __init__(self, inner: Any, path: str):
        self.inner, self.path = inner, path

    def write(self, text: str) -> int:  # type: ignore[override]
        self.inner.write(text.replace(self.path, LABEL))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:  # progress bars show only on a terminal
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def buffer(self) -> Any:  # raw manifest lines (``entries``) go through unchanged
        return self.inner.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")


class _Nothing:
    """What :func:`standard_input` gives when no input is ``-``."""

    def flush(self) -> None:
        """Nothing to flush."""


def _refusal(args: argparse.Namespace) -> str | None:
    """Return why ``-`` cannot be this command's input, if it cannot."""
    if args.command == "distribute":
        return "distribute rewrites TRAIN in place: it cannot be standard input (-)"
    if getattr(args, "in_place", False):
        return "--in-place rewrites MANIFEST: it cannot be standard input (-); give -o OUT"
    if args.command == "convert" and args.output is None and args.output_dir is None:
        return "with standard input (-) as INPUT, name the manifest to write: -o OUT"
    return None


def _places(args: argparse.Namespace, names: tuple[str, ...]) -> list[tuple[str, int | None]]:
    """Return (argument, index in its list or None) of each input given as ``-``."""
    places: list[tuple[str, int | None]] = []
    for name in names:
        value = getattr(args, name, None)
        if isinstance(value, list):
            places += [(name, k) for k, item in enumerate(value) if item == STDIN]
        elif value == STDIN:
            places.append((name, None))
    return places


@contextmanager
def standard_input(args: argparse.Namespace, names: tuple[str, ...]) -> Iterator[Any]:
    """Copy standard input to a file for the argument of ``names`` given as ``-``, if any.

    Within the block, that argument names the copy and the standard streams print it as
    :data:`LABEL`. Raises :class:`StdinError` when ``-`` is given twice, where the command
    would rewrite or write beside its input, or when standard input is a terminal.
    """
    places = _places(args, names)
    if not places:
        yield _Nothing()
        return
    if len(places) > 1:
        raise StdinError("standard input (-) can stand for one input only")
    refusal = _refusal(args)
    if refusal is not None:
        raise StdinError(refusal)
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        raise StdinError("- reads a manifest from standard input, which is a terminal: "
                         "pipe or redirect one into it")
    with tempfile.TemporaryDirectory(prefix="customlabels-stdin-") as folder:
        path = str(Path(folder, "stdin" + SUFFIX.get(getattr(args, "source_format", ""),
                                                      ".manifest")))
        with open(path, "wb") as copy:
            shutil.copyfileobj(getattr(stdin, "buffer", stdin), copy, 1 << 20)
        name, index = places[0]
        if index is None:
            setattr(args, name, path)
        else:
            getattr(args, name)[index] = path
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Relabel(out, path), _Relabel(err, path)
        try:
            yield sys.stdout
        finally:
            sys.stdout, sys.stderr = out, err
