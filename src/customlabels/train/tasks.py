"""What differs between the two model kinds while training: classification and detection.

:mod:`customlabels.train.run` does what both share (the store, validation, the banks, the
epochs, checkpoints, resume, early stopping, the evaluation). A task says how its network is
built, what a training batch's loss is, how the test set is predicted and scored each epoch
(the score early stopping watches), how the predictions are written for ``customlabels
evaluate``, and what ``model.pt`` keeps to rebuild the network.
"""

from __future__ import annotations

import os
import tempfile
from itertools import groupby
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..manifest.writer import dumps_line
from ._torch import import_torch

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402

from . import data, detection, engine, models  # noqa: E402
from .predict import CONFIDENCE_PLACES, bounding_box  # noqa: E402
from .transforms import Normalize, augment_detection, to_device  # noqa: E402

CLASSIFICATION, DETECTION = "classification", "detection"
#: The defaults that differ by kind (``Settings`` fields left None take these).
DEFAULTS = {
    CLASSIFICATION: {"batch_size": 32, "epochs": 10, "patience": 3, "learning_rate": 1e-3,
                     "zoom": 1.0},
    DETECTION: {"batch_size": 4, "epochs": 60, "patience": 15, "learning_rate": 1e-3,
                "zoom": 1.5},
}
#: The detector's input side when ``--image-size`` is not given.
DETECTION_IMAGE_SIZE = 512
#: Boxes an image kept in the test predictions (COCO's 100, which its mAP counts).
EVALUATION_DETECTIONS = 100


class ClassificationTask:
    """One or several labels an image; scored by the test set's macro F1."""

    kind = CLASSIFICATION

    def __init__(self, run: Any):
        self.run = run
        self.multi_label = any(len(ex.labels) > 1 for ex in run.train_set + run.test_set)
        self.targets, _ = self._targets(run.train_set)
        _, self.truth = self._targets(run.test_set)
        self.known = self.truth >= 0 if not self.multi_label else slice(None)

    def _targets(self, found: list[data.Example]) -> tuple[Any, np.ndarray]:
        """Return the loss's targets (a tensor) and the truth (an array) of ``found``."""
        labels = self.run.labels
        index = {name: i for i, name in enumerate(labels)}
        if self.multi_label:
            rows = np.zeros((len(found), len(labels)), dtype=np.float32)
            for r, ex in enumerate(found):
                for name in ex.labels:
                    if name in index:
                        rows[r, index[name]] = 1.0
            return torch.from_numpy(rows), rows
        first = np.array([index.get(ex.labels[0], -1) for ex in found], dtype=np.int64)
        return torch.from_numpy(first), first

    def build(self) -> Any:
        s = self.run.s
        network = models.build_model(s.model, len(self.run.labels), pretrained=s.pretrained)
        if s.pretrained and s.freeze:
            models.freeze_early_layers(network, s.model)
        return network

    def step_loss(self, normalize: Normalize, generator: Any) -> Callable[..., Any]:
        return engine.classification_step(self.targets, engine.loss_function(self.multi_label),
                                          normalize, self.run.device, generator)

    def predict(self, network: Any, amp: bool) -> np.ndarray:
        """Return the probabilities on the testing images (N x labels)."""
        run = self.run
        return engine.predict(network, run.test_bank, range(len(run.test_set)),
                              batch_size=run.batch_size, device=run.device,
                              normalize=run.normalize, multi_label=self.multi_label, amp=amp)

    def score(self, predicted: np.ndarray) -> tuple[float, float]:
        """Return the test set's macro F1 and loss."""
        probs, truth = predicted[self.known], self.truth[self.known]
        return (engine.macro_f1(probs, truth, self.multi_label),
                engine.test_loss(probs, truth, self.multi_label))

    def lines(self, predicted: np.ndarray) -> Iterable[bytes]:
        """Yield the test predictions' lines: every label with its confidence."""
        for ex, row in zip(self.run.test_set, predicted):
            ranked = sorted(zip(self.run.labels, row), key=lambda item: (-item[1], item[0]))
            yield dumps_line({"source-ref": ex.source_ref, "CustomLabels": [
                {"Name": name, "Confidence": round(float(p) * 100, CONFIDENCE_PLACES)}
                for name, p in ranked]}) + b"\n"

    def saved(self) -> dict[str, Any]:
        return {"multi_label": self.multi_label}


class DetectionTask:
    """Bounding boxes; scored by the test set's COCO mAP, from the evaluation engine."""

    kind = DETECTION
    multi_label = False

    def __init__(self, run: Any):
        self.run = run
        s = run.s
        size = run.size
        sides = [max((x1 - x0) * w, (y1 - y0) * h) for ex in run.train_set
                 for w, h in [data.extent(ex, size)] for _, x0, y0, x1, y1 in ex.boxes]
        self.config = detection.DetectorConfig(
            s.model, len(run.labels), size, levels=detection.choose_levels(sides, size))
        index = {name: i for i, name in enumerate(run.labels)}
        self.boxes, self.classes = _targets(run.train_set, index, size)
        self.test_boxes, self.test_classes = _targets(run.test_set, index, size)
        self.test_losses: list[float] = []

    def build(self) -> Any:
        s = self.run.s
        return detection.Detector(self.config, pretrained=s.pretrained, freeze=s.freeze)

    def step_loss(self, normalize: Normalize, generator: Any) -> Callable[..., Any]:
        device, rotations = self.run.device, self.run.s.rotations
        zoom = (1.0, float(self.run.s.zoom or 1.0))

        def step(model: Any, indices: list[int], images: np.ndarray) -> Any:
            x, boxes, labels = augment_detection(
                to_device(images, "cpu"), [self.boxes[i] for i in indices],
                [self.classes[i] for i in indices], generator, rotations=rotations, zoom=zoom)
            targets = [{"boxes": b.to(device), "labels": lab.to(device)}
                       for b, lab in zip(boxes, labels)]
            return model(normalize(x.to(device, non_blocking=True)), targets)

        return step

    def predict(self, network: Any, amp: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Return each testing image's boxes (ratios of the image), scores and labels, tiles
        merged."""
        run = self.run
        network.eval()
        per_tile = []
        losses = []
        with torch.inference_mode():
            for chunk, images in run.test_bank.batches(list(range(len(run.test_set))),
                                                       run.batch_size):
                x = run.normalize(to_device(images, run.device))
                with engine.autocast(run.device, amp):
                    targets = [{"boxes": self.test_boxes[i].to(run.device),
                                "labels": self.test_classes[i].to(run.device)} for i in chunk]
                    loss, (boxes, scores) = network.loss_and_decode(x, targets)
                losses.append(float(loss) * len(chunk))
                per_tile.extend(detection.postprocess(boxes.float(), scores.float(),
                                                      max_detections=EVALUATION_DETECTIONS))
        self.test_losses = [sum(losses) / max(len(run.test_set), 1)]
        out, start = [], 0
        for _line, group in groupby(run.test_set, key=lambda ex: ex.line):  # an image's tiles
            tiles = list(group)
            out.append(detection.merge_tiles(
                per_tile[start:start + len(tiles)], [ex.region for ex in tiles],
                [data.extent(ex, run.size) for ex in tiles], EVALUATION_DETECTIONS))
            start += len(tiles)
        return out

    def score(self, predicted: list[Any]) -> tuple[float, float]:
        """Return the test set's COCO mAP (IoU 0.50:0.95) and loss."""
        from ..metrics.evaluation import evaluate_files

        run = self.run
        handle, path = tempfile.mkstemp(prefix=".epoch-", suffix=".jsonl", dir=run.folder)
        try:
            with os.fdopen(handle, "wb") as stream:
                for line in self.lines(predicted):
                    stream.write(line)
            result = evaluate_files(run.test_path, path, backend=run.backend)
        finally:
            os.unlink(path)
        ap = float("nan") if result.coco is None else float(result.coco.stats[0])
        return (0.0 if not np.isfinite(ap) else ap), self.test_losses[0]

    def lines(self, predicted: list[Any]) -> Iterable[bytes]:
        """Yield the test predictions' lines: each image's boxes, the most confident first."""
        labels = self.run.labels
        for ex, (boxes, scores, classes) in zip(self.run.test_images, predicted):
            yield dumps_line({"source-ref": ex.source_ref, "CustomLabels": [
                {"Name": labels[int(c)], "Confidence": round(float(p) * 100, CONFIDENCE_PLACES),
                 "Geometry": {"BoundingBox": bounding_box(box)}}
                for box, p, c in zip(boxes, scores, classes)]}) + b"\n"

    def saved(self) -> dict[str, Any]:
        return {"multi_label": False, "detector": self.config.as_dict(),
                "tile": self.run.s.tile}


def _targets(found: list[data.Example], index: dict[str, int], size: int
             ) -> tuple[list[Any], list[Any]]:
    """Return the boxes (K x 4, pixels of the letterboxed input) and label indices of each
    example."""
    boxes, classes = [], []
    for ex in found:
        w, h = data.extent(ex, size)
        boxes.append(torch.tensor([[x0 * w, y0 * h, x1 * w, y1 * h]
                                   for _, x0, y0, x1, y1 in ex.boxes],
                                  dtype=torch.float32).reshape(-1, 4))
        classes.append(torch.tensor([index.get(name, 0) for name, *_ in ex.boxes],
                                    dtype=torch.int64))
    return boxes, classes
