"""The pictures of a report: embedded JPEG thumbnails, and boxes drawn over them in SVG.

A picture is an inline ``<svg>`` whose coordinates are the image's declared ``image_size`` (the
frame a manifest's boxes are in pixels of), with the thumbnail stretched over that frame and
each box a ``<rect>``: boxes stay sharp at any zoom, each is styled by its class (outcome,
faulty) and filtered by the page's script without redrawing anything. Without images (no
``--images``, or an image that cannot be read), the frame alone is drawn, grey, with the reason.

Thumbnails are decoded as the trainer decodes (:func:`customlabels.images.pixels.shown_image`:
EXIF orientation applied), scaled to at most :data:`THUMB_SIDE` pixels a side and saved as
JPEG at :data:`JPEG_QUALITY`: 5-15 KB each, which keeps a page of a few hundred pictures to a few
megabytes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from typing import Any, NamedTuple

from ..errors import ReportError
from ..manifest.schema import number

#: The longer side of an embedded thumbnail, in pixels (a gallery card shows it at about this).
THUMB_SIDE = 240
#: JPEG quality of the thumbnails: boxes are drawn over them in SVG, not burnt in, so the
#: picture only needs to be recognisable.
JPEG_QUALITY = 72
#: What a frame says without ``--images``.
NO_IMAGES = "no image: give --images DIR|s3 to show it"
#: The frame drawn for a line whose image size is unknown (its image_size is faulty).
DEFAULT_FRAME = (640.0, 480.0)


@dataclass(frozen=True)
class Thumb:
    """One embedded picture: a ``data:`` URI of a JPEG, and the decoded image's pixel size."""

    uri: str
    width: int
    height: int


class Mark(NamedTuple):
    """One box to draw, in pixels of the picture's frame.

    ``classes``: its CSS classes (``tp``, ``fp``, ``fn``, ``gt``, ``box``, ``faulty``);
    ``title``: the tooltip (escaped when drawn); ``key``: the ``label:outcome`` the
    gallery's filter matches (None: not filtered).
    """

    left: float
    top: float
    width: float
    height: float
    classes: str
    title: str
    key: str | None = None


class Thumbnails:
    """Makes the thumbnails of source-refs from a local mirror or S3 (``--images DIR|s3``).

    :class:`~customlabels.errors.ImageSourceError` when the images cannot be looked at as
    asked; :class:`~customlabels.errors.ReportError` without Pillow (the ``[report]`` extra).
    """

    def __init__(self, images: str, prefix: str | None = None, *, side: int = THUMB_SIDE,
                 workers: int | None = None):
        try:
            import PIL  # noqa: F401 (the decoder; imported here to say how to install it)
        except ImportError:
            raise ReportError("pictures need Pillow: pip install 'customlabels[report]' "
                              "(or leave out --images: the boxes are drawn on their frames)"
                              ) from None
        from ..validation.pipeline import image_source

        self.source = image_source(images, prefix, workers=workers)
        self.side = side
        self.workers = workers or (16 if images == "s3" else 4)

    def make(self, source_refs: Iterable[str]) -> dict[str, Thumb | str]:
        """Return the thumbnail of each source-ref, or why there is none (a sentence)."""
        refs = list(dict.fromkeys(source_refs))
        with ThreadPoolExecutor(self.workers) as pool:  # reading and decoding release the GIL
            return dict(zip(refs, pool.map(self.one, refs)))

    def one(self, source_ref: str) -> Thumb | str:
        """Return the thumbnail of one source-ref, or why there is none."""
        from PIL import Image

        from ..images.pixels import shown_image

        key, refusal = self.source.key(source_ref)
        if key is None:
            return f"not read: {refusal}"
        try:
            data = self.source.read(key)
        except OSError as exc:
            return f"not read: {exc.strerror or exc}"
        try:
            image = shown_image(data, self.side)
            width, height = image.size
            image.thumbnail((self.side, self.side), Image.Resampling.BILINEAR, reducing_gap=2.0)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=JPEG_QUALITY)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            return f"not decoded: {exc}"
        return Thumb("data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode(),
                     width, height)


def frame_of(image_size: Any, thumb: Thumb | str | None) -> tuple[float, float]:
    """Return the frame a line's boxes are drawn in: its declared ``image_size`` when it is
    usable, else the image's own size, else :data:`DEFAULT_FRAME`."""
    if isinstance(image_size, dict):
        width, height = _side(image_size.get("width")), _side(image_size.get("height"))
        if width and height and max(width, height) / min(width, height) < 1000:
            return width, height
    if isinstance(thumb, Thumb):
        return float(thumb.width), float(thumb.height)
    return DEFAULT_FRAME


def _side(value: Any) -> float | None:
    """Return a declared side that can be drawn (a positive number, not absurd), else None."""
    side = number(value)
    return side if side is not None and 0 < side < 1e6 else None


def picture(frame: tuple[float, float], thumb: Thumb | str | None, marks: Iterable[Mark],
            *, display: int = THUMB_SIDE, classes: str = "") -> str:
    """Return an inline ``<svg>`` of one image: the thumbnail (or a grey frame saying why
    there is none) and its boxes, at most ``display`` CSS pixels a side."""
    width, height = frame
    scale = display / max(width, height)
    shown_w, shown_h = max(1, round(width * scale)), max(1, round(height * scale))
    parts = [f'<svg class="pic {classes}" viewBox="0 0 {_n(width)} {_n(height)}" '
             f'width="{shown_w}" height="{shown_h}" role="img">']
    if isinstance(thumb, Thumb):
        parts.append(f'<image href="{thumb.uri}" width="{_n(width)}" height="{_n(height)}" '
                     'preserveAspectRatio="none"/>')
    else:
        parts.append(f'<rect class="frame" width="{_n(width)}" height="{_n(height)}"/>')
        why = thumb or NO_IMAGES
        short = why.split(":", 1)[0] if thumb else why  # the whole reason is under the picture
        parts.append(f'<text class="why" x="{_n(width / 2)}" y="{_n(height / 2)}" '
                     f'font-size="{_n(max(width, height) / 22)}">{escape(short)}</text>')
    for mark in marks:
        key = "" if mark.key is None else f' data-m="{escape(mark.key)}"'
        parts.append(f'<rect class="{mark.classes}"{key} x="{_n(mark.left)}" '
                     f'y="{_n(mark.top)}" width="{_n(max(mark.width, 0.0))}" '
                     f'height="{_n(max(mark.height, 0.0))}"><title>{escape(mark.title)}'
                     '</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def missing(thumb: Thumb | str | None) -> str:
    """Return the paragraph saying why a picture has no image (empty: it has, or no images
    were asked for, which the frame says)."""
    if not isinstance(thumb, str):
        return ""
    return f'<p class="why-text">{escape(thumb)}</p>'


def _n(value: float) -> str:
    """Return a coordinate with at most one decimal (``12``, ``12.5``)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
