"""Validate a training manifest, and optionally a testing one, as the service would.

The order follows the guide: terminal manifest file errors first (nothing else is validated and
no result is written, L6064-6085), then every JSON Line (the scanners), then the dataset rules and
the rules spanning both datasets, and last the three result files (L6560-6575).

The result is a plain ``dict`` (the report document) so that the command line can render it
without importing pydantic; :class:`customlabels.validation.report.ValidationReport` gives it types.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from ..codes import CODE_NAMES, CODES
from ..errors import ImageSourceError
from ..issues import line_message, make_issue, make_line_issue
from ..limits import DEFAULT_MAX_LINES, MAX_MANIFEST_BYTES
from ..manifest.jsonline import parse_line
from ..manifest.reader import iter_line_blocks
from ..manifest.writer import attach, dumps_line, os_error_text, public_name, replace_all
from .dataset import dataset_rules, pair_rules, statistics, summary_errors
from .scan import ScanResult, choose_backend, scan

INVALID_JSON_LINE = CODE_NAMES.index("ERROR_INVALID_JSON_LINE")
LINE_TOO_LONG = CODE_NAMES.index("ERROR_LINE_TOO_LONG")
SUMMARY_NAME = "manifest_summary.json"
RESULT_NAMES = {"training": "training_manifest_with_validation.json",
                "testing": "testing_manifest_with_validation.json"}

class _Terminal(Exception):
    """A terminal manifest file error (L6064-6085).

    ``context`` names the reason (``reason``: ``missing``, ``permission``, ``not_a_file``,
    ``no_extension``, ``os_error``, ``too_large``, ``empty``, ``too_many_lines``,
    ``is_input``) and the values behind the detail.
    """

    def __init__(self, code: str, detail: str, line: int | None = None,
                 context: dict[str, Any] | None = None):
        super().__init__(detail)
        self.code, self.detail, self.line = code, detail, line
        self.context = {} if context is None else context

    def issue(self, file: str) -> dict[str, Any]:
        """Return the issue of this error about ``file``."""
        return make_issue(self.code, file, self.line, detail=self.detail, context=self.context)


def _os_reason(exc: OSError) -> dict[str, Any]:
    return {"reason": "os_error", "error": exc.strerror or str(exc), "errno": exc.errno}


def _unreadable(exc: OSError) -> _Terminal:
    """Return the terminal error of a manifest that could not be opened or read."""
    if isinstance(exc, PermissionError):
        return _Terminal("ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET", "permission denied",
                         context={"reason": "permission"})
    return _Terminal("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                     exc.strerror or str(exc), context=_os_reason(exc))


def _check_file(path: str) -> None:
    """Raise _Terminal for a manifest that cannot be validated at all."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _Terminal("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                        "no such file", context={"reason": "missing"}) from None
    except OSError as exc:
        raise _unreadable(exc) from None
    if not stat.S_ISREG(info.st_mode):
        raise _Terminal("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT", "not a regular file",
                        context={"reason": "not_a_file"})
    if not Path(path).suffix:
        raise _Terminal("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                        "the file name has no extension (by convention .manifest)",
                        context={"reason": "no_extension"})
    if info.st_size > MAX_MANIFEST_BYTES:
        raise _Terminal("ERROR_MANIFEST_SIZE_TOO_LARGE",
                        f"{info.st_size:,} bytes; the maximum is {MAX_MANIFEST_BYTES:,}",
                        context={"reason": "too_large", "size": info.st_size,
                                 "maximum": MAX_MANIFEST_BYTES})


def _scan(path: str, backend: str, max_lines: int, other: Any) -> ScanResult:
    try:
        with open(path, "rb", buffering=0) as stream:
            result = scan(stream, max_lines, other, backend)
    except OSError as exc:
        raise _unreadable(exc) from None
    return _not_empty(result)


def _not_empty(result: ScanResult) -> ScanResult:
    """Return ``result``; _Terminal for a file that holds no line."""
    if result.total == 0:
        raise _Terminal("ERROR_MANIFEST_EMPTY", "the file holds no line",
                        context={"reason": "empty"})
    return result


def validate_files(train: str, test: str | None = None, *, output_dir: str | None = None,
                   max_lines: int = DEFAULT_MAX_LINES, backend: str = "auto",
                   scans: dict[str, ScanResult] | None = None, images: str | None = None,
                   images_prefix: str | None = None, image_cache: bool = True,
                   image_workers: int | None = None, s3_endpoint_url: str | None = None,
                   progress: bool | None = False,
                   keep_scans: dict[str, ScanResult] | None = None) -> dict[str, Any]:
    """Validate ``train`` (and ``test``); return the report document.

    With ``output_dir``, also write ``manifest_summary.json`` and the validation manifests there,
    each atomically, unless a terminal manifest file error occurred. ``scans``: the files'
    scans by role (``training``, ``testing``) where the caller already knows what scanning
    them gives (the split, from its input's records); the files are still checked.

    Images (:mod:`customlabels.validation.images`): ``images`` is a folder that mirrors the
    bucket (``s3://BUCKET/KEY`` is ``images/KEY``; with ``images_prefix``, a
    ``s3://BUCKET/PREFIX/`` location, the part after it), or ``"s3"`` to read the objects
    through boto3 (``s3_endpoint_url``: another endpoint than boto3's own). ``image_cache``:
    reuse what earlier runs found in unchanged images; ``image_workers``: images checked at
    once; ``progress``: a bar over the images on stderr (None: when it is a terminal).
    :class:`~customlabels.errors.ImageSourceError` (a ``ValueError``) when the images
    cannot be looked at as asked. ``keep_scans``: a dict that receives each file's scan by role,
    the images' findings merged in (the trainer takes its lines from there).
    """
    backend = choose_backend(backend)
    roles = {"training": train} if test is None else {"training": train, "testing": test}
    source, cache = _image_source(images, images_prefix, image_cache, image_workers,
                                  s3_endpoint_url, backend)
    report: dict[str, Any] = {"ok": False, "backend": backend,
                              "files": {"training": train, "testing": test},
                              "summary": None, "issues": [], "outputs": []}
    issues: list[dict[str, Any]] = report["issues"]
    outcomes: dict[str, Any] = {}
    if source is not None:
        report["images"] = {"source": images if source.kind == "local" else "s3",
                            "prefix": images_prefix, "datasets": {},
                            "cache": None if cache is None else str(cache.path)}

    terminal: list[_Terminal] = []
    for role, path in roles.items():
        try:
            _check_file(path)
        except _Terminal as exc:
            issues.append(exc.issue(path))
            terminal.append(exc)
    if terminal:
        return _finish(report)

    known, scans = scans, {}
    for role, path in roles.items():
        other = scans["training"].refs if role == "testing" else None
        try:
            if known is None:
                result = _scan(path, backend, max_lines, other)
            else:
                result = _not_empty(known[role])
            scans[role] = result
        except _Terminal as exc:
            issues.append(exc.issue(path))
            terminal.append(exc)
            continue
        if source is not None and not result.exceeded and not terminal:
            from .images import check_manifest_images  # only with --images: start-up stays short

            outcomes[role] = check_manifest_images(path, result, source, cache=cache,
                                                   workers=image_workers, backend=backend,
                                                   progress=progress)
            report["images"]["datasets"][role] = _image_report(outcomes[role])
        _line_issues(result, path, issues)
        if result.exceeded:
            too_many = _Terminal("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",
                                 f"more than {max_lines:,} lines; lines after {max_lines:,} were "
                                 "not checked", max_lines + 1,
                                 context={"reason": "too_many_lines", "maximum": max_lines})
            issues.append(too_many.issue(path))
            terminal.append(too_many)
    if terminal:
        return _finish(report)

    summary: dict[str, Any] = {"statistics": {}, "errors": []}
    uses: dict[str, str] = {}
    for role, result in scans.items():
        failed_copy = role in outcomes and outcomes[role].failed_copy
        uses[role], problems = dataset_rules(result, role, failed_copy)
        summary["statistics"][role] = statistics(result, uses[role], problems,
                                                 _error_lines(result))
        issues.extend(make_issue(code, roles[role], line, arg=arg, detail=detail,
                                 context=context)
                      for code, arg, detail, line, context in problems)
    if test is not None:
        problems = pair_rules(scans["training"], uses["training"], scans["testing"],
                              uses["testing"])
        summary["errors"] = summary_errors(problems)
        issues.extend(make_issue(code, test, line, arg=arg, detail=detail, context=context)
                      for code, arg, detail, line, context in problems)
        for line, first in scans["testing"].overlaps:
            issues.append(make_issue("WARNING_IMAGE_IN_BOTH_DATASETS", test, line,
                                     "$['source-ref']", arg=first, detail=f"{train}:{first}",
                                     context={"training_file": train, "training_line": first}))
    report["summary"] = summary
    if keep_scans is not None:
        keep_scans.update(scans)

    if output_dir is not None:
        try:
            report["outputs"] = write_results(output_dir, roles, scans, summary)
        except _Terminal as exc:
            issues.append(exc.issue(output_dir))
    return _finish(report)


def image_source(images: str, prefix: str | None = None, *, workers: int | None = None,
                 endpoint_url: str | None = None, backend: str = "auto") -> Any:
    """Return the source of the images ``--images`` names: a
    :class:`~customlabels.images.local.LocalImages` mirror, or
    :class:`~customlabels.images.s3.S3Images` for ``"s3"`` (what the trainer and ``detect`` read
    the images from, resolved as ``validate`` resolves them)."""
    return _image_source(images, prefix, False, workers, endpoint_url, backend)[0]


def _image_source(images: str | None, prefix: str | None, use_cache: bool,
                  workers: int | None, endpoint_url: str | None,
                  backend: str) -> tuple[Any, Any]:
    """Return the image source asked for and its cache (None, None: images are not checked)."""
    if images is None:
        if prefix is not None:
            raise ImageSourceError("--images-prefix needs --images DIR")
        return None, None
    from ..images.cache import ImageCache

    if images == "s3":
        if prefix is not None:
            raise ImageSourceError("--images-prefix is for a local mirror (--images DIR); "
                                   "with --images s3 the source-refs are read as they are")
        from ..images.s3 import S3Images

        source: Any = S3Images(endpoint_url, workers)
    else:
        from ..images.local import LocalImages

        # the scan's backend: its system calls compiled too where customlabels._images is built
        source = LocalImages(images, prefix, "python" if backend == "python" else "auto")
    return source, ImageCache(source.identity) if use_cache else None


def _image_report(outcome: Any) -> dict[str, Any]:
    """Return the report's account of one dataset's images (plain data)."""
    batch = outcome.batch
    return {"images": outcome.images, "problems": outcome.problems,
            "failed_copy": outcome.failed_copy, "read": batch.read, "cached": batch.cached,
            "seconds": round(batch.seconds, 3), "cache_error": batch.cache_error}


def _finish(report: dict[str, Any]) -> dict[str, Any]:
    report["ok"] = not any(i["severity"] == "error" for i in report["issues"])
    return report


def _error_lines(result: ScanResult) -> list[int]:
    """Return the lines that carry an error at any level (spec decisions 2 and 13)."""
    return [line for line, _, findings in result.problems
            if any(CODES[CODE_NAMES[code]].severity == "error" for code, _, _ in findings)]


def _line_issues(result: ScanResult, path: str, issues: list[dict[str, Any]]) -> None:
    append = issues.append
    for line, _verdict, findings in result.problems:
        for code, where, arg in findings:
            append(make_line_issue(path, line, code, where, arg))


# --- result files ----------------------------------------------------------------------------


def write_results(output_dir: str, roles: dict[str, str], scans: dict[str, ScanResult],
                  summary: dict[str, Any]) -> list[str]:
    """Write the summary and one validation manifest per dataset; return their paths."""
    directory = Path(output_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _Terminal("ERROR_OUTPUT_NOT_WRITABLE", os_error_text(exc, directory),
                        context=_os_reason(exc)) from None
    inputs = {Path(p).resolve() for p in roles.values()}
    targets = {role: directory / RESULT_NAMES[role] for role in roles}
    targets_summary = directory / SUMMARY_NAME
    for target in [*targets.values(), targets_summary]:
        if target.resolve() in inputs:
            raise _Terminal("ERROR_OUTPUT_NOT_WRITABLE",
                            f"{target} is an input manifest; it is never overwritten",
                            context={"reason": "is_input", "output": str(target)})
    # all or nothing (issue 9): a new training file never sits beside an old summary. Not
    # fsynced: the results can be made again from the inputs, which are left alone
    paths = [*targets.values(), targets_summary]
    try:
        with replace_all(paths, durable=False) as streams:
            for (role, path), stream in zip(roles.items(), streams):
                _write_validation_manifest(path, stream, scans[role])
            streams[-1].write(_dump_summary(summary))
    except OSError as exc:
        where = public_name(exc.filename) if exc.filename else output_dir
        raise _Terminal("ERROR_OUTPUT_NOT_WRITABLE", os_error_text(exc, output_dir),
                        context={**_os_reason(exc), "output": str(where)}) from None
    return [str(p) for p in paths]


def _dump_summary(summary: dict[str, Any]) -> bytes:
    from ..manifest.writer import dumps_document

    return dumps_document(summary)


def _write_validation_manifest(source: str, out: BinaryIO, result: ScanResult) -> None:
    """Copy ``source`` to ``out`` adding errors and warnings where they occur (L6392-6500).

    Lines without findings are copied byte for byte (terminator normalised to ``\\n``); a line
    that is not a JSON object is replaced by a line holding only its error (L7515-7518).
    """
    problems = iter(result.problems)  # in line order
    problem = next(problems, None)
    first = 1  # line number of the block's first line
    with open(source, "rb") as stream:
        for block in iter_line_blocks(stream):
            block = block[:result.total - first + 1]
            if not block:
                break
            end = first + len(block)
            while problem is not None and problem[0] < end:
                line, _, findings = problem
                block[line - first] = annotate(block[line - first], findings)
                problem = next(problems, None)
            out.write(b"\n".join(block))  # type: ignore[arg-type]
            out.write(b"\n")
            first = end


def annotate(raw: bytes | None, findings: list[tuple[int, tuple[str | int, ...], Any]]) -> bytes:
    """Return one line of a validation manifest: the line with its findings attached."""
    replaced = any(code in (INVALID_JSON_LINE, LINE_TOO_LONG) for code, _, _ in findings)
    obj: dict[str, Any] = {} if replaced or raw is None else parse_line(raw, keep_literals=True)
    for code, where, arg in findings:
        row = CODES[CODE_NAMES[code]]
        message, detail, _ = line_message(code, where, arg)
        entry = {"code": row.name, "message": message if detail is None else f"{message} ({detail})"}
        attach(obj, _placement(row.scope, where), row.severity + "s", entry)
    return dumps_line(obj)


def _placement(scope: str, where: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Return where a finding of ``scope`` at path ``where`` is attached in the line."""
    if scope in ("attribute", "metadata"):
        return where[:1]
    if scope == "annotation":
        return where[:3]
    return ()
