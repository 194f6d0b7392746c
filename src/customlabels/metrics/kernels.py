"""Choose the IoU and matching kernels: the compiled ``_metrics`` or the numpy path.

Both give identical results (``tests/test_metrics_kernels.py``); ``CUSTOMLABELS_PURE=1`` forces
the numpy path at run time, as it forces the pure-Python scanner for ``validate``.
"""

from __future__ import annotations

import os
from types import ModuleType

from . import _pykernels

try:
    from .. import _metrics
except ImportError:  # the extension is not built: the numpy path gives the same results
    _metrics = None  # type: ignore[assignment]

COMPILED_AVAILABLE = _metrics is not None


def choose_engine(engine: str = "auto") -> str:
    """Resolve ``auto`` to ``compiled`` or ``python``; CUSTOMLABELS_PURE=1 forces Python."""
    if engine == "auto":
        if os.environ.get("CUSTOMLABELS_PURE") == "1" or _metrics is None:
            return "python"
        return "compiled"
    if engine == "compiled" and _metrics is None:
        raise RuntimeError("the compiled kernels customlabels._metrics are not built; "
                           "reinstall without CUSTOMLABELS_NO_EXT=1 or use engine='python'")
    if engine not in ("compiled", "python"):
        raise ValueError(f"engine must be 'auto', 'compiled' or 'python', not {engine!r}")
    return engine


def kernels(engine: str) -> ModuleType:
    """Return the module with ``box_iou``, ``match`` and ``accumulate`` for a resolved engine."""
    return _metrics if engine == "compiled" else _pykernels
