"""``customlabels evaluate``: test predictions against a test manifest, as the service does.

Exit status: 0 when the evaluation ran without an error in its inputs (warnings alone pass), 1
when it found errors (it still evaluates what is usable) or could not run, 2 on a usage error or
an input that cannot be read (:data:`customlabels.cli.main.EXIT_STATUS`, the same in every command).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..errors import BackendNotBuiltError
from ._options import add_backend, add_output_dir, add_report, add_report_file, alias
from .train import add_images
from ._render import (ALL, Shown, closing, counts, plural, split_problem_lines,
                      write_report)


def _name(text: str) -> str:
    from ..metrics.evaluation import check_name

    try:
        return check_name(text, "project or version")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: Any, name: str) -> None:
    """Add the ``evaluate`` subcommand to ``sub``."""
    p = sub.add_parser(
        name, help="evaluate predictions against a test manifest",
        description="Compute per-label precision, recall and F1 at assumed thresholds, mAP and "
                    "mAR (object detection) or a confusion matrix (classification), and write "
                    "the EvaluationSummary file and the evaluation manifest snapshot.")
    test = p.add_argument("--test", required=True, metavar="TEST",
                          help="the testing manifest, the ground truth (SageMaker Ground Truth "
                               "format); - reads it from standard input")
    alias(p, test, "--ground-truth")
    p.add_argument("--predictions", required=True, metavar="PRED",
                   help="JSON Lines: one DetectCustomLabels response with the image's "
                        "source-ref a line, or an evaluation manifest snapshot; - reads it "
                        "from standard input")
    add_output_dir(p, "write EvaluationSummary-PROJECT-VERSION.json and "
                      "EvaluationManifestSnapshot-PROJECT-VERSION.manifest here")
    p.add_argument("--project", type=_name, default="project", metavar="NAME",
                   help="project name in the output file names (default: project)")
    version = p.add_argument("--version-name", type=_name, default="version", metavar="NAME",
                             help="model version name in the output file names (default: "
                                  "version)")
    alias(p, version, "--version")  # before --version meant the program's version elsewhere
    p.add_argument("--train", metavar="TRAIN",
                   help="training manifest: its valid lines fill NumberOfTrainingImages")
    p.add_argument("--project-version-arn", metavar="ARN",
                   help="ProjectVersionArn for the summary file")
    add_report(p, {"text": "problems one a line, then a table of the metrics"})
    add_report_file(p)
    g = p.add_argument_group("pictures of --report")
    add_images(g, required=False)
    add_backend(p)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Evaluate, print the result, and return the exit status."""
    from ..metrics.evaluation import evaluate_files

    try:
        result = evaluate_files(args.test, args.predictions, output_dir=args.output_dir,
                                project=args.project, version=args.version_name,
                                train=args.train, project_version_arn=args.project_version_arn,
                                backend=args.backend)
    except BackendNotBuiltError as exc:
        print(f"customlabels: {exc}", file=sys.stderr)
        return 2
    write_report(args.format, Shown.of(args), result.as_dict(), result.issues,
                 lambda shown: render_text(result, shown))
    status = 0 if result.ok else 1
    if args.html_report is None:
        return status
    from .report import write_at_end

    # an evaluation that could not run has nothing to show: write_report says so (status 2)
    return max(status, write_at_end(args, evaluation=result if result.summary else None,
                                    images=args.images, images_prefix=args.images_prefix))


def _fmt(value: float, width: int = 9) -> str:
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:{width}.4f}"


def render_text(result: Any, shown: Shown = ALL) -> tuple[str, str]:
    """Return (stdout, stderr): one problem a line, then the metrics; file errors on stderr.

    The closing line says ``passed`` exactly when the exit status is 0 (no error in the inputs).
    """
    out, err = split_problem_lines(result.issues, shown)
    if result.summary is not None:
        kind = result.use_case
        if result.multi_label is not None:
            kind += ", multi-label" if result.multi_label else ", single-label"
        unit = "Boxes" if result.coco is not None else "Truth"
        out.append(f"{result.files['ground_truth']}: {kind}, "
                   f"{plural(result.testing_images, 'testing image')}, "
                   f"{plural(len(result.labels), 'label')}")
        width = max([5, *(len(r.label) for r in result.per_label)])
        header = (f"{'Label':<{width}}  {'Images':>6}  {unit:>6}  {'Preds':>6}  {'Threshold':>9}"
                  f"  {'Precision':>9}  {'Recall':>9}  {'F1':>9}")
        if result.coco is not None:
            header += f"  {'AP':>9}  {'AP50':>9}"
        out += [header, "-" * len(header)]
        for r in sorted(result.per_label, key=lambda r: (-r.f1, r.label)):
            row = (f"{r.label:<{width}}  {r.testing_images:>6}  {r.ground_truth:>6}  "
                   f"{r.predictions:>6}  {_fmt(r.threshold)}  {_fmt(r.precision)}  "
                   f"{_fmt(r.recall)}  {_fmt(r.f1)}")
            if result.coco is not None:
                row += f"  {_fmt(r.average_precision)}  {_fmt(r.average_precision_50)}"
            out.append(row)
        out.append("-" * len(header))
        mean = (f"{'Mean':<{width}}  {'':>6}  {'':>6}  {'':>6}  {'':>9}  {_fmt(result.precision)}"
                f"  {_fmt(result.recall)}  {_fmt(result.f1)}")
        if result.coco is not None:
            mean += f"  {_fmt(float(result.coco.stats[0]))}  {_fmt(float(result.coco.stats[1]))}"
        out.append(mean)
        if result.coco is not None:
            stats = result.coco.as_dict()
            out.append("COCO: " + "  ".join(f"{name} {_fmt(value, 0).strip()}"
                                             for name, value in stats.items()))
        if result.confusion_matrix is not None:
            out.append("Confusion matrix (rows: predicted, columns: ground truth, % of the "
                       "column's images):")
            cell = max([6, *(len(x) for x in result.labels)])
            out.append(f"{'':<{cell}}  " + "  ".join(f"{x:>{cell}}" for x in result.labels))
            for name, row in zip(result.confusion_rows, result.confusion_matrix):
                out.append(f"{name:<{cell}}  "
                           + "  ".join(f"{100 * v:>{cell - 1}.0f}%" for v in row))
    for path in result.outputs:
        out.append(f"wrote {path}")
    errors, warnings = counts(result.issues)
    what = ("evaluated" + (" what is usable" if not result.ok else "")
            if result.summary is not None else "not evaluated")
    out.append(closing(result.files["ground_truth"], errors, warnings, 0 if result.ok else 1,
                       what=what))
    return "\n".join(out) + "\n", "\n".join(f"customlabels: {e}" for e in err) + (
        "\n" if err else "")
