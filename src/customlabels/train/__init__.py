"""The trainer: image classification (and, on the same package, object detection) with PyTorch.

Installed with the ``[train]`` extra; torch is imported only in this package, through
:func:`customlabels.train._torch.import_torch`, and only when a model is trained, loaded or
exported: importing ``customlabels`` or this package needs no torch. Layout after the
torchvision references: ``data`` (manifests and images to arrays), ``transforms``, ``models``
(a factory by name), ``engine`` (the train and predict loops), ``utils`` (seeding, devices,
checkpoints, torchrun), ``run`` (what ``customlabels train`` does), ``predict`` (what
``customlabels detect`` does), ``export``.

The Python API is ``customlabels.train(...)`` (this package is callable: it runs
:func:`train`) and ``customlabels.load_model(...)``::

    import customlabels

    result = customlabels.train("train.manifest", images="mirror/", project="cells")
    model = customlabels.load_model("cells", result.version)
    model.detect("cell0001.png")   # {"CustomLabels": [{"Name": ..., "Confidence": ...}]}
"""

from __future__ import annotations

import os
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .predict import Model
    from .run import TrainResult


def train(train: str | None = None, test: str | None = None, *, images: str | None = None,
          project: str, version: str | None = None,
          store: str | os.PathLike[str] | None = None, resume: bool = False,
          progress: bool | None = False, backend: str = "auto", **settings: Any) -> TrainResult:
    """Train a model version of ``project`` from the ``train`` manifest (and ``test``).

    ``images``: the images' folder (a mirror of the bucket) or ``"s3"``; ``settings``: any
    field of :class:`~customlabels.train.run.Settings` (``model``, ``epochs``,
    ``time_budget``, ``image_size``, ``seed``, ``device``...). Returns the
    :class:`~customlabels.train.run.TrainResult`; :class:`~customlabels.errors.ModelError`
    for a setting or a version that cannot be used, and
    :class:`~customlabels.errors.TrainingExtraMissing` without torch.
    """
    from .run import Settings
    from .run import train as run

    if not resume and (train is None or images is None):
        raise TypeError("train() needs the training manifest and images= (except to resume)")
    options = Settings(train=train or "", test=test, images=images or "", **settings)
    return run(options, project=project, version=version, store=store, resume=resume,
               progress=progress, backend=backend)


def load_model(project: str, version: str, *, store: str | os.PathLike[str] | None = None,
               device: str = "auto") -> Model:
    """Return the completed model ``version`` of ``project``, loaded (``model.detect(image)``)."""
    from .predict import load_model as load

    return load(project, version, store=store, device=device)


class _CallablePackage(types.ModuleType):
    """This package's type: calling ``customlabels.train(...)`` calls :func:`train`, whether
    the name was reached as the package or through ``customlabels``' lazy names."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
