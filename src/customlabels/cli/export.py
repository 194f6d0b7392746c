"""``customlabels export FORMAT MANIFEST -o OUT``: take a manifest's labels to other tools.

Exit status: 0 when written with no error, 1 when lines were left out for errors or nothing was
written, 2 on a usage error or an input that cannot be read
(:data:`customlabels.cli.main.EXIT_STATUS`, the same in every command).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._options import (add_keep_formulas, add_output_file, add_progress, add_report,
                       add_s3_prefix, progress_of)
from ._render import Shown, closing, counts, github_lines, json_text, plural, problem_lines

FORMAT_HELP = {
    "coco": "COCO object detection JSON: images, annotations (bbox), categories",
    "csv": "CSV rows image,label[,label...] of image-level labels",
    "csv-boxes": "CSV rows image,label,left,top,width,height,image_width,image_height",
    "groundtruth-multilabel": "SageMaker Ground Truth multi-label lines",
}
#: The argument of each format's ``export`` that takes ``--s3-prefix``.
S3_PARAMETER = {"coco": "s3_prefix", "csv": "s3_path", "csv-boxes": "s3_path"}


def add_parser(sub: Any, name: str) -> None:
    """Add the ``export`` subcommand, one sub-parser per format."""
    p = sub.add_parser(name, help="export a manifest to COCO, CSV or Ground Truth",
                       description="Write a manifest's labels in another format. Only valid "
                                   "lines are exported; the others are reported.")
    formats = p.add_subparsers(dest="target_format", required=True, metavar="FORMAT")
    for fmt, text in FORMAT_HELP.items():
        f = formats.add_parser(fmt, help=text, description=text)
        f.add_argument("manifest", metavar="MANIFEST",
                       help="the manifest to export; - reads it from standard input")
        add_output_file(f, "file to write", required=True)
        if fmt == "coco":
            add_s3_prefix(f, "removed from source-refs to make file_name (default: the "
                             "folder they all share)")
        elif fmt in ("csv", "csv-boxes"):
            add_s3_prefix(f, "removed from the start of each source-ref")
            add_keep_formulas(f)
        else:
            f.add_argument("--label-attribute", default="multi-label", metavar="NAME",
                           help="the attribute name (default: multi-label)")
        add_report(f)
        add_progress(f)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Export, print the problems, and return the exit status."""
    from ..convert import export

    opts = {k: getattr(args, k) for k in ("s3_prefix", "label_attribute", "keep_formulas")
            if getattr(args, k, None) is not None}
    if "s3_prefix" in opts:
        opts[S3_PARAMETER[args.target_format]] = opts.pop("s3_prefix")
    result = export(args.target_format, args.manifest, args.output,
                    progress=progress_of(args), **opts)
    status = 0 if result.ok else 1
    if args.format == "json":
        sys.stdout.write(json_text(result.to_dict()))
        return status
    if args.format == "github":
        sys.stdout.write("".join(f"{line}\n" for line in github_lines(result.issues,
                                                                       Shown.of(args))))
        return status
    lines = problem_lines(result.issues, Shown.of(args))
    if result.output is not None:
        stats = ", ".join(f"{k} {v:,}" for k, v in result.stats.items())
        unit = ("image", "images") if args.target_format == "coco" else ("entry", "entries")
        lines.append(f"{args.manifest} -> {result.output}: {plural(result.lines, *unit)}"
                     + (f" ({stats})" if stats else ""))
    errors, warnings = counts(result.issues)
    lines.append(closing(args.manifest, errors, warnings, status,
                         what="exported" if result.output is not None else "not exported"))
    sys.stdout.write("\n".join(lines) + "\n")
    return status
