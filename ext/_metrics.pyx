# cython: language_level=3
"""IoU, matching and COCO accumulation loops for ``customlabels.metrics`` (the compiled path).

Mechanics only: the functions take and return plain arrays; which boxes form a group, how they
are sorted, what the thresholds are and what the numbers mean is decided in Python
(``customlabels/metrics``). ``customlabels.metrics._pykernels`` holds the same functions in
numpy and plain Python; the two must agree bit for bit (``tests/test_metrics_kernels.py``).

Every floating-point expression is written in the order pycocotools evaluates it (its C
``bbIou`` and Python ``evaluateImg``/``accumulate``), so that the results are identical to it,
not merely close.
"""

import numpy as np

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsDouble
from cpython.mem cimport PyMem_Free
from libc.math cimport fmax, fmin, isfinite
from libc.stdint cimport int64_t, uint8_t
from libc.stdio cimport snprintf
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, strlen


cdef extern from "Python.h":
    char *PyOS_double_to_string(double val, char format_code, int precision, int flags,
                                int *ptype) except NULL
    int Py_DTSF_ADD_DOT_0

#: numpy's ``np.spacing(1)`` (DBL_EPSILON), the term pycocotools adds to precision denominators.
cdef double EPS = 2.220446049250313e-16
#: pycocotools caps an IoU threshold at 1 - 1e-10 so that an IoU of exactly 1 still matches.
cdef double MAX_IOU_THRESHOLD = 1.0 - 1e-10
#: Bits of a prediction's flags: matched to a box; left out of precision and recall (COCO).
cdef enum:
    MATCHED = 1
    IGNORED = 2


cdef inline double _iou(const double *d, const double *g) noexcept nogil:
    """Return the IoU of boxes ``d`` and ``g`` given as (left, top, width, height)."""
    cdef double w, h, i
    w = fmin(d[2] + d[0], g[2] + g[0]) - fmax(d[0], g[0])
    if w <= 0:
        return 0.0
    h = fmin(d[3] + d[1], g[3] + g[1]) - fmax(d[1], g[1])
    if h <= 0:
        return 0.0
    i = w * h
    return i / (d[2] * d[3] + g[2] * g[3] - i)


def box_iou(const double[:, ::1] dt, const double[:, ::1] gt):
    """Return the IoU of every predicted box with every ground-truth box.

    Args:
        dt: (D, 4) boxes as left, top, width, height.
        gt: (G, 4) boxes, the same way.

    Returns:
        (D, G) float64.
    """
    cdef Py_ssize_t n_dt = dt.shape[0], n_gt = gt.shape[0], d, g
    if dt.shape[1] != 4 or gt.shape[1] != 4:
        raise ValueError("boxes must have 4 columns: left, top, width, height")
    out = np.zeros((n_dt, n_gt), dtype=np.float64)
    cdef double[:, ::1] o = out
    with nogil:
        for d in range(n_dt):
            for g in range(n_gt):
                o[d, g] = _iou(&dt[d, 0], &gt[g, 0])
    return out


def match(const double[:, ::1] dt_box, const double[::1] dt_area,
          const double[:, ::1] gt_box, const double[::1] gt_area,
          const int64_t[::1] dt_offsets, const int64_t[::1] gt_offsets,
          const double[:, ::1] area_ranges, const double[::1] iou_thresholds):
    """Match predictions to ground truth in every group, area range and IoU threshold.

    A group is the predictions and ground-truth boxes of one label on one image: group ``j``
    holds predictions ``dt_offsets[j]:dt_offsets[j+1]`` (sorted by confidence, highest first)
    and boxes ``gt_offsets[j]:gt_offsets[j+1]``. Matching is COCO's: each prediction in turn
    takes the unmatched box of best IoU at or above the threshold, boxes outside the area range
    being ignored (tried last, and a prediction matched to one is ignored too); an unmatched
    prediction outside the area range is ignored.

    Args:
        dt_box: (D, 4) predicted boxes, left, top, width, height, in pixels.
        dt_area: (D,) their areas.
        gt_box: (G, 4) ground-truth boxes.
        gt_area: (G,) their areas.
        dt_offsets: (J + 1,) group boundaries in the predictions.
        gt_offsets: (J + 1,) group boundaries in the ground truth.
        area_ranges: (A, 2) closed ranges [low, high] of areas.
        iou_thresholds: (T,) IoU thresholds.

    Returns:
        ``(dt_flags, gt_matched)``: (A, T, D) uint8 for the predictions, bit 0 set when matched
        and bit 1 when ignored; (A, T, G) uint8 for the ground truth, 1 when matched.
    """
    cdef Py_ssize_t n_dt = dt_box.shape[0], n_gt = gt_box.shape[0]
    cdef Py_ssize_t n_area = area_ranges.shape[0], n_thr = iou_thresholds.shape[0]
    cdef Py_ssize_t n_groups = dt_offsets.shape[0] - 1
    if gt_offsets.shape[0] != n_groups + 1:
        raise ValueError("dt_offsets and gt_offsets must have the same length")
    if n_groups < 0 or dt_offsets[n_groups] != n_dt or gt_offsets[n_groups] != n_gt:
        raise ValueError("the offsets must end at the number of boxes")
    dt_flags_arr = np.zeros((n_area, n_thr, n_dt), dtype=np.uint8)
    gt_matched_arr = np.zeros((n_area, n_thr, n_gt), dtype=np.uint8)
    cdef uint8_t[:, :, ::1] dt_flags = dt_flags_arr
    cdef uint8_t[:, :, ::1] gt_matched = gt_matched_arr

    cdef Py_ssize_t largest_dt = 0, largest_gt = 0, j
    for j in range(n_groups):
        largest_dt = max(largest_dt, dt_offsets[j + 1] - dt_offsets[j])
        largest_gt = max(largest_gt, gt_offsets[j + 1] - gt_offsets[j])
    cdef double *ious = <double *>malloc(max(1, largest_dt * largest_gt) * sizeof(double))
    cdef Py_ssize_t *order = <Py_ssize_t *>malloc(max(1, largest_gt) * sizeof(Py_ssize_t))
    cdef uint8_t *ignore = <uint8_t *>malloc(max(1, largest_gt) * sizeof(uint8_t))
    cdef uint8_t *taken = <uint8_t *>malloc(max(1, largest_gt) * sizeof(uint8_t))
    if ious == NULL or order == NULL or ignore == NULL or taken == NULL:
        free(ious); free(order); free(ignore); free(taken)
        raise MemoryError()

    cdef Py_ssize_t d0, g0, nd, ng, a, t, d, k, g, n_kept, m
    cdef double low, high, best
    try:
        with nogil:
            for j in range(n_groups):
                d0 = dt_offsets[j]
                g0 = gt_offsets[j]
                nd = dt_offsets[j + 1] - d0
                ng = gt_offsets[j + 1] - g0
                for d in range(nd):
                    for g in range(ng):
                        ious[d * ng + g] = _iou(&dt_box[d0 + d, 0], &gt_box[g0 + g, 0])
                for a in range(n_area):
                    low = area_ranges[a, 0]
                    high = area_ranges[a, 1]
                    # boxes outside the range are ignored and tried last, each part in order
                    n_kept = 0
                    for g in range(ng):
                        ignore[g] = gt_area[g0 + g] < low or gt_area[g0 + g] > high
                        if not ignore[g]:
                            order[n_kept] = g
                            n_kept += 1
                    for g in range(ng):
                        if ignore[g]:
                            order[n_kept] = g
                            n_kept += 1
                    for t in range(n_thr):
                        for g in range(ng):
                            taken[g] = 0
                        for d in range(nd):
                            best = fmin(iou_thresholds[t], MAX_IOU_THRESHOLD)
                            m = -1
                            for k in range(ng):
                                g = order[k]
                                if taken[g]:
                                    continue
                                if m > -1 and not ignore[m] and ignore[g]:
                                    break
                                if ious[d * ng + g] < best:
                                    continue
                                best = ious[d * ng + g]
                                m = g
                            if m > -1:
                                taken[m] = 1
                                dt_flags[a, t, d0 + d] = MATCHED | (IGNORED if ignore[m] else 0)
                                gt_matched[a, t, g0 + m] = 1
                            elif dt_area[d0 + d] < low or dt_area[d0 + d] > high:
                                dt_flags[a, t, d0 + d] = IGNORED
    finally:
        free(ious); free(order); free(ignore); free(taken)
    return dt_flags_arr, gt_matched_arr


def accumulate(const int64_t[::1] label_offsets, const int64_t[::1] rank,
               const uint8_t[:, :, ::1] dt_flags, const int64_t[:, ::1] n_gt,
               const double[::1] recall_thresholds, const int64_t[::1] max_dets):
    """Accumulate matches into COCO's precision and recall arrays.

    The predictions come in COCO's order: each label's together (label ``k`` holds
    ``label_offsets[k]:label_offsets[k+1]``), each label's by confidence, highest first (ties by
    image, then as listed).

    Args:
        label_offsets: (K + 1,) label boundaries.
        rank: (D,) each prediction's place among its image's predictions of its label.
        dt_flags: (A, T, D) from :func:`match`, in this order.
        n_gt: (K, A) ground-truth boxes of each label inside each area range.
        recall_thresholds: (R,) increasing recall points.
        max_dets: (M,) caps on the predictions an image.

    Returns:
        ``(precision, recall)``: (T, R, K, A, M) and (T, K, A, M) float64, NaN where a label has
        no ground truth in the area range.
    """
    cdef Py_ssize_t n_area = dt_flags.shape[0], n_thr = dt_flags.shape[1]
    cdef Py_ssize_t n_labels = label_offsets.shape[0] - 1, n_rec = recall_thresholds.shape[0]
    cdef Py_ssize_t n_max = max_dets.shape[0]
    if n_gt.shape[0] != n_labels or n_gt.shape[1] != n_area:
        raise ValueError("n_gt must be (K, A)")
    if rank.shape[0] != dt_flags.shape[2]:
        raise ValueError("rank and dt_flags must cover the same predictions")
    precision_arr = np.full((n_thr, n_rec, n_labels, n_area, n_max), np.nan)
    recall_arr = np.full((n_thr, n_labels, n_area, n_max), np.nan)
    cdef double[:, :, :, :, ::1] precision = precision_arr
    cdef double[:, :, :, ::1] recall = recall_arr

    cdef Py_ssize_t largest = 0, k
    for k in range(n_labels):
        largest = max(largest, label_offsets[k + 1] - label_offsets[k])
    # per true positive j (in order): false positives before it, and the precision envelope
    cdef double *fp_at = <double *>malloc(max(1, largest) * sizeof(double))
    cdef double *env = <double *>malloc(max(1, largest) * sizeof(double))
    if fp_at == NULL or env == NULL:
        free(fp_at); free(env)
        raise MemoryError()

    # pycocotools computes recall and precision at every prediction, takes the running maximum
    # of precision from the end, and reads it where recall first reaches each recall point.
    # Recall only rises at a true positive, and precision only falls between two (the same
    # numerator over a larger denominator), so those readings fall on true positives (or on
    # the first prediction, where the envelope equals the first true positive's), and the
    # envelope's value there is the maximum over the true positives from there on. Computing
    # only those quotients, with the same operands, gives the same doubles.
    cdef Py_ssize_t a, mi, t, i, n_tp, nd, r, j
    cdef int64_t cap
    cdef double npig, fps, best, value
    try:
        with nogil:
            for k in range(n_labels):
                for a in range(n_area):
                    if n_gt[k, a] == 0:
                        continue  # COCO leaves the label out of every mean here (-1 there)
                    npig = <double>n_gt[k, a]
                    for mi in range(n_max):
                        cap = max_dets[mi]
                        for t in range(n_thr):
                            nd = 0
                            n_tp = 0
                            fps = 0.0
                            for i in range(label_offsets[k], label_offsets[k + 1]):
                                if rank[i] >= cap:
                                    continue
                                nd += 1
                                if dt_flags[a, t, i] & IGNORED:
                                    continue
                                if dt_flags[a, t, i] & MATCHED:
                                    fp_at[n_tp] = fps
                                    n_tp += 1
                                else:
                                    fps = fps + 1.0
                            recall[t, k, a, mi] = (<double>n_tp) / npig if nd else 0.0
                            best = 0.0
                            for j in range(n_tp - 1, -1, -1):
                                # precision at the j-th true positive: tp / (fp + tp + eps)
                                value = (j + 1.0) / (fp_at[j] + (j + 1.0) + EPS)
                                if value > best:
                                    best = value
                                env[j] = best
                            j = 0
                            for r in range(n_rec):
                                # the first true positive whose recall reaches the point
                                while j < n_tp and (j + 1.0) / npig < recall_thresholds[r]:
                                    j += 1
                                precision[t, r, k, a, mi] = env[j] if j < n_tp else 0.0
    finally:
        free(fp_at); free(env)
    return precision_arr, recall_arr


# --- reading responses and writing snapshot lines ---------------------------------------------


cdef inline bint _number(object value, double *out) except -1:
    """Store a JSON number (int or float, not bool) in ``out``; False for anything else."""
    if type(value) is float:
        out[0] = PyFloat_AS_DOUBLE(value)
        return True
    if type(value) is int:
        try:
            out[0] = PyLong_AsDouble(value)
        except OverflowError:
            return False
        return True
    return False


def read_response(list labels, bint detection, double width, double height,
                  Py_ssize_t max_name, double percent):
    """Return the predictions of a plain, well-formed DetectCustomLabels ``CustomLabels`` array.

    Plain means: every entry an object with a ``Name`` string of 1 to ``max_name`` characters, a
    ``Confidence`` number in (0, ``percent``] and, for ``detection``, a ``Geometry.BoundingBox``
    of finite numbers ``Left``, ``Top``, ``Width`` >= 0 and ``Height`` >= 0 whose pixels
    (ratio times ``width`` or ``height``) are finite. Anything else returns None, and the caller
    reads the array field by field to report each fault.

    Returns:
        ``(names, scores, boxes)``: N label names, (N,) confidences divided by ``percent`` and
        (N, 4) pixel boxes (left, top, width, height; zeros without ``detection``); or None.
    """
    cdef Py_ssize_t n = len(labels), i, j
    cdef double c
    cdef double v[4]
    names = [None] * n
    scores_arr = np.empty(n, dtype=np.float64)
    boxes_arr = np.zeros((n, 4), dtype=np.float64)
    cdef double[::1] scores = scores_arr
    cdef double[:, ::1] boxes = boxes_arr
    cdef object entry, name, geometry, bounding
    for i in range(n):
        entry = labels[i]
        if type(entry) is not dict:
            return None
        name = (<dict>entry).get("Name")
        if type(name) is not str or not 0 < len(<str>name) <= max_name:
            return None
        if not _number((<dict>entry).get("Confidence"), &c) or not (0 < c <= percent):
            return None
        scores[i] = c / percent
        names[i] = name
        if not detection:
            continue
        geometry = (<dict>entry).get("Geometry")
        if type(geometry) is not dict:
            return None
        bounding = (<dict>geometry).get("BoundingBox")
        if type(bounding) is not dict:
            return None
        for j, key in enumerate(("Left", "Top", "Width", "Height")):
            if not _number((<dict>bounding).get(key), &v[j]) or not isfinite(v[j]):
                return None
        if v[2] < 0 or v[3] < 0:
            return None
        # ratios of the image to pixels of the ground truth's image
        boxes[i, 0] = v[0] * width
        boxes[i, 1] = v[1] * height
        boxes[i, 2] = v[2] * width
        boxes[i, 3] = v[3] * height
        for j in range(4):
            if not isfinite(boxes[i, j]):
                return None
    return names, scores_arr, boxes_arr


cdef struct Buffer:
    char *data
    Py_ssize_t size
    Py_ssize_t capacity


cdef int _put(Buffer *buf, const char *text, Py_ssize_t n) except -1:
    cdef char *grown
    cdef Py_ssize_t capacity
    if buf.size + n > buf.capacity:
        capacity = max(2 * buf.capacity, buf.size + n + 256)
        grown = <char *>realloc(buf.data, capacity)
        if grown == NULL:
            raise MemoryError()
        buf.data = grown
        buf.capacity = capacity
    memcpy(buf.data + buf.size, text, n)
    buf.size += n
    return 0


cdef int _put_bytes(Buffer *buf, bytes text) except -1:
    return _put(buf, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))


cdef int _put_repr(Buffer *buf, double value) except -1:
    """Append ``repr(value)``: the shortest text that reads back as the same double."""
    cdef char *text = PyOS_double_to_string(value, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    try:
        _put(buf, text, strlen(text))
    finally:
        PyMem_Free(text)
    return 0


cdef int _put_int(Buffer *buf, int64_t value) except -1:
    cdef char text[24]
    cdef int n = snprintf(text, sizeof(text), "%lld", <long long>value)
    return _put(buf, text, n)


def format_detections(const int64_t[::1] class_id, const double[::1] score,
                      const double[:, ::1] box, const uint8_t[::1] outcome, list details,
                      const int64_t[::1] offsets):
    """Return each image's predicted annotations and objects as snapshot JSON text.

    Image ``j`` holds predictions ``offsets[j]:offsets[j+1]``; ``details[j]`` is a 4-tuple of
    bytes, the details object of each outcome (``outcome`` 0-3) on that image.

    Returns:
        ``(annotations, objects)``: two lists of bytes, one item an image, each the array items
        joined by ``", "``: ``{"class_id": C, "width": W, "top": T, "height": H, "left": L}`` and
        ``{"confidence": S, "rekognition-custom-labels-evaluation-details": DETAILS}``, the
        numbers written as Python's ``repr`` writes them.
    """
    cdef Py_ssize_t n_images = offsets.shape[0] - 1, j, i
    annotations, objects = [], []
    cdef Buffer ann, obj
    cdef tuple own
    ann.data = NULL
    ann.size = ann.capacity = 0
    obj.data = NULL
    obj.size = obj.capacity = 0
    try:
        for j in range(n_images):
            ann.size = 0
            obj.size = 0
            own = <tuple>details[j]
            for i in range(offsets[j], offsets[j + 1]):
                if i > offsets[j]:
                    _put(&ann, ", ", 2)
                    _put(&obj, ", ", 2)
                _put(&ann, '{"class_id": ', 13)
                _put_int(&ann, class_id[i])
                _put(&ann, ', "width": ', 11)
                _put_repr(&ann, box[i, 2])
                _put(&ann, ', "top": ', 9)
                _put_repr(&ann, box[i, 1])
                _put(&ann, ', "height": ', 12)
                _put_repr(&ann, box[i, 3])
                _put(&ann, ', "left": ', 10)
                _put_repr(&ann, box[i, 0])
                _put(&ann, "}", 1)
                _put(&obj, '{"confidence": ', 15)
                _put_repr(&obj, score[i])
                _put(&obj, ', "rekognition-custom-labels-evaluation-details": ', 50)
                _put_bytes(&obj, <bytes>own[outcome[i]])
                _put(&obj, "}", 1)
            annotations.append(PyBytes_FromStringAndSize(ann.data, ann.size))
            objects.append(PyBytes_FromStringAndSize(obj.data, obj.size))
    finally:
        free(ann.data)
        free(obj.data)
    return annotations, objects
