"""Convert many files at once, in parallel processes; one failing file does not stop the others."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from ..issues import make_issue
from . import get_format
from ._common import ConversionResult, Progress

_GLOB_CHARS = frozenset("*?[")


def expand(patterns: list[str]) -> tuple[list[str], list[str]]:
    """Return (files, patterns that matched nothing); globs are expanded, in sorted order.

    An argument that names an existing file is taken as is, even with glob characters.
    """
    files: list[str] = []
    unmatched: list[str] = []
    for pattern in patterns:
        if os.path.exists(pattern) or not _GLOB_CHARS.intersection(pattern):
            files.append(pattern)
            continue
        found = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if found:
            files.extend(found)
        else:
            unmatched.append(pattern)
    return list(dict.fromkeys(files)), unmatched


def output_paths(fmt: str, inputs: list[str], output_dir: str | os.PathLike[str]) -> list[Path]:
    """Return the manifest path of each input under ``output_dir``.

    Each output takes its format's default name (``NAME.manifest``...); inputs in different
    folders keep their folders relative to the folder all inputs share, so that two
    ``instances.json`` never write the same manifest.
    """
    module = get_format(fmt)
    parents = [Path(p).resolve().parent for p in inputs]
    base = Path(os.path.commonpath(parents)) if parents else Path(".")
    out = []
    for path, parent in zip(inputs, parents):
        out.append(Path(output_dir) / parent.relative_to(base) / module.default_output(path).name)
    return out


def _one(fmt: str, source: str, output: str, options: dict[str, Any]) -> ConversionResult:
    """Convert one file; an unexpected exception becomes a problem of this file only."""
    try:
        return get_format(fmt).convert(source, output, progress=False, **options)
    except Exception as exc:  # noqa: BLE001 - isolate one file's defect from the batch (issue 3)
        return _failed(fmt, source, exc)


def _failed(fmt: str, source: str, exc: BaseException) -> ConversionResult:
    """Return the result of a file whose conversion raised ``exc``."""
    from ..validation.report import Issue

    return ConversionResult(fmt, source, None, issues=[Issue.model_validate(make_issue(
        "CONVERSION_FAILED", source, detail=f"{type(exc).__name__}: {exc}",
        context={"exception": type(exc).__name__, "error": str(exc)}))])


def convert_many(fmt: str, inputs: list[str], output_dir: str | os.PathLike[str], *,
                 jobs: int | None = None, progress: bool | None = False,
                 **options: Any) -> list[ConversionResult]:
    """Convert every input into ``output_dir``; return the results in input order.

    ``jobs`` processes run at once (default: the CPU count, at most the number of inputs);
    ``options`` go to the format's ``convert``.
    """
    get_format(fmt)  # an unknown format is misuse: raise before starting anything
    outputs = output_paths(fmt, inputs, output_dir)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(inputs)))
    bar = Progress(len(inputs), "converting", progress, unit="file")
    results: list[ConversionResult | None] = [None] * len(inputs)
    try:
        if workers == 1:
            for k, (source, output) in enumerate(zip(inputs, outputs)):
                results[k] = _one(fmt, source, str(output), options)
                bar.update(1)
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(_one, fmt, source, str(output), options): k
                           for k, (source, output) in enumerate(zip(inputs, outputs))}
                for future in as_completed(futures):
                    k = futures[future]
                    try:
                        results[k] = future.result()
                    except Exception as exc:  # noqa: BLE001 - a worker process died
                        results[k] = _failed(fmt, inputs[k], exc)
                    bar.update(1)
    finally:
        bar.close()
    return [r for r in results if r is not None]
