"""``customlabels validate``: check manifests as Rekognition Custom Labels would.

Exit status: 0 when no errors (warnings alone pass unless ``--strict``), 1 when errors, 2 on a
usage error or a manifest that cannot be read (:data:`customlabels.cli.main.EXIT_STATUS`, the same
in every command).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import BackendNotBuiltError, ImageSourceError
from ..limits import DEFAULT_MAX_LINES, MAX_LINES_WITH_QUOTA
from ..validation.fates import DROPPED, KEPT, fate_counts, fate_note, line_fates
from ..validation.pipeline import validate_files
from ._options import (add_backend, add_output_dir, add_progress, add_report, add_report_file,
                       add_strict, positive, progress_of)
from ._render import (ALL, Shown, as_data, closing, counts, github_lines, json_text, plural,
                      split_problem_lines)


def add_parser(sub: Any, name: str) -> None:
    """Add the ``validate`` subcommand to ``sub``."""
    p = sub.add_parser(
        name, help="validate training and testing manifests",
        description="Validate manifests with the service's limits, rules and error codes. "
                    "Several manifests are each validated as a training manifest on its own.")
    p.add_argument("train", nargs="+", metavar="TRAIN",
                   help="training manifest(s); - reads one from standard input")
    p.add_argument("--test", metavar="TEST", help="testing manifest (one TRAIN only)")
    add_output_dir(p, "write manifest_summary.json and the *_manifest_with_validation.json "
                      "files here (a sub-directory per manifest when there are several)")
    add_report(p)
    add_report_file(p)
    p.add_argument("--max-lines", type=positive, default=DEFAULT_MAX_LINES, metavar="N",
                   help=f"row limit (default {DEFAULT_MAX_LINES:,}; classification datasets "
                        f"may have a quota of up to {MAX_LINES_WITH_QUOTA:,})")
    add_strict(p)
    add_backend(p)
    g = p.add_argument_group(
        "images", "check the image behind every source-ref as the service does when it copies "
                  "them (guide: \"ERROR_INVALID_IMAGE\", \"Quotas / Training\"): PNG or "
                  "JPEG by content, at most 15 MB, 64-4096 px a side, aspect ratio at most 20:1")
    g.add_argument("--images", metavar="DIR|s3",
                   help="a folder that mirrors the bucket (s3://BUCKET/KEY is DIR/KEY, as "
                        "`aws s3 sync s3://BUCKET/ DIR` leaves it), or s3 to read the objects "
                        "themselves through boto3 (pip install 'customlabels[s3]'; credentials, "
                        "region and AWS_ENDPOINT_URL as boto3 finds them); only headers are read")
    g.add_argument("--images-prefix", metavar="S3URL",
                   help="the s3://BUCKET/PREFIX/ location DIR mirrors, for a mirror of a "
                        "sub-folder: s3://BUCKET/PREFIX/KEY is DIR/KEY")
    g.add_argument("--no-cache", dest="image_cache", action="store_false",
                   help="read every image again: do not use or keep what earlier runs found "
                        "in unchanged images (kept in the user cache folder; "
                        "CUSTOMLABELS_CACHE_DIR moves it)")
    g.add_argument("--image-workers", type=positive, metavar="N",
                   help="images checked at once (default 1 for a folder, 32 for s3)")
    add_progress(g)


#: Terminal problems of the run rather than of the data: an output that cannot be written.
_UNUSABLE = frozenset({"ERROR_OUTPUT_NOT_WRITABLE"})


def status_of(report: Any, strict: bool) -> int:
    """Return the exit status one report calls for: 1 on errors, or warnings with ``strict``;
    2 when its results could not be written (as every command)."""
    report = as_data(report)
    if any(i["code"] in _UNUSABLE for i in report["issues"]):
        return 2
    warned = any(i["severity"] == "warning" for i in report["issues"])
    return 1 if not report["ok"] or (strict and warned) else 0


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Validate, print the reports, and return the exit status."""
    if args.test is not None and len(args.train) > 1:
        parser.error("--test takes a single TRAIN manifest")
    if args.html_report is not None and len(args.train) > 1:
        parser.error("--report takes a single TRAIN manifest")
    reports = []
    outs = [args.output_dir] * len(args.train)
    if args.output_dir is not None and len(args.train) > 1:
        try:
            outs = [str(p) for p in result_dirs(args.train, args.output_dir)]
        except ValueError as exc:
            print(f"customlabels: {exc}", file=sys.stderr)
            return 2
    for train, out in zip(args.train, outs):
        try:
            reports.append(validate_files(train, args.test, output_dir=out,
                                          max_lines=args.max_lines, backend=args.backend,
                                          images=args.images, images_prefix=args.images_prefix,
                                          image_cache=args.image_cache,
                                          image_workers=args.image_workers,
                                          progress=progress_of(args)))
        except (BackendNotBuiltError, ImageSourceError) as exc:
            print(f"customlabels: {exc}", file=sys.stderr)
            return 2
    shown = Shown.of(args)
    if args.format == "json":
        stdout, stderr = render_json(reports)
    elif args.format == "github":
        stdout, stderr = render_github(reports, shown)
    else:
        stdout, stderr = render_text(reports, shown, strict=args.strict)
    sys.stdout.write(stdout)
    sys.stdout.flush()
    if stderr:
        sys.stderr.write(stderr)
    status = max(status_of(r, args.strict) for r in reports)
    if args.html_report is None:
        return status
    from .report import write_at_end

    return max(status, write_at_end(args, validation=reports[0], images=args.images,
                                    images_prefix=args.images_prefix))


def result_dirs(manifests: list[str], output_dir: str) -> list[Path]:
    """Return the results folder of each of several manifests under ``output_dir``.

    Each is named after its manifest, under the folders that lead to it from the folder all
    the manifests share (``a/x.manifest`` and ``x.manifest`` give ``OUT/a/x.manifest/`` and
    ``OUT/x.manifest/``), as a batch convert names its outputs: distinct files never share a
    folder. ``ValueError`` when a file is named twice.
    """
    real = [Path(os.path.realpath(m)) for m in manifests]
    seen: dict[Path, str] = {}
    for given, path in zip(manifests, real):
        if path in seen:
            raise ValueError(f"{given} and {seen[path]} are the same manifest; name it once")
        seen[path] = given
    base = Path(os.path.commonpath([p.parent for p in real]))
    return [Path(output_dir, p.relative_to(base)) for p in real]


def render_text(reports: list[Any], shown: Shown = ALL, *, strict: bool = False,
                closing_line: bool = True) -> tuple[str, str]:
    """Return (stdout, stderr): one problem a line, then a summary; file errors on stderr.

    ``reports`` are report documents (plain data) or :class:`ValidationReport` objects. The
    closing line of each (``FILES: passed|failed: N errors, M warnings``) says ``passed``
    exactly when the report's exit status is 0 (:func:`status_of`); a command that validates
    what it wrote and closes with its own line leaves it out (``closing_line``).
    """
    out: list[str] = []
    err: list[str] = []
    for report in map(as_data, reports):
        fates = line_fates(report["issues"])
        lines, file_lines = split_problem_lines(report["issues"], shown,
                                                partial(fate_note, fates=fates))
        out += lines
        err += file_lines
        summary = report["summary"]
        if summary is not None:
            files = report["files"]
            for role, stats in summary["statistics"].items():
                out.append(f"{role}: {files[role]}: {stats['use_case']}, "
                           f"{plural(stats['total_json_lines'], 'line')}: "
                           + _line_counts(stats, None if files["training"] == files["testing"]
                                          else fate_counts(fates, files[role])))
        images = report.get("images")
        for role, checked in ({} if images is None else images["datasets"]).items():
            out.append(f"images: {report['files'][role]}: " + _image_counts(checked))
            if checked["cache_error"]:
                err.append(checked["cache_error"])
        for path in report["outputs"]:
            out.append(f"wrote {path}")
        if closing_line:
            errors, warnings = counts(report["issues"])
            files = report["files"]["training"] + (
                f" + {report['files']['testing']}" if report["files"]["testing"] else "")
            out.append(closing(files, errors, warnings, status_of(report, strict), strict))
    return "\n".join(out) + "\n", "".join(f"customlabels: {e}\n" for e in err)


#: What a kind of image problem is called in the summary line.
_IMAGE_PROBLEMS = {"outside": "outside the mirror", "missing": "missing",
                   "not_a_file": "not a file", "unreadable": "unreadable",
                   "format": "not PNG or JPEG", "corrupt": "corrupt", "too_large": "over 15 MB",
                   "dimension": "of a refused size"}


def _image_counts(checked: dict[str, Any]) -> str:
    """Return ``1,200 checked (1,180 unchanged since the last run): 3 missing, 1 corrupt``."""
    text = f"{checked['images']:,} checked"
    if checked["cached"]:
        text += f" ({checked['cached']:,} unchanged since the last run)"
    found = [f"{n:,} {_IMAGE_PROBLEMS.get(kind, kind)}"
             for kind, n in sorted(checked["problems"].items(),
                                   key=lambda item: list(_IMAGE_PROBLEMS).index(item[0])
                                   if item[0] in _IMAGE_PROBLEMS else 99)]
    if checked["failed_copy"]:
        found.append("none could be read")
    return text + (": " + ", ".join(found) if found else ": all accepted")


def _line_counts(stats: dict[str, Any], fates: Counter[str] | None) -> str:
    """Return ``11 valid (2 of them without a faulty box or label), 3 invalid (2 dropped), 1 ignored``.

    The parentheses come from the lines' fates (``None`` when they cannot be told apart: the
    training and the testing manifest are one file) and are left out when they count none.
    """
    valid = f"{stats['valid_json_lines']:,} valid"
    invalid = f"{stats['invalid_json_lines']:,} invalid"
    if fates and fates[KEPT]:
        valid += f" ({fates[KEPT]:,} of them without a faulty box or label)"
    if fates and fates[DROPPED]:
        invalid += f" ({fates[DROPPED]:,} dropped)"
    return f"{valid}, {invalid}, {stats['ignored_json_lines']:,} ignored"


def render_json(reports: list[dict[str, Any]]) -> tuple[str, str]:
    """Return the report document (an object for one manifest, ``reports`` for several)."""
    reports = [as_data(r) for r in reports]
    doc: Any = reports[0] if len(reports) == 1 else {
        "ok": all(r["ok"] for r in reports), "reports": reports}
    try:  # orjson (a dependency) indents in C; json's indenting encoder is pure Python
        import orjson

        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n", ""
    except (ImportError, TypeError):  # TypeError: a lone surrogate, which orjson refuses
        return json_text(doc), ""


def render_github(reports: list[Any], shown: Shown = ALL) -> tuple[str, str]:
    """Return GitHub Actions workflow commands, one annotation a problem."""
    out = []
    for report in map(as_data, reports):
        fates = line_fates(report["issues"])
        out += github_lines(report["issues"], shown, partial(fate_note, fates=fates))
    return "\n".join(out) + ("\n" if out else ""), ""
