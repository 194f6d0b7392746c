"""Generate a seeded, COCO-val-sized object-detection test set and predictions for benchmarks.

Writes four files into a directory, all describing the same boxes:

* ``test.manifest``: the ground truth, a SageMaker Ground Truth object-detection manifest (one
  image a line, boxes in pixels, every line valid for ``customlabels validate``);
* ``predictions.jsonl``: one DetectCustomLabels response a line (L1577-1606, L10287-10352),
  ``{"source-ref", "CustomLabels": [{"Name", "Confidence" 0-100, "Geometry": {"BoundingBox":
  ratios}}]}``, the labels sorted by confidence, highest first, as the service returns them;
* ``coco_gt.json`` and ``coco_dt.json``: the same ground truth and detections in COCO's format for
  pycocotools and faster-coco-eval. Image ids follow the manifest's line order, category ids the
  sorted label names; a detection's ``bbox`` is its ratios times the image size and its ``score``
  its ``Confidence / 100``, computed exactly as customlabels computes them, so that every tool
  sees the same numbers.

The defaults follow COCO val2017: 5,000 images, about 36,000 boxes (7.3 an image, 1 to 50, the
guide's limit, L17957-17959) over 80 labels of unequal frequency, about 41% small, 34% medium
and 25% large boxes; about 20 scored detections an image: most objects found with some jitter (a
few with the wrong label, some twice), plus false positives at lower confidence. Confidences are
float32 values, as DetectCustomLabels returns them.

Usage::

    python benchmarks/make_detections.py -o benchmarks/data/detections
    python benchmarks/make_detections.py -o /tmp/small --images 200 --seed 3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

BUCKET = "rekognition-custom-labels-bench"
ATTRIBUTE = "bounding-box"
#: COCO's 80 category names, in COCO's order.
COCO_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)
#: Image sizes common in COCO (width, height).
SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (640, 360), (500, 375), (640, 640),
         (612, 612), (640, 512), (375, 500))
MAX_BOXES = 50  # L17957-17959
#: Boxes an image: 1 + a geometric count with this mean over the whole set (COCO: 7.3).
MEAN_BOXES = 7.3
#: Side of a box as sqrt(area): log-normal, tuned to COCO's share of small (< 32^2 px),
#: medium and large (> 96^2 px) boxes.
SIDE_LOG_MEAN, SIDE_LOG_SD = np.log(44.0), 1.05
#: Share of objects the detector finds, share of those with a wrong label, share found twice.
FOUND, WRONG_LABEL, TWICE = 0.85, 0.08, 0.2
#: False positives an image: Poisson with this mean (brings the total near 20 an image).
MEAN_FALSE = 12.5
CREATED = "2024-05-01T12:00:00.000000"


def _label_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return label frequencies of unequal size (Zipf-like, one dominant label as in COCO)."""
    weights = 1.0 / np.arange(1, n + 1) ** 0.9
    rng.shuffle(weights[1:])
    return weights / weights.sum()


def _box(rng: np.random.Generator, width: int, height: int) -> tuple[int, int, int, int]:
    """Return one integer box (left, top, width, height) inside the image, at least 2 px a side."""
    side = float(np.exp(rng.normal(SIDE_LOG_MEAN, SIDE_LOG_SD)))
    aspect = float(np.exp(rng.normal(0.0, 0.5)))
    w = int(min(max(2, round(side * aspect ** 0.5)), width))
    h = int(min(max(2, round(side / aspect ** 0.5)), height))
    left = int(rng.integers(0, width - w + 1))
    top = int(rng.integers(0, height - h + 1))
    return left, top, w, h


def _jitter(rng: np.random.Generator, box: tuple[int, int, int, int], width: int, height: int,
            scale: float) -> tuple[float, float, float, float]:
    """Return a detection near ``box``: each edge moved by a normal share of the box's size."""
    left, top, w, h = box
    x1 = left + rng.normal(0, scale) * w
    y1 = top + rng.normal(0, scale) * h
    x2 = left + w + rng.normal(0, scale) * w
    y2 = top + h + rng.normal(0, scale) * h
    x1, x2 = sorted((min(max(x1, 0.0), width - 1.0), min(max(x2, 1.0), float(width))))
    y1, y2 = sorted((min(max(y1, 0.0), height - 1.0), min(max(y2, 1.0), float(height))))
    return x1, y1, max(x2 - x1, 0.5), max(y2 - y1, 0.5)


def _confidence(value: float) -> float:
    """Return a 0-100 confidence as DetectCustomLabels gives it (a float32, never 0)."""
    return float(np.float32(min(max(value, 0.001), 100.0)))


def generate(out: Path, images: int = 5000, seed: int = 0) -> dict[str, int]:
    """Write the four files into ``out``; return counts of images, boxes and detections."""
    rng = np.random.default_rng(seed)
    names = sorted(COCO_NAMES)
    weights = _label_weights(rng, len(names))
    cat_id = {name: i + 1 for i, name in enumerate(names)}
    out.mkdir(parents=True, exist_ok=True)
    manifest: list[str] = []
    responses: list[str] = []
    coco_images: list[dict] = []
    coco_gt: list[dict] = []
    coco_dt: list[dict] = []
    geometric_p = 1.0 / MEAN_BOXES
    for i in range(images):
        width, height = SIZES[int(rng.integers(len(SIZES)))]
        n_boxes = min(MAX_BOXES, int(rng.geometric(geometric_p)))
        labels = rng.choice(len(names), size=n_boxes, p=weights)
        boxes = [_box(rng, width, height) for _ in range(n_boxes)]
        source_ref = f"s3://{BUCKET}/images/{i:012d}.jpg"
        class_ids = sorted(set(int(k) for k in labels))
        annotations = ", ".join(
            f'{{"class_id": {int(k)}, "top": {b[1]}, "left": {b[0]}, "width": {b[2]}, '
            f'"height": {b[3]}}}' for k, b in zip(labels, boxes))
        class_map = ", ".join(f'"{k}": {json.dumps(names[k])}' for k in class_ids)
        objects = ", ".join('{"confidence": 1}' for _ in boxes)
        manifest.append(
            f'{{"source-ref": "{source_ref}", "{ATTRIBUTE}": {{"image_size": [{{"width": {width}, '
            f'"height": {height}, "depth": 3}}], "annotations": [{annotations}]}}, '
            f'"{ATTRIBUTE}-metadata": {{"objects": [{objects}], "class-map": {{{class_map}}}, '
            f'"type": "groundtruth/object-detection", "human-annotated": "yes", '
            f'"creation-date": "{CREATED}", "job-name": "labeling-job/bench-test"}}}}')
        image_id = i + 1
        coco_images.append({"id": image_id, "width": width, "height": height,
                            "file_name": f"{i:012d}.jpg"})
        for k, (left, top, w, h) in zip(labels, boxes):
            coco_gt.append({"id": len(coco_gt) + 1, "image_id": image_id,
                            "category_id": cat_id[names[k]], "bbox": [left, top, w, h],
                            "area": w * h, "iscrowd": 0})

        detections: list[tuple[float, str, tuple[float, float, float, float]]] = []
        for k, box in zip(labels, boxes):
            if rng.random() >= FOUND:
                continue
            copies = 2 if rng.random() < TWICE else 1
            for copy in range(copies):
                label = names[k] if rng.random() >= WRONG_LABEL else names[
                    int(rng.choice(len(names), p=weights))]
                base = rng.beta(5, 2) * 100 if copy == 0 else rng.beta(2, 3) * 100
                detections.append((_confidence(base), label,
                                   _jitter(rng, box, width, height, 0.08 + 0.1 * copy)))
        for _ in range(int(rng.poisson(MEAN_FALSE))):
            left, top, w, h = _box(rng, width, height)
            label = names[int(rng.choice(len(names), p=weights))]
            detections.append((_confidence(rng.beta(1.5, 5) * 100), label,
                               (float(left), float(top), float(w), float(h))))
        detections.sort(key=lambda d: -d[0])
        entries = []
        for confidence, label, (x, y, w, h) in detections:
            ratios = {"Width": w / width, "Height": h / height, "Left": x / width,
                      "Top": y / height}
            entries.append({"Name": label, "Confidence": confidence,
                            "Geometry": {"BoundingBox": ratios}})
            # exactly the pixel box and score customlabels derives from the response
            coco_dt.append({"image_id": image_id, "category_id": cat_id[label],
                            "bbox": [ratios["Left"] * width, ratios["Top"] * height,
                                     ratios["Width"] * width, ratios["Height"] * height],
                            "score": confidence / 100.0})
        responses.append(json.dumps({"source-ref": source_ref, "CustomLabels": entries}))

    (out / "test.manifest").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    (out / "predictions.jsonl").write_text("\n".join(responses) + "\n", encoding="utf-8")
    categories = [{"id": cat_id[name], "name": name} for name in names]
    with (out / "coco_gt.json").open("w", encoding="utf-8") as f:
        json.dump({"images": coco_images, "annotations": coco_gt, "categories": categories}, f)
    with (out / "coco_dt.json").open("w", encoding="utf-8") as f:
        json.dump(coco_dt, f)
    return {"images": images, "boxes": len(coco_gt), "detections": len(coco_dt)}


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, generate the files and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="directory to write")
    parser.add_argument("--images", type=int, default=5000, help="images (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.images < 1:
        parser.error("--images must be at least 1")
    start = time.perf_counter()
    counts = generate(args.output, args.images, args.seed)
    print(f"wrote {args.output}: {counts['images']} images, {counts['boxes']} boxes, "
          f"{counts['detections']} detections in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
