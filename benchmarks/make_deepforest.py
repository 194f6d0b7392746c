"""Tree crowns from PyPI ``deepforest`` as object detection manifests (the detection benchmark).

``deepforest`` 2.1.0 (MIT) ships NEON aerial RGB images with tree-crown boxes in Pascal VOC XML
in its ``data/`` folder. It is installed here with ``pip install --no-deps --target`` (its own
dependencies are not needed: only its data files are read), under ``benchmarks/data/deepforest``
(git-ignored), never committed. From it this module builds

* ``mirror/chips/YELL_*_rR_cC.png``: the two large YELL images tiled into 400 x 400 chips, a grid
  whose last row and column end at the image's edge (so they overlap the one before). A box
  belongs to each chip that holds its centre, clipped to the chip: every chip holds every crown
  centred in it;
* ``mirror/test/OSBS_029.png``, ``mirror/test/SOAP_061.png``: the held-out images, 400 x 400;
* ``mirror/test-halves/*_left.png``, ``*_right.png``: each held-out image cut into two
  200 x 400 halves, boxes by their centre as for the chips. OSBS_029 has 61 crowns, and the
  service allows at most 50 boxes an image (guide: "Quotas / Training"): as a whole it is
  an invalid line, so the testing manifest the trainer evaluates on holds the halves;
* ``train.manifest`` (the chips), ``test.manifest`` (the halves) and ``holdout.manifest`` (the
  two whole images, for the benchmark's own COCO scoring; its first line is invalid for the
  service): Ground Truth object detection manifests, label ``Tree``, whose source-refs
  ``s3://deepforest-bench/...`` resolve to ``mirror/``.

Usage: ``python benchmarks/make_deepforest.py [--root DIR]`` (prints what it made).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE / "data" / "deepforest"
PACKAGE = "deepforest==2.1.0"
CHIP = 400
TRAIN_IMAGES = ("2019_YELL_2_528000_4978000_image_crop2", "2019_YELL_2_541000_4977000_image_crop")
TEST_IMAGES = ("OSBS_029", "SOAP_061")
BUCKET = "deepforest-bench"
LABEL = "Tree"


def data_folder(root: Path = ROOT) -> Path:
    """Return deepforest's ``data/`` folder, installing the package under ``root`` first."""
    site = root / "site"
    folder = site / "deepforest" / "data"
    if not (folder / f"{TEST_IMAGES[0]}.xml").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(site), PACKAGE], check=True)
    return folder


def read_voc(path: Path) -> list[tuple[float, float, float, float]]:
    """Return the boxes ``(xmin, ymin, xmax, ymax)`` of a Pascal VOC file, in pixels."""
    boxes = []
    for obj in ET.parse(path).getroot().iter("object"):
        box = obj.find("bndbox")
        assert box is not None
        boxes.append(tuple(float(box.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax")))
    return boxes  # type: ignore[return-value]


def starts(length: int, chip: int = CHIP) -> list[int]:
    """Return the chips' offsets along a side of ``length``: a step of ``chip``, the last one
    ending at the edge."""
    if length <= chip:
        return [0]
    out = list(range(0, length - chip, chip))
    return out + [length - chip]


def line(key: str, width: int, height: int, boxes: list[tuple[float, float, float, float]]
         ) -> dict:
    """Return a Ground Truth object detection line for ``s3://BUCKET/KEY``."""
    return {"source-ref": f"s3://{BUCKET}/{key}", "bounding-box": {
        "image_size": [{"width": width, "height": height, "depth": 3}],
        "annotations": [{"class_id": 0, "left": round(x0), "top": round(y0),
                         "width": round(x1) - round(x0), "height": round(y1) - round(y0)}
                        for x0, y0, x1, y1 in boxes]},
        "bounding-box-metadata": {"objects": [{"confidence": 1} for _ in boxes],
                                  "class-map": {"0": LABEL}, "type":
                                  "groundtruth/object-detection", "human-annotated": "yes",
                                  "creation-date": "2024-01-01T00:00:00",
                                  "job-name": "labeling-job/deepforest"}}


def chip_boxes(boxes: list[tuple[float, float, float, float]], x: int, y: int
               ) -> list[tuple[float, float, float, float]]:
    """Return the boxes centred in the chip at ``(x, y)``, clipped to it, in its pixels."""
    out = []
    for x0, y0, x1, y1 in boxes:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if x <= cx < x + CHIP and y <= cy < y + CHIP:
            a, b = max(x0, x) - x, max(y0, y) - y
            c, d = min(x1, x + CHIP) - x, min(y1, y + CHIP) - y
            if round(c) - round(a) >= 1 and round(d) - round(b) >= 1:
                out.append((a, b, c, d))
    return out


def build(root: Path = ROOT) -> dict[str, Path]:
    """Make the chips, the held-out images and both manifests under ``root``; return paths."""
    from PIL import Image

    source = data_folder(root)
    mirror = root / "mirror"
    (mirror / "chips").mkdir(parents=True, exist_ok=True)
    (mirror / "test").mkdir(parents=True, exist_ok=True)
    train_lines, test_lines = [], []
    for name in TRAIN_IMAGES:
        boxes = read_voc(source / f"{name}.xml")
        with Image.open(source / f"{name}.png") as opened:
            image = opened.convert("RGB")
        short = "_".join(name.split("_")[1:4])
        for row, y in enumerate(starts(image.height)):
            for col, x in enumerate(starts(image.width)):
                key = f"chips/{short}_r{row}_c{col}.png"
                target = mirror / key
                if not target.exists():
                    image.crop((x, y, x + CHIP, y + CHIP)).save(target)
                train_lines.append(line(key, CHIP, CHIP, chip_boxes(boxes, x, y)))
    holdout_lines = []
    (mirror / "test-halves").mkdir(parents=True, exist_ok=True)
    for name in TEST_IMAGES:
        key = f"test/{name}.png"
        with Image.open(source / f"{name}.png") as opened:
            image = opened.convert("RGB")
        if not (mirror / key).exists():
            image.save(mirror / key)
        boxes = read_voc(source / f"{name}.xml")
        holdout_lines.append(line(key, image.width, image.height, boxes))
        half = image.width // 2
        for side, x in (("left", 0), ("right", half)):
            part = f"test-halves/{name}_{side}.png"
            if not (mirror / part).exists():
                image.crop((x, 0, x + half, image.height)).save(mirror / part)
            kept = [(max(x0, x) - x, y0, min(x1, x + half) - x, y1) for x0, y0, x1, y1 in boxes
                    if x <= (x0 + x1) / 2 < x + half]
            test_lines.append(line(part, half, image.height, kept))
    paths = {"train": root / "train.manifest", "test": root / "test.manifest",
             "holdout": root / "holdout.manifest", "mirror": mirror}
    for kind, lines in (("train", train_lines), ("test", test_lines),
                        ("holdout", holdout_lines)):
        temporary = paths[kind].with_suffix(".tmp")
        temporary.write_text("".join(json.dumps(obj) + "\n" for obj in lines))
        temporary.replace(paths[kind])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    paths = build(parser.parse_args().root)
    for kind in ("train", "test", "holdout"):
        lines = paths[kind].read_text().splitlines()
        boxes = sum(len(json.loads(x)["bounding-box"]["annotations"]) for x in lines)
        print(f"{kind}: {paths[kind]} ({len(lines)} images, {boxes} boxes)")
    print(f"images: {paths['mirror']}")


if __name__ == "__main__":
    main()
