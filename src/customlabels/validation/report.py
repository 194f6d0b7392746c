"""Typed views of a validation report (pydantic models).

The backend produces the report as plain data; these models give it types for Python callers.
``ValidationReport.model_validate(doc)`` accepts exactly what ``customlabels validate --format json``
prints.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ValidationFailed  # defined with the other exceptions; importable here too
from ..issues import IssueViews

Severity = Literal["error", "warning"]
Scope = Literal["file", "dataset", "pair", "line", "attribute", "annotation", "metadata", "item"]
UseCase = Literal["IMAGE_LEVEL_LABELS", "OBJECT_LOCALIZATION", "NOT_DETERMINED"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Issue(_Model):
    """One problem, as every command and API reports it (built by ``customlabels.issues``).

    ``Issue.model_validate(d)`` takes the plain data :func:`customlabels.issues.make_issue`
    builds; ``issue.model_dump()`` gives it back, keys in the same order.
    """

    code: str = Field(description="a code of customlabels.codes.CODES")
    severity: Severity = Field(description="the catalogue's severity of the code")
    scope: Scope = Field(description="the catalogue's scope of the code")
    file: str
    line: int | None = Field(description="1-based line number; None for file and dataset issues")
    path: str | None = Field(description="JSONPath inside the line, e.g. $['bb'].annotations[3]")
    message: str = Field(description="the catalogue's message")
    detail: str | None = Field(description="what exactly was found, in our words")
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="the values behind the message and the detail (a first line, a limit, "
                    "counts, label names...), JSON-ready; what tests and programs read")

    def __str__(self) -> str:
        """Return the issue compiler style: ``FILE:LINE: CODE message (detail) - at PATH``."""
        from ..issues import issue_text

        return issue_text(self.model_dump())


class SummaryError(_Model):
    """An entry of a summary ``errors`` array."""

    code: str
    message: str


class DatasetStatistics(_Model):
    """One dataset's block of ``manifest_summary.json`` (guide L6206-6284)."""

    use_case: UseCase
    total_json_lines: int
    valid_json_lines: int
    invalid_json_lines: int
    ignored_json_lines: int
    error_json_line_indices: list[int]
    errors: list[SummaryError]


class Statistics(_Model):
    training: DatasetStatistics
    testing: DatasetStatistics | None = None


class ManifestSummary(_Model):
    """The content of ``manifest_summary.json``."""

    statistics: Statistics
    errors: list[SummaryError]


class Files(_Model):
    training: str
    testing: str | None


class DatasetImages(_Model):
    """How one dataset's images were checked (``validate --images``)."""

    images: int = Field(description="images looked at: one a line that passed the first tier")
    problems: dict[str, int] = Field(description="images with a problem, by kind (missing, "
                                                 "format, corrupt, too_large, dimension, ...)")
    failed_copy: bool = Field(description="no image could be read (ERROR_FAILED_IMAGES_S3_COPY)")
    read: int = Field(description="images read this run")
    cached: int = Field(description="images whose check came from the cache")
    seconds: float
    cache_error: str | None = Field(description="why the cache was not used or not written")


class Images(_Model):
    """Where the images were looked for, and how each dataset's went."""

    source: str = Field(description="the mirror folder, or s3")
    prefix: str | None
    cache: str | None = Field(description="the cache file; None with the cache off")
    datasets: dict[str, DatasetImages] = Field(description="by role: training, testing")


class ValidationReport(IssueViews, _Model):
    """What validating a training (and testing) manifest found."""

    ok: bool = Field(description="no errors (warnings allowed)")
    backend: Literal["compiled", "python"]
    files: Files
    summary: ManifestSummary | None = Field(
        description="manifest_summary.json; None after a terminal manifest file error")
    issues: list[Issue]
    outputs: list[str] = Field(description="files written, when an output directory was given")
    images: Images | None = Field(default=None, description="the image checks; None without "
                                                            "images")

    def raise_for_issues(self, *, strict: bool = False) -> None:
        """Raise :class:`ValidationFailed` if there are errors (or, with ``strict``, warnings)."""
        if not self.ok or (strict and self.warnings):
            raise ValidationFailed(self)
