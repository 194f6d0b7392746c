"""The ``customlabels`` command: one module per subcommand, each with ``add_parser`` and ``run``.

Subcommand modules are imported on demand: ``customlabels validate`` runs as a pre-commit hook on
every commit, so it must not pay for the converters' or the metrics' imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

#: subcommand -> module of customlabels.cli that implements it
SUBCOMMANDS = {"validate": "validate", "evaluate": "evaluate",
               "convert": "convert", "export": "export", "split": "split", "distribute": "split",
               "entries": "dataset", "labels": "dataset", "update": "dataset",
               "describe": "dataset", "remove-label": "dataset", "merge": "dataset"}


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.{SUBCOMMANDS[name]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Return the parser for every subcommand, or for ``only`` that one."""
    parser = argparse.ArgumentParser(
        prog="customlabels",
        description="Amazon Rekognition Custom Labels datasets, offline.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS if only is None else [only]:
        _module(name).add_parser(sub, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 problems found, 2 usage error)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return _module(args.command).run(args, parser)
    except KeyboardInterrupt:
        print("customlabels: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: not an error of ours
        sys.stderr.close()
        return 1


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
