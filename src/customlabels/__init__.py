"""customlabels: Amazon Rekognition Custom Labels datasets and models, offline.

The public API is re-exported here. What ``customlabels validate`` needs (the validator, the code
catalogue, the exceptions) is imported at once; the rest loads on first use, so that the command
line starts fast (the report types import pydantic, the converters orjson and tqdm, evaluation
numpy). Type checkers see every name through the ``TYPE_CHECKING`` imports, which mirror
:data:`_LAZY` one for one (``tests/test_api.py`` holds them to it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__
from .codes import CODES, Code
from .errors import (BackendNotBuiltError, CustomLabelsError, DatasetError, ImageSourceError,
                     InputKindError, ModelError, ReportError, SplitError, TrainingExtraMissing,
                     UsageError, ValidationFailed)
from .validation import validate

if TYPE_CHECKING:
    from .convert import ConversionResult
    from .convert import convert as convert_file
    from .convert import detect as detect_format
    from .convert import export as export_manifest
    from .convert.batch import convert_many
    from .dataset import ChangeResult, DatasetStats, LabelStats
    from .dataset import describe as describe_dataset
    from .dataset import list_entries, list_labels, remove_label, update_entries
    from .dataset import merge as merge_manifests
    from .htmlreport import ReportWritten, write_report
    from .manifest.records import Record
    from .metrics import EvaluationResult, LabelResult, evaluate
    from .split import SplitResult
    from .split import distribute as distribute_entries
    from .split import split as split_manifest
    from .tables import image_table, label_table, write_table
    from .train import load_model
    from .validation.report import Issue, ManifestSummary, ValidationReport

#: Public name -> (module under customlabels, attribute), imported on first use.
_LAZY: dict[str, tuple[str, str]] = {
    "ChangeResult": ("dataset", "ChangeResult"),
    "ConversionResult": ("convert", "ConversionResult"),
    "DatasetStats": ("dataset", "DatasetStats"),
    "EvaluationResult": ("metrics", "EvaluationResult"),
    "Issue": ("validation.report", "Issue"),
    "LabelResult": ("metrics", "LabelResult"),
    "LabelStats": ("dataset", "LabelStats"),
    "ManifestSummary": ("validation.report", "ManifestSummary"),
    "Record": ("manifest.records", "Record"),
    "ReportWritten": ("htmlreport", "ReportWritten"),
    "SplitResult": ("split", "SplitResult"),
    "ValidationReport": ("validation.report", "ValidationReport"),
    "convert_file": ("convert", "convert"),
    "convert_many": ("convert.batch", "convert_many"),
    "describe_dataset": ("dataset", "describe"),
    "detect_format": ("convert", "detect"),
    "distribute_entries": ("split", "distribute"),
    "evaluate": ("metrics", "evaluate"),
    "export_manifest": ("convert", "export"),
    "image_table": ("tables", "image_table"),
    "label_table": ("tables", "label_table"),
    "list_entries": ("dataset", "list_entries"),
    "list_labels": ("dataset", "list_labels"),
    "load_model": ("train", "load_model"),
    "merge_manifests": ("dataset", "merge"),
    "remove_label": ("dataset", "remove_label"),
    "split_manifest": ("split", "split"),
    "update_entries": ("dataset", "update_entries"),
    "write_report": ("htmlreport", "write_report"),
    "write_table": ("tables", "write_table"),
}


def __getattr__(name: str) -> object:
    import importlib

    if name == "train":  # the trainer's package, which is callable: customlabels.train(...)
        return importlib.import_module(f"{__name__}.train")
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "train"})


__all__ = [
    "BackendNotBuiltError",
    "CODES",
    "ChangeResult",
    "Code",
    "ConversionResult",
    "CustomLabelsError",
    "DatasetError",
    "DatasetStats",
    "EvaluationResult",
    "ImageSourceError",
    "InputKindError",
    "Issue",
    "LabelResult",
    "LabelStats",
    "ManifestSummary",
    "ModelError",
    "Record",
    "ReportError",
    "ReportWritten",
    "SplitError",
    "SplitResult",
    "TrainingExtraMissing",
    "UsageError",
    "ValidationFailed",
    "ValidationReport",
    "__version__",
    "convert_file",
    "convert_many",
    "describe_dataset",
    "detect_format",
    "distribute_entries",
    "evaluate",
    "export_manifest",
    "image_table",
    "label_table",
    "list_entries",
    "list_labels",
    "load_model",
    "merge_manifests",
    "remove_label",
    "split_manifest",
    "train",
    "update_entries",
    "validate",
    "write_report",
    "write_table",
]
