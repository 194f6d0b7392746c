"""Choose the IoU and matching kernels: the compiled ``_metrics`` or the numpy path.

Both give identical results (``tests/metrics/test_metrics_kernels.py``); ``CUSTOMLABELS_PURE=1`` forces
the numpy path at run time, as it forces the pure-Python scanner for ``validate``.
"""

from __future__ import annotations

from types import ModuleType

from .._backend import resolve_backend
from . import _pykernels

try:
    from .. import _metrics
except ImportError:  # the extension is not built: the numpy path gives the same results
    _metrics = None  # type: ignore[assignment]

COMPILED_AVAILABLE = _metrics is not None


def choose_backend(backend: str = "auto") -> str:
    """Resolve ``auto`` to ``compiled`` or ``python``; CUSTOMLABELS_PURE=1 forces Python."""
    return resolve_backend(backend, _metrics, "the compiled kernels customlabels._metrics are")


def kernels(backend: str) -> ModuleType:
    """Return the module with ``box_iou``, ``match`` and ``accumulate`` for a resolved backend."""
    return _metrics if backend == "compiled" else _pykernels
