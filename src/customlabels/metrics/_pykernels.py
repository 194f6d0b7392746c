"""The numpy path: the same IoU, matching and accumulation as the compiled ``_metrics``.

This is the reference the extension (``ext/_metrics.pyx``) must agree with bit for bit, and the
path used where the extension is not built. It follows pycocotools' ``evaluateImg`` and
``accumulate`` loop for loop, in the same floating-point order; it is slow on large sets (the
matching loops are plain Python) but exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: numpy's ``np.spacing(1)``, the term pycocotools adds to precision denominators.
EPS = float(np.spacing(1))
#: pycocotools caps an IoU threshold at 1 - 1e-10 so that an IoU of exactly 1 still matches.
MAX_IOU_THRESHOLD = 1.0 - 1e-10
#: Bits of a prediction's flags: matched to a box; left out of precision and recall (COCO).
MATCHED, IGNORED = 1, 2


def box_iou(dt: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Return the IoU of every predicted box with every ground-truth box.

    Args:
        dt: (D, 4) boxes as left, top, width, height.
        gt: (G, 4) boxes, the same way.

    Returns:
        (D, G) float64; 0 where the boxes do not overlap.
    """
    dt = np.asarray(dt, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    d = dt[:, None, :]
    g = gt[None, :, :]
    # pycocotools' bbIou, term by term: right edges as width + left
    w = np.minimum(d[..., 2] + d[..., 0], g[..., 2] + g[..., 0]) - np.maximum(d[..., 0], g[..., 0])
    h = np.minimum(d[..., 3] + d[..., 1], g[..., 3] + g[..., 1]) - np.maximum(d[..., 1], g[..., 1])
    inter = w * h
    union = d[..., 2] * d[..., 3] + g[..., 2] * g[..., 3] - inter
    overlap = (w > 0) & (h > 0)
    out = np.zeros(inter.shape)
    np.divide(inter, union, out=out, where=overlap)
    return out


def match(dt_box: np.ndarray, dt_area: np.ndarray, gt_box: np.ndarray, gt_area: np.ndarray,
          dt_offsets: np.ndarray, gt_offsets: np.ndarray, area_ranges: np.ndarray,
          iou_thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Match predictions to ground truth in every group, area range and IoU threshold.

    See ``customlabels._metrics.match`` for the arguments; returns ``(dt_flags, gt_matched)``,
    (A, T, D) and (A, T, G) uint8.
    """
    n_area, n_thr = len(area_ranges), len(iou_thresholds)
    dt_flags = np.zeros((n_area, n_thr, len(dt_box)), dtype=np.uint8)
    gt_matched = np.zeros((n_area, n_thr, len(gt_box)), dtype=np.uint8)
    thresholds = [min(float(t), MAX_IOU_THRESHOLD) for t in iou_thresholds]
    for j in range(len(dt_offsets) - 1):
        d0, d1 = int(dt_offsets[j]), int(dt_offsets[j + 1])
        g0, g1 = int(gt_offsets[j]), int(gt_offsets[j + 1])
        ious = box_iou(dt_box[d0:d1], gt_box[g0:g1]).tolist()
        areas = gt_area[g0:g1].tolist()
        dt_areas = dt_area[d0:d1].tolist()
        for a, (low, high) in enumerate(area_ranges.tolist()):
            ignore = [area < low or area > high for area in areas]
            order = [g for g in range(g1 - g0) if not ignore[g]] + [
                g for g in range(g1 - g0) if ignore[g]]
            for t, threshold in enumerate(thresholds):
                taken = [False] * (g1 - g0)
                for d, row in enumerate(ious):
                    best, m = threshold, -1
                    for g in order:
                        if taken[g]:
                            continue
                        if m > -1 and not ignore[m] and ignore[g]:
                            break
                        if row[g] < best:
                            continue
                        best, m = row[g], g
                    if m > -1:
                        taken[m] = True
                        dt_flags[a, t, d0 + d] = MATCHED | (IGNORED if ignore[m] else 0)
                        gt_matched[a, t, g0 + m] = 1
                    elif dt_areas[d] < low or dt_areas[d] > high:
                        dt_flags[a, t, d0 + d] = IGNORED
    return dt_flags, gt_matched


def accumulate(label_offsets: np.ndarray, rank: np.ndarray, dt_flags: np.ndarray,
               n_gt: np.ndarray, recall_thresholds: np.ndarray,
               max_dets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accumulate matches into COCO's precision and recall arrays.

    See ``customlabels._metrics.accumulate`` for the arguments; returns ``(precision,
    recall)``, (T, R, K, A, M) and (T, K, A, M) float64, NaN where a label has no ground truth
    in the area range.
    """
    n_area, n_thr = dt_flags.shape[:2]
    n_labels, n_rec, n_max = len(label_offsets) - 1, len(recall_thresholds), len(max_dets)
    precision = np.full((n_thr, n_rec, n_labels, n_area, n_max), np.nan)
    recall = np.full((n_thr, n_labels, n_area, n_max), np.nan)
    for k in range(n_labels):
        members = np.arange(label_offsets[k], label_offsets[k + 1])
        for a in range(n_area):
            npig = int(n_gt[k, a])
            if npig == 0:
                continue  # COCO leaves the label out of every mean here (-1 there)
            for m, cap in enumerate(max_dets):
                kept = members[rank[members] < cap]
                matched = (dt_flags[a][:, kept] & MATCHED).astype(bool)
                ignored = (dt_flags[a][:, kept] & IGNORED).astype(bool)
                tp_sum = np.cumsum(matched & ~ignored, axis=1).astype(float)
                fp_sum = np.cumsum(~matched & ~ignored, axis=1).astype(float)
                nd = len(kept)
                for t in range(n_thr):
                    tp, fp = tp_sum[t], fp_sum[t]
                    rc = tp / npig
                    pr = tp / (fp + tp + EPS)
                    recall[t, k, a, m] = rc[-1] if nd else 0.0
                    # the precision envelope: the best precision at this recall or beyond
                    pr = np.maximum.accumulate(pr[::-1])[::-1]
                    inds = np.searchsorted(rc, recall_thresholds, side="left")
                    q = np.zeros(n_rec)
                    inside = inds < nd
                    q[inside] = pr[inds[inside]]
                    precision[t, :, k, a, m] = q
    return precision, recall


# --- reading responses and writing snapshot lines ---------------------------------------------


def _is_number(value: Any) -> bool:
    return type(value) is float or type(value) is int


def read_response(labels: list[Any], detection: bool, width: float, height: float,
                  max_name: int, percent: float) -> tuple[list[str], np.ndarray,
                                                          np.ndarray] | None:
    """Return the predictions of a plain, well-formed ``CustomLabels`` array, else None.

    See ``customlabels._metrics.read_response``.
    """
    try:
        names = [entry["Name"] for entry in labels]
        confidences = [entry["Confidence"] for entry in labels]
        coords = [(b["Left"], b["Top"], b["Width"], b["Height"])
                  for b in [entry["Geometry"]["BoundingBox"] for entry in labels]
                  ] if detection else []
    except (KeyError, TypeError):
        return None
    if not all(type(n) is str and 0 < len(n) <= max_name for n in names):
        return None
    if not all(_is_number(c) and 0 < c <= percent for c in confidences):
        return None
    boxes = np.zeros((len(names), 4))
    if detection:
        try:
            values = [[float(v) for v in box] for box in coords
                      if all(_is_number(v) for v in box)]
        except OverflowError:
            return None
        if len(values) != len(coords):
            return None
        ratios = np.array(values, dtype=np.float64).reshape(-1, 4)
        if not np.all(np.isfinite(ratios)) or np.any(ratios[:, 2:] < 0):
            return None
        # ratios of the image to pixels of the ground truth's image
        with np.errstate(over="ignore"):  # an infinite pixel is refused just below
            boxes = ratios * np.array([width, height, width, height])
        if not np.all(np.isfinite(boxes)):
            return None
    scores = np.array([float(c) for c in confidences], dtype=np.float64) / percent
    return names, scores, boxes


def format_detections(class_id: np.ndarray, score: np.ndarray, box: np.ndarray,
                      outcome: np.ndarray, details: list[tuple[bytes, ...]],
                      offsets: np.ndarray) -> tuple[list[bytes], list[bytes]]:
    """Return each image's predicted annotations and objects as snapshot JSON text.

    See ``customlabels._metrics.format_detections``.
    """
    annotations, objects = [], []
    ids, scores, boxes, outcomes = (class_id.tolist(), score.tolist(), box.tolist(),
                                    outcome.tolist())
    for j in range(len(offsets) - 1):
        own = details[j]
        span = range(int(offsets[j]), int(offsets[j + 1]))
        annotations.append(", ".join(
            f'{{"class_id": {ids[i]}, "width": {boxes[i][2]!r}, "top": {boxes[i][1]!r}, '
            f'"height": {boxes[i][3]!r}, "left": {boxes[i][0]!r}}}' for i in span).encode())
        objects.append(b", ".join(
            b'{"confidence": ' + repr(scores[i]).encode()
            + b', "rekognition-custom-labels-evaluation-details": ' + own[outcomes[i]] + b"}"
            for i in span))
    return annotations, objects
