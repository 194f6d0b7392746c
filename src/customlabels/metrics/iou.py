"""Intersection over union of boxes, and the one coordinate system every box is put in.

Boxes are ``(left, top, width, height)`` in pixels of the testing image: the manifest's boxes are
already so (L3586-3626); a DetectCustomLabels box is given as ratios of the image's size
(L10287-10299) and is multiplied by the ground truth's ``image_size``. COCO's area ranges
(``detection.CocoParams``) therefore apply to pixel areas, ``width * height``.
"""

from __future__ import annotations

import numpy as np

from ..limits import IOU_THRESHOLD
from .kernels import choose_backend, kernels

__all__ = ["IOU_THRESHOLD", "box_iou"]


def box_iou(dt: np.ndarray, gt: np.ndarray, backend: str = "auto") -> np.ndarray:
    """Return the IoU of every predicted box with every ground-truth box.

    Args:
        dt: (D, 4) boxes as left, top, width, height.
        gt: (G, 4) boxes, the same way and in the same units.
        backend: ``auto``, ``compiled`` or ``python`` (identical results).

    Returns:
        (D, G) float64 in 0..1, computed term by term as pycocotools computes it.
    """
    dt = np.ascontiguousarray(dt, dtype=np.float64).reshape(-1, 4)
    gt = np.ascontiguousarray(gt, dtype=np.float64).reshape(-1, 4)
    return kernels(choose_backend(backend)).box_iou(dt, gt)


def ratios_to_pixels(ratios: np.ndarray, width: float, height: float) -> np.ndarray:
    """Return (N, 4) ratio boxes (left, top, width, height of the image) in pixels.

    Each value is one product, ``ratio * side``, so the same box always gives the same pixels.
    """
    ratios = np.asarray(ratios, dtype=np.float64).reshape(-1, 4)
    return ratios * np.array([width, height, width, height], dtype=np.float64)
