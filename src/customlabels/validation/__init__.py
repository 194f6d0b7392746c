"""Manifest validation: line rules, dataset rules, summary and validation-manifest output."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .pipeline import DEFAULT_MAX_LINES, validate_files

if TYPE_CHECKING:
    from .report import ValidationReport


def validate(train: str | os.PathLike[str], test: str | os.PathLike[str] | None = None, *,
             output_dir: str | os.PathLike[str] | None = None,
             max_lines: int = DEFAULT_MAX_LINES, backend: str = "auto",
             images: str | os.PathLike[str] | None = None, images_prefix: str | None = None,
             image_cache: bool = True, image_workers: int | None = None,
             s3_endpoint_url: str | None = None,
             progress: bool | None = False) -> "ValidationReport":
    """Validate a training manifest, and a testing one if given, as the service would.

    Args:
        train: the training manifest.
        test: the testing manifest, or None to validate ``train`` alone.
        output_dir: where to write ``manifest_summary.json`` and the validation manifests;
            nothing is written when None or after a terminal manifest file error.
        max_lines: the row limit (250,000; up to 500,000 for classification with a raised quota).
        backend: ``auto`` (the compiled core when built), ``compiled`` or ``python``.
        images: also check the image behind every source-ref: a folder that mirrors the
            bucket (``s3://BUCKET/KEY`` is ``images/KEY``), or ``"s3"`` to read the objects
            through boto3 (the ``[s3]`` extra). None: the images are not looked at.
        images_prefix: with a folder, the ``s3://BUCKET/PREFIX/`` location it mirrors.
        image_cache: take what earlier runs found in unchanged images from the user cache
            folder (``CUSTOMLABELS_CACHE_DIR`` moves it), and keep what this run finds.
        image_workers: images checked at once (default: 1 for a folder, 32 for S3).
        s3_endpoint_url: the S3 endpoint, where it is not boto3's own (``AWS_ENDPOINT_URL``
            also sets it).
        progress: a bar over the images on stderr (None: when stderr is a terminal).

    Returns:
        The report; problems in the data never raise, see ``raise_for_issues``.

    Raises:
        ImageSourceError: the images cannot be looked at as asked (a mirror that is not a
            folder, a bad prefix, ``images="s3"`` without boto3).
    """
    from .report import ValidationReport

    doc = validate_files(os.fspath(train), None if test is None else os.fspath(test),
                         output_dir=None if output_dir is None else os.fspath(output_dir),
                         max_lines=max_lines, backend=backend,
                         images=None if images is None else os.fspath(images),
                         images_prefix=images_prefix, image_cache=image_cache,
                         image_workers=image_workers, s3_endpoint_url=s3_endpoint_url,
                         progress=progress)
    return ValidationReport.model_validate(doc)


__all__ = ["validate"]
