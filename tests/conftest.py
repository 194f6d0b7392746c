"""Shared test settings: the engines to run (the compiled one only where it is built)."""

from __future__ import annotations

from customlabels.validate.engine import COMPILED_AVAILABLE

ENGINES = ["python", "compiled"] if COMPILED_AVAILABLE else ["python"]
