"""``customlabels convert FORMAT INPUT...``: COCO, CSV and Ground Truth files to manifests.

One input converts to ``-o OUT`` (or the format's default name beside it); several inputs, or
``--output-dir``, convert in parallel processes into that directory, with a final table. Each
manifest is validated after it is written. Exit status: 0 when every file converted with no
error and validates (warnings pass unless ``--strict``), 1 otherwise, 2 on a usage error or
an input that cannot be read (:data:`customlabels.cli.main.EXIT_STATUS`, the same in every command).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._render import as_data, issue_text, json_text

FORMAT_HELP = {
    "coco": "COCO object detection JSON (guide L3781-4350)",
    "csv": "CSV rows image,label[,label...] (guide L4530-4850)",
    "csv-boxes": "CSV rows image,label,left,top,width,height[,image_width,image_height]",
    "groundtruth-multilabel": "SageMaker Ground Truth multi-label output (guide L4352-4528)",
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="input files or quoted globs (data/*.json)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUT",
                       help="manifest to write (one INPUT only; default: beside the input)")
    where.add_argument("--output-dir", metavar="DIR",
                       help="write each manifest here (batch mode, with a final table)")
    p.add_argument("--creation-date", metavar="ISO",
                   help="creation-date where the input has none (default: now, UTC)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes in batch mode (default: the CPU count)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text: problems and a summary (default); json: the whole results")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _boxes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--label-attribute", default="bounding-box", metavar="NAME",
                   help="label attribute name (default: bounding-box)")
    p.add_argument("--job-name", metavar="NAME",
                   help="metadata job-name (default: labeling-job/ATTRIBUTE)")
    p.add_argument("--too-many-boxes", choices=("skip", "largest"), default="skip",
                   help="an image over 50 boxes: skip it (default) or keep its 50 largest")


def add_parser(sub: Any, name: str) -> None:
    """Add the ``convert`` subcommand, one sub-parser per format."""
    p = sub.add_parser(name, help="convert COCO, CSV or Ground Truth files to manifests",
                       description="Convert datasets to Custom Labels manifests, validated. "
                                   "Never overwrites an input; writes atomically.")
    formats = p.add_subparsers(dest="source_format", required=True, metavar="FORMAT")
    coco = formats.add_parser("coco", help=FORMAT_HELP["coco"], description=FORMAT_HELP["coco"])
    _common(coco)
    coco.add_argument("--s3-prefix", metavar="S3URL",
                      help="s3://bucket/folder/ put before each file_name (default: use "
                           "s3:// coco_url values)")
    _boxes(coco)
    coco.add_argument("--include-crowd", action="store_true",
                      help="convert iscrowd annotations too (skipped and counted by default)")
    csv = formats.add_parser("csv", help=FORMAT_HELP["csv"], description=FORMAT_HELP["csv"])
    _common(csv)
    csv.add_argument("--s3-path", metavar="S3URL",
                     help="s3://bucket/folder/ put before bare image names")
    csv.add_argument("--keep-first", action="store_true",
                     help="write the manifest from the first row of each image even when "
                          "images repeat")
    boxes = formats.add_parser("csv-boxes", help=FORMAT_HELP["csv-boxes"],
                               description=FORMAT_HELP["csv-boxes"])
    _common(boxes)
    boxes.add_argument("--s3-path", metavar="S3URL",
                       help="s3://bucket/folder/ put before bare image names")
    boxes.add_argument("--images-dir", metavar="DIR",
                       help="image files, for the size of rows without image_width,image_height")
    _boxes(boxes)
    gt = formats.add_parser("groundtruth-multilabel", help=FORMAT_HELP["groundtruth-multilabel"],
                            description=FORMAT_HELP["groundtruth-multilabel"])
    _common(gt)


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the converter options given on the command line."""
    names = ("s3_prefix", "s3_path", "keep_first", "images_dir", "label_attribute", "job_name",
             "too_many_boxes", "include_crowd", "creation_date")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) not in (None, False)}


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Convert, print the problems and summaries, and return the exit status."""
    from ..convert import batch, get_format
    from ..convert._common import fallback_date

    inputs, unmatched = batch.expand(args.inputs)
    for pattern in unmatched:
        print(f"customlabels: {pattern}: no file matches", file=sys.stderr)
    if not inputs:
        return 2
    if args.output and len(inputs) > 1:
        parser.error("-o takes a single INPUT; use --output-dir for several")
    if args.creation_date is not None:
        try:
            fallback_date(args.creation_date)
        except ValueError as exc:
            parser.error(str(exc))
    opts = options(args)
    progress = False if args.no_progress else None
    try:
        if args.output_dir is None and len(inputs) == 1:
            results = [get_format(args.source_format).convert(
                inputs[0], args.output, progress=progress, **opts)]
        else:
            out = args.output_dir if args.output_dir is not None else "."
            results = batch.convert_many(args.source_format, inputs, out, jobs=args.jobs,
                                         progress=progress, **opts)
    except ValueError as exc:  # misuse of an option (a bad label attribute name, say)
        parser.error(str(exc))
    batch_mode = args.output_dir is not None or len(inputs) > 1
    if args.format == "json":
        docs = [r.to_dict() for r in results]
        doc = docs[0] if not batch_mode else {"ok": all(d["ok"] for d in docs), "results": docs}
        sys.stdout.write(json_text(doc))
    else:
        sys.stdout.write(render_text(results, batch_mode))
    failed = any(not r.ok for r in results) or bool(unmatched)
    warned = any(r.warnings or (r.validation is not None and r.validation.warnings)
                 for r in results)
    return 1 if failed or (args.strict and warned) else 0


def problems_text(issues: list[Any], shown_per_code: int = 10) -> list[str]:
    """Return the issues as text lines, at most ``shown_per_code`` of each code, then counts.

    ``issues`` are :class:`customlabels.Issue` objects or their plain data.
    """
    from collections import Counter

    out: list[str] = []
    seen: Counter[str] = Counter()
    for issue in issues:
        p = as_data(issue)
        seen[p["code"]] += 1
        if seen[p["code"]] <= shown_per_code:
            out.append(issue_text(p))
    for code, n in seen.items():
        if n > shown_per_code:
            out.append(f"... {code}: {n} in all ({n - shown_per_code} more in --format json)")
    return out


def render_text(results: list[Any], batch_mode: bool) -> str:
    """Return the problems, each file's summary, its validation, and in batch mode a table."""
    from .validate import render_text as render_validation

    out: list[str] = []
    for r in results:
        out += problems_text(r.issues)
        stats = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in r.stats.items() if v)
        if r.output is None:
            out.append(f"{r.input}: not converted")
        else:
            out.append(f"{r.input} -> {r.output}: {r.lines:,} lines" + (
                f" ({stats})" if stats else ""))
        for extra in r.extra_outputs:
            out.append(f"wrote {extra}")
        if r.validation is not None and not batch_mode:
            stdout, stderr = render_validation([r.validation])
            out.append(stdout.rstrip("\n"))
            if stderr:
                out.append(stderr.rstrip("\n"))
    if batch_mode:
        out.append(table(results))
    return "\n".join(out) + "\n"


def table(results: list[Any]) -> str:
    """Return the final table of a batch: file, lines, problems, validation."""
    rows = [("FILE", "LINES", "ERRORS", "WARNINGS", "MANIFEST")]
    for r in results:
        if r.output is None:
            state = "not written"
        else:
            verdict = "valid" if r.validation is None or r.validation.ok else "INVALID"
            state = f"{r.output} ({verdict})"
        report = r.validation
        errors = len(r.errors) + (len(report.errors) if report is not None else 0)
        warnings = len(r.warnings) + (len(report.warnings) if report is not None else 0)
        rows.append((r.input, f"{r.lines:,}" if r.output else "-", str(errors), str(warnings),
                     state))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join([row[0].ljust(widths[0]), row[1].rjust(widths[1]),
                        row[2].rjust(widths[2]), row[3].rjust(widths[3]), row[4]])
             for row in rows]
    ok = sum(r.ok for r in results)
    lines.append(f"{ok} of {len(results)} files converted without errors")
    return "\n".join(lines)
