"""customlabels: Amazon Rekognition Custom Labels datasets and models, offline.

The public API is re-exported here; report types load on first use so that the command line
starts fast.
"""

from __future__ import annotations

from typing import Any

from .codes import CODES, Code
from .validation import validate

__version__ = "0.1.0"

_REPORT_TYPES = ("Issue", "ManifestSummary", "ValidationFailed", "ValidationReport")
#: Model evaluation, loaded on first use: it imports numpy, which `customlabels validate` does
#: not need.
_METRICS_API = ("EvaluationResult", "evaluate")
#: Conversion, splitting and dataset operations: name -> (module, attribute), loaded on first
#: use (the converters import orjson and tqdm, which `customlabels validate` does not need).
_DATASET_API = {
    "ConversionResult": ("convert._common", "ConversionResult"),
    "SplitResult": ("split", "SplitResult"),
    "convert_file": ("convert", "convert"),
    "convert_many": ("convert.batch", "convert_many"),
    "describe_dataset": ("dataset", "describe"),
    "detect_format": ("convert", "detect"),
    "distribute_entries": ("split", "distribute"),
    "export_manifest": ("convert", "export"),
    "list_entries": ("dataset", "list_entries"),
    "list_labels": ("dataset", "list_labels"),
    "merge_manifests": ("dataset", "merge"),
    "remove_label": ("dataset", "remove_label"),
    "split_manifest": ("split", "split"),
    "update_entries": ("dataset", "update_entries"),
}


def __getattr__(name: str) -> Any:
    if name in _REPORT_TYPES:
        from .validation import report

        return getattr(report, name)
    if name in _METRICS_API:
        from . import metrics

        return getattr(metrics, name)
    if name in _DATASET_API:
        import importlib

        module, attribute = _DATASET_API[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    raise AttributeError(f"module 'customlabels' has no attribute {name!r}")


__all__ = sorted(["CODES", "Code", "validate", *_REPORT_TYPES, *_DATASET_API,
                  *_METRICS_API])
