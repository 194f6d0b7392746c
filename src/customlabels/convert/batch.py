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


def _key(path: str | os.PathLike[str]) -> str:
    """Return what names one file: the absolute path, links and case as the system sees them."""
    return os.path.normcase(os.path.realpath(path))


def _refusals(fmt: str, inputs: list[str], outputs: list[Path]
              ) -> list[ConversionResult | None]:
    """Plan the batch's outputs before writing any; return the refused result of each input
    whose output is another input (``OUTPUT_IS_INPUT``) or an earlier input's output
    (``OUTPUT_COLLISION``), else None.

    Each job checks only its own input; the batch must also keep each job off the others'
    inputs and outputs (``convert x.manifest custom_labels_x.manifest`` would else write the
    first's result over the second).
    """
    sources: dict[str, str] = {}
    for source in inputs:
        sources.setdefault(_key(source), source)
    planned: dict[str, str] = {}
    refused: list[ConversionResult | None] = []
    for source, output in zip(inputs, outputs):
        key = _key(output)
        other = sources.get(key)
        if other is not None:
            refused.append(_refused(fmt, source, "OUTPUT_IS_INPUT",
                                    f"{output} is the input {other}",
                                    {"output": str(output), "input": other}))
        elif key in planned:
            refused.append(_refused(fmt, source, "OUTPUT_COLLISION",
                                    f"{output} is also the output of {planned[key]}",
                                    {"output": str(output), "other_input": planned[key]}))
        else:
            planned[key] = source
            refused.append(None)
    return refused


def _refused(fmt: str, source: str, code: str, detail: str,
             context: dict[str, Any]) -> ConversionResult:
    from ..validation.report import Issue

    return ConversionResult(fmt, source, None, issues=[Issue.model_validate(make_issue(
        code, source, detail=detail, context=context))])


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
    results: list[ConversionResult | None] = list(_refusals(fmt, inputs, outputs))
    todo = [k for k, refused in enumerate(results) if refused is None]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    bar = Progress(len(inputs), "converting", progress, unit="file")
    bar.update(len(inputs) - len(todo))
    try:
        if workers == 1:
            for k in todo:
                results[k] = _one(fmt, inputs[k], str(outputs[k]), options)
                bar.update(1)
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(_one, fmt, inputs[k], str(outputs[k]), options): k
                           for k in todo}
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
