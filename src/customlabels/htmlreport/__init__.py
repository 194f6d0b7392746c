"""The HTML report: a validation and an evaluation as one self-contained page.

:func:`write_report` makes it from what the other commands wrote (a validation output folder,
an evaluation output folder or its summary file, a model version folder) or from their results
in hand (a validation report document, an :class:`~customlabels.metrics.EvaluationResult`).
The page needs no server and makes no request: styles, script and pictures are in the file
(:mod:`customlabels.htmlreport.page`).

Standard library and numpy, and Pillow for pictures (``--images``; the ``[report]`` extra).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ..errors import ReportError
from ..manifest.writer import atomic_write, os_error_text
from .page import MAX_IMAGES, PER_GROUP, Bounds, render
from .pictures import Thumbnails
from .sources import Sources, evaluation_from_result, folder_sources, validation_from_document

__all__ = ["ReportWritten", "write_report"]


@dataclass(frozen=True)
class ReportWritten:
    """What :func:`write_report` wrote.

    Attributes:
        path: the page.
        bytes: its size.
        pictures: the images drawn on it (a picture a problem line or a gallery card).
        thumbnails: of those, the ones with the image itself (the others are frames).
        sampled: some test images or problem lines were left out to keep the page bounded.
    """

    path: str
    bytes: int
    pictures: int
    thumbnails: int
    sampled: bool


def write_report(output: str | os.PathLike[str], *paths: str | os.PathLike[str],
                 validation: Any = None, evaluation: Any = None,
                 version_dir: str | os.PathLike[str] | None = None,
                 images: str | None = None, images_prefix: str | None = None,
                 max_images: int = MAX_IMAGES, per_group: int = PER_GROUP,
                 docs_url: str | None = None, title: str | None = None,
                 file_names: dict[str, str] | None = None,
                 backend: str = "auto") -> ReportWritten:
    """Write the HTML report of a validation and/or an evaluation to ``output``, atomically.

    Args:
        output: the page to write (never one of the inputs).
        paths: folders or files the other commands wrote: a validation output folder, an
            evaluation output folder or its ``EvaluationSummary`` file, a model version folder.
        validation: a validation report document (``validate --format json``) or
            :class:`~customlabels.ValidationReport`, instead of a folder.
        evaluation: an :class:`~customlabels.EvaluationResult`, instead of a folder.
        version_dir: a model version folder of the store (its validation, evaluation and the
            images its settings name).
        images: a folder mirroring the bucket, or ``"s3"``: the pictures' images (without
            them, boxes are drawn on frames of each image's declared size).
        images_prefix: the ``s3://BUCKET/PREFIX/`` the mirror mirrors.
        max_images: pictures in all; per_group: pictures for each error code and for each
            label and outcome of the gallery.
        docs_url: where ``docs/errors.md`` is published: each code links to its anchor there
            (the page always explains each code itself).
        title: the page's title (default: what it shows).
        file_names: how the page names some files (the command line names a temporary copy
            of standard input ``<stdin>``, as in what it prints).
        backend: the scanner and kernels when an evaluation is made again from its snapshot.

    Raises:
        ReportError: nothing to show, an input that cannot be read, an output that cannot
            be written (the message names the file).
        ImageSourceError: ``images`` cannot be looked at as asked.
    """
    if max_images < 1 or per_group < 1:
        raise ReportError("max_images and per_group must be at least 1")
    _check_output(Path(output))  # before anything is read
    sources = Sources("customlabels report")
    given = [Path(p) for p in paths] + ([Path(version_dir)] if version_dir is not None else [])
    titles = []
    for path in given:
        found = folder_sources(path, backend)
        _merge(sources, found, str(path))
        titles.append(found.title)
    if validation is not None:
        doc = validation.model_dump() if hasattr(validation, "model_dump") else validation
        sources.validation = validation_from_document(doc)
    if evaluation is not None:
        sources.evaluation = evaluation_from_result(evaluation)
    if sources.validation is None and sources.evaluation is None:
        raise ReportError("nothing to report: give a validation or evaluation output folder, "
                          "or a model version")
    if not titles:  # made in hand: what it is of
        titles.append(_validation_title(sources.validation) if validation is not None
                      else "evaluation")
    sources.title = title or " and ".join(titles)
    if images is None:  # the images a model version was trained on, if any
        images, images_prefix = sources.images, sources.images_prefix
    sources.images = images
    thumbnails = None if images is None else Thumbnails(images, images_prefix)
    page, facts = render(sources, thumbnails, Bounds(max_images, per_group), docs_url)
    for original, name in (file_names or {}).items():
        page = page.replace(escape(original), escape(name))
    data = page.encode("utf-8")
    try:
        with atomic_write(output) as stream:
            stream.write(data)
    except OSError as exc:
        raise ReportError(f"cannot write the report: {os_error_text(exc, output)}") from None
    return ReportWritten(str(output), len(data), facts.pictures, facts.thumbnails, facts.sampled)


def _merge(into: Sources, found: Sources, name: str) -> None:
    """Add what one path holds to the report's sources (one validation, one evaluation)."""
    for part in ("validation", "evaluation"):
        if getattr(found, part) is not None:
            if getattr(into, part) is not None:
                raise ReportError(f"{name}: a second {part}; a report shows one validation "
                                  f"and one evaluation")
            setattr(into, part, getattr(found, part))
    if found.images is not None and into.images is None:
        into.images, into.images_prefix = found.images, found.images_prefix


def _validation_title(part: Any) -> str:
    """Return the title of a validation made in hand: its training manifest."""
    return "validation of " + str((part.files if part is not None else {}).get("training", ""))


#: How a page this module wrote begins: the only existing file a report may replace.
_OWN_HEAD = b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'


def _check_output(output: Path) -> None:
    """ReportError unless ``output`` is a new file or an earlier report: never an input.

    An existing file is replaced only when it begins as this module's pages begin, so that no
    input (a manifest, a summary, a file the report reads) is ever written over.
    """
    if output.is_dir():
        raise ReportError(f"{output}: is a folder; give the report's file name "
                          "(for example report.html)")
    if not output.exists():
        return
    try:
        with open(output, "rb") as stream:
            head = stream.read(4096)  # the page's title ends within it (page.py caps it)
    except OSError:
        head = b""
    if not head.startswith(_OWN_HEAD) or b" \xc2\xb7 customlabels report</title>" not in head:
        raise ReportError(f"{output}: exists and is not a customlabels report; it is never "
                          "written over (give a new file name)")
