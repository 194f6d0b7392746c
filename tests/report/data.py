"""Realistic inputs for the HTML report: real photographs, faulty manifests, predictions.

The photographs are scikit-image's (its wheel ships them), saved as JPEG in a mirror of
``s3://report-bucket/``. The detection dataset has boxes on the things in them, the faults
users really make (a box off the frame, a class id missing from the class map, a broken line,
the same image twice, an image that is not in the mirror) and a hostile label name; the
predictions have true positives, false positives and misses.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

#: A label name that would run a script if it reached the page unescaped.
HOSTILE = '<img src=x onerror="window.__pwned=1">"><script>window.__pwned=2</script>'
BUCKET = "s3://report-bucket/images/"
#: A line cut short, as an interrupted export leaves it.
BROKEN = '{"source-ref": "s3://report-bucket/images/broken.jpg", "bounding-box": '

#: photo -> (width, height, boxes as (label, left, top, width, height))
PHOTOS: dict[str, tuple[int, int, list[tuple[str, int, int, int, int]]]] = {
    "astronaut": (512, 512, [("face", 170, 40, 130, 160), ("flag", 0, 0, 110, 160)]),
    "coffee": (600, 400, [("cup", 150, 40, 330, 250)]),
    "chelsea": (451, 300, [("cat", 90, 20, 250, 270), ("face", 140, 60, 140, 120)]),
    "rocket": (640, 427, [("rocket", 260, 20, 110, 400)]),
    "motorcycle_left": (741, 500, [(HOSTILE, 140, 80, 420, 360)]),
    "horse": (400, 328, [("horse", 30, 20, 350, 290)]),
}
LABELS = sorted({box[0] for _, _, boxes in PHOTOS.values() for box in boxes})


def make_mirror(root: Path) -> Path:
    """Save the photographs as JPEG under ``root/images/``; return ``root``."""
    import skimage
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        suffix = ".jpg" if name == "rocket" else ".png"
        with Image.open(Path(skimage.data_dir) / f"{name}{suffix}") as image:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=85)
        (root / "images" / f"{name}.jpg").write_bytes(buffer.getvalue())
    images = root / "images"
    (images / "astronaut-copy.jpg").write_bytes((images / "astronaut.jpg").read_bytes())
    for n in range(12):  # the classification test set's images: copies of the photographs
        photo = root / "images" / f"{list(PHOTOS)[n % len(PHOTOS)]}.jpg"
        (root / "images" / f"class-{n}.jpg").write_bytes(photo.read_bytes())
    return root


def detection_line(name: str, boxes: list[tuple[str, float, float, float, float]] | None = None,
                   size: tuple[int, int] | None = None) -> dict[str, Any]:
    """Return one object-detection line of ``name`` (its boxes unless others are given)."""
    width, height, known = PHOTOS.get(name, (640, 480, []))
    width, height = size or (width, height)
    boxes = known if boxes is None else boxes
    ids = {label: LABELS.index(label) if label in LABELS else 99 for label, *_ in boxes}
    return {
        "source-ref": f"{BUCKET}{name}.jpg",
        "bounding-box": {
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": [{"class_id": ids[label], "left": left, "top": top, "width": w,
                             "height": h} for label, left, top, w, h in boxes]},
        "bounding-box-metadata": {
            "objects": [{"confidence": 1} for _ in boxes],
            "class-map": {str(ids[label]): label for label, *_ in boxes},
            "type": "groundtruth/object-detection", "human-annotated": "yes",
            "creation-date": "2024-05-01T10:00:00.000", "job-name": "labeling-job/photos"}}


def write_lines(path: Path, lines: list[Any]) -> Path:
    """Write JSON Lines (a str is written as it is: a broken line)."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def faulty_training(path: Path) -> Path:
    """Write a training manifest with the faults users make, each on a line we know.

    Line 2: a box off the frame (ERROR_INVALID_BOUNDING_BOX, box 1); line 3: a class id that
    is not in the class map (ERROR_MISSING_CLASS_MAP_ID, box 0); line 4: not JSON; line 5:
    the first line's image again (ERROR_DUPLICATE_SOURCE_REF); line 6: an image missing from
    the mirror (with --images); line 10: a box of the hostile label too small to train on
    (ERROR_BOUNDING_BOX_TOO_SMALL).
    """
    off_frame = detection_line("astronaut", [("face", 170, 40, 130, 160),
                                             ("flag", 450, 300, 200, 260)])
    off_frame["source-ref"] = f"{BUCKET}astronaut-copy.jpg"
    missing_id = detection_line("chelsea")
    missing_id["bounding-box-metadata"]["class-map"].pop(str(LABELS.index("cat")))
    lines: list[Any] = [detection_line("coffee"), off_frame, missing_id,
                        BROKEN,
                        detection_line("coffee"), detection_line("not-there"),
                        detection_line("rocket"), detection_line("horse"),
                        detection_line("motorcycle_left")]
    small = detection_line("motorcycle_left", [(HOSTILE, 140, 80, 0.5, 0.5)])
    small["source-ref"] = f"{BUCKET}motorcycle_left-small.jpg"
    return write_lines(path, [*lines, small])


def test_manifest(path: Path) -> Path:
    """Write a testing manifest of four photographs."""
    return write_lines(path, [detection_line(n) for n in
                              ("astronaut", "chelsea", "motorcycle_left", "horse")])


def _prediction(label: str, confidence: float, box: tuple[float, float, float, float],
                size: tuple[int, int]) -> dict[str, Any]:
    left, top, width, height = box
    return {"Name": label, "Confidence": confidence, "Geometry": {"BoundingBox": {
        "Left": left / size[0], "Top": top / size[1], "Width": width / size[0],
        "Height": height / size[1]}}}


def detections(path: Path) -> Path:
    """Write DetectCustomLabels responses for :func:`test_manifest`: true positives, a false
    positive of each of two labels, a miss (chelsea's face) and the hostile label found."""
    out = []
    for name, found in {
            "astronaut": [("face", 97.0, (172, 44, 126, 150)), ("flag", 88.0, (4, 2, 100, 150)),
                          ("cup", 71.0, (300, 300, 120, 120))],
            "chelsea": [("cat", 91.0, (95, 25, 240, 260)), ("face", 35.0, (10, 200, 60, 60))],
            "motorcycle_left": [(HOSTILE, 93.0, (150, 90, 400, 340))],
            "horse": [("horse", 95.0, (35, 25, 340, 280)), ("flag", 64.0, (300, 10, 90, 90))],
    }.items():
        width, height, _ = PHOTOS[name]
        out.append({"source-ref": f"{BUCKET}{name}.jpg", "CustomLabels": [
            _prediction(label, score, box, (width, height)) for label, score, box in found]})
    return write_lines(path, out)


def classification_files(folder: Path) -> tuple[Path, Path]:
    """Write a classification testing manifest of 12 images (3 labels, the hostile one among
    them) and predictions with some confusions; return (test, predictions)."""
    from customlabels.manifest.schema import CLASSIFICATION

    labels = ["cat", "dog", HOSTILE]
    truth = [labels[i % 3] for i in range(12)]
    guesses = list(truth)
    guesses[1], guesses[5], guesses[9] = "cat", "cat", "dog"  # dog->cat, hostile->cat, ->dog
    lines, predictions = [], []
    for n, (label, guess) in enumerate(zip(truth, guesses)):
        ref = f"{BUCKET}class-{n}.jpg"
        lines.append({"source-ref": ref, "species": 0, "species-metadata": {
            "confidence": 1, "class-name": label, "human-annotated": "yes",
            "creation-date": "2024-05-01T10:00:00.000", "type": CLASSIFICATION,
            "job-name": "labeling-job/species"}})
        predictions.append({"source-ref": ref, "CustomLabels": [
            {"Name": guess, "Confidence": 60.0 + 3 * n}]})
    return (write_lines(folder / "classes.manifest", lines),
            write_lines(folder / "classes-predictions.jsonl", predictions))
