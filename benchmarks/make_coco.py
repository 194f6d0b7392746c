"""Generate a synthetic COCO object-detection file the size of COCO train2017, for benchmarks.

The defaults mirror ``instances_train2017.json``: 118,287 images, 860,001 annotations over the
80 COCO categories (their real ids, 1..90 with gaps), about 1% of images without annotations,
about 1% crowd annotations (RLE segmentation), the rest with a polygon of 6 to 20 vertices, a
float ``bbox`` inside the image and its ``area``. Image sizes are the common COCO ones (640x480,
480x640, 640x427, ...); ``date_captured`` is ``YYYY-MM-DD HH:MM:SS`` as in COCO. Annotations are
written in random order, not grouped by image, as in the real file.

The real file is about 448 MB, most of it polygon coordinates; this one is smaller (see the size
printed) because its polygons are shorter, which makes parsing it *cheaper*: a converter measured
against the time to ``orjson.loads`` this file is measured against a harder baseline than the
real file would give.

Only the standard library is needed (``orjson`` is used to write when installed: same bytes'
meaning, faster). The same arguments always give the same content.

Usage::

    python benchmarks/make_coco.py -o benchmarks/data/coco-train2017-synthetic.json
    python benchmarks/make_coco.py -o small.json --images 1000 --annotations 7300 --seed 3
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

#: The 80 COCO categories with their ids in instances_train2017.json.
CATEGORIES = [
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
    (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"), (13, "stop sign", "outdoor"),
    (14, "parking meter", "outdoor"), (15, "bench", "outdoor"), (16, "bird", "animal"),
    (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"), (20, "sheep", "animal"),
    (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
    (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"),
    (36, "snowboard", "sports"), (37, "sports ball", "sports"), (38, "kite", "sports"),
    (39, "baseball bat", "sports"), (40, "baseball glove", "sports"), (41, "skateboard", "sports"),
    (42, "surfboard", "sports"), (43, "tennis racket", "sports"), (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"), (47, "cup", "kitchen"), (48, "fork", "kitchen"),
    (49, "knife", "kitchen"), (50, "spoon", "kitchen"), (51, "bowl", "kitchen"),
    (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"),
    (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"),
    (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"),
    (62, "chair", "furniture"), (63, "couch", "furniture"), (64, "potted plant", "furniture"),
    (65, "bed", "furniture"), (67, "dining table", "furniture"), (70, "toilet", "furniture"),
    (72, "tv", "electronic"), (73, "laptop", "electronic"), (74, "mouse", "electronic"),
    (75, "remote", "electronic"), (76, "keyboard", "electronic"), (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"), (79, "oven", "appliance"), (80, "toaster", "appliance"),
    (81, "sink", "appliance"), (82, "refrigerator", "appliance"), (84, "book", "indoor"),
    (85, "clock", "indoor"), (86, "vase", "indoor"), (87, "scissors", "indoor"),
    (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"), (90, "toothbrush", "indoor"),
]
#: Common image sizes of COCO, with rough weights.
SIZES = [((640, 480), 40), ((480, 640), 15), ((640, 427), 15), ((427, 640), 8),
         ((640, 426), 6), ((500, 375), 4), ((640, 640), 4), ((612, 612), 3), ((640, 360), 5)]
EMPTY_SHARE = 0.0086  # 1,021 of 118,287 train2017 images have no annotation
CROWD_SHARE = 0.0106  # about 9,000 of 860,001 annotations are crowd regions


def _box(rng: random.Random, width: int, height: int) -> list[float]:
    """Return a float [x, y, w, h] inside a width x height image, small boxes more likely."""
    w = min(width, max(0.5, rng.lognormvariate(3.7, 1.0)))
    h = min(height, max(0.5, w * rng.lognormvariate(0.0, 0.5)))
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    return [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]


def _polygon(rng: random.Random, box: list[float]) -> list[list[float]]:
    x, y, w, h = box
    points: list[float] = []
    for _ in range(rng.randint(6, 20)):
        points += [round(x + rng.random() * w, 2), round(y + rng.random() * h, 2)]
    return [points]


def generate(images: int, annotations: int, seed: int) -> dict:
    """Return the COCO document (a dict) for the given sizes and seed."""
    rng = random.Random(seed)
    ids = rng.sample(range(1, 600_000), images)
    sizes = rng.choices([s for s, _ in SIZES], [w for _, w in SIZES], k=images)
    image_list = []
    for image_id, (width, height) in zip(ids, sizes):
        day = rng.randint(1, 28)
        stamp = (f"2013-{rng.randint(11, 12):02d}-{day:02d} "
                 f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")
        image_list.append({
            "license": rng.randint(1, 8),
            "file_name": f"{image_id:012d}.jpg",
            "coco_url": f"http://images.cocodataset.org/train2017/{image_id:012d}.jpg",
            "height": height, "width": width, "date_captured": stamp,
            "flickr_url": f"http://farm{rng.randint(1, 9)}.staticflickr.com/"
                          f"{rng.randint(1000, 9999)}/{rng.getrandbits(40):x}_z.jpg",
            "id": image_id})
    # every annotated image gets at least one box; the rest fall on random annotated images
    annotated = [i for i in range(images) if rng.random() >= EMPTY_SHARE]
    owners = annotated + rng.choices(annotated, k=max(0, annotations - len(annotated)))
    owners = owners[:annotations]
    rng.shuffle(owners)
    ann_list = []
    for ann_id, owner in enumerate(owners, start=1):
        image = image_list[owner]
        box = _box(rng, image["width"], image["height"])
        crowd = rng.random() < CROWD_SHARE
        if crowd:
            segmentation: object = {"counts": [rng.randint(0, 500) for _ in range(30)],
                                    "size": [image["height"], image["width"]]}
        else:
            segmentation = _polygon(rng, box)
        ann_list.append({
            "segmentation": segmentation, "area": round(box[2] * box[3] * 0.6, 4),
            "iscrowd": int(crowd), "image_id": image["id"], "bbox": box,
            "category_id": rng.choice(CATEGORIES)[0], "id": 900_000 + ann_id})
    return {
        "info": {"description": "Synthetic COCO-like dataset (customlabels benchmarks)",
                 "url": "", "version": "1.0", "year": 2017, "contributor": "customlabels",
                 "date_created": "2017/09/01"},
        "licenses": [{"url": f"http://creativecommons.org/licenses/{i}/", "id": i,
                      "name": f"License {i}"} for i in range(1, 9)],
        "images": image_list,
        "annotations": ann_list,
        "categories": [{"supercategory": sup, "id": cid, "name": name}
                       for cid, name, sup in CATEGORIES],
    }


def main(argv: list[str] | None = None) -> int:
    """Write the synthetic COCO file and print its size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", required=True, type=Path, help="file to write")
    parser.add_argument("--images", type=int, default=118_287, help="images (default 118,287)")
    parser.add_argument("--annotations", type=int, default=860_001,
                        help="annotations (default 860,001)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    doc = generate(args.images, args.annotations, args.seed)
    try:
        import orjson

        data = orjson.dumps(doc)
    except ImportError:
        data = json.dumps(doc, separators=(",", ":")).encode()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"{args.output}: {len(doc['images']):,} images, {len(doc['annotations']):,} "
          f"annotations, {len(data):,} bytes in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
