"""``customlabels export-model``: a stored version as an ONNX or TorchScript file.

The service's models cannot leave it; these can. The exported network takes what ``detect``
gives its own: ``images``, float32, N x 3 x S x S, RGB scaled to 0..1 (S: the version's image
size; resized to a square for a classifier, letterboxed for a detector, as ``detect`` does),
with the input normalization inside. A classifier returns ``probabilities``, N x labels
(softmax over the labels, or a sigmoid a label for a multi-label model); a detector returns
``boxes`` (N x points x 4, input pixels) and ``scores`` (N x points x labels) for every point,
before the post-processing (:func:`customlabels.train.detection.postprocess`: its settings
are in the sidecar). A JSON file beside it names the labels, in output order, and their
assumed thresholds. Files are written atomically.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..limits import MAX_BOXES
from ._torch import import_torch
from .predict import Model, load_model

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
#: ONNX opset: 17 is what onnxruntime 1.14 and later run (a wide reach).
OPSET = 17


class Exported(torch.nn.Module):  # type: ignore[misc]
    """The network with its input normalization and output activation, for export."""

    def __init__(self, model: Model):
        super().__init__()
        self.network = model.network.float().to(memory_format=torch.contiguous_format).cpu()
        self.register_buffer("mean", torch.tensor(model.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(model.std).view(1, 3, 1, 1))
        self.multi_label = model.multi_label
        self.detects_boxes = model.detects_boxes

    def forward(self, images: Any) -> Any:
        if self.detects_boxes:  # boxes (input pixels) and scores of every point
            return self.network((images - self.mean) / self.std)
        logits = self.network((images - self.mean) / self.std)
        if self.multi_label:
            return torch.sigmoid(logits)
        return torch.softmax(logits, dim=1)


def export_model(project: str, version: str, fmt: str, *, output: str | None = None,
                 store: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Export the completed ``version`` of ``project`` as ``fmt``; return what was written.

    ``output``: the file (default: ``export/model.onnx`` or ``export/model.pt`` in the
    version's folder); the labels go beside it as ``NAME.labels.json``.
    """
    if fmt not in FORMATS:
        raise ModelError(f"--format {fmt}: one of {', '.join(FORMATS)}")
    model = load_model(project, version, store=store, device="cpu")
    target = Path(output) if output else model.folder / "export" / f"model{SUFFIXES[fmt]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    module = Exported(model).eval()
    example = torch.rand(1, 3, model.image_size, model.image_size)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the tracer's notes on shapes read as constants: the input size is fixed, and
            # torch.jit's deprecation notice: the file it writes is what was asked for
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # the exporter we choose
            warnings.filterwarnings("ignore", message="Constant folding")
            if fmt == "onnx":
                outputs = ["boxes", "scores"] if model.detects_boxes else ["probabilities"]
                torch.onnx.export(module, (example,), str(temporary), dynamo=False,
                                  input_names=["images"], output_names=outputs,
                                  dynamic_axes={name: {0: "batch"}
                                                for name in ["images", *outputs]},
                                  opset_version=OPSET)
            else:
                traced = torch.jit.trace(module, (example,), check_trace=False)
                torch.jit.save(traced, str(temporary))
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    sidecar = target.with_name(target.name + ".labels.json")
    doc: dict[str, Any] = {"project": project, "version": version, "format": fmt,
           "input": {"name": "images", "shape": ["batch", 3, model.image_size,
                                                 model.image_size],
                     "dtype": "float32", "meaning": "RGB, 0..1, resized to a square"},
           "output": {"name": "probabilities", "shape": ["batch", len(model.labels)],
                      "activation": "sigmoid" if model.multi_label else "softmax"},
           "labels": [{"Name": name, "Index": i, "AssumedThreshold": _share(model.thresholds[name])}
                      for i, name in enumerate(model.labels)]}
    from ..store import write_json

    if model.detects_boxes:
        from .detection import NMS_IOU, SCORE_FLOOR, TOP_CANDIDATES

        anchors: Any = module.network.anchors
        points = int(anchors.shape[0])
        doc["input"]["meaning"] = ("RGB, 0..1, letterboxed: the image resized so that its "
                                   "longer side is the input's, at the top left, the rest "
                                   "grey (127/255)")
        doc["output"] = {
            "boxes": {"shape": ["batch", points, 4], "meaning": "x0, y0, x1, y1 in input "
                      "pixels, for every point of the feature pyramid"},
            "scores": {"shape": ["batch", points, len(model.labels)],
                       "meaning": "0..1, a label a column"},
            "postprocess": {"score_floor": SCORE_FLOOR, "top_candidates": TOP_CANDIDATES,
                            "nms_iou": NMS_IOU, "nms": "a label at a time",
                            "max_detections": MAX_BOXES},
            "tile": model.tile}
    write_json(sidecar, doc)
    return {"file": str(target), "labels": str(sidecar), "format": fmt,
            "image_size": model.image_size, "labels_count": len(model.labels),
            "doc": json.loads(json.dumps(doc))}


def _share(percent: float | None) -> float | None:
    """Return a threshold in percent as the service writes it in its files: 0-1."""
    return None if percent is None else percent / 100
