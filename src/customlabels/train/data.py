"""What the trainer trains on: the valid lines of a manifest, their labels, their images.

Which lines: those the validator keeps (valid, and not made invalid by the image stage), with
their usable labels, exactly as ``customlabels validate --images`` decides; the images resolve
through the same source (a local mirror or S3) as there. Images are decoded and resized with
Pillow once, then kept in memory as uint8 arrays (within a budget), so that later epochs cost
only the network's time; the decoding runs on a thread pool (Pillow releases the GIL while it
decodes and resizes).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from ..manifest.records import iter_rows
from ..manifest.schema import VALID

#: Decoded images kept in memory by default (bytes): 2,800 images at 224 px; past it,
#: images are decoded again each epoch, a batch ahead.
DEFAULT_CACHE_BYTES = 2 << 30


class Example(NamedTuple):
    """One training or testing image: where it is and what it shows.

    Attributes:
        line: the manifest's 1-based line.
        source_ref: the line's ``source-ref``.
        key: the image's key in its source (a path under the mirror, or ``BUCKET/KEY``).
        labels: the line's usable labels, distinct, in order.
    """

    line: int
    source_ref: str
    key: str
    labels: tuple[str, ...]


def examples(path: str, scan: Any, source: Any, *, backend: str = "auto") -> list[Example]:
    """Return the examples of the manifest at ``path``: each line the validator kept.

    ``scan``: the file's :class:`~customlabels.validation.scan.ScanResult` after the image
    stage (``validate_files(..., keep_scans=)``): a line it made invalid (its image) is left
    out. ``source``: the images' source, which turns a source-ref into a key.
    """
    not_valid = {line for line, verdict, _ in scan.problems if verdict != VALID}
    out = []
    for line, _raw, verdict, _findings, source_ref, labels, _boxes in iter_rows(
            path, backend=backend):
        if verdict != VALID or line in not_valid or not labels or source_ref is None:
            continue
        key, _refusal = source.key(source_ref)
        if key is None:  # the image stage made this line invalid already
            continue
        out.append(Example(line, source_ref, key, labels))
    return out


def decode(data: bytes, size: int) -> np.ndarray:
    """Return the image ``data`` (PNG or JPEG bytes) as ``size`` x ``size`` RGB, uint8 HWC.

    The EXIF orientation is applied (the image as it is shown: ``docs/decisions.md``,
    "Training"), and the image is resized to a square without cropping, as ``detect`` does.
    A JPEG is decoded at the smallest DCT scale still at least ``size`` (Pillow's ``draft``).
    """
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG":
            image.draft("RGB", (size, size))
        shown = ImageOps.exif_transpose(image)
        rgb = shown.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
        return np.asarray(rgb, dtype=np.uint8)


def read_error(exc: OSError, name: str) -> str:
    """Return why the image ``name`` could not be read, naming its file once (a source's
    ``read`` names it in the error's file name or in its text)."""
    if exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return exc.strerror or f"{name}: {exc}"


class ImageBank:
    """The decoded images of a list of examples, by index, in memory while they fit.

    ``read(key) -> bytes`` fetches an image (a source's ``read``); ``workers`` decode at once.
    ``bad`` lists ``(index, why)`` for each image that did not decode: the trainer leaves
    those out and says which file and line.
    """

    def __init__(self, keys: Sequence[str], read: Callable[[str], bytes], size: int, *,
                 workers: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.keys = list(keys)
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
            return decode(raw, self.size)
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
                         workers=self.workers)
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
