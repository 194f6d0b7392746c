"""Batches of decoded images to the network's input, with the training augmentation.

Images arrive as uint8 arrays (N x H x W x 3, :class:`~customlabels.train.data.ImageBank`);
they go to the device as uint8 (a quarter of float32's bytes), and are augmented, scaled and
normalized there. Every random choice draws from a ``torch.Generator`` the caller seeds by
(seed, epoch), so that a resumed run draws what the uninterrupted one drew.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._torch import import_torch

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402

#: Random resized crop: the share of the image kept and the aspect ratios drawn (the
#: torchvision references' Inception-style crop, narrowed: the datasets here are small and
#: their objects often fill the frame, as the guide's examples do).
CROP_SCALE = (0.70, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)


def to_device(images: np.ndarray, device: Any) -> Any:
    """Return the uint8 batch ``images`` (N x H x W x 3) as an N x 3 x H x W tensor on
    ``device``."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device, non_blocking=True).permute(
        0, 3, 1, 2)


def augment(images: Any, generator: Any) -> Any:
    """Return the uint8 batch ``images`` (N x 3 x H x W) with each image flipped left-right
    with probability 1/2 and cropped at random (:data:`CROP_SCALE`, :data:`CROP_RATIO`),
    resized back to H x W."""
    n, _, height, width = images.shape
    draws = torch.rand((n, 4), generator=generator)
    out = torch.empty_like(images)
    area = height * width
    log_lo, log_hi = np.log(CROP_RATIO[0]), np.log(CROP_RATIO[1])
    for i in range(n):
        scale = CROP_SCALE[0] + (CROP_SCALE[1] - CROP_SCALE[0]) * float(draws[i, 0])
        ratio = float(np.exp(log_lo + (log_hi - log_lo) * float(draws[i, 1])))
        w = min(width, max(1, round((area * scale * ratio) ** 0.5)))
        h = min(height, max(1, round((area * scale / ratio) ** 0.5)))
        top = int(float(draws[i, 2]) * (height - h + 1))
        left = int(float(draws[i, 3]) * (width - w + 1))
        crop = images[i:i + 1, :, top:top + h, left:left + w].float()
        if (h, w) != (height, width):
            crop = torch.nn.functional.interpolate(crop, size=(height, width), mode="bilinear",
                                                   align_corners=False, antialias=False)
        out[i] = crop[0].round_().clamp_(0, 255).to(torch.uint8)
    flip = torch.rand(n, generator=generator) < 0.5
    if bool(flip.any()):
        out[flip] = out[flip].flip(-1)
    return out


class Normalize:
    """uint8 N x 3 x H x W to the network's float input: ``(x / 255 - mean) / std``, in
    channels-last memory order when asked (faster convolutions on CPU and on tensor cores)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device: Any,
                 channels_last: bool = True):
        self.scale = (1.0 / (255.0 * torch.tensor(std, dtype=torch.float32))).view(1, 3, 1, 1)
        self.shift = (torch.tensor(mean, dtype=torch.float32)
                      / torch.tensor(std, dtype=torch.float32)).view(1, 3, 1, 1)
        self.scale, self.shift = self.scale.to(device), self.shift.to(device)
        self.channels_last = channels_last

    def __call__(self, images: Any) -> Any:
        x = images.float() * self.scale - self.shift
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


# --- object detection: images and their boxes together -------------------------------------

#: Scale jitter for detection (``--zoom``): each training image is zoomed in by a factor drawn
#: in this range (a random square crop of side S / factor, resized back to S), its boxes with it.
ZOOM_RANGE = (1.0, 1.5)
#: A box cut by the crop is kept when at least this share of its area stays in view.
MIN_VISIBLE = 0.4


def hflip_boxes(boxes: Any, width: float) -> Any:
    """Return x0, y0, x1, y1 ``boxes`` (K x 4) mirrored left-right in an image ``width`` wide."""
    out = boxes.clone()
    out[:, 0], out[:, 2] = width - boxes[:, 2], width - boxes[:, 0]
    return out


def vflip_boxes(boxes: Any, height: float) -> Any:
    """Return ``boxes`` mirrored top-bottom in an image ``height`` high."""
    out = boxes.clone()
    out[:, 1], out[:, 3] = height - boxes[:, 3], height - boxes[:, 1]
    return out


def transpose_boxes(boxes: Any) -> Any:
    """Return ``boxes`` mirrored about the image's main diagonal (x and y swapped)."""
    return boxes[:, [1, 0, 3, 2]].clone()


def crop_boxes(boxes: Any, labels: Any, left: float, top: float, side: float, size: int,
               min_visible: float = MIN_VISIBLE) -> tuple[Any, Any]:
    """Return the boxes (and their labels) of a ``side`` x ``side`` crop at ``(left, top)``
    resized to ``size``: clipped to the crop, scaled, those with less than ``min_visible`` of
    their area in view left out."""
    scale = size / side
    shifted = boxes - torch.tensor([left, top, left, top], dtype=boxes.dtype)
    clipped = shifted.clamp(0, side)
    area = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    seen = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (seen >= min_visible * area) & (clipped[:, 2] - clipped[:, 0] >= 1 / scale) & (
        clipped[:, 3] - clipped[:, 1] >= 1 / scale)
    return clipped[keep] * scale, labels[keep]


def augment_detection(images: Any, boxes: list[Any], labels: list[Any], generator: Any, *,
                      rotations: bool = False, zoom: tuple[float, float] = ZOOM_RANGE
                      ) -> tuple[Any, list[Any], list[Any]]:
    """Return the uint8 batch ``images`` (N x 3 x S x S) and their boxes (pixels, K x 4 a
    image) and labels, each image zoomed in at random by a factor in ``zoom``, then flipped
    left-right with probability 1/2; with ``rotations`` also flipped top-bottom and
    transposed, each with probability 1/2 (the eight symmetries of a square: for images seen
    from above, like aerial photographs or microscope slides, where up has no meaning)."""
    n, _, height, width = images.shape
    draws = torch.rand((n, 6), generator=generator)
    out = torch.empty_like(images)
    new_boxes, new_labels = [], []
    for i in range(n):
        b, lab = boxes[i], labels[i]
        factor = zoom[0] + (zoom[1] - zoom[0]) * float(draws[i, 0])
        image = images[i:i + 1]
        if factor > 1.0:
            side = width / factor
            left = float(draws[i, 1]) * (width - side)
            top = float(draws[i, 2]) * (height - side)
            x0, y0 = int(left), int(top)
            x1, y1 = min(width, int(math.ceil(left + side))), min(height, int(math.ceil(top + side)))
            crop = image[:, :, y0:y1, x0:x1].float()
            image = torch.nn.functional.interpolate(crop, size=(height, width), mode="bilinear",
                                                    align_corners=False).round_().clamp_(0, 255)
            b, lab = crop_boxes(b, lab, float(x0), float(y0), float(x1 - x0), width)
        img = image[0]
        if float(draws[i, 3]) < 0.5:
            img, b = img.flip(-1), hflip_boxes(b, width)
        if rotations and float(draws[i, 4]) < 0.5:
            img, b = img.flip(-2), vflip_boxes(b, height)
        if rotations and float(draws[i, 5]) < 0.5:
            img, b = img.transpose(-1, -2), transpose_boxes(b)
        out[i] = img.to(torch.uint8)
        new_boxes.append(b)
        new_labels.append(lab)
    return out, new_boxes, new_labels
