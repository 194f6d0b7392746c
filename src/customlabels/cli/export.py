"""``customlabels export FORMAT MANIFEST -o OUT``: take a manifest's labels to other tools.

Exit status: 0 when written with no error, 1 when lines were left out for errors or nothing was
written, 2 on a usage error or an input that cannot be read
(:data:`customlabels.cli.main.EXIT_STATUS`, the same in every command).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

FORMAT_HELP = {
    "coco": "COCO object detection JSON: images, annotations (bbox), categories",
    "csv": "CSV rows image,label[,label...] of image-level labels",
    "csv-boxes": "CSV rows image,label,left,top,width,height,image_width,image_height",
    "groundtruth-multilabel": "SageMaker Ground Truth multi-label lines",
}


def add_parser(sub: Any, name: str) -> None:
    """Add the ``export`` subcommand, one sub-parser per format."""
    p = sub.add_parser(name, help="export a manifest to COCO, CSV or Ground Truth",
                       description="Write a manifest's labels in another format. Only valid "
                                   "lines are exported; the others are reported.")
    formats = p.add_subparsers(dest="target_format", required=True, metavar="FORMAT")
    for fmt, text in FORMAT_HELP.items():
        f = formats.add_parser(fmt, help=text, description=text)
        f.add_argument("manifest", metavar="MANIFEST")
        f.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
        if fmt == "coco":
            f.add_argument("--s3-prefix", metavar="S3URL",
                           help="removed from source-refs to make file_name (default: the "
                                "folder they all share)")
        elif fmt in ("csv", "csv-boxes"):
            f.add_argument("--s3-path", metavar="S3URL",
                           help="removed from the start of each source-ref")
        else:
            f.add_argument("--label-attribute", default="multi-label", metavar="NAME",
                           help="the attribute name (default: multi-label)")
        f.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Export, print the problems, and return the exit status."""
    from ..convert import export
    from .convert import problems_text

    opts = {k: getattr(args, k) for k in ("s3_prefix", "s3_path", "label_attribute")
            if getattr(args, k, None) is not None}
    result = export(args.target_format, args.manifest, args.output, **opts)
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        lines = problems_text(result.issues)
        if result.output is None:
            lines.append(f"{args.manifest}: not exported")
        else:
            stats = ", ".join(f"{k} {v:,}" for k, v in result.stats.items())
            lines.append(f"{args.manifest} -> {result.output}: {result.lines:,} "
                         f"{'images' if args.target_format == 'coco' else 'entries'}"
                         + (f" ({stats})" if stats else ""))
        sys.stdout.write("\n".join(lines) + "\n")
    return 0 if result.ok else 1
