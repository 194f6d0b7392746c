"""Resolve an ``backend`` argument: the compiled extension or its pure-Python equivalent.

Shared by the validator (``customlabels._core``) and the metric kernels (``customlabels._metrics``);
standard library only, so that ``customlabels validate`` starts up lean.
"""

from __future__ import annotations

import os
from types import ModuleType

from .errors import BackendNotBuiltError, UsageError


def resolve_backend(backend: str, compiled_module: ModuleType | None, what: str) -> str:
    """Resolve ``auto`` to ``compiled`` or ``python``; CUSTOMLABELS_PURE=1 forces Python.

    ``compiled_module`` is the extension, or None where it is not built; ``what`` names it in
    the error raised when ``compiled`` is asked for without it ("the compiled core
    customlabels._core is").
    """
    if backend == "auto":
        if os.environ.get("CUSTOMLABELS_PURE") == "1" or compiled_module is None:
            return "python"
        return "compiled"
    if backend == "compiled" and compiled_module is None:
        raise BackendNotBuiltError(f"{what} not built; reinstall without "
                                   "CUSTOMLABELS_NO_EXT=1 or use backend='python'")
    if backend not in ("compiled", "python"):
        raise UsageError(f"backend must be 'auto', 'compiled' or 'python', not {backend!r}")
    return backend
