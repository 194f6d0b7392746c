"""Generate a synthetic Amazon Rekognition Custom Labels manifest for benchmarks.

The output is a SageMaker Ground Truth manifest (JSON Lines, one image a line) that mixes
image-classification and object-detection lines over about 100 labels, every image in one S3
bucket. With the defaults (250,000 lines, no faults) it is about 180 MB and every line is valid:

* every ``source-ref`` is distinct and in the same bucket;
* image sizes are 64..4096 px a side with an aspect ratio of at most 20;
* boxes lie inside the image and stay larger than 1 x 1 px once the image is scaled to at most
  1280 px a side; a detection line has 1..20 boxes (about 7 on average);
* label names are 1..256 characters and confidences lie in 0..1.

``--faulty FRACTION`` turns that fraction of the lines into realistic mistakes (invalid JSON,
missing keys, boxes off the frame, duplicate images...; see :data:`COMMON_FAULTS` and
:data:`DETECTION_FAULTS`); two of them, empty annotations and a line with only ``source-ref``,
are warnings rather than errors. Faults are drawn from a random stream of their own, so the
lines they leave alone are byte for byte those of the clean file.

Only the standard library is used (``random`` for everything random); the output is the same
bytes for the same arguments. Valid lines are built with f-strings and written in large blocks;
the rare faulty lines go through ``json``, whose default separators match the f-strings.

Usage::

    python benchmarks/make_manifest.py -o benchmarks/data/bench-250k.manifest
    python benchmarks/make_manifest.py -o bad.manifest --lines 10000 --faulty 0.05 --seed 3
    python benchmarks/make_manifest.py -o benchmarks/data/bench-1g.manifest --target-bytes 1e9
"""

from __future__ import annotations

import argparse
import json
import random
import time
from bisect import bisect
from collections import Counter, deque
from itertools import accumulate
from pathlib import Path

BUCKET = "rekognition-custom-labels-bench"
#: Share of object-detection lines; the rest are image classification. Tuned with the job
#: names and label names so that the default 250,000 lines make about 180 MB.
DETECTION_SHARE = 0.45
#: A detection line has n boxes, 1 <= n <= MAX_BOXES, with weight BOX_DECAY ** (n - 1): few
#: boxes are common, many are rare, and the mean is 7.
MAX_BOXES = 20
BOX_DECAY = 0.892
N_LABELS = 100
#: Lines are written in blocks of this many.
BLOCK_LINES = 8192

ADJECTIVES = (
    "red", "blue", "rusty", "stainless steel", "cracked", "dented", "ripe", "unripe", "wooden",
    "plastic", "folded", "empty", "overloaded", "open", "closed", "small", "large", "vintage",
    "electric", "frozen", "scratched", "missing", "misaligned", "labelled",
)
NOUNS = (
    "pallet", "forklift", "cardboard box", "safety helmet", "high-visibility vest",
    "delivery van", "traffic cone", "apple", "banana", "printed circuit board", "solder joint",
    "bottle cap", "shipping label", "shopping cart", "bicycle", "intermodal container",
    "door handle", "weld seam", "hex screw", "rubber gasket", "fire extinguisher", "ceramic tile",
    "wind turbine blade", "solar panel", "glass bottle", "aluminium can",
)
FOLDERS = (
    "datasets/warehouse/2021/images", "datasets/warehouse/2022/images",
    "datasets/assembly-line/station-04/raw", "datasets/retail/shelves/train",
    "datasets/inspection/drone-survey/frames", "uploads/field-team/camera-roll",
)
#: (width, height) of the images: common camera, phone and video frame sizes.
IMAGE_SIZES = (
    (640, 480), (800, 600), (1024, 768), (1280, 720), (1280, 960), (1600, 1200), (1920, 1080),
    (1080, 1920), (2048, 1536), (2592, 1944), (3024, 4032), (3840, 2160), (4000, 3000),
    (512, 512), (4096, 256),
)
DETECTION_JOBS = tuple(
    f"{site} object detection batch {k:02d}"
    for k, site in enumerate(
        ("warehouse-safety", "assembly-line-qa", "retail-shelf-audit", "drone-inspection"), 1)
)
#: (job-name, label attribute name) of the classification jobs.
CLASSIFICATION_JOBS = tuple(
    (f"labeling-job/{name}-classification-{k:02d}", f"{name}-class")
    for k, name in enumerate(("product-quality", "shelf-state", "defect-type", "scene"), 1)
)
#: Creation dates are drawn between these two instants (seconds since the epoch, UTC).
DATE_START, DATE_SPAN = 1_546_300_800, 4 * 365 * 86_400

#: How every valid line starts; its source-ref value follows.
SOURCE_REF_PREFIX = '{"source-ref": "'
#: Faults any line can take, and those only a detection line can take.
COMMON_FAULTS = (
    "truncated-json", "invalid-json", "blank-line", "missing-source-ref", "https-source-ref",
    "missing-metadata", "missing-type", "wrong-type", "duplicate-source-ref", "long-label-name",
    "only-source-ref",
)
DETECTION_FAULTS = COMMON_FAULTS + (
    "missing-class-map", "box-off-frame", "box-1x1", "unknown-class-id", "objects-short",
    "image-32x32", "too-many-boxes", "empty-annotations",
)


def make_labels(rng: random.Random) -> list[str]:
    """Return :data:`N_LABELS` distinct label names such as ``"rusty forklift"``."""
    pairs = [(a, n) for a in ADJECTIVES for n in NOUNS]
    return [f"{a} {n}" for a, n in rng.sample(pairs, N_LABELS)]


class LineFactory:
    """Build valid manifest lines (without the newline) from one random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rnd = rng.random
        self.labels = make_labels(rng)
        # A few labels are common and many are rare, as in real datasets (Zipf-like weights).
        self.cum_weights = list(accumulate(1.0 / (k + 1) ** 0.8 for k in range(N_LABELS)))
        self.box_cum_weights = list(accumulate(BOX_DECAY ** k for k in range(MAX_BOXES)))

    def _label_ids(self, k: int) -> list[int]:
        """Draw ``k`` label ids with the skewed label weights (repeats possible)."""
        total, rnd, cum = self.cum_weights[-1], self.rnd, self.cum_weights
        return [bisect(cum, rnd() * total) for _ in range(k)]

    def _source_ref(self, index: int) -> str:
        """Return the distinct S3 URI of image number ``index``."""
        rnd = self.rnd
        folder = FOLDERS[int(rnd() * len(FOLDERS))]
        ext = "png" if rnd() < 0.1 else "jpg"
        return f"s3://{BUCKET}/{folder}/img-{index:08d}.{ext}"

    def _creation_date(self) -> str:
        """Return a Ground Truth style creation date, with milliseconds half the time."""
        rnd = self.rnd
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(DATE_START + int(rnd() * DATE_SPAN)))
        return f"{stamp}.{int(rnd() * 1000):03d}" if rnd() < 0.5 else stamp

    def classification(self, index: int) -> str:
        """Return an image-classification line for image number ``index``."""
        rnd = self.rnd
        job, attr = CLASSIFICATION_JOBS[int(rnd() * len(CLASSIFICATION_JOBS))]
        label = self._label_ids(1)[0]
        human = rnd() < 0.85
        confidence = round(0.8 + 0.2 * rnd() if human else 0.5 + 0.5 * rnd(), 2)
        return (
            f'{{"source-ref": "{self._source_ref(index)}", "{attr}": {label}, '
            f'"{attr}-metadata": {{"confidence": {confidence}, "job-name": "{job}", '
            f'"class-name": "{self.labels[label]}", '
            f'"human-annotated": "{"yes" if human else "no"}", '
            f'"creation-date": "{self._creation_date()}", '
            f'"type": "groundtruth/image-classification"}}}}'
        )

    def detection(self, index: int) -> str:
        """Return an object-detection line for image number ``index``."""
        rnd = self.rnd
        source_ref = self._source_ref(index)
        width, height = IMAGE_SIZES[int(rnd() * len(IMAGE_SIZES))]
        n_boxes = 1 + bisect(self.box_cum_weights, rnd() * self.box_cum_weights[-1])
        classes = self._label_ids(1 + int(rnd() * 4))
        # Boxes are at least 8 px and W/64 wide (H/64 high), so more than 1 px once scaled.
        min_w, min_h = max(8, width // 64), max(8, height // 64)
        span_w, span_h = width // 2 - min_w, height // 2 - min_h
        n_classes = len(classes)
        boxes, used = [], set()
        for _ in range(n_boxes):
            class_id = classes[int(rnd() * n_classes)]
            used.add(class_id)
            w = min_w + int(rnd() * rnd() * span_w)  # small boxes are more common
            h = min_h + int(rnd() * rnd() * span_h)
            left = int(rnd() * (width - w + 1))
            top = int(rnd() * (height - h + 1))
            if rnd() < 0.05:  # annotators often drag a box to the edge of the frame
                left = width - w
            boxes.append(
                f'{{"class_id": {class_id}, "top": {top}, "left": {left}, '
                f'"width": {w}, "height": {h}}}'
            )
        human = rnd() < 0.85
        if human:
            objects = ", ".join(['{"confidence": 1}'] * n_boxes)
        else:
            objects = ", ".join(
                f'{{"confidence": {round(0.5 + 0.5 * rnd(), 2)}}}' for _ in range(n_boxes))
        class_map = ", ".join(f'"{c}": "{self.labels[c]}"' for c in sorted(used))
        return (
            f'{{"source-ref": "{source_ref}", "bounding-box": {{"image_size": '
            f'[{{"width": {width}, "height": {height}, "depth": 3}}], '
            f'"annotations": [{", ".join(boxes)}]}}, '
            f'"bounding-box-metadata": {{"objects": [{objects}], "class-map": {{{class_map}}}, '
            f'"type": "groundtruth/object-detection", '
            f'"human-annotated": "{"yes" if human else "no"}", '
            f'"creation-date": "{self._creation_date()}", '
            f'"job-name": "{DETECTION_JOBS[int(rnd() * len(DETECTION_JOBS))]}"}}}}'
        )


def _metadata_key(record: dict) -> str:
    """Return the key of the record's label attribute metadata."""
    return next(k for k in record if k.endswith("-metadata"))


def _random_box(rng: random.Random, class_id: int, width: int, height: int) -> dict:
    """Return a valid box of at least 16 x 16 px inside a ``width`` x ``height`` image."""
    w, h = rng.randint(16, width // 2), rng.randint(16, height // 2)
    return {"class_id": class_id, "top": rng.randint(0, height - h),
            "left": rng.randint(0, width - w), "width": w, "height": h}


class FaultInjector:
    """Turn valid lines into faulty ones, with a random stream of its own.

    Each fault is a method named after it (``-`` becomes ``_``) that takes the valid line and
    its parsed record and returns the faulty line.
    """

    def __init__(self, rng: random.Random, fraction: float) -> None:
        self.rng = rng
        self.fraction = fraction
        self.recent = deque(maxlen=4096)  # source-refs of recent valid lines, for duplicates
        self.counts = Counter()

    def process(self, line: str, detection: bool) -> str:
        """Return ``line``, or with probability :attr:`fraction` a faulty version of it."""
        rng = self.rng
        if rng.random() >= self.fraction:
            self.recent.append(line[len(SOURCE_REF_PREFIX):line.index('"', len(SOURCE_REF_PREFIX))])
            return line
        fault = rng.choice(DETECTION_FAULTS if detection else COMMON_FAULTS)
        if fault == "duplicate-source-ref" and not self.recent:
            fault = "missing-source-ref"
        self.counts[fault] += 1
        result = getattr(self, fault.replace("-", "_"))(line, json.loads(line))
        return result if isinstance(result, str) else json.dumps(result)

    def truncated_json(self, line: str, record: dict) -> str:
        """Cut the line short, as an interrupted write does."""
        return line[:self.rng.randint(1, len(line) - 1)]

    def invalid_json(self, line: str, record: dict) -> str:
        """Break the JSON syntax: trailing comma, single quotes or a missing comma."""
        variant = self.rng.randrange(3)
        if variant == 0:
            return line[:-1] + ", }"
        if variant == 1:
            return line.replace('"source-ref"', "'source-ref'", 1)
        return line.replace('", "', '" "', 1)

    def blank_line(self, line: str, record: dict) -> str:
        """Return an empty line."""
        return ""

    def missing_source_ref(self, line: str, record: dict) -> dict:
        """Drop the source-ref key."""
        del record["source-ref"]
        return record

    def https_source_ref(self, line: str, record: dict) -> dict:
        """Give the image as an HTTPS URL instead of an S3 URI."""
        path = record["source-ref"].split("/", 3)[3]
        record["source-ref"] = f"https://{BUCKET}.s3.amazonaws.com/{path}"
        return record

    def missing_metadata(self, line: str, record: dict) -> dict:
        """Drop the label attribute metadata."""
        del record[_metadata_key(record)]
        return record

    def missing_type(self, line: str, record: dict) -> dict:
        """Drop the metadata's type."""
        del record[_metadata_key(record)]["type"]
        return record

    def wrong_type(self, line: str, record: dict) -> dict:
        """Give the metadata an unsupported type."""
        record[_metadata_key(record)]["type"] = "groundtruth/wrongtype"
        return record

    def duplicate_source_ref(self, line: str, record: dict) -> dict:
        """Reuse the source-ref of an earlier valid line."""
        record["source-ref"] = self.rng.choice(self.recent)
        return record

    def long_label_name(self, line: str, record: dict) -> dict:
        """Give a label a 300-character name."""
        meta = record[_metadata_key(record)]
        names, key = (meta["class-map"], next(iter(meta["class-map"]))) if "class-map" in meta \
            else (meta, "class-name")
        names[key] = ((names[key] + " ") * 300)[:300]
        return record

    def only_source_ref(self, line: str, record: dict) -> dict:
        """Keep only the source-ref (an unannotated image: a warning)."""
        return {"source-ref": record["source-ref"]}

    def missing_class_map(self, line: str, record: dict) -> dict:
        """Drop the detection metadata's class-map."""
        del record["bounding-box-metadata"]["class-map"]
        return record

    def box_off_frame(self, line: str, record: dict) -> dict:
        """Move a box partly out of the image: a negative left or left + width > width."""
        rng = self.rng
        box = rng.choice(record["bounding-box"]["annotations"])
        if rng.random() < 0.5:
            box["left"] = -rng.randint(1, 20)
        else:
            image_width = record["bounding-box"]["image_size"][0]["width"]
            box["left"] = image_width - box["width"] + rng.randint(1, 20)
        return record

    def box_1x1(self, line: str, record: dict) -> dict:
        """Shrink a box to 1 x 1 px."""
        box = self.rng.choice(record["bounding-box"]["annotations"])
        box["width"] = box["height"] = 1
        return record

    def unknown_class_id(self, line: str, record: dict) -> dict:
        """Give a box a class_id that the class-map lacks."""
        box = self.rng.choice(record["bounding-box"]["annotations"])
        box["class_id"] = N_LABELS + self.rng.randrange(1000)
        return record

    def objects_short(self, line: str, record: dict) -> dict:
        """Drop the last confidence of objects, one fewer than the annotations."""
        record["bounding-box-metadata"]["objects"].pop()
        return record

    def image_32x32(self, line: str, record: dict) -> dict:
        """Make the image 32 x 32 px, too small, with boxes that still fit inside it."""
        rng = self.rng
        record["bounding-box"]["image_size"] = [{"width": 32, "height": 32, "depth": 3}]
        for box in record["bounding-box"]["annotations"]:
            box.update(top=rng.randint(0, 8), left=rng.randint(0, 8),
                       width=rng.randint(4, 16), height=rng.randint(4, 16))
        return record

    def too_many_boxes(self, line: str, record: dict) -> dict:
        """Put 60 valid boxes on the line (the limit is 50)."""
        size = record["bounding-box"]["image_size"][0]
        class_ids = [int(k) for k in record["bounding-box-metadata"]["class-map"]]
        record["bounding-box"]["annotations"] = [
            _random_box(self.rng, self.rng.choice(class_ids), size["width"], size["height"])
            for _ in range(60)
        ]
        record["bounding-box-metadata"]["objects"] = [{"confidence": 1}] * 60
        return record

    def empty_annotations(self, line: str, record: dict) -> dict:
        """Leave the detection without boxes (a warning)."""
        record["bounding-box"]["annotations"] = []
        record["bounding-box-metadata"]["objects"] = []
        record["bounding-box-metadata"]["class-map"] = {}
        return record


def generate(path: Path, lines: int, seed: int = 0, faulty: float = 0.0,
             target_bytes: int | None = None) -> tuple[int, int, Counter]:
    """Write the manifest to ``path``; return its line count, byte size and fault counts.

    With ``target_bytes``, lines are generated until the file reaches that size, whatever
    ``lines`` says.
    """
    factory = LineFactory(random.Random(seed))
    injector = FaultInjector(random.Random(f"faults-{seed}"), faulty) if faulty > 0 else None
    rnd = factory.rnd
    n = size = 0
    block: list[str] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        while (size < target_bytes) if target_bytes is not None else (n < lines):
            detection = rnd() < DETECTION_SHARE
            line = factory.detection(n) if detection else factory.classification(n)
            if injector is not None:
                line = injector.process(line, detection)
            block.append(line)
            size += len(line) + 1
            n += 1
            if len(block) == BLOCK_LINES:
                block.append("")
                out.write("\n".join(block).encode("ascii"))
                block.clear()
        if block:
            block.append("")
            out.write("\n".join(block).encode("ascii"))
    return n, size, (injector.counts if injector is not None else Counter())


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, generate the manifest and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="manifest to write")
    parser.add_argument("--lines", type=int, default=250_000, help="lines (default 250000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--faulty", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of faulty lines, 0..1 (default 0)")
    parser.add_argument("--target-bytes", type=lambda s: int(float(s)), metavar="B",
                        help="generate lines until the file is about B bytes (ignores --lines)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.faulty <= 1.0:
        parser.error("--faulty must be between 0 and 1")
    start = time.perf_counter()
    n, size, faults = generate(args.output, args.lines, args.seed, args.faulty, args.target_bytes)
    elapsed = time.perf_counter() - start
    if faults:
        print(f"faulty lines: {sum(faults.values())} ("
              + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())) + ")")
    print(f"wrote {args.output}: {n} lines, {size} bytes ({size / 1e6:.1f} MB) "
          f"in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
