"""Object detection end to end on CPU: boxes from the manifest, paired transforms, the detector
learns a toy set, ``detect`` answers with boxes, exports keep the boxes.

Small and seeded: 96 px noise with bright discs and squares pasted on it
(``tests/train/toy.py``), a few epochs of the MobileNetV2 detector at 128 px.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import customlabels  # noqa: E402
from customlabels.store import TRAINING_COMPLETED, Store  # noqa: E402
from customlabels.train import data, detection, transforms  # noqa: E402
from customlabels.train.predict import bounding_box  # noqa: E402

from tests.train.toy import detection_line, make_detection_set  # noqa: E402

#: A toy detection run: small images, few epochs, the CPU.
FAST = {"image_size": 128, "batch_size": 8, "epochs": 6, "device": "cpu", "patience": 0,
        "model": "mobilenet_v2"}


@pytest.fixture(scope="module")
def boxes_toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A training and a testing detection manifest (48 + 12 images) and their mirror."""
    root = tmp_path_factory.mktemp("boxes")
    train, mirror = make_detection_set(root, 48, seed=1, name="train.manifest")
    test, _ = make_detection_set(root, 12, seed=2, name="test.manifest")
    return train, test, mirror


@pytest.fixture(scope="module")
def detector(boxes_toy: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[customlabels.train.run.TrainResult, Path]:
    train, test, mirror = boxes_toy
    store = tmp_path_factory.mktemp("store")
    result = customlabels.train(str(train), str(test), images=str(mirror), project="boxes",
                                version="v1", store=store, **FAST)
    return result, store


# --- the detector learns -------------------------------------------------------------------

def test_the_detector_learns_the_toy_set(detector: tuple) -> None:
    result, store = detector
    assert result.ok and result.status == TRAINING_COMPLETED, result.message
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    coco = result.evaluation["coco"]["stats"]
    # 6 epochs of 6 batches: the shapes are found (AP50 0.96 when this test was written)
    assert coco["AP50"] >= 0.8, coco
    assert all(e.test_map is not None and e.test_macro_f1 is None for e in result.epochs)
    described = Store(store).describe("boxes", "v1")
    assert described["Model"]["Kind"] == "detection"
    assert described["Model"]["Levels"] == [8, 16, 32]
    assert {label["Name"] for label in described["Model"]["Labels"]} == {"disc", "square"}
    folder = Path(described["Folder"])
    assert (folder / "evaluation" / "test-predictions.jsonl").exists()
    summary = next((folder / "evaluation").glob("EvaluationSummary*.json"))
    doc = json.loads(summary.read_text())
    assert doc["EvaluationDetails"]["NumberOfTestingImages"] == 12
    assert {r["Label"] for r in doc["LabelEvaluationResults"]} == {"disc", "square"}
    metrics = doc["AggregatedEvaluationResults"]["Metrics"]
    assert metrics["AveragePrecision"] == pytest.approx(coco["AP"])


def test_detect_returns_boxes_as_the_service(detector: tuple, boxes_toy: tuple) -> None:
    result, store = detector
    _, test, mirror = boxes_toy
    model = customlabels.load_model("boxes", "v1", store=store, device="cpu")
    assert model.detects_boxes
    image = mirror / "box" / "2-000.png"
    answer = model.detect(str(image))
    found = answer["CustomLabels"]
    assert found, answer
    confidences = [entry["Confidence"] for entry in found]
    assert confidences == sorted(confidences, reverse=True)
    for entry in found:
        assert entry["Name"] in {"disc", "square"}
        box = entry["Geometry"]["BoundingBox"]
        assert set(box) == {"Width", "Height", "Left", "Top"}
        assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1
        assert box["Left"] + box["Width"] <= 1 + 1e-6 and box["Top"] + box["Height"] <= 1 + 1e-6
        # the default MinConfidence is the label's assumed threshold
        assert entry["Confidence"] >= round(model.thresholds[entry["Name"]], 4)
    everything = model.detect(str(image), min_confidence=0)["CustomLabels"]
    assert len(everything) == 50  # at most 50 boxes an image unless asked
    assert len(model.detect(str(image), min_confidence=0, max_results=80)["CustomLabels"]) == 80
    assert len(model.detect(str(image), min_confidence=0, max_results=2)["CustomLabels"]) == 2
    # the same answer for a path, bytes, a PIL image and an array
    from PIL import Image

    with Image.open(image) as opened:
        rgb = opened.convert("RGB")
    for given in (image.read_bytes(), rgb, np.asarray(rgb)):
        assert model.detect(given) == answer
    # the best box lies on a shape of the image (IoU with a true box at least 0.5)
    truth = json.loads(test.read_text().splitlines()[0])["objects"]["annotations"]
    best = found[0]["Geometry"]["BoundingBox"]
    ious = [_iou(best, {"Left": t["left"] / 96, "Top": t["top"] / 96, "Width": t["width"] / 96,
                        "Height": t["height"] / 96}) for t in truth]
    assert max(ious) >= 0.5


def _iou(a: dict, b: dict) -> float:
    x0, y0 = max(a["Left"], b["Left"]), max(a["Top"], b["Top"])
    x1 = min(a["Left"] + a["Width"], b["Left"] + b["Width"])
    y1 = min(a["Top"] + a["Height"], b["Top"] + b["Height"])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a["Width"] * a["Height"] + b["Width"] * b["Height"] - inter)


def test_detect_command_output_feeds_evaluate(detector: tuple, boxes_toy: tuple,
                                              tmp_path: Path) -> None:
    from customlabels.cli.main import main

    _, store = detector
    _, test, mirror = boxes_toy
    out = tmp_path / "predictions.jsonl"
    assert main(["detect", str(test), "--images", str(mirror), "--project", "boxes",
                 "--version", "v1", "--store", str(store), "--output", str(out),
                 "--min-confidence", "0"]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 12 and all("Geometry" in e for x in lines for e in x["CustomLabels"])
    from customlabels.metrics.evaluation import evaluate_files

    evaluated = evaluate_files(str(test), str(out))
    assert evaluated.coco is not None and evaluated.coco.stats[1] >= 0.8


def test_draw_writes_the_boxes_and_never_over_an_input(detector: tuple, boxes_toy: tuple,
                                                       tmp_path: Path) -> None:
    from PIL import Image

    from customlabels.cli.main import main

    _, store = detector
    _, _, mirror = boxes_toy
    folder = tmp_path / "in"
    folder.mkdir()
    source = mirror / "box" / "2-000.png"
    (folder / "2-000.png").write_bytes(source.read_bytes())
    before = (folder / "2-000.png").read_bytes()
    assert main(["detect", str(folder / "2-000.png"), "--project", "boxes", "--version", "v1",
                 "--store", str(store), "--draw", str(folder), "--output",
                 str(tmp_path / "p.jsonl")]) == 0
    assert (folder / "2-000.png").read_bytes() == before  # the input is left alone
    drawn = folder / "2-000-2.png"
    with Image.open(drawn) as image:
        assert image.size == (96, 96)
        pixels = np.asarray(image.convert("RGB"))
    boxes = json.loads((tmp_path / "p.jsonl").read_text())["CustomLabels"]
    assert boxes
    lime = (pixels == (50, 205, 50)).all(axis=2)  # PIL's "limegreen"
    box = boxes[0]["Geometry"]["BoundingBox"]
    left, top = round(box["Left"] * 96), round(box["Top"] * 96)
    assert lime.sum() > 20 and lime[max(0, top - 1):top + 2, left:left + 10].any()


def test_exports_keep_the_boxes(detector: tuple, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from customlabels.train.export import export_model

    _, store = detector
    model = customlabels.load_model("boxes", "v1", store=store, device="cpu")
    rng = np.random.default_rng(0)
    images = rng.random((2, 3, 128, 128), dtype=np.float32)
    with torch.inference_mode():
        ref_boxes, ref_scores = model.network.float().to(memory_format=torch.contiguous_format)(
            (torch.from_numpy(images) - torch.tensor(model.mean).view(1, 3, 1, 1))
            / torch.tensor(model.std).view(1, 3, 1, 1))
    reference = detection.postprocess(ref_boxes, ref_scores, max_detections=50)
    onnx = export_model("boxes", "v1", "onnx", output=str(tmp_path / "m.onnx"), store=store)
    session = ort.InferenceSession(onnx["file"], providers=["CPUExecutionProvider"])
    boxes, scores = session.run(["boxes", "scores"], {"images": images})
    script = export_model("boxes", "v1", "torchscript", output=str(tmp_path / "m.pt"),
                          store=store)
    traced = torch.jit.load(script["file"])
    with torch.inference_mode():
        t_boxes, t_scores = traced(torch.from_numpy(images))
    for got_boxes, got_scores in ((boxes, scores), (t_boxes, t_scores)):
        got = detection.postprocess(got_boxes, got_scores, max_detections=50)
        for (rb, rs, rl), (gb, gs, gl) in zip(reference, got):
            assert len(rb) == len(gb) and (rl == gl).all()
            np.testing.assert_allclose(gb, rb, atol=1e-3)
            np.testing.assert_allclose(gs, rs, atol=1e-5)
    sidecar = json.loads(Path(onnx["labels"]).read_text())
    assert sidecar["output"]["postprocess"]["max_detections"] == 50
    assert [x["Name"] for x in sidecar["labels"]] == ["disc", "square"]


def test_tiled_training_and_detection(tmp_path: Path) -> None:
    train, mirror = make_detection_set(tmp_path, 12, seed=3, size=(200, 160), per_image=6,
                                       name="train.manifest")
    test, _ = make_detection_set(tmp_path, 4, seed=4, size=(200, 160), per_image=6,
                                 name="test.manifest")
    result = customlabels.train(str(train), str(test), images=str(mirror), project="tiles",
                                store=tmp_path / "store", tile=100, **{**FAST, "epochs": 2})
    assert result.ok, result.message
    assert result.description["Model"]["Tile"] == 100
    assert result.description["Model"]["TrainingImages"] == 12 * 4  # 2 x 2 tiles an image
    model = customlabels.load_model("tiles", result.version, store=tmp_path / "store",
                                    device="cpu")
    answer = model.detect(str(next((mirror / "box").glob("4-000.png"))), min_confidence=0)
    assert answer["CustomLabels"]
    lines = (Path(result.version_dir) / "evaluation" / "test-predictions.jsonl").read_text()
    assert len(lines.splitlines()) == 4  # one line an image, its tiles merged


# --- boxes from the manifest ---------------------------------------------------------------

def test_only_the_boxes_the_validator_keeps_train(tmp_path: Path) -> None:
    from customlabels.validation.pipeline import image_source, validate_files

    _, mirror = make_detection_set(tmp_path, 3, seed=5, name="unused.manifest")
    labels = ["disc", "square"]
    good = detection_line("box/5-000.png", 96, 96, [("disc", 10, 10, 20, 20),
                                                  ("square", 50, 50, 30, 30)], labels)
    faulty = detection_line("box/5-001.png", 96, 96, [("disc", 10, 10, 20, 20),
                                                    ("square", 80, 80, 40, 40)], labels)
    empty = detection_line("box/5-002.png", 96, 96, [], labels)
    manifest = tmp_path / "mixed.manifest"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in (good, faulty, empty)))
    scans: dict = {}
    report = validate_files(str(manifest), None, images=str(mirror), keep_scans=scans)
    codes = {(i["line"], i["code"]) for i in report["issues"]}
    assert (3, "WARNING_NO_ANNOTATIONS") in codes
    assert any(line == 2 and code.startswith("ERROR_") for line, code in codes), codes
    found = data.examples(str(manifest), scans["training"], image_source(str(mirror)),
                          detection=True)
    by_line = {ex.line: ex for ex in found}
    assert set(by_line) == {1, 2}  # the line without a box is not a training image
    assert by_line[1].boxes == (("disc", 10 / 96, 10 / 96, 30 / 96, 30 / 96),
                                ("square", 50 / 96, 50 / 96, 80 / 96, 80 / 96))
    assert [b[0] for b in by_line[2].boxes] == ["disc"]  # the box outside the image is left out
    assert by_line[1].size == (96, 96)


def test_boxes_are_ratios_of_the_declared_image_size() -> None:
    obj = detection_line("a.png", 200, 100, [("disc", 20, 10, 40, 30)], ["disc"])
    boxes, size = data.line_boxes(obj, [])
    assert size == (200, 100)
    assert boxes == (("disc", 0.1, 0.1, 0.3, 0.4),)


def test_tiles_cover_the_image_and_boxes_follow_their_centre() -> None:
    regions = data.tiles(250, 100, 100)
    assert regions == [(0.0, 0.0, 0.4, 1.0), (0.4, 0.0, 0.8, 1.0), (0.6, 0.0, 1.0, 1.0)]
    assert data.tiles(80, 60, 100) == [(0.0, 0.0, 1.0, 1.0)]
    # a box centred at x = 90 px (tile 1 only), one across tiles 2 and 3 at x = 175
    ex = data.Example(1, "s3://b/k", "b/k", ("a",), (("a", 0.3, 0.1, 0.42, 0.5),
                                                     ("a", 0.66, 0.2, 0.74, 0.6)), None,
                      (250, 100))
    tiled = data.tile_examples([ex], 100)
    assert [t.region for t in tiled] == regions
    first, second, third = (t.boxes for t in tiled)
    assert len(first) == 1 and first[0][3] == pytest.approx(1.0)  # clipped at the tile's edge
    assert first[0][1] == pytest.approx(0.75)
    assert len(second) == 1 and len(third) == 1  # the overlap holds the centre of both tiles
    assert third[0][1] == pytest.approx((0.66 - 0.6) / 0.4)


def test_letterboxing_keeps_the_aspect_ratio() -> None:
    assert data.content_size(200, 100, 64) == (64, 32)
    assert data.content_size(30, 90, 60) == (20, 60)
    from PIL import Image

    rgb = Image.new("RGB", (200, 100), (255, 0, 0))
    out = data.fit(rgb, 64, None, (64, 32))
    assert out.shape == (64, 64, 3)
    assert (out[:32] == (255, 0, 0)).all() and (out[32:] == data.PAD_VALUE).all()


# --- paired transforms ---------------------------------------------------------------------

def _random_boxes(rng: np.random.Generator, n: int, size: int) -> torch.Tensor:
    xy = rng.uniform(0, size - 20, (n, 2))
    wh = rng.uniform(4, 20, (n, 2))
    return torch.tensor(np.concatenate([xy, xy + wh], axis=1), dtype=torch.float32)


def test_a_flip_or_transpose_twice_is_the_identity() -> None:
    boxes = _random_boxes(np.random.default_rng(0), 20, 100)
    twice = (transforms.hflip_boxes(transforms.hflip_boxes(boxes, 100), 100),
             transforms.vflip_boxes(transforms.vflip_boxes(boxes, 100), 100))
    for got in twice:  # 100 - (100 - x) is x to the float's last bit
        torch.testing.assert_close(got, boxes, rtol=0, atol=1e-5)
    assert not torch.allclose(transforms.hflip_boxes(boxes, 100), boxes)
    assert torch.equal(transforms.transpose_boxes(transforms.transpose_boxes(boxes)), boxes)
    flipped = transforms.hflip_boxes(boxes, 100)
    assert (flipped[:, 2] > flipped[:, 0]).all()  # still x0 < x1


@pytest.mark.parametrize("rotations", [False, True])
def test_augmented_boxes_stay_on_their_objects_and_inside_the_image(rotations: bool) -> None:
    """Paint each box's area white on black; after the paired transforms, the pixels inside
    every box are (nearly all) white and every box lies inside the image."""
    rng = np.random.default_rng(1)
    size, n = 96, 8
    images = torch.zeros((n, 3, size, size), dtype=torch.uint8)
    boxes, labels = [], []
    for i in range(n):
        b = _random_boxes(rng, 3, size).round()
        for x0, y0, x1, y1 in b.int().tolist():
            images[i, :, y0:y1, x0:x1] = 255
        boxes.append(b)
        labels.append(torch.arange(3))
    generator = torch.Generator().manual_seed(0)
    out, new_boxes, new_labels = transforms.augment_detection(images, boxes, labels, generator,
                                                              rotations=rotations)
    assert out.shape == images.shape and out.dtype == torch.uint8
    for i in range(n):
        b = new_boxes[i]
        assert len(b) == len(new_labels[i])
        assert (b >= 0).all() and (b <= size).all()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        for x0, y0, x1, y1 in b.tolist():
            inner = out[i, 0, int(np.ceil(y0)) + 1:int(y1) - 1, int(np.ceil(x0)) + 1:int(x1) - 1]
            if inner.numel():
                assert float((inner > 128).float().mean()) > 0.9


def test_the_augmentation_draws_from_the_seeded_generator() -> None:
    images = torch.randint(0, 255, (4, 3, 64, 64), dtype=torch.uint8)
    boxes = [_random_boxes(np.random.default_rng(i), 2, 64) for i in range(4)]
    labels = [torch.zeros(2, dtype=torch.int64)] * 4
    a = transforms.augment_detection(images, boxes, labels, torch.Generator().manual_seed(3),
                                     rotations=True)
    b = transforms.augment_detection(images, boxes, labels, torch.Generator().manual_seed(3),
                                     rotations=True)
    assert torch.equal(a[0], b[0]) and all(torch.equal(x, y) for x, y in zip(a[1], b[1]))


def test_levels_follow_the_box_sizes() -> None:
    assert detection.choose_levels([30] * 100, 512) == (8, 16, 32)
    assert detection.choose_levels([8] * 20 + [40] * 80, 512) == (4, 8, 16, 32)
    assert detection.choose_levels([600] * 100, 1024) == (8, 16, 32, 64)
    assert detection.choose_levels([], 512) == (8, 16, 32)


def test_bounding_box_ratios() -> None:
    assert bounding_box((0.1, 0.2, 0.4, 0.8)) == {"Width": 0.3, "Height": 0.6, "Left": 0.1,
                                                  "Top": 0.2}
    assert bounding_box((-0.1, 0.5, 1.2, 1.0))["Width"] == 1.0  # clipped to the image
