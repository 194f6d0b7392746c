"""The object detector: an ImageNet backbone's feature pyramid with FCOS's head.

The network (Tian et al. 2019, "FCOS: Fully Convolutional One-Stage Object Detection"; the
head, the loss and the box coding are torchvision's ``FCOS``):

* **backbone**: the classifier of :mod:`customlabels.train.models` (EfficientNet-Lite or
  MobileNetV2, ImageNet weights read offline), cut into its stages by output stride; the last
  map of each stride in :attr:`DetectorConfig.levels` feeds a feature pyramid (Lin et al. 2017,
  torchvision's ``FeaturePyramidNetwork``), plus coarser levels made by stride-2 convolutions
  where the boxes need them. The stem and first blocks keep their weights with ``freeze``, as
  for classification; the batch norms train (keeping ImageNet's statistics measured worse on
  the DeepForest chips, docs/decisions.md);
* **head**: FCOS's classification, box and centre-ness branches, shared by the levels. Each
  position of a level is a point; a point learns the box whose centre is within
  ``center_sampling_radius`` strides of it and whose size belongs to the level (the largest
  distance from the point to the box's sides within (4 x stride, 8 x stride], the finest level
  taking all smaller boxes and the coarsest all larger ones).

The levels come from the training boxes (:func:`choose_levels`): small objects need a fine
stride; the default pyramid of torchvision's detectors starts at stride 16 or 32, which is why
its plain recipe finds few of the guide's small objects.

Inference is split in two so that an exported network and ``detect`` share the same steps:
:meth:`Detector.decode` (the network: boxes and scores for every point, in input pixels) and
:func:`postprocess` (score threshold, top candidates, non-maximum suppression a label, at most
``max_detections``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ModelError
from ._torch import import_torch

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402
from torch import nn  # noqa: E402

from . import models  # noqa: E402
from .efficientnet_lite import EfficientNetLite  # noqa: E402

#: The strides a pyramid level may have.
STRIDES = (4, 8, 16, 32, 64, 128)
#: A box is a level's when its largest point-to-side distance is within (4s, 8s] (FCOS).
_LEVEL_LOW, _LEVEL_HIGH = 4, 8


@dataclass(frozen=True)
class DetectorConfig:
    """The detector's shape, written into ``model.pt`` (a model is rebuilt from it).

    Attributes:
        architecture: the backbone (a name of :data:`customlabels.train.models.MODELS`).
        num_classes: the labels.
        image_size: the square input side in pixels.
        levels: the pyramid's strides, finest first (:func:`choose_levels`).
        channels: the pyramid's and the head's width.
        head_convs: convolutions in each branch of the head before its last layer.
        center_sampling_radius: FCOS's, in strides.
    """

    architecture: str
    num_classes: int
    image_size: int
    levels: tuple[int, ...] = (8, 16, 32)
    channels: int = 96
    head_convs: int = 2
    center_sampling_radius: float = 1.5

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as plain data."""
        doc = asdict(self)
        doc["levels"] = list(self.levels)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DetectorConfig:
        """Return the configuration that :meth:`as_dict` wrote."""
        return cls(**{**doc, "levels": tuple(doc["levels"])})


def choose_levels(sides: Sequence[float], image_size: int) -> tuple[int, ...]:
    """Return the pyramid's strides for training boxes with longer sides ``sides`` (pixels of
    the network's input).

    The finest level is stride 4 when a tenth of the boxes are shorter than 16 pixels (a
    stride-8 map puts at most a point or two on those), else 8; the coarsest is stride 32, or
    64 and 128 when a quarter of the boxes are longer than 512 and 1024 pixels (past the range
    of the stride-32 and stride-64 levels); never coarser than a level with a 2 x 2 map.
    """
    values = np.asarray(list(sides), dtype=np.float64)
    if values.size == 0:
        return (8, 16, 32)
    finest = 4 if float(np.quantile(values, 0.1)) < 16 else 8
    coarsest = 32
    for stride in (64, 128):
        if float(np.quantile(values, 0.75)) > _LEVEL_HIGH * stride and image_size // stride >= 2:
            coarsest = stride
    return tuple(s for s in STRIDES if finest <= s <= coarsest)


class _Stem(nn.Module):
    """EfficientNet-Lite's stem as a layer: convolution, batch norm, ReLU6."""

    def __init__(self, net: EfficientNetLite):
        super().__init__()
        self.conv, self.bn = net._conv_stem, net._bn0

    def forward(self, x: Any) -> Any:
        return torch.nn.functional.relu6(self.bn(self.conv(x)))


def _layers(net: nn.Module) -> list[nn.Module]:
    """Return the classifier ``net``'s feature layers in order, without its last 1x1 head
    convolution (the pyramid reads the blocks' own maps)."""
    if isinstance(net, EfficientNetLite):
        return [_Stem(net), *net._blocks]
    features = net.features  # torchvision's MobileNetV2
    assert isinstance(features, nn.Sequential)
    return list(features)[:-1]


class Backbone(nn.Module):
    """The classifier's stages up to the pyramid's coarsest backbone stride, and the pyramid.

    ``forward(x)`` returns the pyramid's maps, finest first, ``channels`` wide.
    """

    def __init__(self, config: DetectorConfig, *, pretrained: bool, freeze: bool):
        super().__init__()
        from torchvision.ops import FeaturePyramidNetwork

        net = models.build_model(config.architecture, 1, pretrained=pretrained)
        if pretrained and freeze:
            models.freeze_early_layers(net, config.architecture)
        layers = _layers(net)
        with torch.no_grad():  # each layer's output stride and width, from a small input
            x = torch.zeros(1, 3, 64, 64)
            strides, widths = [], []
            for layer in layers:
                x = layer.eval()(x)
                strides.append(64 // x.shape[-1])
                widths.append(x.shape[1])
        top = min(max(config.levels), 32)
        self.taps: list[int] = []  # after which layers a level's map is read
        tapped_widths = []
        for stride in (s for s in config.levels if s <= top):
            last = max(i for i, s in enumerate(strides) if s == stride)
            self.taps.append(last)
            tapped_widths.append(widths[last])
        self.body = nn.ModuleList(layers[:self.taps[-1] + 1])
        self.fpn = FeaturePyramidNetwork(tapped_widths, config.channels)
        # coarser levels than the backbone's: stride-2 convolutions on the last map (RetinaNet's
        # P6 and P7, from the pyramid's top as FCOS makes them)
        self.extra = nn.ModuleList(
            nn.Conv2d(config.channels, config.channels, 3, stride=2, padding=1)
            for _ in (s for s in config.levels if s > top))
        for conv in self.extra:
            assert isinstance(conv, nn.Conv2d) and conv.bias is not None
            nn.init.kaiming_uniform_(conv.weight, a=1)
            nn.init.zeros_(conv.bias)
        self.out_channels = config.channels

    def forward(self, x: Any) -> list[Any]:
        tapped: OrderedDict[str, Any] = OrderedDict()
        taps = set(self.taps)
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i in taps:
                tapped[str(len(tapped))] = x
        maps = list(self.fpn(tapped).values())
        for conv in self.extra:
            maps.append(conv(torch.nn.functional.relu(maps[-1]) if len(maps) > len(self.taps)
                             else maps[-1]))
        return [m.contiguous() for m in maps]


class Detector(nn.Module):
    """Backbone, pyramid and FCOS head for ``config``; see the module's docstring.

    ``loss(x, targets)`` trains on normalized images ``x`` (N x 3 x S x S) and targets (a dict
    an image: ``boxes`` N x 4 float in input pixels x0, y0, x1, y1, ``labels`` int64);
    ``decode(x)`` returns every point's boxes (N x P x 4, input pixels, inside the image) and
    scores (N x P x labels, 0..1).
    """

    def __init__(self, config: DetectorConfig, *, pretrained: bool = True, freeze: bool = True):
        super().__init__()
        from torchvision.models.detection import FCOS
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.models.detection.fcos import FCOSHead

        if config.num_classes < 1:
            raise ModelError("a detector needs at least one label")
        self.config = config
        self.backbone = Backbone(config, pretrained=pretrained, freeze=freeze)
        self.head = FCOSHead(config.channels, 1, config.num_classes,
                             num_convs=config.head_convs)
        generator = AnchorGenerator(tuple((s,) for s in config.levels),
                                    ((1.0,),) * len(config.levels))
        # torchvision's FCOS for its matching and loss; its own transform and backbone unused
        self._fcos = [FCOS(self.backbone, config.num_classes, anchor_generator=generator,
                           head=self.head, center_sampling_radius=config.center_sampling_radius)]
        size = config.image_size
        points, counts = [], []
        for stride in config.levels:
            n = math.ceil(size / stride)
            centres = (torch.arange(n, dtype=torch.float32) * stride)
            yy, xx = torch.meshgrid(centres, centres, indexing="ij")
            half = stride / 2
            # torchvision's anchors for one size: (x - s/2, y - s/2, x + s/2, y + s/2)
            points.append(torch.stack([xx - half, yy - half, xx + half, yy + half],
                                      dim=-1).reshape(-1, 4))
            counts.append(n * n)
        self.register_buffer("anchors", torch.cat(points), persistent=False)
        self.counts = counts

    def _outputs(self, x: Any) -> dict[str, Any]:
        maps = self.backbone(x)
        got = [m.shape[-1] for m in maps]
        want = [math.ceil(self.config.image_size / s) for s in self.config.levels]
        if got != want:
            raise ModelError(f"the detector takes {self.config.image_size} x "
                             f"{self.config.image_size} images, not {tuple(x.shape[-2:])}")
        out: dict[str, Any] = self.head(maps)
        return out

    def _loss(self, outputs: dict[str, Any], targets: list[dict[str, Any]]) -> Any:
        anchors = [self.anchors] * len(targets)
        losses = self._fcos[0].compute_loss(targets, outputs, anchors, self.counts)
        return sum(losses.values())

    def loss(self, x: Any, targets: list[dict[str, Any]]) -> Any:
        """Return the sum of FCOS's three losses (focal classification, GIoU box, centre-ness
        binary cross entropy) on the batch."""
        return self._loss(self._outputs(x), targets)

    def loss_and_decode(self, x: Any, targets: list[dict[str, Any]]) -> tuple[Any, Any]:
        """Return the loss and :meth:`decode`'s boxes and scores from one pass (the test set
        each epoch)."""
        outputs = self._outputs(x)
        return self._loss(outputs, targets), self._decoded(outputs)

    def decode(self, x: Any) -> tuple[Any, Any]:
        """Return every point's boxes and scores for normalized images ``x``."""
        return self._decoded(self._outputs(x))

    def _decoded(self, outputs: dict[str, Any]) -> tuple[Any, Any]:
        box_coder = self._fcos[0].box_coder
        regression = outputs["bbox_regression"]
        n = regression.shape[0]
        points: Any = self.anchors  # a buffer
        anchors = points.unsqueeze(0).expand(n, -1, -1)
        boxes = box_coder.decode(regression.reshape(-1, 4), anchors.reshape(-1, 4))
        boxes = boxes.reshape(n, -1, 4).clamp(0, self.config.image_size)
        scores = torch.sqrt(torch.sigmoid(outputs["cls_logits"])
                            * torch.sigmoid(outputs["bbox_ctrness"]))
        return boxes, scores

    def forward(self, x: Any, targets: list[dict[str, Any]] | None = None) -> Any:
        """Return the loss with ``targets`` (training: through DistributedDataParallel's
        forward), else :meth:`decode`'s boxes and scores."""
        if targets is not None:
            return self.loss(x, targets)
        return self.decode(x)


#: Post-processing: scores below this are not candidates; at most this many candidates an
#: image go to non-maximum suppression, which merges boxes overlapping more than NMS_IOU
#: (torchvision's FCOS settings: crowded objects, such as tree crowns, overlap).
SCORE_FLOOR = 0.05
TOP_CANDIDATES = 1000
NMS_IOU = 0.6


def postprocess(boxes: Any, scores: Any, *, max_detections: int, score_floor: float = SCORE_FLOOR,
                nms_iou: float = NMS_IOU, top: int = TOP_CANDIDATES
                ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Return ``(boxes, scores, labels)`` an image from :meth:`Detector.decode`'s outputs
    (tensors or arrays): the candidates above ``score_floor``, the ``top`` best, non-maximum
    suppression a label, the ``max_detections`` best; highest score first."""
    from torchvision.ops import batched_nms

    boxes = torch.as_tensor(boxes, dtype=torch.float32).cpu()
    scores = torch.as_tensor(scores, dtype=torch.float32).cpu()
    out = []
    for b, s in zip(boxes, scores):
        flat = s.flatten()
        keep = torch.nonzero(flat > score_floor).squeeze(1)
        if keep.numel() > top:
            keep = keep[flat[keep].topk(top).indices]
        point, label = keep // s.shape[1], keep % s.shape[1]
        chosen_boxes, chosen_scores = b[point], flat[keep]
        kept = batched_nms(chosen_boxes, chosen_scores, label, nms_iou)[:max_detections]
        out.append((chosen_boxes[kept].numpy().astype(np.float64),
                    chosen_scores[kept].numpy().astype(np.float64),
                    label[kept].numpy()))
    return out


def merge_tiles(per_tile: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                regions: Sequence[tuple[float, float, float, float] | None],
                extents: Sequence[tuple[int, int]], max_detections: int,
                nms_iou: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return one image's detections from its tiles' (:func:`postprocess`'s, a tile each; a
    whole image is one tile, region None): boxes as ratios of the image, the tiles' overlaps
    merged by non-maximum suppression a label, the ``max_detections`` best first.
    ``extents``: the pixels each tile took in the letterboxed input."""
    from torchvision.ops import batched_nms

    gathered = []
    for (boxes, scores, labels), region, (w, h) in zip(per_tile, regions, extents):
        x0, y0, x1, y1 = region or (0.0, 0.0, 1.0, 1.0)
        ratios = boxes / np.array([w, h, w, h], dtype=np.float64)
        ratios = ratios * np.array([x1 - x0, y1 - y0, x1 - x0, y1 - y0]) + np.array(
            [x0, y0, x0, y0])
        gathered.append((ratios, scores, labels))
    if len(gathered) == 1:
        return gathered[0]
    boxes, scores, labels = (np.concatenate([g[i] for g in gathered]) for i in range(3))
    if len(boxes) == 0:
        return boxes, scores, labels
    kept = batched_nms(torch.as_tensor(boxes, dtype=torch.float32),
                       torch.as_tensor(scores, dtype=torch.float32),
                       torch.as_tensor(labels, dtype=torch.int64), nms_iou)[:max_detections]
    index = kept.numpy()
    return boxes[index], scores[index], labels[index]
