"""Tell a manifest from the other files users give in its place: a COCO document, a CSV file.

A manifest is JSON Lines, one object a line. The commands that read manifests would make
something of any file (every line of a CSV file is an invalid JSON line; a COCO document is one
long invalid line, or many), and report zeros or thousands of line errors where the user's
mistake is one: the file is of another kind, and ``customlabels convert`` makes the manifest.
:func:`sniff` reads the first 64 KiB, nothing more; it names a kind only when the file is
clearly of it, so a damaged manifest is still a manifest, with its errors.

Standard library only: the command line calls this before every manifest command.
"""

from __future__ import annotations

import codecs
import os
import re

__all__ = ["KINDS", "sniff", "wrong_kind_message"]

#: What :func:`sniff` can say, and the ``convert`` format that makes a manifest of it.
KINDS = {"coco": "convert coco", "csv": "convert csv"}

_HEAD = 1 << 16
_BOM = b"\xef\xbb\xbf"
#: The keys of a COCO document (the guide's "Transforming COCO datasets").
_COCO_KEYS = frozenset({b"images", b"annotations", b"categories", b"info", b"licenses"})
_FIRST_KEY = re.compile(rb'\A\{\s*"([A-Za-z_]{1,20})"\s*:')


def sniff(path: str | os.PathLike[str]) -> str | None:
    """Return ``"coco"`` or ``"csv"`` when the file at ``path`` is clearly one, else None.

    COCO: a JSON object whose first key is a COCO key (``images``, ``annotations``,
    ``categories``, ``info``, ``licenses``) and whose first line has no ``source-ref``. CSV:
    text (UTF-8) whose first lines hold commas and none starts like JSON. Anything else (a
    manifest, an empty or damaged file, binary data) is None. ``OSError`` when it cannot be
    read.
    """
    with open(path, "rb") as stream:
        head = stream.read(_HEAD)
    if head.startswith(_BOM):
        head = head[len(_BOM):]
    text = head.lstrip()
    if not text:
        return None
    first = text.split(b"\n", 1)[0]
    key = _FIRST_KEY.match(text)
    if key is not None:
        return "coco" if key.group(1) in _COCO_KEYS and b'"source-ref"' not in first else None
    if text[:1] in b"{[\"" or b"\x00" in head:
        return None
    try:  # incremental: a character cut at the end of the head is not an error
        decoded = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    lines = [line.strip() for line in decoded.splitlines()[:5] if line.strip()]
    if lines and all("," in line and not line.startswith(("{", "[")) for line in lines):
        return "csv"
    return None


def wrong_kind_message(path: str, kind: str) -> str:
    """Return what a manifest command says of ``path``, a file of ``kind`` (see :data:`KINDS`)."""
    if kind == "coco":
        return (f"{path} is a COCO file, not a manifest (JSON Lines, one image a line); make a "
                f"manifest of it first: customlabels convert coco {path} --s3-prefix "
                "s3://BUCKET/IMAGES/ -o NAME.manifest")
    return (f"{path} is a CSV file, not a manifest (JSON Lines, one image a line); make a "
            f"manifest of it first: customlabels convert csv {path} --s3-prefix "
            "s3://BUCKET/IMAGES/ -o NAME.manifest (image-level labels), or convert csv-boxes "
            "(bounding boxes)")
