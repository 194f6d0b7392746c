"""Small, seeded image sets made in the tests: a separable task the trainer must learn.

Each image is noise with one shape pasted on it, a disc or a square (and, for several labels an
image, a colour); the manifests are Ground Truth classification manifests whose source-refs
resolve to the mirror folder the images are written to.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SIZE = 80


def classification_line(key: str, attribute: str, label: str) -> dict:
    """Return a Ground Truth classification line's object for ``s3://toy/KEY``."""
    return {"source-ref": f"s3://toy/{key}", attribute: 0, f"{attribute}-metadata": {
        "confidence": 1, "job-name": "labeling-job/toy", "class-name": label,
        "human-annotated": "yes", "creation-date": "2024-01-02T03:04:05",
        "type": "groundtruth/image-classification"}}


def picture(shape: str, colour: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Return an 80 x 80 RGB picture of ``shape`` (disc or square) on noise."""
    pixels = (rng.random((SIZE, SIZE, 3)) * 70).astype(np.uint8)
    cy, cx = rng.integers(30, 50, size=2)
    r = int(rng.integers(12, 20))
    yy, xx = np.mgrid[:SIZE, :SIZE]
    if shape == "disc":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    else:
        mask = (abs(yy - cy) < r) & (abs(xx - cx) < r)
    pixels[mask] = colour
    return pixels


def make_set(root: Path, count: int, *, seed: int = 0, multi_label: bool = False,
             name: str = "all.manifest") -> tuple[Path, Path]:
    """Write ``count`` images under ``root/mirror`` and their manifest; return both paths.

    One label an image (``disc`` or ``square``), or with ``multi_label`` also ``red`` or
    ``blue`` in a second attribute.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    mirror = root / "mirror"
    (mirror / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        shape = ("disc", "square")[i % 2]
        colour_name = ("red", "blue")[(i // 2) % 2]
        colour = (230, 60, 40) if colour_name == "red" or not multi_label else (40, 80, 230)
        key = f"img/{seed}-{i:03d}.png"
        Image.fromarray(picture(shape, colour, rng)).save(mirror / key)
        obj = classification_line(key, "shape", shape)
        if multi_label:
            obj.update({k: v for k, v in classification_line(key, "colour", colour_name).items()
                        if k != "source-ref"})
        lines.append(json.dumps(obj))
    manifest = root / name
    manifest.write_text("\n".join(lines) + "\n")
    return manifest, mirror


def detection_line(key: str, width: int, height: int,
                   boxes: list[tuple[str, int, int, int, int]], labels: list[str]) -> dict:
    """Return a Ground Truth object detection line for ``s3://toy/KEY``: ``boxes`` are
    ``(label, left, top, width, height)`` in pixels of a ``width`` x ``height`` image."""
    return {"source-ref": f"s3://toy/{key}", "objects": {
        "image_size": [{"width": width, "height": height, "depth": 3}],
        "annotations": [{"class_id": labels.index(label), "left": left, "top": top,
                         "width": w, "height": h} for label, left, top, w, h in boxes]},
        "objects-metadata": {"objects": [{"confidence": 1} for _ in boxes],
                             "class-map": {str(i): name for i, name in enumerate(labels)},
                             "type": "groundtruth/object-detection", "human-annotated": "yes",
                             "creation-date": "2024-01-02T03:04:05",
                             "job-name": "labeling-job/toy-boxes"}}


def detection_picture(rng: np.random.Generator, width: int, height: int, count: int
                      ) -> tuple[np.ndarray, list[tuple[str, int, int, int, int]]]:
    """Return noise with ``count`` shapes pasted on it (bright discs and squares, 14 to 30
    px, apart from each other) and their boxes ``(label, left, top, width, height)``."""
    pixels = (rng.random((height, width, 3)) * 70).astype(np.uint8)
    boxes: list[tuple[str, int, int, int, int]] = []
    yy, xx = np.mgrid[:height, :width]
    tries = 0
    while len(boxes) < count and tries < 200:
        tries += 1
        side = int(rng.integers(14, 31))
        left, top = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
        if any(left < l + w + 4 and l < left + side + 4 and top < t + h + 4 and t < top + side + 4
               for _, l, t, w, h in boxes):
            continue
        shape = ("disc", "square")[len(boxes) % 2]
        if shape == "disc":
            r = side / 2
            mask = (yy - top - r + 0.5) ** 2 + (xx - left - r + 0.5) ** 2 < r * r
            pixels[mask] = (230, 200, 40)
        else:
            pixels[top:top + side, left:left + side] = (40, 200, 230)
        boxes.append((shape, left, top, side, side))
    return pixels, boxes


def make_detection_set(root: Path, count: int, *, seed: int = 0, size: tuple[int, int] = (96, 96),
                       per_image: int = 3, name: str = "boxes.manifest") -> tuple[Path, Path]:
    """Write ``count`` detection images under ``root/mirror`` and their manifest; return both
    paths. Labels ``disc`` and ``square``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    mirror = root / "mirror"
    (mirror / "box").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        pixels, boxes = detection_picture(rng, size[0], size[1], per_image)
        key = f"box/{seed}-{i:03d}.png"
        Image.fromarray(pixels).save(mirror / key)
        lines.append(json.dumps(detection_line(key, size[0], size[1], boxes,
                                               ["disc", "square"])))
    manifest = root / name
    manifest.write_text("\n".join(lines) + "\n")
    return manifest, mirror
