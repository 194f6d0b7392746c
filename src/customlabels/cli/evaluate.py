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
from ._render import issue_text, json_text


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
    p.add_argument("--ground-truth", required=True, metavar="TEST",
                   help="the test manifest (SageMaker Ground Truth format)")
    p.add_argument("--predictions", required=True, metavar="PRED",
                   help="JSON Lines: one DetectCustomLabels response with the image's "
                        "source-ref a line, or an evaluation manifest snapshot")
    p.add_argument("--output-dir", metavar="DIR",
                   help="write EvaluationSummary-PROJECT-VERSION.json and "
                        "EvaluationManifestSnapshot-PROJECT-VERSION.manifest here")
    p.add_argument("--project", type=_name, default="project", metavar="NAME",
                   help="project name in the output file names (default: project)")
    p.add_argument("--version", type=_name, default="version", metavar="NAME",
                   help="version name in the output file names (default: version)")
    p.add_argument("--train", metavar="TRAIN",
                   help="training manifest: its valid lines fill NumberOfTrainingImages")
    p.add_argument("--project-version-arn", metavar="ARN",
                   help="ProjectVersionArn for the summary file")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text: problems, then a table of the metrics (default); json: the "
                        "whole result")
    p.add_argument("--backend", "--engine", choices=("auto", "compiled", "python"), default="auto",
                   help=argparse.SUPPRESS)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Evaluate, print the result, and return the exit status."""
    from ..metrics.evaluation import evaluate_files

    try:
        result = evaluate_files(args.ground_truth, args.predictions, output_dir=args.output_dir,
                                project=args.project, version=args.version, train=args.train,
                                project_version_arn=args.project_version_arn,
                                backend=args.backend)
    except BackendNotBuiltError as exc:
        print(f"customlabels: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(json_text(result.as_dict()))
    else:
        stdout, stderr = render_text(result)
        sys.stdout.write(stdout)
        sys.stdout.flush()
        if stderr:
            sys.stderr.write(stderr)
    return 0 if result.ok else 1


def _fmt(value: float, width: int = 9) -> str:
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:{width}.4f}"


def render_text(result: Any) -> tuple[str, str]:
    """Return (stdout, stderr): one problem a line, then the metrics; file errors on stderr."""
    out: list[str] = []
    err: list[str] = []
    for issue in result.issues:
        (err if issue.scope == "file" else out).append(issue_text(issue))
    if result.summary is not None:
        kind = result.use_case
        if result.multi_label is not None:
            kind += ", multi-label" if result.multi_label else ", single-label"
        unit = "Boxes" if result.coco is not None else "Truth"
        out.append(f"{result.files['ground_truth']}: {kind}, {result.testing_images} testing "
                   f"images, {len(result.labels)} labels")
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
    errors = len(result.errors)
    warnings = len(result.issues) - errors
    verdict = ("evaluated" if result.summary is not None else "not evaluated") + (
        "" if result.ok else " with errors" if result.summary is not None else "")
    out.append(f"{verdict}: {errors} error{'s' * (errors != 1)}, "
               f"{warnings} warning{'s' * (warnings != 1)}")
    for path in result.outputs:
        out.append(f"wrote {path}")
    return "\n".join(out) + "\n", "\n".join(f"customlabels: {e}" for e in err) + (
        "\n" if err else "")
