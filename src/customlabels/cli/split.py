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
import json
import sys
from typing import Any

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
    p = sub.add_parser(name, help=HELP[name].replace("%", "%%"), description=HELP[name] + ". Every label with "
                       "at least 2 images is on both sides; no image is on both; the same seed "
                       "gives the same split.")
    p.add_argument("train", metavar="TRAIN", help="the training manifest")
    if name == "split":
        p.add_argument("--output-dir", required=True, metavar="DIR",
                       help="where train.manifest and test.manifest are written")
    else:
        p.add_argument("test", metavar="TEST",
                       help="the testing manifest: missing or empty; entries move into it")
        p.add_argument("--in-place", action="store_true", required=True,
                       help="required: TRAIN and TEST are rewritten (atomically), as the "
                            "service's DistributeDatasetEntries does; to keep TRAIN as it is, "
                            "use `customlabels split --output-dir`")
    p.add_argument("--test-fraction", type=_fraction, default=0.2, metavar="F",
                   help="share of images for testing (default 0.2, as the service)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Split or distribute, print the outcome, and return the exit status."""
    from .. import split as split_mod
    from .convert import problems_text
    from .validate import render_text as render_validation

    try:
        if args.command == "split":
            result = split_mod.split(args.train, args.output_dir,
                                     test_fraction=args.test_fraction, seed=args.seed)
        else:
            result = split_mod.distribute(args.train, args.test,
                                          test_fraction=args.test_fraction, seed=args.seed)
    except split_mod.SplitError as exc:
        print(f"customlabels: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"customlabels: {exc.filename or args.train}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return 0 if result.ok else 1
    out = problems_text(result.issues)
    if result.train is not None:
        out.append(f"{result.train}: {result.train_lines:,} lines; {result.test}: "
                   f"{result.test_lines:,} lines (seed {args.seed})")
        width = max([len(label) for label in result.labels] + [5])
        out.append(f"{'LABEL'.ljust(width)}  TRAIN   TEST")
        for label, (train, test) in result.labels.items():
            out.append(f"{label.ljust(width)}  {train:5d}  {test:5d}")
        if result.validation_doc is not None:
            stdout, stderr = render_validation([result.validation_doc])
            out.append(stdout.rstrip("\n") + ("\n" + stderr.rstrip("\n") if stderr else ""))
    sys.stdout.write("\n".join(out) + "\n")
    return 0 if result.ok else 1
