"""``customlabels detect`` and ``load_model``: a stored version answers as DetectCustomLabels.

A response is ``{"CustomLabels": [{"Name": ..., "Confidence": ...}, ...]}``, confidences 0-100,
sorted from the highest (guide: "Analyzing an image with a trained model"). MinConfidence: a
label is returned when its confidence is at least MinConfidence; without it, when it is at
least the label's assumed threshold (from the version's evaluation; a label that got none, 50).
MaxResults keeps the first labels. An image outside the service's detection limits (the guide's
quotas, "Detection": PNG or JPEG, 64 to 4096 px a side, aspect ratio at most 20:1, 15 MB a file,
4 MB as bytes) gets an ``Error`` with the exception the service raises, not labels.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import ModelError
from ..images.check import ImageCheck, judge
from ..images.probe import probe
from ..limits import MAX_DETECT_IMAGE_BYTES, MAX_IMAGE_BYTES
from ..manifest.records import chunks
from ..store import TRAINING_COMPLETED, Store
from ._torch import import_torch

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402

from . import data, engine, models  # noqa: E402
from .transforms import Normalize  # noqa: E402
from .utils import load_file, resolve_device  # noqa: E402

#: The confidence a label without an assumed threshold must reach (one it never got: the
#: label had no prediction on the test set; ``docs/decisions.md``, "Training").
UNTHRESHOLDED_CONFIDENCE = 50.0
#: Decimal places of a confidence (percent) in a response and in the test predictions.
CONFIDENCE_PLACES = 4
#: The exception DetectCustomLabels raises for each kind of image problem.
EXCEPTIONS = {"format": "InvalidImageFormatException", "corrupt": "InvalidImageFormatException",
              "too_large": "ImageTooLargeException", "dimension": "InvalidParameterException",
              "missing": "InvalidS3ObjectException", "unreadable": "InvalidS3ObjectException",
              "not_a_file": "InvalidS3ObjectException", "outside": "InvalidS3ObjectException"}


class Model:
    """A completed model version, loaded: ``detect`` answers as DetectCustomLabels does.

    Attributes:
        project, version: the version's names; labels: the label names, in output order of
            the network; multi_label: several labels an image; image_size: the input side;
            thresholds: each label's assumed threshold, 0-100 (None: it has none);
            folder: the version's folder in the store.
    """

    def __init__(self, saved: dict[str, Any], thresholds: dict[str, float | None], device: Any,
                 project: str, version: str, folder: Path):
        self.project, self.version, self.folder = project, version, folder
        self.labels: list[str] = list(saved["labels"])
        self.multi_label = bool(saved["multi_label"])
        self.image_size = int(saved["image_size"])
        self.architecture = str(saved["architecture"])
        self.thresholds = {name: None if thresholds.get(name) is None
                           else 100 * float(thresholds[name])  # type: ignore[arg-type]
                           for name in self.labels}
        self.device = device
        network = models.build_model(self.architecture, len(self.labels), pretrained=False)
        network.load_state_dict(saved["state_dict"])
        self.network = network.to(device).eval()
        self.mean, self.std = list(saved["mean"]), list(saved["std"])
        self.normalize = Normalize(self.mean, self.std, device, channels_last=True)
        self.network = self.network.to(memory_format=torch.channels_last)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Return the label probabilities (N x labels) of uint8 images N x S x S x 3."""
        bank = _ArrayBank(images)
        return engine.predict(self.network, bank, range(len(images)), batch_size=len(images)
                              or 1, device=self.device, normalize=self.normalize,
                              multi_label=self.multi_label, amp=self.device.type == "cuda")

    def answer(self, row: Sequence[float], min_confidence: float | None = None,
               max_results: int | None = None) -> dict[str, Any]:
        """Return the DetectCustomLabels response for one image's probabilities ``row``."""
        found: list[tuple[float, str]] = []
        for name, p in zip(self.labels, row):
            # compared as written: the thresholds were chosen from confidences written so
            confidence = round(float(p) * 100, CONFIDENCE_PLACES)
            assumed = self.thresholds[name]
            floor = (min_confidence if min_confidence is not None
                     else assumed if assumed is not None else UNTHRESHOLDED_CONFIDENCE)
            if confidence >= round(floor, CONFIDENCE_PLACES):
                found.append((confidence, name))
        found.sort(key=lambda item: (-item[0], item[1]))
        if max_results is not None:
            found = found[:max_results]
        return {"CustomLabels": [{"Name": name, "Confidence": c} for c, name in found]}

    def detect(self, image: Any, *, min_confidence: float | None = None,
               max_results: int | None = None) -> dict[str, Any]:
        """Return the DetectCustomLabels response for ``image``: a path, PNG or JPEG bytes
        (at most 4 MB), a PIL image or an H x W x 3 uint8 array.

        ModelError naming the service's exception when the image is outside its limits.
        """
        pixels = self._pixels(image)
        return self.answer(self.probabilities(pixels[None])[0], min_confidence, max_results)

    def _pixels(self, image: Any) -> np.ndarray:
        if isinstance(image, (str, os.PathLike)):
            path = os.fspath(image)
            return self._decoded(read_file(path), path, MAX_IMAGE_BYTES)
        if isinstance(image, (bytes, bytearray, memoryview)):
            return self._decoded(bytes(image), "the image bytes", MAX_DETECT_IMAGE_BYTES)
        from PIL import Image

        if isinstance(image, Image.Image):
            rgb = image.convert("RGB").resize((self.image_size, self.image_size),
                                              Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise ModelError("an image array must be H x W x 3, uint8 RGB")
        return self._pixels(Image.fromarray(array))

    def _decoded(self, raw: bytes, name: str, limit: int) -> np.ndarray:
        problem = check_bytes(raw, limit)
        if problem is not None:
            raise ModelError(f"{name}: {EXCEPTIONS.get(problem.problem or '', 'Error')}: "
                             f"{problem.detail}")
        return data.decode(raw, self.image_size)


class _ArrayBank:
    """Images already decoded, as :func:`~customlabels.train.engine.predict` reads a bank."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def batches(self, order: Sequence[int], batch_size: int) -> Iterator[tuple[list[int],
                                                                            np.ndarray]]:
        order = list(order)
        for i in range(0, len(order), batch_size):
            chunk = order[i:i + batch_size]
            yield chunk, self.images[chunk]


def read_file(path: str) -> bytes:
    """Return the bytes of the image file at ``path``: one byte more than an image may have
    at most, enough to tell that it is too large (:func:`check_bytes`)."""
    with open(path, "rb") as stream:
        return stream.read(MAX_IMAGE_BYTES + 1)


def check_bytes(raw: bytes, limit: int) -> ImageCheck | None:
    """Return the check of an image's bytes when it is outside the detection limits, else
    None (the same probe and limits as ``validate --images``)."""
    if len(raw) > limit:
        return ImageCheck(len(raw), None, 0, 0, 1, "too_large",
                          f"more than {limit:,} bytes, the most an image may have")
    check = judge(probe(raw[:65536], len(raw), lambda offset, count: raw[offset:offset + count]),
                  len(raw))
    return check if check.problem is not None else None


def load_model(project: str, version: str, *, store: str | os.PathLike[str] | None = None,
               device: str = "auto") -> Model:
    """Return the completed model ``version`` of ``project`` from the store, loaded.

    ModelError when there is no such version or it did not complete.
    """
    the_store = Store(store)
    described = the_store.describe(project, version)
    if described["Status"] != TRAINING_COMPLETED:
        raise ModelError(f"model version {project}/{version} is {described['Status']}: "
                         f"{described.get('StatusMessage', '')}; only a completed version "
                         "detects")
    folder = Path(described["Folder"])
    saved = load_file(folder / "model.pt")
    labels = described.get("Model", {}).get("Labels", [])
    thresholds = {label["Name"]: label.get("AssumedThreshold") for label in labels}
    return Model(saved, thresholds, resolve_device(device), project, version, folder)


class Item(NamedTuple):
    """One image to detect on: what the output line names it by, and how to read it."""

    field: str  # "source-ref" or "path"
    name: str
    read: Callable[[], bytes] | None  # None: ``problem`` says why it cannot be read
    problem: str | None = None
    limit: int = MAX_IMAGE_BYTES


def detect_items(model: Model, items: Iterable[Item], *, min_confidence: float | None = None,
                 max_results: int | None = None, batch_size: int = 32,
                 workers: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield one output document an item, in order: its name and the response or the error.

    Images are read and decoded on a thread pool a batch ahead; the network runs a batch at
    a time.
    """
    pool = ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1),
                              thread_name_prefix="customlabels-detect")

    def prepare(item: Item) -> np.ndarray | dict[str, Any]:
        if item.read is None:
            return _error(item, "InvalidS3ObjectException", item.problem or "not readable")
        try:
            raw = item.read()
        except OSError as exc:
            return _error(item, "InvalidS3ObjectException",
                          data.read_error(exc, item.name))
        problem = check_bytes(raw, item.limit)
        if problem is not None:
            return _error(item, EXCEPTIONS.get(problem.problem or "", "Error"),
                          problem.detail or "")
        try:
            return data.decode(raw, model.image_size)
        except Exception as exc:  # Pillow raises many kinds for a corrupt body
            return _error(item, "InvalidImageFormatException",
                          f"the image does not decode ({type(exc).__name__}: {exc})")

    try:
        batches = chunks(items, batch_size)
        chunk = next(batches, None)
        futures = [pool.submit(prepare, item) for item in chunk or ()]
        while chunk is not None:
            after = next(batches, None)  # read and decoded while this batch runs
            ahead = [pool.submit(prepare, item) for item in after or ()]
            ready = [future.result() for future in futures]
            yield from _answer(model, chunk, ready, min_confidence, max_results)
            chunk, futures = after, ahead
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _answer(model: Model, chunk: list[Item], ready: list[Any], min_confidence: float | None,
            max_results: int | None) -> Iterator[dict[str, Any]]:
    arrays = [r for r in ready if isinstance(r, np.ndarray)]
    probs = iter(model.probabilities(np.stack(arrays)) if arrays else [])
    for item, got in zip(chunk, ready):
        if isinstance(got, dict):
            yield got
        else:
            yield {item.field: item.name, **model.answer(next(probs), min_confidence,
                                                          max_results)}


def _error(item: Item, code: str, message: str) -> dict[str, Any]:
    return {item.field: item.name, "Error": {"Code": code, "Message": message}}

