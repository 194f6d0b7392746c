"""Shared test settings: the backends to run (the compiled one only where it is built).

CI sets CUSTOMLABELS_EXPECT_COMPILED=1 (or CUSTOMLABELS_EXPECT_PURE=1) so that a build that
silently lost (or kept) the extension fails instead of skipping tests.
"""

from __future__ import annotations

import os

from customlabels.validation.scan import COMPILED_AVAILABLE

BACKENDS = ["python", "compiled"] if COMPILED_AVAILABLE else ["python"]

if os.environ.get("CUSTOMLABELS_EXPECT_COMPILED") == "1" and not COMPILED_AVAILABLE:
    raise RuntimeError("CUSTOMLABELS_EXPECT_COMPILED=1 but customlabels._core is not built")
if os.environ.get("CUSTOMLABELS_EXPECT_PURE") == "1" and COMPILED_AVAILABLE:
    raise RuntimeError("CUSTOMLABELS_EXPECT_PURE=1 but customlabels._core is importable")
