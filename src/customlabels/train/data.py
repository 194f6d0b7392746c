"""What the trainer trains on: the valid lines of a manifest, their labels, their images.

Which lines: those the validator keeps (valid, and not made invalid by the image stage), with
their usable labels, exactly as ``customlabels validate --images`` decides; the images resolve
through the same source (a local mirror or S3) as there. Images are decoded and resized with
Pillow once, then kept in memory as uint8 arrays (within a budget), so that later epochs cost
only the network's time; the decoding runs on a thread pool (Pillow releases the GIL while it
decodes and resizes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from ..images.pixels import shown_image
from ..manifest.records import iter_rows, load_object, usable_boxes
from ..manifest.schema import VALID

#: Decoded images kept in memory by default (bytes): 2,800 images at 224 px; past it,
#: images are decoded again each epoch, a batch ahead.
DEFAULT_CACHE_BYTES = 2 << 30


#: A box as the trainer holds it: label, then x0, y0, x1, y1 as ratios of the image (0..1).
Box = tuple[str, float, float, float, float]
#: A part of an image, x0, y0, x1, y1 as ratios of it (a tile).
Region = tuple[float, float, float, float]


class Example(NamedTuple):
    """One training or testing image (or a tile of one): where it is and what it shows.

    Attributes:
        line: the manifest's 1-based line.
        source_ref: the line's ``source-ref``.
        key: the image's key in its source (a path under the mirror, or ``BUCKET/KEY``).
        labels: the line's usable labels, distinct, in order.
        boxes: for object detection, the line's usable boxes (:data:`Box`, ratios of the
            image, or of ``region``'s part of it when there is one).
        region: for a tile, the part of the image it is (None: the whole image).
        size: the image's width and height as its line declares them (``image_size``; None
            for a classification line).
    """

    line: int
    source_ref: str
    key: str
    labels: tuple[str, ...]
    boxes: tuple[Box, ...] = ()
    region: Region | None = None
    size: tuple[int, int] | None = None


def examples(path: str, scan: Any, source: Any, *, backend: str = "auto",
             detection: bool = False) -> list[Example]:
    """Return the examples of the manifest at ``path``: each line the validator kept.

    ``scan``: the file's :class:`~customlabels.validation.scan.ScanResult` after the image
    stage (``validate_files(..., keep_scans=)``): a line it made invalid (its image) is left
    out. ``source``: the images' source, which turns a source-ref into a key. With
    ``detection``, the examples carry their usable boxes (those the validator did not fault,
    as the service trains on the remaining boxes), as ratios of the line's ``image_size``;
    a line without a usable box (WARNING_NO_ANNOTATIONS) is not an example.
    """
    not_valid = {line for line, verdict, _ in scan.problems if verdict != VALID}
    out = []
    for line, raw, verdict, findings, source_ref, labels, box_labels in iter_rows(
            path, backend=backend):
        if verdict != VALID or line in not_valid or not labels or source_ref is None:
            continue
        if detection and not box_labels:
            continue
        key, _refusal = source.key(source_ref)
        if key is None:  # the image stage made this line invalid already
            continue
        if not detection:
            out.append(Example(line, source_ref, key, labels))
            continue
        assert raw is not None  # a valid line was read
        boxes, size = line_boxes(load_object(raw), findings)
        out.append(Example(line, source_ref, key, labels, boxes, None, size))
    return out


def line_boxes(obj: dict[str, Any], findings: list[Any]
               ) -> tuple[tuple[Box, ...], tuple[int, int] | None]:
    """Return the usable boxes of a valid line (ratios of its ``image_size``) and that size.

    Each detection attribute's boxes are relative to its own ``image_size``; the size
    returned is the first attribute's.
    """
    boxes: list[Box] = []
    size: tuple[int, int] | None = None
    for attr, _index, box, label in usable_boxes(obj, findings):
        declared = obj[attr]["image_size"][0]
        width, height = float(declared["width"]), float(declared["height"])
        if size is None:
            size = (int(width), int(height))
        left, top = float(box["left"]), float(box["top"])
        boxes.append((label, left / width, top / height, (left + float(box["width"])) / width,
                      (top + float(box["height"])) / height))
    return tuple(boxes), size


def tiles(width: int, height: int, side: int) -> list[Region]:
    """Return the tiles of a ``width`` x ``height`` image: ``side`` x ``side`` squares on a
    grid whose last row and column end at the image's edge (so they overlap the one before);
    one region, the whole image, when it is no larger than a tile. Ratios of the image."""
    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        return [*range(0, length - side, side), length - side]

    return [(x / width, y / height, min(x + side, width) / width, min(y + side, height) / height)
            for y in starts(height) for x in starts(width)]


def tile_examples(found: Sequence[Example], side: int) -> list[Example]:
    """Return the tiles of the detection examples ``found`` whose images are larger than
    ``side`` pixels (of the declared ``image_size``); smaller ones are kept whole.

    A box belongs to each tile that holds its centre, clipped to the tile, in the tile's
    ratios; a tile may hold no box (it still teaches what is background).
    """
    out: list[Example] = []
    for ex in found:
        width, height = ex.size or (side, side)
        if width <= side and height <= side:
            out.append(ex)
            continue
        for region in tiles(width, height, side):
            x0, y0, x1, y1 = region
            w, h = x1 - x0, y1 - y0
            kept: list[Box] = []
            for label, a, b, c, d in ex.boxes:
                cx, cy = (a + c) / 2, (b + d) / 2
                if x0 <= cx < x1 and y0 <= cy < y1:
                    kept.append((label, (max(a, x0) - x0) / w, (max(b, y0) - y0) / h,
                                 (min(c, x1) - x0) / w, (min(d, y1) - y0) / h))
            out.append(ex._replace(boxes=tuple(kept), region=region))
    return out


#: The grey a letterboxed image is padded with (the middle of 0..255).
PAD_VALUE = 127


def content_size(width: float, height: float, size: int) -> tuple[int, int]:
    """Return the pixels a ``width`` x ``height`` image takes in a ``size`` square when it is
    letterboxed: its longer side ``size``, its aspect ratio kept."""
    scale = size / max(width, height, 1e-9)
    return max(1, min(size, round(width * scale))), max(1, min(size, round(height * scale)))


def extent(example: Example, size: int) -> tuple[int, int]:
    """Return the pixels a detection example's image (or tile) takes in the network's
    ``size`` square (:func:`content_size` of its declared size)."""
    width, height = example.size or (size, size)
    x0, y0, x1, y1 = example.region or (0.0, 0.0, 1.0, 1.0)
    return content_size(width * (x1 - x0), height * (y1 - y0), size)


def fit(rgb: Any, size: int, region: Region | None = None,
        content: tuple[int, int] | None = None) -> np.ndarray:
    """Return the PIL image ``rgb`` (or its ``region``, ratios of it) as ``size`` x ``size``
    RGB, uint8 HWC: resized to the square (a classifier's input), or with ``content`` resized
    to ``content`` pixels (width, height) at the square's top left, the rest
    :data:`PAD_VALUE` (a detector's letterbox: objects keep their shape)."""
    from PIL import Image

    if region is not None:
        width, height = rgb.size
        rgb = rgb.crop((round(region[0] * width), round(region[1] * height),
                        round(region[2] * width), round(region[3] * height)))
    target = content or (size, size)
    if rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.BILINEAR, reducing_gap=3.0)
    pixels = np.asarray(rgb, dtype=np.uint8)
    if content is None or content == (size, size):
        return pixels
    out = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    out[:content[1], :content[0]] = pixels
    return out


def decode(data: bytes, size: int, region: Region | None = None,
           content: tuple[int, int] | None = None) -> np.ndarray:
    """Return the image ``data`` (PNG or JPEG bytes) as ``size`` x ``size`` RGB, uint8 HWC.

    The image as it is shown (:func:`shown_image`), or its ``region``, resized to the square
    without cropping, as ``detect`` does, or letterboxed into ``content`` (:func:`fit`).
    """
    whole = region is None and content is None
    return fit(shown_image(data, size if whole else None), size, region, content)


def read_error(exc: OSError, name: str) -> str:
    """Return why the image ``name`` could not be read, naming its file once (a source's
    ``read`` names it in the error's file name or in its text)."""
    if exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return exc.strerror or f"{name}: {exc}"


class ImageBank:
    """The decoded images of a list of examples, by index, in memory while they fit.

    ``read(key) -> bytes`` fetches an image (a source's ``read``); ``workers`` decode at once;
    ``regions``: the part of each image wanted (a tile; None: the whole image); ``contents``:
    each image's letterboxed size (:func:`fit`; None: resized to the square).
    ``bad`` lists ``(index, why)`` for each image that did not decode: the trainer leaves
    those out and says which file and line.
    """

    def __init__(self, keys: Sequence[str], read: Callable[[str], bytes], size: int, *,
                 workers: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 regions: Sequence[Region | None] | None = None,
                 contents: Sequence[tuple[int, int] | None] | None = None):
        self.keys = list(keys)
        self.regions = list(regions) if regions is not None else [None] * len(self.keys)
        self.contents = list(contents) if contents is not None else [None] * len(self.keys)
        self.read = read
        self.size = size
        self.workers = workers or min(8, os.cpu_count() or 1)
        per_image = size * size * 3
        self.cached = len(self.keys) * per_image <= cache_bytes
        self._store: np.ndarray | None = None
        self.bad: list[tuple[int, str]] = []

    def _one(self, index: int) -> np.ndarray | str:
        key = self.keys[index]
        try:
            raw = self.read(key)
        except OSError as exc:
            return read_error(exc, key)
        try:
            return decode(raw, self.size, self.regions[index], self.contents[index])
        except Exception as exc:  # Pillow raises many kinds (OSError too) for a corrupt body
            return f"{key}: the image does not decode ({type(exc).__name__}: {exc})"

    def load(self, progress: Callable[[int], None] | None = None) -> None:
        """Decode every image, into memory when they fit; note the ones that fail.

        Images that do not fit are decoded here all the same, once, so that a file that does
        not decode is known before training starts, not met in its middle.
        """
        if self._store is not None:
            return
        store = (np.zeros((len(self.keys), self.size, self.size, 3), dtype=np.uint8)
                 if self.cached else None)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="customlabels-decode") as pool:
            for index, got in enumerate(pool.map(self._one, range(len(self.keys)))):
                if isinstance(got, str):
                    self.bad.append((index, got))
                elif store is not None:
                    store[index] = got
                if progress is not None:
                    progress(1)
        self._store = store

    def keep(self, indices: Sequence[int]) -> ImageBank:
        """Return a bank of the images at ``indices`` alone; those in memory are not decoded
        again."""
        kept = ImageBank([self.keys[i] for i in indices], self.read, self.size,
                         workers=self.workers, regions=[self.regions[i] for i in indices],
                         contents=[self.contents[i] for i in indices])
        kept.cached = self.cached
        if self._store is not None:
            kept._store = self._store[np.asarray(indices, dtype=np.int64)]
        return kept

    def batch(self, indices: Sequence[int]) -> np.ndarray:
        """Return the images at ``indices`` as one uint8 array, N x size x size x 3."""
        if self._store is not None:
            return self._store[np.asarray(indices, dtype=np.int64)]
        out = np.zeros((len(indices), self.size, self.size, 3), dtype=np.uint8)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="customlabels-decode") as pool:
            for slot, got in enumerate(pool.map(self._one, indices)):
                if not isinstance(got, str):
                    out[slot] = got
        return out

    def batches(self, order: Sequence[int], batch_size: int) -> Iterator[tuple[list[int],
                                                                            np.ndarray]]:
        """Yield ``(indices, images)`` over ``order`` in batches; when the images are not in
        memory, the next batch is decoded while the last one is used."""
        chunks = [list(order[i:i + batch_size]) for i in range(0, len(order), batch_size)]
        if self._store is not None or not chunks:
            for chunk in chunks:
                yield chunk, self.batch(chunk)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="customlabels-batches") as ahead:
            future = ahead.submit(self.batch, chunks[0])
            for n, chunk in enumerate(chunks):
                images = future.result()
                if n + 1 < len(chunks):
                    future = ahead.submit(self.batch, chunks[n + 1])
                yield chunk, images
