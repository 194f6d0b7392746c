"""Manifest validation: line rules, dataset rules, summary and validation-manifest output."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .pipeline import DEFAULT_MAX_LINES, validate_files

if TYPE_CHECKING:
    from .report import ValidationReport


def validate(train: str | os.PathLike[str], test: str | os.PathLike[str] | None = None, *,
             output_dir: str | os.PathLike[str] | None = None,
             max_lines: int = DEFAULT_MAX_LINES, backend: str = "auto") -> "ValidationReport":
    """Validate a training manifest, and a testing one if given, as the service would.

    Args:
        train: the training manifest.
        test: the testing manifest, or None to validate ``train`` alone.
        output_dir: where to write ``manifest_summary.json`` and the validation manifests;
            nothing is written when None or after a terminal manifest file error.
        max_lines: the row limit (250,000; up to 500,000 for classification with a raised quota).
        backend: ``auto`` (the compiled core when built), ``compiled`` or ``python``.

    Returns:
        The report; problems in the data never raise, see ``raise_for_issues``.
    """
    from .report import ValidationReport

    doc = validate_files(os.fspath(train), None if test is None else os.fspath(test),
                         output_dir=None if output_dir is None else os.fspath(output_dir),
                         max_lines=max_lines, backend=backend)
    return ValidationReport.model_validate(doc)


__all__ = ["validate"]
