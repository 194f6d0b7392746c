"""``customlabels split`` and ``customlabels distribute``: label-aware train/test splits.

``split TRAIN --output-dir DIR`` writes ``DIR/train.manifest`` and ``DIR/test.manifest`` (the
auto-split, L2476-2481); ``distribute TRAIN TEST`` moves entries of TRAIN into the empty TEST in
place (DistributeDatasetEntries, L13843-13860). Exit status: 0 when split and the pair
validates, 1 when the split is impossible (the labels are named) or the pair has errors, 2 on a
usage error or an input that cannot be used (:data:`customlabels.cli.main.EXIT_STATUS`, the same
in every command).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._options import add_output_dir, add_progress, add_report, progress_of
from ._render import (Shown, as_data, closing, counts, github_lines, json_text, plural,
                      problem_lines)

HELP = {"split": "split a manifest into training and testing manifests (the 80/20 auto-split)",
        "distribute": "move 20% of a training manifest's entries into an empty testing one"}


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def add_parser(sub: Any, name: str) -> None:
    """Add the ``split`` or the ``distribute`` subcommand (``name`` says which)."""
    p = sub.add_parser(name, help=HELP[name].replace("%", "%%"),
                       description=HELP[name].replace("%", "%%") + ". Every label with at least "
                       "2 images is on both sides; no image is on both; the same seed gives the "
                       "same split.")
    if name == "split":
        p.add_argument("train", metavar="TRAIN",
                       help="the training manifest; - reads it from standard input")
        add_output_dir(p, "where train.manifest and test.manifest are written", required=True)
    else:
        p.add_argument("train", metavar="TRAIN", help="the training manifest (rewritten)")
        p.add_argument("test", metavar="TEST",
                       help="the testing manifest: missing or empty; entries move into it")
        p.add_argument("--in-place", action="store_true", required=True,
                       help="required: TRAIN and TEST are rewritten (atomically), as the "
                            "service's DistributeDatasetEntries does; to keep TRAIN as it is, "
                            "use `customlabels split --output-dir`")
    p.add_argument("--test-fraction", type=_fraction, default=0.2, metavar="F",
                   help="share of images for testing (default 0.2, as the service)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    add_report(p)
    add_progress(p)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Split or distribute, print the outcome, and return the exit status."""
    from .. import split as split_mod
    from .validate import render_text as render_validation

    progress = progress_of(args)
    try:
        if args.command == "split":
            result = split_mod.split(args.train, args.output_dir, progress=progress,
                                     test_fraction=args.test_fraction, seed=args.seed)
        else:
            result = split_mod.distribute(args.train, args.test, progress=progress,
                                          test_fraction=args.test_fraction, seed=args.seed)
    except split_mod.SplitError as exc:
        print(f"customlabels: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        from ..manifest.writer import os_error_text

        print(f"customlabels: {os_error_text(exc, args.train)}", file=sys.stderr)
        return 2
    status = 0 if result.ok else 1
    if args.format == "json":
        sys.stdout.write(json_text(result.to_dict()))
        return status
    shown = Shown.of(args)
    issues = [*result.issues, *(as_data(result.validation_doc)["issues"]
                                if result.validation_doc is not None else [])]
    if args.format == "github":
        sys.stdout.write("".join(f"{line}\n" for line in github_lines(issues, shown)))
        return status
    out = problem_lines(result.issues, shown)
    if result.train is not None:
        out.append(f"{result.train}: {plural(result.train_lines, 'line')}; {result.test}: "
                   f"{plural(result.test_lines, 'line')} (seed {args.seed})")
        width = max([len(label) for label in result.labels] + [5])
        out.append(f"{'LABEL'.ljust(width)}  TRAIN   TEST")
        for label, (train, test) in result.labels.items():
            out.append(f"{label.ljust(width)}  {train:5d}  {test:5d}")
        if result.validation_doc is not None:
            stdout, stderr = render_validation([result.validation_doc], shown,
                                               closing_line=False)
            out.append(stdout.rstrip("\n") + ("\n" + stderr.rstrip("\n") if stderr else ""))
    errors, warnings = counts(issues)
    done = "split" if args.command == "split" else "distributed"
    out.append(closing(args.train, errors, warnings, status,
                       what=done if result.train is not None else f"not {done}"))
    sys.stdout.write("\n".join(line for line in out if line) + "\n")
    return status
