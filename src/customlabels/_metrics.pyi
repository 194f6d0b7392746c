"""Typed stub of the compiled metric kernels (``ext/_metrics.pyx``).

Each function returns exactly what its namesake in :mod:`customlabels.metrics._pykernels`
returns; see that module and the ``.pyx`` for the arguments.
"""

import numpy as np
import numpy.typing as npt

def box_iou(
    dt: npt.NDArray[np.float64], gt: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def match(
    dt_box: npt.NDArray[np.float64], dt_area: npt.NDArray[np.float64],
    gt_box: npt.NDArray[np.float64], gt_area: npt.NDArray[np.float64],
    dt_offsets: npt.NDArray[np.int64], gt_offsets: npt.NDArray[np.int64],
    area_ranges: npt.NDArray[np.float64], iou_thresholds: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]: ...
def accumulate(
    label_offsets: npt.NDArray[np.int64], rank: npt.NDArray[np.int64],
    dt_flags: npt.NDArray[np.uint8], n_gt: npt.NDArray[np.int64],
    recall_thresholds: npt.NDArray[np.float64],
    max_dets: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def read_response(
    labels: list[object], detection: bool, width: float, height: float, max_name: int,
    percent: float,
) -> tuple[list[str], npt.NDArray[np.float64], npt.NDArray[np.float64]] | None: ...
def format_detections(
    class_id: npt.NDArray[np.int64], score: npt.NDArray[np.float64],
    box: npt.NDArray[np.float64], outcome: npt.NDArray[np.uint8],
    details: list[tuple[bytes, bytes, bytes, bytes]], offsets: npt.NDArray[np.int64],
) -> tuple[list[bytes], list[bytes]]: ...
