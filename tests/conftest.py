"""Shared test settings: fail early when the build is not the one CI expects.

Shared helpers (paths, the backends to run, a trickling stream) are in ``tests/helpers.py``.

CI sets CUSTOMLABELS_EXPECT_COMPILED=1 (or CUSTOMLABELS_EXPECT_PURE=1) so that a build that
silently lost (or kept) the extension fails instead of skipping tests.
"""

from __future__ import annotations

import os

from customlabels.validation.scan import COMPILED_AVAILABLE

from .helpers import BACKENDS  # noqa: F401  (kept importable here for older test modules)

if os.environ.get("CUSTOMLABELS_EXPECT_COMPILED") == "1" and not COMPILED_AVAILABLE:
    raise RuntimeError("CUSTOMLABELS_EXPECT_COMPILED=1 but customlabels._core is not built")
if os.environ.get("CUSTOMLABELS_EXPECT_PURE") == "1" and COMPILED_AVAILABLE:
    raise RuntimeError("CUSTOMLABELS_EXPECT_PURE=1 but customlabels._core is importable")
