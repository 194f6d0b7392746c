"""The ``customlabels`` command: one module per subcommand, each with ``add_parser`` and ``run``.

Subcommand modules are imported on demand: ``customlabels validate`` runs as a pre-commit hook on
every commit, so it must not pay for the converters' or the metrics' imports.

The exit status means the same in every command (:data:`EXIT_STATUS`). Each subcommand's ``run``
returns 0 (clean) or 1 (problems found) and reports what it found in its own words and codes
(``validate`` reports a manifest that does not exist as
ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT, ``convert`` as INPUT_UNREADABLE, ``evaluate``
as ERROR_EVALUATION_FILE_INACCESSIBLE). Whether a failure is rather an unusable input (a file
that cannot be read, an output that cannot be written: 2), and what a raised exception means (2
for customlabels' own exceptions and for I/O errors, 3 for anything else), is decided here, once
for all of them.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from .. import __version__
from ..errors import CustomLabelsError
from ._options import hidden
from ._stdin import StdinError, standard_input
from ._terminal import guarded

#: subcommand -> module of customlabels.cli that implements it
SUBCOMMANDS = {"validate": "validate", "evaluate": "evaluate",
               "convert": "convert", "export": "export", "split": "split", "distribute": "split",
               "entries": "dataset", "labels": "dataset", "update": "dataset",
               "describe": "dataset", "remove-label": "dataset", "merge": "dataset",
               "train": "train", "detect": "detect", "models": "models",
               "describe-model": "models", "export-model": "models", "report": "report"}

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNUSABLE = 2
EXIT_INTERNAL = 3
#: 128 + SIGINT and 128 + SIGPIPE, what a shell reports for a command those signals stop.
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
#: Set to 1 to print the traceback of an internal error.
DEBUG_VARIABLE = "CUSTOMLABELS_DEBUG"

EXIT_STATUS = f"""\
exit status, the same in every command:
  {EXIT_OK:>3}  clean: nothing wrong (warnings alone pass, unless --strict)
  {EXIT_PROBLEMS:>3}  problems found: errors in the data (or warnings with --strict),
       a result that does not validate, a split that cannot be made
  {EXIT_UNUSABLE:>3}  usage error or unusable input: a bad argument, an input that does
       not exist or cannot be read, an output that cannot be written,
       an operation refused as asked
  {EXIT_INTERNAL:>3}  internal error, a bug: please report it with the traceback that
       {DEBUG_VARIABLE}=1 prints
  {EXIT_INTERRUPTED:>3}  interrupted (Ctrl-C)
  {EXIT_BROKEN_PIPE:>3}  the output pipe closed early (as when piped into head)"""

#: subcommand -> its arguments that name input files (each a path, a list of paths or None)
INPUT_ARGUMENTS = {
    "validate": ("train", "test"), "evaluate": ("test", "predictions", "train"),
    "convert": ("inputs",), "export": ("manifest",), "split": ("train",),
    "distribute": ("train",),  # TEST may be missing: entries move into it
    "entries": ("manifest",), "labels": ("manifest",), "update": ("manifest", "changes"),
    "describe": ("manifest",), "remove-label": ("manifest",), "merge": ("manifests",),
    "train": ("train", "test"), "detect": (), "models": (), "describe-model": (),
    "export-model": (), "report": ()}  # detect, report: their inputs may be folders
#: The arguments that name manifests (JSON Lines) in each subcommand: a COCO or CSV file given
#: there is refused, and ``validate`` says what it is (see :func:`_check_kinds`).
MANIFEST_ARGUMENTS = {
    "validate": ("train", "test"), "evaluate": ("test", "train"), "export": ("manifest",),
    "split": ("train",), "distribute": ("train",), "entries": ("manifest",),
    "labels": ("manifest",), "update": ("manifest", "changes"), "describe": ("manifest",),
    "remove-label": ("manifest",), "merge": ("manifests",), "train": ("train", "test")}
#: The arguments that name an output directory or file, in any subcommand.
OUTPUT_DIR_ARGUMENTS = ("output_dir", "draw")  # draw: detect --draw DIR, its pictures
OUTPUT_FILE_ARGUMENTS = ("output", "html_report")  # html_report: --report FILE


class _Formatter(argparse.HelpFormatter):
    """Wrap descriptions as usual, but print the exit status table as written; leave hidden
    aliases (old spellings, :func:`customlabels.cli._options.alias`) out of the help."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text == EXIT_STATUS:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        old = hidden(action)
        if not old:
            return super()._format_action_invocation(action)
        shown = copy.copy(action)
        shown.option_strings = [s for s in action.option_strings if s not in old]
        return super()._format_action_invocation(shown)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.{SUBCOMMANDS[name]}")


def _with_exit_status(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and the parsers under it the exit status table as epilog."""
    parser.epilog = EXIT_STATUS
    parser.formatter_class = _Formatter
    for action in parser._actions:  # the sub-parsers argparse made (no public accessor)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _with_exit_status(child)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Return the parser for every subcommand, or for ``only`` that one."""
    parser = argparse.ArgumentParser(
        prog="customlabels",
        description="Amazon Rekognition Custom Labels datasets, offline.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS if only is None else [only]:
        _module(name).add_parser(sub, name)
    _with_exit_status(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (:data:`EXIT_STATUS`)."""
    argv = sys.argv[1:] if argv is None else argv
    _escape_unencodable()
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    _report_recoveries()
    with guarded():  # dataset strings reach a terminal escaped, error messages included
        return _run(args, parser)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the parsed command; return its exit status, answering every exception."""
    try:
        with standard_input(args, INPUT_ARGUMENTS.get(args.command, ())) as relabel:
            _check_regular(args)
            _check_kinds(args)
            status: int = _module(args.command).run(args, parser)
            if status == EXIT_PROBLEMS and _unusable(args) is not None:
                status = EXIT_UNUSABLE
            relabel.flush()
        return status
    except StdinError as exc:  # `-` where standard input cannot be read: a usage error
        parser.error(str(exc))
    except KeyboardInterrupt:
        print("customlabels: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into head: stop writing, quietly
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except CustomLabelsError as exc:  # misuse, refused operations, an extension not built
        print(f"customlabels: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except OSError as exc:
        from ..manifest.writer import os_error_text

        print(f"customlabels: {os_error_text(exc)}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as exc:  # a bug: say so, and keep the traceback for whoever reports it
        return _internal_error(exc)


def _escape_unencodable() -> None:
    """Print what the terminal's encoding cannot hold as a backslash escape, not a crash.

    A label name may hold a lone surrogate (a ``\\ud800`` escape in a manifest is valid JSON,
    and the service takes it), which no encoding can write; a terminal that is not UTF-8
    cannot write most names. ``\\ud800`` is also how JSON spells it, so ``--format json``
    stays valid JSON.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or detached stream
                pass


def _check_regular(args: argparse.Namespace) -> None:
    """Refuse a named pipe, a device or a socket given as an input file (every command): a
    reader would block on it, or take it for empty. ``-`` reads standard input instead."""
    from ..manifest.reader import check_regular

    if args.command == "validate":  # reports it as the service would (not a regular file)
        return
    for path in _paths(args, INPUT_ARGUMENTS.get(args.command, ())):
        check_regular(path)


def _check_kinds(args: argparse.Namespace) -> None:
    """Refuse a COCO or CSV file where a manifest is read (it needs ``convert`` first); for
    ``validate``, which reports what the service would, say so on stderr and go on."""
    from ..errors import InputKindError
    from ..manifest.kind import sniff, wrong_kind_message

    for path in _paths(args, MANIFEST_ARGUMENTS.get(args.command, ())):
        try:
            kind = sniff(path)
        except OSError:  # reported by the command, as before
            continue
        if kind is None:
            continue
        message = wrong_kind_message(path, kind)
        if args.command != "validate":
            raise InputKindError(message)
        print(f"customlabels: note: {message}", file=sys.stderr)


def _report_recoveries() -> None:
    """Print each interrupted write that a command completes or rolls back, one line on stderr."""
    from ..manifest import writer

    def report(recovery: writer.Recovery) -> None:
        print(f"customlabels: {recovery.message}", file=sys.stderr)

    writer.on_recovery = report


def _internal_error(exc: Exception) -> int:
    print(f"customlabels: internal error: {type(exc).__name__}: {exc}; please report it "
          f"with the traceback ({DEBUG_VARIABLE}=1 prints it)", file=sys.stderr)
    if os.environ.get(DEBUG_VARIABLE) == "1":
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return EXIT_INTERNAL


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (captured output): nothing to flush
        pass


def _paths(args: argparse.Namespace, names: tuple[str, ...]) -> Iterator[str]:
    for name in names:
        value = getattr(args, name, None)
        if isinstance(value, list):
            yield from value
        elif value is not None:
            yield value


def _unusable(args: argparse.Namespace) -> str | None:
    """Return an input that cannot be read or an output that cannot be written, if any."""
    inputs = list(_paths(args, INPUT_ARGUMENTS.get(args.command, ())))
    if args.command == "convert":  # quoted globs: a pattern that matches nothing is unusable
        from ..convert.batch import expand

        inputs, unmatched = expand(inputs)
        if unmatched:
            return unmatched[0]
    for path in inputs:
        if not (os.path.isfile(path) and os.access(path, os.R_OK)):
            return path
    for path in _paths(args, OUTPUT_DIR_ARGUMENTS):
        if not _can_create(Path(path)):
            return path
    for path in _paths(args, OUTPUT_FILE_ARGUMENTS):
        if Path(path).is_dir() or not _can_create(Path(path).parent):
            return path
    return None


def _can_create(directory: Path) -> bool:
    """Tell whether ``directory`` is, or can be made, a directory we may write into."""
    for place in (directory, *directory.parents):
        if place.exists():
            return place.is_dir() and os.access(place, os.W_OK | os.X_OK)
    return False


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
