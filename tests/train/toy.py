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
