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

from ..errors import UsageError
from ._options import (add_output_dir, add_output_file, add_progress, add_report,
                       add_s3_prefix, add_strict, progress_of)
from ._render import (ALL, Shown, closing, counts, github_lines, json_text, plural,
                      problem_lines)

#: Each format's help cites the guide by the title of the section that describes it.
FORMAT_HELP = {
    "coco": 'COCO object detection JSON (the guide\'s "Transforming COCO datasets")',
    "csv": "CSV rows image,label[,label...] (the guide's \"Creating a manifest file from a "
           "CSV file\")",
    "csv-boxes": "CSV rows image,label,left,top,width,height[,image_width,image_height]",
    "groundtruth-multilabel": "SageMaker Ground Truth multi-label output (the guide's "
                              "\"Transforming multi-label SageMaker Ground Truth manifest "
                              "files\")",
}
#: The argument of each format's ``convert`` that takes ``--s3-prefix``.
S3_PARAMETER = {"coco": "s3_prefix", "csv": "s3_path", "csv-boxes": "s3_path"}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="input files, or quoted glob patterns that the command expands; "
                        "- reads one from standard input (with -o)")
    where = p.add_mutually_exclusive_group()
    add_output_file(where, "manifest to write (one INPUT only; default: beside the input, "
                           "with the format's extension)")
    add_output_dir(where, "write each manifest here (batch mode, with a final table)")
    p.add_argument("--creation-date", metavar="ISO",
                   help="creation-date where the input has none (default: now, UTC)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes in batch mode (default: the CPU count)")
    add_report(p)
    add_strict(p)
    add_progress(p)


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
    add_s3_prefix(coco, "s3://bucket/folder/ put before each file_name (default: use "
                        "s3:// coco_url values)")
    _boxes(coco)
    coco.add_argument("--include-crowd", action="store_true",
                      help="convert iscrowd annotations too (skipped and counted by default)")
    csv = formats.add_parser("csv", help=FORMAT_HELP["csv"], description=FORMAT_HELP["csv"])
    _common(csv)
    add_s3_prefix(csv, "s3://bucket/folder/ put before bare image names")
    csv.add_argument("--keep-first", action="store_true",
                     help="write the manifest from the first row of each image even when "
                          "images repeat")
    boxes = formats.add_parser("csv-boxes", help=FORMAT_HELP["csv-boxes"],
                               description=FORMAT_HELP["csv-boxes"])
    _common(boxes)
    add_s3_prefix(boxes, "s3://bucket/folder/ put before bare image names")
    boxes.add_argument("--images-dir", metavar="DIR",
                       help="image files, for the size of rows without image_width,image_height")
    _boxes(boxes)
    gt = formats.add_parser("groundtruth-multilabel", help=FORMAT_HELP["groundtruth-multilabel"],
                            description=FORMAT_HELP["groundtruth-multilabel"])
    _common(gt)


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the converter options given on the command line, named as ``convert`` takes them."""
    names = ("s3_prefix", "keep_first", "images_dir", "label_attribute", "job_name",
             "too_many_boxes", "include_crowd", "creation_date")
    given = {n: getattr(args, n) for n in names if getattr(args, n, None) not in (None, False)}
    if "s3_prefix" in given:
        given[S3_PARAMETER[args.source_format]] = given.pop("s3_prefix")
    return given


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
        except UsageError as exc:
            parser.error(str(exc))
    opts = options(args)
    progress = progress_of(args)
    try:
        if args.output_dir is None and len(inputs) == 1:
            results = [get_format(args.source_format).convert(
                inputs[0], args.output, progress=progress, **opts)]
        else:
            out = args.output_dir if args.output_dir is not None else "."
            results = batch.convert_many(args.source_format, inputs, out, jobs=args.jobs,
                                         progress=progress, **opts)
    except UsageError as exc:  # misuse of an option (a bad label attribute name, say)
        parser.error(str(exc))
    batch_mode = args.output_dir is not None or len(inputs) > 1
    statuses = [status_of(r, args.strict) for r in results]
    if args.format == "json":
        docs = [r.to_dict() for r in results]
        doc = docs[0] if not batch_mode else {"ok": all(d["ok"] for d in docs), "results": docs}
        sys.stdout.write(json_text(doc))
    elif args.format == "github":
        lines = [line for r in results for line in github_lines(all_issues(r), Shown.of(args))]
        sys.stdout.write("".join(line + "\n" for line in lines))
    else:
        sys.stdout.write(render_text(results, batch_mode, Shown.of(args), args.strict))
    return max([*statuses, 1 if unmatched else 0])


def all_issues(result: Any) -> list[Any]:
    """Return the problems of one conversion: its own, then its manifest's validation."""
    return [*result.issues, *(result.validation.issues if result.validation is not None else [])]


def status_of(result: Any, strict: bool) -> int:
    """Return the exit status one conversion calls for: 1 on errors, or warnings with strict."""
    errors, warnings = counts(all_issues(result))
    return 1 if not result.ok or errors or (strict and warnings) else 0


def problems_text(issues: list[Any], shown: Shown = ALL) -> list[str]:
    """Return the issues as text lines (:func:`customlabels.cli._render.problem_lines`)."""
    return problem_lines(issues, shown)


def render_text(results: list[Any], batch_mode: bool, shown: Shown = ALL,
                strict: bool = False) -> str:
    """Return the problems, each file's summary, its validation, and in batch mode a table.

    Each file's last line says ``passed`` exactly when it converted without errors and its
    manifest validates (:func:`status_of`); in batch mode the table closes the output.
    """
    from .validate import render_text as render_validation

    out: list[str] = []
    for r in results:
        out += problem_lines(r.issues, shown)
        stats = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in r.stats.items() if v)
        if r.output is None:
            out.append(f"{r.input}: not converted")
        else:
            out.append(f"{r.input} -> {r.output}: {plural(r.lines, 'line')}" + (
                f" ({stats})" if stats else ""))
        for extra in r.extra_outputs:
            out.append(f"wrote {extra}")
        if r.validation is not None and not batch_mode:
            stdout, stderr = render_validation([r.validation], shown, closing_line=False)
            out.append(stdout.rstrip("\n"))
            if stderr:
                out.append(stderr.rstrip("\n"))
        if not batch_mode:
            errors, warnings = counts(all_issues(r))
            out.append(closing(r.input, errors, warnings, status_of(r, strict), strict,
                               "converted" if r.output is not None else "not converted"))
    if batch_mode:
        out.append(table(results, strict))
    return "\n".join(line for line in out if line) + "\n"


def table(results: list[Any], strict: bool = False) -> str:
    """Return the final table of a batch: file, lines, problems, validation; then a verdict."""
    rows = [("FILE", "LINES", "ERRORS", "WARNINGS", "MANIFEST")]
    for r in results:
        if r.output is None:
            state = "not written"
        else:
            verdict = "valid" if r.validation is None or r.validation.ok else "INVALID"
            state = f"{r.output} ({verdict})"
        errors, warnings = counts(all_issues(r))
        rows.append((r.input, f"{r.lines:,}" if r.output else "-", str(errors), str(warnings),
                     state))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join([row[0].ljust(widths[0]), row[1].rjust(widths[1]),
                        row[2].rjust(widths[2]), row[3].rjust(widths[3]), row[4]])
             for row in rows]
    passed = sum(status_of(r, strict) == 0 for r in results)
    verdict = "passed" if passed == len(results) else "failed"
    lines.append(f"{verdict}: {passed} of {plural(len(results), 'file')} converted without "
                 "errors" + (" or warnings" if strict else ""))
    return "\n".join(lines)
