"""The loops: one training epoch, and predictions on a set of images.

Plain data in and out (numbers, arrays); what an epoch means for the version (early stopping,
checkpoints, the store) is :mod:`customlabels.train.run`'s business.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import ModelError
from ._torch import import_torch
from .transforms import Normalize, augment, to_device

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402


class EpochStats(NamedTuple):
    """One training epoch: mean loss, images seen, seconds, and whether a time budget cut it."""

    loss: float
    images: int
    seconds: float
    cut: bool


class LossNotFinite(ModelError):
    """The training loss became NaN or infinite: training stops, the version is failed."""


def autocast(device: Any, enabled: bool) -> Any:
    """Return the mixed-precision context for ``device`` (bfloat16 where the GPU has it, else
    float16); a no-op context on the CPU or when not ``enabled``."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def loss_function(multi_label: bool) -> Any:
    """Return the loss: cross entropy with label smoothing 0.1 for one label an image
    (Szegedy et al. 2016, "Rethinking the Inception Architecture", section 7), binary cross
    entropy a label for several."""
    if multi_label:
        return torch.nn.BCEWithLogitsLoss()
    return torch.nn.CrossEntropyLoss(label_smoothing=0.1)


def train_one_epoch(model: Any, bank: Any, order: Sequence[int],
                    step_loss: Callable[[Any, list[int], np.ndarray], Any], *,
                    batch_size: int, optimizer: Any, scheduler: Any, device: Any,
                    amp: bool = False, scaler: Any = None, deadline: float | None = None,
                    progress: Callable[[int, float], None] | None = None,
                    epoch: int = 0) -> EpochStats:
    """Train ``model`` on the images ``order`` of ``bank`` once; return the epoch's figures.

    ``step_loss(model, indices, images)``: the batch's loss (the task's augmentation, targets
    and loss; :func:`classification_step`, or the detector's). ``deadline``: a
    ``time.monotonic()`` past which the epoch stops after its current batch.
    ``progress(images, loss)`` after each batch. :class:`LossNotFinite` when the loss is NaN
    or infinite.
    """
    model.train()
    started = time.monotonic()
    total, seen, cut = 0.0, 0, False
    for step, (indices, images) in enumerate(bank.batches(order, batch_size)):
        with autocast(device, amp):
            loss = step_loss(model, indices, images)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise LossNotFinite(
                f"the training loss became {value} at epoch {epoch}, batch {step + 1}; "
                "training stopped. Lower --learning-rate, or check the images and labels")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        total += value * len(indices)
        seen += len(indices)
        if progress is not None:
            progress(len(indices), value)
        if deadline is not None and time.monotonic() >= deadline:
            cut = True
            break
    return EpochStats(total / max(seen, 1), seen, time.monotonic() - started, cut)


def classification_step(targets: Any, loss_fn: Any, normalize: Normalize, device: Any,
                        generator: Any) -> Callable[[Any, list[int], np.ndarray], Any]:
    """Return the classifier's ``step_loss``: the batch augmented (:func:`augment`) and
    normalized, its rows of ``targets``, ``loss_fn`` on the logits."""
    def step_loss(model: Any, indices: list[int], images: np.ndarray) -> Any:
        x = normalize(augment(to_device(images, device), generator))
        y = targets[torch.as_tensor(indices)].to(device, non_blocking=True)
        return loss_fn(model(x), y)

    return step_loss


def predict(model: Any, bank: Any, indices: Sequence[int], *, batch_size: int, device: Any,
            normalize: Normalize, multi_label: bool, amp: bool = False,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Return the probabilities (N x labels, float64) of ``model`` on the images ``indices``
    of ``bank``: softmax over the labels, or a sigmoid a label for several labels."""
    model.eval()
    out = []
    with torch.inference_mode():
        for chunk, images in bank.batches(list(indices), batch_size):
            with autocast(device, amp):
                logits = model(normalize(to_device(images, device))).float()
            probs = torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=1)
            out.append(probs.cpu().double().numpy())
            if progress is not None:
                progress(len(chunk))
    return np.concatenate(out) if out else np.zeros((0, 0))


def test_loss(probabilities: np.ndarray, targets: np.ndarray, multi_label: bool) -> float:
    """Return the mean loss of ``probabilities`` against ``targets`` (without smoothing)."""
    p = np.clip(probabilities, 1e-7, 1 - 1e-7)
    if multi_label:
        return float(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean())
    return float(-np.log(p[np.arange(len(targets)), targets.astype(np.int64)]).mean())


def macro_f1(probabilities: np.ndarray, truth: np.ndarray, multi_label: bool) -> float:
    """Return the mean over labels of F1 (top-1 for one label an image, p >= 0.5 a label for
    several): the metric early stopping watches."""
    n = probabilities.shape[1]
    if multi_label:
        predicted = probabilities >= 0.5
        actual = truth.astype(bool)
    else:
        predicted = np.eye(n, dtype=bool)[probabilities.argmax(axis=1)]
        actual = np.eye(n, dtype=bool)[truth.astype(np.int64)]
    scores = []
    for label in range(n):
        tp = float(np.sum(predicted[:, label] & actual[:, label]))
        fp = float(np.sum(predicted[:, label] & ~actual[:, label]))
        fn = float(np.sum(~predicted[:, label] & actual[:, label]))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(scores)) if scores else float("nan")
