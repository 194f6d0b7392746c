"""Judge one image file against the service's limits: the verdict ``validate --images`` reports.

A check is plain data (:class:`ImageCheck`), the same whether the bytes came from a local mirror
or from S3, so that it can be cached and compared. The limits are the guide's ("Guidelines and
quotas", "ERROR_INVALID_IMAGE"): PNG or JPEG by content, at most 15 MB, 64 to 4096 px a side,
an aspect ratio of at most 20:1 (:mod:`customlabels.limits`).
"""

from __future__ import annotations

from typing import NamedTuple

from ..limits import MAX_ASPECT, MAX_IMAGE_BYTES, MAX_SIDE, MIN_SIDE
from .probe import ImageHeader

#: What can be wrong with an image, in the order they are looked for: the first that applies
#: is reported (an unreadable file has no format, a file of another format has no size we
#: trust).
PROBLEM_KINDS = ("outside", "missing", "not_a_file", "unreadable", "format", "corrupt",
                 "too_large", "dimension")
#: Kinds of an image that could not be read at all. When every image of a dataset has one,
#: the service could copy none of them: ERROR_FAILED_IMAGES_S3_COPY (L7163-7180).
UNREADABLE_KINDS = frozenset({"outside", "missing", "not_a_file", "unreadable"})
#: The formats the service accepts (L17920) and the file name extensions that go with them.
EXTENSIONS = {"PNG": (".png",), "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif")}


class ImageCheck(NamedTuple):
    """What one image file is, and what is wrong with it.

    Attributes:
        size: the file's length in bytes; None when it could not be read.
        format: ``PNG``, ``JPEG`` or another format the probe knows (``GIF``, ``WEBP``, ``BMP``,
            ``TIFF``); None when unknown or unread.
        width, height: pixels as stored (before any EXIF rotation); 0 when unknown.
        orientation: a JPEG's EXIF orientation, 1 to 8 (1: as stored).
        problem: one of :data:`PROBLEM_KINDS`, or None for an image the service accepts.
        detail: what is wrong, in words, naming the values; None when nothing is.
    """

    size: int | None
    format: str | None
    width: int
    height: int
    orientation: int
    problem: str | None
    detail: str | None

    @property
    def readable(self) -> bool:
        """Tell whether the file could be read (whatever its content)."""
        return self.problem not in UNREADABLE_KINDS


def failed(kind: str, detail: str) -> ImageCheck:
    """Return the check of an image that could not be read (``kind`` in UNREADABLE_KINDS)."""
    return ImageCheck(None, None, 0, 0, 1, kind, detail)


def judge(header: ImageHeader, size: int) -> ImageCheck:
    """Return the check of a file of ``size`` bytes whose header probed as ``header``."""
    fmt, width, height, orientation = header.format, header.width, header.height, \
        header.orientation

    def bad(kind: str, detail: str) -> ImageCheck:
        return ImageCheck(size, fmt, width, height, orientation, kind, detail)

    if fmt not in EXTENSIONS:
        what = "of no image format known" if fmt is None else f"a {fmt} image"
        if header.problem == "empty file":
            what = "empty"
        return bad("format", f"the file is {what}, not PNG or JPEG")
    if header.problem is not None:
        return bad("corrupt", f"the {fmt} header does not parse: {header.problem}")
    if size > MAX_IMAGE_BYTES:
        return bad("too_large", f"{size:,} bytes; at most {MAX_IMAGE_BYTES:,} are allowed")
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return bad("dimension", f"{width}x{height} px; sides must be {MIN_SIDE} to {MAX_SIDE} px")
    if max(width, height) > MAX_ASPECT * min(width, height):
        return bad("dimension", f"{width}x{height} px: the aspect ratio is over {MAX_ASPECT}:1")
    return ImageCheck(size, fmt, width, height, orientation, None, None)


#: The extensions of each format as most files write them, for a look-up without lower().
_WRITTEN = {fmt: (*names, *(name.upper() for name in names)) for fmt, names in EXTENSIONS.items()}


def wrong_extension(name: str, check: ImageCheck) -> str | None:
    """Return the extension of ``name`` when it is not one of its (valid) format's, else None."""
    fmt = check.format
    if fmt is None or fmt not in EXTENSIONS:
        return None
    if name.endswith(_WRITTEN[fmt]):
        return None
    dot = name.rfind(".")
    extension = name[dot:].lower() if dot > name.rfind("/") else ""
    return None if extension in EXTENSIONS[fmt] else extension
