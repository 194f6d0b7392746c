"""Detection mAP and mAR as COCO defines them, in three stages: evaluate, accumulate, summarize.

The guide reports mean average precision and recall for object detection models (L8400-8408,
L9057-9059) without defining them; we take COCO's definitions (cocodataset.org, "Detection
Evaluation") and reproduce pycocotools' ``COCOeval`` for boxes exactly: ten IoU thresholds
0.50:0.05:0.95, 101 recall points, at most 1, 10 or 100 predictions an image, and the area
ranges all, small (< 32^2 px), medium and large (> 96^2 px), both ends of a range included.
Areas are pixel areas (``iou`` module). The one difference: where pycocotools writes -1 for "no
ground truth, no value", these arrays hold NaN, and a statistic with nothing to average is NaN.

Stages:

* :func:`evaluate`: match every prediction (``matching.match``) at every area range and IoU
  threshold;
* :func:`accumulate`: turn the matches into precision at each recall point and the recall
  reached, per label, area range and cap;
* :func:`summarize`: the twelve COCO statistics and per-label AP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kernels import choose_backend, kernels
from .matching import DetectionData, Matches, match

#: COCO's largest area, "1e5 ** 2": every box is inside the "all" range.
_LARGEST = 1e5 ** 2


def _coco_iou_thresholds() -> np.ndarray:
    # COCO: 0.50:0.05:0.95, built with linspace exactly as pycocotools builds it (arange drifts)
    return np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)


def _coco_recall_thresholds() -> np.ndarray:
    # COCO: 101 recall points 0:0.01:1, built as pycocotools builds them
    return np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)


@dataclass(frozen=True)
class CocoParams:
    """COCO's detection settings (pycocotools ``Params.setDetParams``).

    Attributes:
        iou_thresholds: (T,) = 10 IoU thresholds, 0.50:0.05:0.95.
        recall_thresholds: (R,) = 101 recall points, 0:0.01:1.
        max_dets: (M,) = (1, 10, 100) caps on the predictions an image, the highest first kept.
        area_ranges: (A, 2) = 4 closed pixel-area ranges: all, small (0..32^2), medium
            (32^2..96^2), large (96^2..1e5^2).
        area_labels: their names.
    """

    iou_thresholds: np.ndarray = field(default_factory=_coco_iou_thresholds)
    recall_thresholds: np.ndarray = field(default_factory=_coco_recall_thresholds)
    max_dets: tuple[int, ...] = (1, 10, 100)
    area_ranges: tuple[tuple[float, float], ...] = (
        (0.0, _LARGEST), (0.0, 32.0 ** 2), (32.0 ** 2, 96.0 ** 2), (96.0 ** 2, _LARGEST))
    area_labels: tuple[str, ...] = ("all", "small", "medium", "large")


#: The twelve statistics of COCO's ``summarize``: (name, AP or AR, IoU, area, max dets).
STATS = (
    ("AP", True, None, "all", 100), ("AP50", True, 0.5, "all", 100),
    ("AP75", True, 0.75, "all", 100), ("APs", True, None, "small", 100),
    ("APm", True, None, "medium", 100), ("APl", True, None, "large", 100),
    ("AR1", False, None, "all", 1), ("AR10", False, None, "all", 10),
    ("AR100", False, None, "all", 100), ("ARs", False, None, "small", 100),
    ("ARm", False, None, "medium", 100), ("ARl", False, None, "large", 100),
)


@dataclass
class DetectionEvaluation:
    """Stage 1: the matches of every prediction.

    Attributes:
        data: the test set.
        params: the COCO settings.
        matches: (A, T, ...) matches, see :class:`customlabels.metrics.matching.Matches`.
        n_gt: (K, A) int64 ground-truth boxes of each label inside each area range.
    """

    data: DetectionData
    params: CocoParams
    matches: Matches
    n_gt: np.ndarray


@dataclass
class DetectionAccumulation:
    """Stage 2: COCO's precision and recall arrays.

    Attributes:
        params: the COCO settings.
        labels: the K label names.
        precision: (T, R, K, A, M) float64, the interpolated precision at each recall point;
            NaN where the label has no ground truth in the area range.
        recall: (T, K, A, M) float64, the recall reached; NaN likewise.
    """

    params: CocoParams
    labels: list[str]
    precision: np.ndarray
    recall: np.ndarray


@dataclass
class CocoSummary:
    """Stage 3: COCO's twelve statistics and per-label AP.

    Attributes:
        stats: (12,) float64 in :data:`STATS` order: AP, AP50, AP75, APs, APm, APl, AR1, AR10,
            AR100, ARs, ARm, ARl; NaN where nothing could be averaged (pycocotools: -1).
        per_label_ap: (K,) AP at IoU 0.50:0.95, all areas, 100 predictions an image.
        per_label_ap50: (K,) the same at IoU 0.5.
        per_label_ar: (K,) recall at 100 predictions an image, IoU 0.50:0.95, all areas.
    """

    stats: np.ndarray
    per_label_ap: np.ndarray
    per_label_ap50: np.ndarray
    per_label_ar: np.ndarray

    def as_dict(self) -> dict[str, float]:
        """Return the statistics by name (``AP``, ``AP50``, ... ``ARl``)."""
        return {name: float(value) for (name, *_), value in zip(STATS, self.stats)}


def evaluate(data: DetectionData, params: CocoParams | None = None,
             backend: str = "auto") -> DetectionEvaluation:
    """Match every prediction at every area range and IoU threshold (stage 1)."""
    params = params or CocoParams()
    ranges = np.array(params.area_ranges, dtype=np.float64)
    matches = match(data, ranges, params.iou_thresholds, backend)
    area = data.gt_area
    n_gt = np.stack([np.bincount(data.gt_label[(area >= low) & (area <= high)],
                                 minlength=len(data.labels)) for low, high in ranges], axis=1)
    return DetectionEvaluation(data, params, matches, n_gt.astype(np.int64).reshape(
        len(data.labels), len(ranges)))


def accumulate(evaluation: DetectionEvaluation, backend: str = "auto") -> DetectionAccumulation:
    """Compute precision at each recall point and the recall reached (stage 2)."""
    data, params, matches = evaluation.data, evaluation.params, evaluation.matches
    n_labels = len(data.labels)
    # COCO's order: each label's predictions by confidence; ties by image, then as listed
    n_dt = len(data.dt_score)
    order = np.lexsort((np.arange(n_dt), data.dt_image, -data.dt_score, data.dt_label))
    offsets = np.searchsorted(data.dt_label[order], np.arange(n_labels + 1)).astype(np.int64)
    position = np.empty(n_dt, dtype=np.int64)  # each prediction's place in the matches' order
    position[matches.dt_order] = np.arange(n_dt)
    precision, recall = kernels(choose_backend(backend)).accumulate(
        offsets, np.ascontiguousarray(matches.dt_rank[order]),
        np.ascontiguousarray(matches.dt_flags[:, :, position[order]]),
        np.ascontiguousarray(evaluation.n_gt),
        np.ascontiguousarray(params.recall_thresholds, dtype=np.float64),
        np.array(params.max_dets, dtype=np.int64))
    return DetectionAccumulation(params, list(data.labels), precision, recall)


def _mean(values: np.ndarray) -> float:
    """Return the mean of the non-NaN values (NaN when there are none), as COCO averages."""
    kept = values[~np.isnan(values)]
    return float(np.mean(kept)) if kept.size else float("nan")


def summarize(accumulation: DetectionAccumulation) -> CocoSummary:
    """Return COCO's twelve statistics and per-label AP (stage 3)."""
    params = accumulation.params
    precision, recall = accumulation.precision, accumulation.recall
    m100 = params.max_dets.index(100) if 100 in params.max_dets else len(params.max_dets) - 1
    stats = np.full(len(STATS), np.nan)
    for i, (_name, is_ap, iou, area, max_det) in enumerate(STATS):
        if area not in params.area_labels or max_det not in params.max_dets:
            continue
        a, m = params.area_labels.index(area), params.max_dets.index(max_det)
        t = slice(None) if iou is None else np.flatnonzero(params.iou_thresholds == iou)
        values = precision[t, :, :, a, m] if is_ap else recall[t, :, a, m]
        stats[i] = _mean(values)
    t50 = np.flatnonzero(params.iou_thresholds == 0.5)
    n_labels = precision.shape[2]
    per_label_ap = np.array([_mean(precision[:, :, k, 0, m100]) for k in range(n_labels)])
    per_label_ap50 = np.array([_mean(precision[t50, :, k, 0, m100]) for k in range(n_labels)])
    per_label_ar = np.array([_mean(recall[:, k, 0, m100]) for k in range(n_labels)])
    return CocoSummary(stats, per_label_ap, per_label_ap50, per_label_ar)
