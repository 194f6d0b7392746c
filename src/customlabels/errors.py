"""Every exception customlabels raises on purpose, under one base: :class:`CustomLabelsError`.

Problems in the data never raise (they are the issues of a result); these are for misuse (an
argument a function cannot use, an operation that cannot be done as asked), for an extension
asked for but not built, and for :meth:`ValidationReport.raise_for_issues`. Each keeps the
built-in base it had before this module existed (``ValueError``, ``RuntimeError``), so
``except ValueError`` around a call still works.

Standard library only: the command line imports this at start-up.

::

    CustomLabelsError
    ├── ValidationFailed          raise_for_issues() on a report with errors
    ├── UsageError (ValueError)   an argument or request the function cannot use
    │   ├── DatasetError          a dataset operation that cannot be done as asked
    │   ├── SplitError            a split that cannot be made as asked
    │   ├── InputKindError        a file of another kind (COCO, CSV) given as a manifest
    │   ├── ImageSourceError      images cannot be looked at as asked (--images)
    │   ├── ModelError            a model or version of the store cannot be used as asked
    │   └── ReportError           an HTML report cannot be made from what it was given
    ├── TrainingExtraMissing (ImportError)
    │                             train, detect or export without the [train] extra
    └── BackendNotBuiltError (RuntimeError)
                                  backend="compiled" where the extension is not built
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .validation.report import ValidationReport

__all__ = ["BackendNotBuiltError", "CustomLabelsError", "DatasetError", "ImageSourceError",
           "InputKindError", "ModelError", "ReportError", "SplitError", "TrainingExtraMissing", "UsageError",
           "ValidationFailed"]


class CustomLabelsError(Exception):
    """The base of every exception customlabels raises on purpose."""


class ValidationFailed(CustomLabelsError):
    """Raised by :meth:`ValidationReport.raise_for_issues` when a report has errors.

    The message lists the first ``shown`` errors, then counts the rest.

    Attributes:
        report: the report, with every issue.
    """

    def __init__(self, report: ValidationReport, *, shown: int = 20):
        self.report = report
        errors = report.errors
        lines = "\n".join(str(i) for i in errors[:shown])
        more = f"\n... and {len(errors) - shown} more" if len(errors) > shown else ""
        super().__init__(f"{len(errors)} error(s):\n{lines}{more}")


class UsageError(CustomLabelsError, ValueError):
    """An argument the function cannot use: an unknown backend, a value out of its range."""


class DatasetError(UsageError):
    """A dataset operation cannot be done as asked; the message names the file, line and field."""


class SplitError(UsageError):
    """A split cannot be made as asked (misuse: a bad fraction, a line that cannot be copied)."""


class InputKindError(UsageError):
    """A file of another kind (a COCO document, a CSV file) where a manifest is read; the
    message says which ``convert`` makes the manifest."""


class ImageSourceError(UsageError):
    """Images cannot be looked at as asked: a mirror that is not a folder, a prefix that is not
    an ``s3://`` location, ``--images s3`` without boto3 (the message says how to install it)."""


class ModelError(UsageError):
    """A model cannot be built, trained, loaded or used as asked: an unknown architecture,
    missing weights, a project or version that is not in the store or not completed, a
    manifest of a kind the trainer does not train; the message says which and what to do."""


class ReportError(UsageError):
    """An HTML report cannot be made from what it was given: a folder that holds no validation,
    evaluation or model version, a file that does not read; the message names the file."""


class TrainingExtraMissing(CustomLabelsError, ImportError):
    """PyTorch (the ``[train]`` extra) is not installed; the message says how to install it."""


class BackendNotBuiltError(CustomLabelsError, RuntimeError):
    """``backend="compiled"`` was asked for where the compiled extension is not built."""
