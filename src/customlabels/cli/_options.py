"""The options every subcommand spells the same way (docs/cli.md, "Conventions").

Each subcommand adds its shared options through these functions, so that one idea has one
spelling, one help text and one behaviour everywhere; ``tests/cli/test_conventions.py`` walks
every parser and checks them. A new command (train, detect) calls the same functions.

Old spellings stay accepted as hidden aliases (:func:`alias`): they parse into the same
argument, and the help lists only the current spelling.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

#: The report formats: every command that reports problems offers all three.
REPORT_FORMATS = ("text", "json", "github")
#: What each format choice means, for the help of ``--format`` (commands add their own choices,
#: such as ``csv`` or ``parquet`` for a listing, with their meaning here).
FORMAT_MEANING = {
    "text": "problems one a line, compiler style, then a summary",
    "json": "the whole result as one JSON document (--max-issues and --quiet do not apply)",
    "github": "GitHub Actions workflow annotations, one a problem",
}
#: Problems shown per code in text and github output unless --max-issues says otherwise.
DEFAULT_MAX_ISSUES = 10
#: The backends a command that reads manifests can run on.
BACKENDS = ("auto", "compiled", "python")
#: Where a file name may be ``-``: standard input (docs/cli.md, "Standard input").
STDIN = "-"

#: attribute set on an argparse action: its option strings kept out of the help
HIDDEN_ATTRIBUTE = "hidden_option_strings"


def alias(parser: argparse.ArgumentParser, action: argparse.Action, *old: str) -> None:
    """Accept the option strings ``old`` for ``action`` too, without showing them in the help.

    They are added to the action (so ``-h`` lists only the current spelling, and a mutually
    exclusive group or ``required`` holds for both spellings) and recorded as hidden.
    """
    for spelling in old:
        if spelling in parser._option_string_actions:  # no public accessor in argparse
            raise ValueError(f"{spelling} is already an option of {parser.prog}")
        parser._option_string_actions[spelling] = action
    action.option_strings = [*action.option_strings, *old]
    setattr(action, HIDDEN_ATTRIBUTE, (*hidden(action), *old))


def hidden(action: argparse.Action) -> tuple[str, ...]:
    """Return the hidden spellings of ``action`` (old names kept working)."""
    return tuple(getattr(action, HIDDEN_ATTRIBUTE, ()))


def format_help(choices: tuple[str, ...], default: str = "text",
                meaning: dict[str, str] | None = None) -> str:
    """Return the help of a ``--format`` with ``choices``: what each one writes."""
    meanings = {**FORMAT_MEANING, **(meaning or {})}
    parts = [f"{c}: {meanings[c]}" + (" (default)" if c == default else "") for c in choices]
    return "; ".join(parts)


def add_format(p: argparse.ArgumentParser, choices: tuple[str, ...] = REPORT_FORMATS,
               meaning: dict[str, str] | None = None, default: str = "text") -> argparse.Action:
    """Add ``--format`` with ``choices`` (the report formats unless given), text by default.

    A listing command passes its own ``choices`` and the ``meaning`` of those not in
    :data:`FORMAT_MEANING`; adding a choice later is adding it to both. ``default``: only
    ``detect`` writes data for another command by default (JSON Lines for ``evaluate``).
    """
    return p.add_argument("--format", choices=choices, default=default,
                          help=format_help(choices, default, meaning))


def integer(text: str, minimum: int = 0) -> int:
    """Parse an option's whole number of at least ``minimum`` (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(
            f"must be 0 or more, not {value}" if minimum == 0
            else f"must be at least {minimum}, not {value}")
    return value


def number_in(low: float, high: float = math.inf, *, above: bool = False
              ) -> Callable[[str], float]:
    """Return an argparse ``type`` for a finite number from ``low`` (excluded when ``above``)
    to ``high``: seconds, a learning rate, a confidence."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < low or (above and value == low) or value > high:
            lowest = f"above {low:g}" if above else f"at least {low:g}"
            span = lowest if high == math.inf else f"{low:g} to {high:g}"
            raise argparse.ArgumentTypeError(f"must be {span}, not {text}")
        return value

    return parse


def positive(text: str) -> int:
    """Parse an option's whole number of at least 1 (an argparse ``type``)."""
    return integer(text, 1)


def add_report(p: argparse.ArgumentParser, meaning: dict[str, str] | None = None) -> None:
    """Add what every report-producing command has: ``--format``, ``--max-issues``, ``--quiet``."""
    add_format(p, REPORT_FORMATS, meaning)
    p.add_argument("--max-issues", type=integer, default=DEFAULT_MAX_ISSUES, metavar="N",
                   help=f"show at most N problems of each code (default {DEFAULT_MAX_ISSUES}; "
                        "0: all), then a line saying how many more there are")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="show no problem lines, only the summary; the exit status is the same")


def add_report_file(p: argparse.ArgumentParser | Any) -> None:
    """Add ``--report FILE``: the HTML report a command writes at the end
    (:func:`customlabels.cli.report.write_at_end`)."""
    p.add_argument("--report", metavar="FILE", dest="html_report",
                   help="also write an HTML report of the results to this file (what "
                        "`customlabels report` writes: open it in a browser)")


def add_strict(p: argparse.ArgumentParser) -> None:
    """Add ``--strict``: warnings fail too."""
    p.add_argument("--strict", action="store_true",
                   help="fail on warnings too (exit status 1, and the summary says failed)")


def add_progress(p: argparse.ArgumentParser | Any) -> None:
    """Add ``--no-progress`` to a command that can take more than about a second."""
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar on standard error (there is none either when "
                        "standard error is not a terminal)")


def progress_of(args: argparse.Namespace) -> bool | None:
    """Return the ``progress`` argument for the library: None (on a terminal) or False."""
    return None if getattr(args, "progress", True) else False


def add_keep_formulas(p: argparse.ArgumentParser) -> None:
    """Add ``--keep-formulas`` to a command that writes CSV cells taken from a dataset."""
    p.add_argument("--keep-formulas", action="store_true",
                   help="write cells that start with = + - @ (a formula to a spreadsheet) as "
                        "they are; by default they get a leading ' so that a spreadsheet shows "
                        "them as text (convert csv reads it back off)")


def add_backend(p: argparse.ArgumentParser, *, old_spelling: bool = True) -> None:
    """Add ``--backend`` (old spelling ``--engine``, which commands newer than it lack):
    which implementation reads the manifests."""
    action = p.add_argument(
        "--backend", choices=BACKENDS, default="auto",
        help="the implementation that reads the manifests: compiled (the C extension), python "
             "(the pure-Python one, same results) or auto (compiled when built, the default); "
             "the json report names the one that ran")
    if old_spelling:
        alias(p, action, "--engine")


def add_output_file(p: argparse.ArgumentParser | Any, helptext: str, *,
                    required: bool = False, metavar: str = "OUT") -> argparse.Action:
    """Add ``-o/--output``: the one file a command writes (written atomically)."""
    return p.add_argument("-o", "--output", required=required, metavar=metavar, help=helptext)


def add_output_dir(p: argparse.ArgumentParser | Any, helptext: str, *,
                   required: bool = False) -> argparse.Action:
    """Add ``--output-dir``: the directory a command writes several files into."""
    return p.add_argument("--output-dir", required=required, metavar="DIR", help=helptext)


def add_s3_prefix(p: argparse.ArgumentParser, helptext: str) -> None:
    """Add ``--s3-prefix`` (old spelling ``--s3-path``): the S3 folder of the images."""
    action = p.add_argument("--s3-prefix", metavar="S3URL", help=helptext)
    alias(p, action, "--s3-path")
