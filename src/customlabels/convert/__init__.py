"""Convert datasets to manifests and back: one module per format behind a small registry.

Each format module exposes the same small interface:

* ``NAME`` and ``DESCRIPTION``;
* ``detect(head: bytes) -> bool``: whether a file starting with ``head`` is in the format;
* ``default_output(source) -> Path``: the manifest written when none is named;
* ``convert(source, output=None, **options) -> ConversionResult``: write a manifest, validated;
* ``export(manifest, output, **options) -> ConversionResult``: write the format from a manifest.

Modules load on first use, so that importing :mod:`customlabels` stays light.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from ..errors import UsageError
from ._common import ConversionResult

#: Registry name -> module, in the order :func:`detect` tries them.
FORMATS: dict[str, str] = {
    "coco": "customlabels.convert.coco",
    "groundtruth-multilabel": "customlabels.convert.groundtruth",
    "csv-boxes": "customlabels.convert.csv_boxes",
    "csv": "customlabels.convert.csv_labels",
}
#: How many bytes :func:`detect` reads.
HEAD_BYTES = 1 << 16


def get_format(name: str) -> ModuleType:
    """Return the module of the format ``name``; ``ValueError`` for an unknown name."""
    try:
        return importlib.import_module(FORMATS[name])
    except KeyError:
        raise UsageError(f"unknown format {name!r}; known: {', '.join(FORMATS)}") from None


def detect(path: str | os.PathLike[str]) -> str | None:
    """Return the name of the format of the file at ``path``, or None when none matches."""
    with open(path, "rb") as stream:
        head = stream.read(HEAD_BYTES)
    for name in FORMATS:
        if get_format(name).detect(head):
            return name
    return None


def convert(fmt: str, source: str | os.PathLike[str],
            output: str | os.PathLike[str] | None = None, **options: Any) -> ConversionResult:
    """Convert ``source`` in format ``fmt`` (``auto``: detected) into a manifest; validate it.

    ``options`` are those of the format's ``convert`` (see each module). Problems in the data
    never raise: they are in the result's ``problems``.
    """
    if fmt == "auto":
        found = detect(source)
        if found is None:
            raise UsageError(f"{os.fspath(source)}: the format is not recognised; name it")
        fmt = found
    return get_format(fmt).convert(source, output, **options)


def export(fmt: str, manifest: str | os.PathLike[str], output: str | os.PathLike[str],
           **options: Any) -> ConversionResult:
    """Write ``manifest`` in format ``fmt`` to ``output``."""
    return get_format(fmt).export(manifest, output, **options)


__all__ = ["FORMATS", "ConversionResult", "convert", "detect", "export", "get_format"]
