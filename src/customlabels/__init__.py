"""customlabels: Amazon Rekognition Custom Labels datasets and models, offline.

The public API is re-exported here; report types load on first use so that the command line
starts fast.
"""

from __future__ import annotations

from typing import Any

from .codes import CODES, Code
from .validate import validate

__version__ = "0.1.0"

_REPORT_TYPES = ("Issue", "ManifestSummary", "ValidationFailed", "ValidationReport")


def __getattr__(name: str) -> Any:
    if name in _REPORT_TYPES:
        from .validate import report

        return getattr(report, name)
    raise AttributeError(f"module 'customlabels' has no attribute {name!r}")


__all__ = sorted(["CODES", "Code", "validate", *_REPORT_TYPES])
