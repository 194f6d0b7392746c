"""``customlabels report SOURCE... --output report.html``: one HTML page of a validation and an
evaluation, with the problem lines and the test images drawn.

Exit status: 0 when the page was written, 2 when it could not be (nothing to show, an input that
cannot be read, an output that cannot be written: :data:`customlabels.cli.main.EXIT_STATUS`).
What the page shows is not judged here: ``validate`` and ``evaluate`` say pass or fail.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from ._options import add_backend, add_format, add_output_file, positive
from .train import add_images, add_store


def add_parser(sub: Any, name: str) -> None:
    """Add the ``report`` subcommand to ``sub``."""
    p = sub.add_parser(
        name, help="write an HTML report of a validation, an evaluation or a model version",
        description="Write one self-contained HTML page (no server, no network) from what "
                    "the other commands wrote: the counts of each dataset, every problem by "
                    "code with its line drawn (the faulty box highlighted), the metrics of "
                    "each label, precision-recall curves with the assumed thresholds, the "
                    "confusion matrix of a classifier, and a gallery of the test images "
                    "filterable by label and outcome.")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="a validation output folder (validate --output-dir), an evaluation "
                        "output folder or its EvaluationSummary file (evaluate --output-dir), "
                        "or a model version folder of the store")
    add_output_file(p, "the HTML file to write (atomically; never over an input)",
                    required=True, metavar="FILE")
    v = p.add_argument_group("a model version of the store (instead of its folder)")
    v.add_argument("--project", metavar="NAME", help="the project")
    v.add_argument("--version", metavar="NAME", dest="model_version",
                   help="the model version: its validation, evaluation and images")
    add_store(v)
    g = p.add_argument_group(
        "pictures", "without --images, boxes are drawn on frames of each image's size; with "
                    "it, on the images (Pillow: pip install 'customlabels[report]'; a model "
                    "version uses the images it was trained on)")
    add_images(g, required=False)
    from ..htmlreport.page import MAX_IMAGES, PER_GROUP

    g.add_argument("--max-images", type=positive, default=MAX_IMAGES, metavar="N",
                   help=f"pictures on the page in all (default {MAX_IMAGES}): a larger "
                        "dataset is sampled, and the page says so")
    g.add_argument("--per-group", type=positive, default=PER_GROUP, metavar="N",
                   help="pictures for each error code and for each label and outcome of the "
                        f"gallery (default {PER_GROUP})")
    p.add_argument("--docs-url", metavar="URL",
                   help="where docs/errors.md is published: each code then also links to its "
                        "anchor there (the page explains each code itself)")
    p.add_argument("--title", metavar="TEXT", help="the page's title")
    add_format(p, ("text", "json"), {"text": "a line saying what was written",
                                     "json": "what was written: path, bytes, pictures, "
                                             "thumbnails, sampled"})
    add_backend(p, old_spelling=False)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Write the page and say what it holds."""
    from ..htmlreport import write_report

    version_dir = None
    if (args.project is None) != (args.model_version is None):
        parser.error("--project and --version go together")
    if args.project is not None:
        from ..store import Store

        store = Store(args.store)
        store.describe(args.project, args.model_version)  # ModelError naming what exists
        version_dir = store.version_dir(args.project, args.model_version)
    elif args.store is not None:
        parser.error("--store needs --project and --version")
    if not args.sources and version_dir is None:
        parser.error("give a SOURCE folder, or --project and --version")
    written = write_report(args.output, *args.sources, version_dir=version_dir,
                           images=args.images, images_prefix=args.images_prefix,
                           max_images=args.max_images, per_group=args.per_group,
                           docs_url=args.docs_url, title=args.title,
                           backend=args.backend)
    if args.format == "json":
        print(json.dumps(dataclasses.asdict(written), indent=2))
    else:
        print(written_line(written))
    return 0


def written_line(written: Any) -> str:
    """Return ``wrote report.html: 1.2 MB, 40 pictures (12 of them with the image), sampled
    (...)``."""
    size = (f"{written.bytes / 1e6:.1f} MB" if written.bytes >= 1e5
            else f"{written.bytes / 1e3:.0f} kB")
    text = f"wrote {written.path}: {size}, {written.pictures:,} pictures"
    if written.thumbnails:
        text += f" ({written.thumbnails:,} of them with the image)"
    return text + (", sampled (the page says what it left out)" if written.sampled else "")


def write_at_end(args: argparse.Namespace, **what: Any) -> int:
    """Write ``--report FILE`` for a command that has finished; return 0, or 2 (said on
    standard error) when it could not be written. ``what``: :func:`write_report`'s
    arguments (``validation=``, ``evaluation=``, ``version_dir=``...)."""
    if getattr(args, "html_report", None) is None:
        return 0
    from ..errors import CustomLabelsError
    from ..htmlreport import write_report
    from ._stdin import LABEL, copy_path

    copy = copy_path()
    try:
        written = write_report(args.html_report, **what,
                               file_names={copy: LABEL} if copy else None)
    except CustomLabelsError as exc:
        print(f"customlabels: --report: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "format", "text") == "text":
        print(written_line(written))
    return 0
