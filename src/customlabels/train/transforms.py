"""Batches of decoded images to the network's input, with the training augmentation.

Images arrive as uint8 arrays (N x H x W x 3, :class:`~customlabels.train.data.ImageBank`);
they go to the device as uint8 (a quarter of float32's bytes), and are augmented, scaled and
normalized there. Every random choice draws from a ``torch.Generator`` the caller seeds by
(seed, epoch), so that a resumed run draws what the uninterrupted one drew.
"""

from __future__ import annotations

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
