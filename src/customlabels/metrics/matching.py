"""Match predicted boxes to ground-truth boxes: greedy, in order of confidence, by IoU.

Every detection metric starts here. The predictions and boxes of one label on one image form a
group; in each group the predictions are taken in order of confidence, highest first, and each
takes the not-yet-matched ground-truth box of the same label with the best IoU, if that IoU is
at least the threshold (0.5 for the guide's true positives, L8253-8256; COCO's ten thresholds for
mAP). The rule and its tie-breaking are COCO's (pycocotools ``evaluateImg``): on equal IoU the box
listed later in the manifest wins; on equal confidence the prediction listed first goes first.

Because the matching is greedy in order of confidence, a prediction's match depends only on the
predictions above it: the matches of the first ``n`` predictions are the same whether or not the
rest are there. So one matching over every prediction serves the assumed thresholds (all
predictions) and COCO's caps of 1, 10 and 100 predictions an image alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import choose_backend, kernels


@dataclass
class DetectionData:
    """A detection test set as flat arrays: the input of every detection metric.

    Attributes:
        labels: the K label names; label ``k`` is index ``k``.
        n_images: the testing images, numbered ``0 .. n_images - 1`` (manifest order).
        gt_image, gt_label: (G,) int64, the image and label of each ground-truth box.
        gt_box: (G, 4) float64 boxes in pixels: left, top, width, height.
        dt_image, dt_label: (D,) int64, the image and label (``0 .. K - 1``) of each prediction;
            predictions of other labels are the caller's to keep apart.
        dt_box: (D, 4) float64 predicted boxes in pixels.
        dt_score: (D,) float64 confidences in (0, 1].

    The order of the boxes and predictions matters only among equals: see the module docstring.
    """

    labels: list[str]
    n_images: int
    gt_image: np.ndarray
    gt_label: np.ndarray
    gt_box: np.ndarray
    dt_image: np.ndarray
    dt_label: np.ndarray
    dt_box: np.ndarray
    dt_score: np.ndarray

    def __post_init__(self) -> None:
        self.gt_image = np.ascontiguousarray(self.gt_image, dtype=np.int64).reshape(-1)
        self.gt_label = np.ascontiguousarray(self.gt_label, dtype=np.int64).reshape(-1)
        self.gt_box = np.ascontiguousarray(self.gt_box, dtype=np.float64).reshape(-1, 4)
        self.dt_image = np.ascontiguousarray(self.dt_image, dtype=np.int64).reshape(-1)
        self.dt_label = np.ascontiguousarray(self.dt_label, dtype=np.int64).reshape(-1)
        self.dt_box = np.ascontiguousarray(self.dt_box, dtype=np.float64).reshape(-1, 4)
        self.dt_score = np.ascontiguousarray(self.dt_score, dtype=np.float64).reshape(-1)
        n_gt, n_dt, n_labels = len(self.gt_box), len(self.dt_box), len(self.labels)
        if not len(self.gt_image) == len(self.gt_label) == n_gt:
            raise ValueError("gt_image, gt_label and gt_box must have the same length")
        if not len(self.dt_image) == len(self.dt_label) == len(self.dt_score) == n_dt:
            raise ValueError("dt_image, dt_label, dt_box and dt_score must have the same length")
        for name, values, bound in (("gt_label", self.gt_label, n_labels),
                                    ("dt_label", self.dt_label, n_labels),
                                    ("gt_image", self.gt_image, self.n_images),
                                    ("dt_image", self.dt_image, self.n_images)):
            if len(values) and (values.min() < 0 or values.max() >= bound):
                raise ValueError(f"{name} must be in 0 .. {bound - 1}")
        if n_dt and not np.all(np.isfinite(self.dt_score)):
            raise ValueError("dt_score must be finite")

    @property
    def gt_area(self) -> np.ndarray:
        """(G,) pixel areas of the ground-truth boxes, ``width * height``."""
        return self.gt_box[:, 2] * self.gt_box[:, 3]

    @property
    def dt_area(self) -> np.ndarray:
        """(D,) pixel areas of the predicted boxes, ``width * height``."""
        return self.dt_box[:, 2] * self.dt_box[:, 3]


#: Bits of :attr:`Matches.dt_flags`.
MATCHED, IGNORED = 1, 2


@dataclass
class Matches:
    """Which predictions and boxes matched, for each area range and IoU threshold.

    The kernels work group by group (a label on an image), so the arrays are kept in that order;
    the properties give them in the order of :class:`DetectionData`.

    Attributes:
        dt_order: (D,) the prediction at each group position (an index into the predictions).
        gt_order: (G,) the ground-truth box at each group position.
        dt_flags: (A, T, D) uint8 in group order: ``MATCHED`` (1) when the prediction matched a
            box, ``IGNORED`` (2) when it matched a box outside the area range or is unmatched
            and outside it itself (COCO leaves these out of precision and recall).
        gt_flags: (A, T, G) uint8 in group order, 1 when the box was matched.
        dt_rank: (D,) int64, each prediction's place among its image's predictions of its label,
            by confidence (0 for the highest), in prediction order.
    """

    dt_order: np.ndarray
    gt_order: np.ndarray
    dt_flags: np.ndarray
    gt_flags: np.ndarray
    dt_rank: np.ndarray

    def _inputs(self, values: np.ndarray, order: np.ndarray) -> np.ndarray:
        out = np.empty(values.shape, dtype=bool)
        out[..., order] = values.astype(bool)
        return out

    @property
    def dt_matched(self) -> np.ndarray:
        """(A, T, D) bool: the prediction matched a box."""
        return self._inputs(self.dt_flags & MATCHED, self.dt_order)

    @property
    def dt_ignored(self) -> np.ndarray:
        """(A, T, D) bool: the prediction is left out of COCO's precision and recall."""
        return self._inputs(self.dt_flags & IGNORED, self.dt_order)

    @property
    def gt_matched(self) -> np.ndarray:
        """(A, T, G) bool: the box was matched."""
        return self._inputs(self.gt_flags, self.gt_order)

    def matched_at(self, area: int, threshold: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (D,) and (G,) bool: predictions and boxes matched at one range and threshold."""
        return (self._inputs(self.dt_flags[area, threshold] & MATCHED, self.dt_order),
                self._inputs(self.gt_flags[area, threshold], self.gt_order))


def match(data: DetectionData, area_ranges: np.ndarray, iou_thresholds: np.ndarray,
          backend: str = "auto") -> Matches:
    """Match every prediction of ``data`` at every area range and IoU threshold.

    Args:
        data: the test set.
        area_ranges: (A, 2) closed pixel-area ranges; boxes outside one are ignored there.
        iou_thresholds: (T,) IoU thresholds.
        backend: ``auto``, ``compiled`` or ``python`` (identical results).
    """
    area_ranges = np.ascontiguousarray(area_ranges, dtype=np.float64).reshape(-1, 2)
    iou_thresholds = np.ascontiguousarray(iou_thresholds, dtype=np.float64).reshape(-1)
    n_dt, n_gt = len(data.dt_box), len(data.gt_box)
    dt_key = data.dt_label * data.n_images + data.dt_image
    gt_key = data.gt_label * data.n_images + data.gt_image
    # groups in key order; in a group, predictions by confidence (first listed first on ties)
    dt_order = np.lexsort((np.arange(n_dt), -data.dt_score, dt_key))
    gt_order = np.argsort(gt_key, kind="stable")
    keys = np.union1d(dt_key, gt_key)
    dt_sorted_keys = dt_key[dt_order]
    dt_offsets = np.append(np.searchsorted(dt_sorted_keys, keys), n_dt).astype(np.int64)
    gt_offsets = np.append(np.searchsorted(gt_key[gt_order], keys), n_gt).astype(np.int64)
    dt_flags, gt_flags = kernels(choose_backend(backend)).match(
        np.ascontiguousarray(data.dt_box[dt_order]), np.ascontiguousarray(data.dt_area[dt_order]),
        np.ascontiguousarray(data.gt_box[gt_order]), np.ascontiguousarray(data.gt_area[gt_order]),
        dt_offsets, gt_offsets, area_ranges, iou_thresholds)
    rank = np.empty(n_dt, dtype=np.int64)
    rank[dt_order] = np.arange(n_dt) - dt_offsets[np.searchsorted(keys, dt_sorted_keys)]
    return Matches(dt_order, gt_order, dt_flags, gt_flags, rank)
