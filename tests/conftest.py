"""Shared test settings: fail early when the build is not the one CI expects.

Shared helpers (paths, the backends to run, a trickling stream) are in ``tests/helpers.py``.

CI sets CUSTOMLABELS_EXPECT_COMPILED=1 (or CUSTOMLABELS_EXPECT_PURE=1) so that a build that
silently lost (or kept) the extension fails instead of skipping tests.
"""

from __future__ import annotations

import importlib.util
import os

from customlabels.validation.scan import COMPILED_AVAILABLE

from .helpers import BACKENDS  # noqa: F401  (kept importable here for older test modules)

_EXTENSIONS = ("customlabels._core", "customlabels._metrics", "customlabels._split",
               "customlabels._images")
_BUILT = [name for name in _EXTENSIONS if importlib.util.find_spec(name) is not None]
if os.environ.get("CUSTOMLABELS_EXPECT_COMPILED") == "1" and (
        not COMPILED_AVAILABLE or len(_BUILT) != len(_EXTENSIONS)):
    raise RuntimeError("CUSTOMLABELS_EXPECT_COMPILED=1 but not every extension is built "
                       f"(built: {_BUILT})")
if os.environ.get("CUSTOMLABELS_EXPECT_PURE") == "1" and (COMPILED_AVAILABLE or _BUILT):
    raise RuntimeError(f"CUSTOMLABELS_EXPECT_PURE=1 but extensions are importable: {_BUILT}")
