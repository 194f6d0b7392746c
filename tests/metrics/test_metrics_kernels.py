"""The compiled metric kernels against the numpy path: identical results, bit for bit.

The numpy path (``customlabels.metrics._pykernels``) follows pycocotools loop for loop and is the
oracle; the compiled one (``ext/_metrics.pyx``) must return the same arrays, bytes and Nones on
seeded random inputs, awkward ones included. IoU is also checked against hand-computed values.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from customlabels.metrics import _pykernels, detection
from customlabels.metrics.iou import box_iou, ratios_to_pixels
from customlabels.metrics.kernels import COMPILED_AVAILABLE, choose_backend, kernels
from customlabels.metrics.matching import match

from .test_metrics_coco import detection_data, make_set

BACKENDS = ["python", "compiled"] if COMPILED_AVAILABLE else ["python"]
needs_compiled = pytest.mark.skipif(not COMPILED_AVAILABLE,
                                    reason="customlabels._metrics is not built")


@pytest.mark.parametrize("backend", BACKENDS)
def test_iou_by_hand(backend: str) -> None:
    gt = np.array([[0, 0, 10, 10]], dtype=float)
    dt = np.array([[0, 0, 10, 10],     # the same box
                   [5, 0, 10, 10],     # half overlaps: 50 / 150
                   [10, 0, 10, 10],    # touches an edge: no overlap
                   [2, 2, 5, 5],       # inside: 25 / 100
                   [-5, -5, 10, 10],   # a corner: 25 / 175
                   [0, 0, 0, 10]], dtype=float)  # no area
    expected = [1.0, 50 / 150, 0.0, 25 / 100, 25 / 175, 0.0]
    assert box_iou(dt, gt, backend=backend)[:, 0].tolist() == pytest.approx(expected, abs=1e-15)
    assert box_iou(np.zeros((0, 4)), gt, backend=backend).shape == (0, 1)


def test_ratios_to_pixels() -> None:
    pixels = ratios_to_pixels([[0.25, 0.5, 0.5, 0.25]], 640, 480)
    assert pixels.tolist() == [[160.0, 240.0, 320.0, 120.0]]


@needs_compiled
def test_iou_identical() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        dt = rng.uniform(0, 100, (30, 4))
        gt = rng.uniform(0, 100, (12, 4))
        gt[:3] = dt[:3]  # exact matches
        np.testing.assert_array_equal(kernels("compiled").box_iou(dt, gt),
                                      _pykernels.box_iou(dt, gt))


@needs_compiled
@pytest.mark.parametrize("seed", range(4))
def test_match_and_accumulate_identical(seed: int) -> None:
    data = detection_data(make_set(seed, n_images=50, tie_grid=5.0 if seed % 2 else None,
                                   crowded_images=seed, boundary_boxes=True,
                                   images_without_predictions=3))
    params = detection.CocoParams()
    ranges = np.array(params.area_ranges)
    a = match(data, ranges, params.iou_thresholds, backend="compiled")
    b = match(data, ranges, params.iou_thresholds, backend="python")
    for name in ("dt_matched", "dt_ignored", "gt_matched", "dt_rank"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    evaluation = detection.evaluate(data, params, backend="python")
    acc_c = detection.accumulate(evaluation, backend="compiled")
    acc_p = detection.accumulate(evaluation, backend="python")
    np.testing.assert_array_equal(acc_c.precision, acc_p.precision)
    np.testing.assert_array_equal(acc_c.recall, acc_p.recall)


def test_greedy_matching_by_confidence() -> None:
    """The highest confidence takes the best box; the next takes what is left (L8253-8256)."""
    from customlabels.metrics.matching import DetectionData

    for backend in BACKENDS:
        data = DetectionData(
            ["cat"], 1, [0, 0], [0, 0], [[0, 0, 10, 10], [20, 0, 10, 10]],
            [0, 0, 0], [0, 0, 0],
            [[1, 0, 10, 10],     # IoU 0.82 with box 0
             [0, 0, 10, 10],     # IoU 1 with box 0, but lower confidence: box 0 is taken
             [25, 0, 10, 10]],   # IoU 0.33 with box 1: below 0.5
            [0.9, 0.8, 0.7])
        matches = match(data, np.array([[0, 1e10]]), np.array([0.5]), backend=backend)
        assert matches.dt_matched[0, 0].tolist() == [True, False, False]
        assert matches.gt_matched[0, 0].tolist() == [True, False]
        assert matches.dt_rank.tolist() == [0, 1, 2]


RESPONSES = [
    [],
    [{"Name": "cat", "Confidence": 87.5, "Geometry": {"BoundingBox": {
        "Width": 0.25, "Height": 0.5, "Left": 0.1, "Top": 0.2}}}],
    [{"Name": "cat", "Confidence": 100, "Geometry": {"BoundingBox": {
        "Width": 0, "Height": 1, "Left": -0.01, "Top": 0}}}],  # integers, a zero size
    [{"Name": "cat", "Confidence": 0, "Geometry": {"BoundingBox": {  # confidence 0
        "Width": 0.1, "Height": 0.1, "Left": 0, "Top": 0}}}],
    [{"Name": "", "Confidence": 50.0}],
    [{"Name": "x" * 257, "Confidence": 50.0}],
    [{"Name": "cat", "Confidence": True}],
    [{"Name": "cat", "Confidence": 100.5}],
    [{"Name": "cat", "Confidence": "90"}],
    [{"Name": "cat", "Confidence": 10 ** 400}],
    [{"Name": "cat", "Confidence": 50.0, "Geometry": None}],
    [{"Name": "cat", "Confidence": 50.0, "Geometry": {"BoundingBox": [0, 0, 1, 1]}}],
    [{"Name": "cat", "Confidence": 50.0, "Geometry": {"BoundingBox": {
        "Width": -0.1, "Height": 0.1, "Left": 0, "Top": 0}}}],
    [{"Name": "cat", "Confidence": 50.0, "Geometry": {"BoundingBox": {
        "Width": math.inf, "Height": 0.1, "Left": 0, "Top": 0}}}],
    [{"Name": "cat", "Confidence": 50.0, "Geometry": {"BoundingBox": {
        "Width": 1e308, "Height": 0.1, "Left": 0, "Top": 0}}}],  # finite ratio, infinite px
    [{"Name": "cat", "Confidence": 50.0, "Geometry": {"BoundingBox": {
        "Width": 10 ** 400, "Height": 0.1, "Left": 0, "Top": 0}}}],
    [{"Name": "cat", "Confidence": 50.0, "Geometry": {"BoundingBox": {
        "Width": 0.1, "Height": False, "Left": 0, "Top": 0}}}],
    [{"Name": "cat", "Confidence": 50.0}, "not an object"],
]


@needs_compiled
@pytest.mark.parametrize("detection_case", [True, False])
@pytest.mark.parametrize("labels", RESPONSES, ids=range(len(RESPONSES)))
def test_read_response_identical(labels: list, detection_case: bool) -> None:
    args = (labels, detection_case, 640.0, 480.0, 256, 100.0)
    compiled, python = kernels("compiled").read_response(*args), _pykernels.read_response(*args)
    assert (compiled is None) == (python is None)
    if compiled is not None:
        assert compiled[0] == python[0]
        np.testing.assert_array_equal(compiled[1], python[1])
        np.testing.assert_array_equal(compiled[2], python[2])


def test_read_response_values() -> None:
    for backend in BACKENDS:
        names, scores, boxes = kernels(backend).read_response(RESPONSES[1], True, 640.0, 480.0,
                                                             256, 100.0)
        assert names == ["cat"]
        assert scores.tolist() == [0.875]
        assert boxes.tolist() == [[0.1 * 640, 0.2 * 480, 0.25 * 640, 0.5 * 480]]
        assert kernels(backend).read_response(RESPONSES[3], True, 640.0, 480.0, 256, 100.0) is None


def test_format_detections() -> None:
    details = [(b"{0}", b"{1}", b"{2}", b"{3}"), (b"[0]", b"[1]", b"[2]", b"[3]")]
    rng = np.random.default_rng(5)
    box = rng.uniform(0, 1000, (5, 4))
    box[0] = [1.0, 2.0, 1e-7, 123456789.125]
    score = rng.uniform(0, 1, 5)
    outcome = np.array([0, 1, 2, 3, 1], dtype=np.uint8)
    class_id = np.array([0, 3, 12, 3, 7], dtype=np.int64)
    offsets = np.array([0, 3, 3, 5], dtype=np.int64)
    outs = [kernels(e).format_detections(class_id, score, box, outcome, details + [details[0]],
                                         offsets) for e in BACKENDS]
    for texts, objects in outs:
        assert texts == outs[0][0] and objects == outs[0][1]
        assert texts[1] == b"" and objects[1] == b""
        parsed = json.loads(b"[" + texts[0] + b"]")
        assert parsed[0] == {"class_id": 0, "width": 1e-7, "top": 2.0, "height": 123456789.125,
                             "left": 1.0}
        assert [a["class_id"] for a in parsed] == [0, 3, 12]
        # numbers are written as repr writes them: they read back as the same doubles
        assert [a["left"] for a in parsed] == box[:3, 0].tolist()
        key = b'"rekognition-custom-labels-evaluation-details": '
        assert objects[2] == (b'{"confidence": ' + repr(float(score[3])).encode() + b", " + key
                              + b'{3}}, {"confidence": ' + repr(float(score[4])).encode()
                              + b", " + key + b"{1}}")


def test_choose_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMLABELS_PURE", "1")
    assert choose_backend("auto") == "python"
    monkeypatch.delenv("CUSTOMLABELS_PURE")
    assert choose_backend("auto") == ("compiled" if COMPILED_AVAILABLE else "python")
    with pytest.raises(ValueError):
        choose_backend("fast")
