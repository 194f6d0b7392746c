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
from ..limits import MAX_BOXES, MAX_DETECT_IMAGE_BYTES, MAX_IMAGE_BYTES
from ..manifest.records import chunks
from ..store import TRAINING_COMPLETED, Store
from ._torch import import_torch

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402

from . import data, engine, models  # noqa: E402
from .transforms import Normalize, to_device  # noqa: E402
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


#: Decimal places of a bounding box's ratios in a response.
BOX_PLACES = 6


def bounding_box(box: Sequence[float]) -> dict[str, float]:
    """Return ``Geometry.BoundingBox`` for a box x0, y0, x1, y1 given as ratios of the image:
    ``Width``, ``Height``, ``Left``, ``Top``, ratios as DetectCustomLabels gives them."""
    x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in box)
    return {"Width": round(x1 - x0, BOX_PLACES), "Height": round(y1 - y0, BOX_PLACES),
            "Left": round(x0, BOX_PLACES), "Top": round(y0, BOX_PLACES)}


class Model:
    """A completed model version, loaded: ``detect`` answers as DetectCustomLabels does.

    Attributes:
        project, version: the version's names; labels: the label names, in output order of
            the network; multi_label: several labels an image; image_size: the input side;
            thresholds: each label's assumed threshold, 0-100 (None: it has none);
            folder: the version's folder in the store; kind: ``classification`` or
            ``detection``; tile: a detector's tile side in pixels (None: whole images).
    """

    def __init__(self, saved: dict[str, Any], thresholds: dict[str, float | None], device: Any,
                 project: str, version: str, folder: Path):
        self.project, self.version, self.folder = project, version, folder
        self.kind = str(saved.get("kind", "classification"))
        self.labels: list[str] = list(saved["labels"])
        self.multi_label = bool(saved["multi_label"])
        self.image_size = int(saved["image_size"])
        self.architecture = str(saved["architecture"])
        self.tile: int | None = saved.get("tile")
        self.thresholds = {name: None if thresholds.get(name) is None
                           else 100 * float(thresholds[name])  # type: ignore[arg-type]
                           for name in self.labels}
        self.device = device
        if self.kind == "detection":
            from .detection import Detector, DetectorConfig

            self.config = DetectorConfig.from_dict(saved["detector"])
            network: torch.nn.Module = Detector(self.config, pretrained=False)
        else:
            network = models.build_model(self.architecture, len(self.labels), pretrained=False)
        network.load_state_dict(saved["state_dict"])
        self.network = network.to(device).eval()
        self.mean, self.std = list(saved["mean"]), list(saved["std"])
        self.normalize = Normalize(self.mean, self.std, device, channels_last=True)
        self.network = self.network.to(memory_format=torch.channels_last)

    @property
    def detects_boxes(self) -> bool:
        """Tell whether the model finds objects with boxes (else it labels whole images)."""
        return self.kind == "detection"

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Return the label probabilities (N x labels) of uint8 images N x S x S x 3."""
        bank = _ArrayBank(images)
        return engine.predict(self.network, bank, range(len(images)), batch_size=len(images)
                              or 1, device=self.device, normalize=self.normalize,
                              multi_label=self.multi_label, amp=self.device.type == "cuda")

    def boxes(self, images: np.ndarray, max_detections: int = 100
              ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Return each uint8 image's (N x S x S x 3) detections: boxes (pixels of the input,
        x0, y0, x1, y1), scores 0..1 and label indices, the best first."""
        from .detection import postprocess

        with torch.inference_mode(), engine.autocast(self.device, self.device.type == "cuda"):
            boxes, scores = self.network(self.normalize(to_device(images, self.device)))
        return postprocess(boxes.float(), scores.float(), max_detections=max_detections)

    def prepare(self, raw: bytes) -> Prepared:
        """Return the network's inputs for the PNG or JPEG bytes ``raw``: the image resized
        (a classifier), or letterboxed whole or in tiles (a detector)."""
        if not self.detects_boxes:
            return Prepared(data.decode(raw, self.image_size)[None], [None], [None])
        return self.prepare_image(data.shown_image(raw))

    def prepare_image(self, rgb: Any) -> Prepared:
        """:meth:`prepare` for a PIL RGB image as it is shown."""
        size = self.image_size
        if not self.detects_boxes:
            return Prepared(data.fit(rgb, size)[None], [None], [None])
        width, height = rgb.size
        regions: list[data.Region | None] = (
            list(data.tiles(width, height, self.tile))
            if self.tile is not None and max(width, height) > self.tile else [None])
        extents = []
        for region in regions:
            x0, y0, x1, y1 = region or (0.0, 0.0, 1.0, 1.0)
            extents.append(data.content_size(width * (x1 - x0), height * (y1 - y0), size))
        pixels = np.stack([data.fit(rgb, size, region, content)
                           for region, content in zip(regions, extents)])
        return Prepared(pixels, regions, extents)

    def answer(self, row: Sequence[float], min_confidence: float | None = None,
               max_results: int | None = None) -> dict[str, Any]:
        """Return the DetectCustomLabels response for one image's probabilities ``row``."""
        found: list[tuple[float, str]] = []
        for name, p in zip(self.labels, row):
            # compared as written: the thresholds were chosen from confidences written so
            confidence = round(float(p) * 100, CONFIDENCE_PLACES)
            if confidence >= self._floor(name, min_confidence):
                found.append((confidence, name))
        found.sort(key=lambda item: (-item[0], item[1]))
        if max_results is not None:
            found = found[:max_results]
        return {"CustomLabels": [{"Name": name, "Confidence": c} for c, name in found]}

    def _floor(self, name: str, min_confidence: float | None) -> float:
        assumed = self.thresholds[name]
        floor = (min_confidence if min_confidence is not None
                 else assumed if assumed is not None else UNTHRESHOLDED_CONFIDENCE)
        return round(floor, CONFIDENCE_PLACES)

    def answer_boxes(self, found: tuple[np.ndarray, np.ndarray, np.ndarray],
                     min_confidence: float | None = None, max_results: int | None = None
                     ) -> dict[str, Any]:
        """Return the DetectCustomLabels response for one image's detections (boxes as ratios
        of the image, scores, label indices): at most ``max_results`` boxes, or
        :data:`~customlabels.limits.MAX_BOXES` (the most an image may have), the most
        confident first, each with ``Geometry.BoundingBox``."""
        entries = []
        for box, p, c in zip(*found):
            name = self.labels[int(c)]
            confidence = round(float(p) * 100, CONFIDENCE_PLACES)
            if confidence >= self._floor(name, min_confidence):
                entries.append((confidence, name, bounding_box(box)))
        entries.sort(key=lambda item: -item[0])  # stable: equal scores keep the NMS order
        cap = MAX_BOXES if max_results is None else max_results
        return {"CustomLabels": [{"Name": name, "Confidence": c, "Geometry": {
            "BoundingBox": geometry}} for c, name, geometry in entries[:cap]]}

    def respond(self, prepared: Sequence[Prepared], min_confidence: float | None = None,
                max_results: int | None = None) -> list[dict[str, Any]]:
        """Return the DetectCustomLabels responses for images made ready by :meth:`prepare`,
        run through the network together."""
        if not prepared:
            return []
        pixels = np.concatenate([p.pixels for p in prepared])
        if not self.detects_boxes:
            return [self.answer(row, min_confidence, max_results)
                    for row in self.probabilities(pixels)]
        from .detection import merge_tiles

        keep = max(max_results or 0, 100)
        per_tile = self.boxes(pixels, keep)
        out, start = [], 0
        for p in prepared:
            count = len(p.regions)
            merged = merge_tiles(per_tile[start:start + count], p.regions,
                                 p.extents, keep)  # type: ignore[arg-type]
            start += count
            out.append(self.answer_boxes(merged, min_confidence, max_results))
        return out

    def detect(self, image: Any, *, min_confidence: float | None = None,
               max_results: int | None = None) -> dict[str, Any]:
        """Return the DetectCustomLabels response for ``image``: a path, PNG or JPEG bytes
        (at most 4 MB), a PIL image or an H x W x 3 uint8 array.

        ModelError naming the service's exception when the image is outside its limits.
        """
        return self.respond([self._prepared(image)], min_confidence, max_results)[0]

    def _prepared(self, image: Any) -> Prepared:
        if isinstance(image, (str, os.PathLike)):
            path = os.fspath(image)
            return self._decoded(read_file(path), path, MAX_IMAGE_BYTES)
        if isinstance(image, (bytes, bytearray, memoryview)):
            return self._decoded(bytes(image), "the image bytes", MAX_DETECT_IMAGE_BYTES)
        from PIL import Image

        if isinstance(image, Image.Image):
            return self.prepare_image(image.convert("RGB"))
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise ModelError("an image array must be H x W x 3, uint8 RGB")
        return self.prepare_image(Image.fromarray(array))

    def _decoded(self, raw: bytes, name: str, limit: int) -> Prepared:
        problem = check_bytes(raw, limit)
        if problem is not None:
            raise ModelError(f"{name}: {EXCEPTIONS.get(problem.problem or '', 'Error')}: "
                             f"{problem.detail}")
        return self.prepare(raw)


class Prepared(NamedTuple):
    """An image made ready for the network: its inputs (T x S x S x 3 uint8, one a tile, one
    for a whole image), the region of the image each is, and the pixels each takes in the
    input when letterboxed (None: resized to the square)."""

    pixels: np.ndarray
    regions: Sequence[data.Region | None]
    extents: Sequence[tuple[int, int] | None]


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

    def prepare(item: Item) -> Prepared | dict[str, Any]:
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
            return model.prepare(raw)
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
    responses = iter(model.respond([r for r in ready if isinstance(r, Prepared)],
                                   min_confidence, max_results))
    for item, got in zip(chunk, ready):
        if isinstance(got, dict):
            yield got
        else:
            yield {item.field: item.name, **next(responses)}


def _error(item: Item, code: str, message: str) -> dict[str, Any]:
    return {item.field: item.name, "Error": {"Code": code, "Message": message}}



#: The colour boxes and captions are drawn in by ``detect --draw``: the guide's client example's.
DRAW_COLOUR = "limegreen"


def draw(raw: bytes, response: dict[str, Any], target: Path) -> None:
    """Write the image ``raw`` to ``target`` (PNG, atomically) with the response drawn on it
    as the guide's client example draws it (guide: "Analyzing an image with a trained
    model"): each box in lime green with its ``Name:Confidence%`` caption (the confidence
    rounded to a whole percent) on black inside its top left corner; a classifier's labels
    the same way, one under the other, at the image's top left."""
    from PIL import ImageDraw, ImageFont

    from ..manifest.writer import atomic_write

    image = data.shown_image(raw)
    width, height = image.size
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(10, round(max(width, height) / 50)))
    line = max(1, round(max(width, height) / 300))
    level = 0.0
    for entry in response.get("CustomLabels", []):
        caption = f"{entry['Name']}:{int(round(entry['Confidence'], 0))}%"
        x0, y0, x1, y1 = pen.textbbox((0, 0), caption, font=font)
        text_w, text_h = x1 - x0, y1 + 2
        box = entry.get("Geometry", {}).get("BoundingBox")
        if box is None:
            pen.rectangle(((10, level), (10 + text_w, level + text_h)), fill="black")
            pen.text((10, level), caption, fill=DRAW_COLOUR, font=font)
            level += text_h
            continue
        left, top = box["Left"] * width, box["Top"] * height
        right, bottom = left + box["Width"] * width, top + box["Height"] * height
        pen.rectangle(((left, top), (right, bottom)), outline=DRAW_COLOUR, width=line)
        pen.rectangle(((left + line, top + line), (left + line + text_w, top + line + text_h)),
                      fill="black")
        pen.text((left + line, top + line), caption, fill=DRAW_COLOUR, font=font)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target) as stream:
        image.save(stream, format="PNG")
