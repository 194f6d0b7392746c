"""Generate the command reference of ``docs/cli.md`` from the argparse parsers.

``python -m customlabels.cli.docs [ROOT]`` rewrites the part of ROOT/docs/cli.md below
:data:`MARKER` (the hand-written conventions above it stay as they are);
``tests/cli/test_cli_docs.py`` fails when the file is not what this writes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from ._options import hidden

#: The line that ends the hand-written part of docs/cli.md.
MARKER = "<!-- generated below by `python -m customlabels.cli.docs`; do not edit below -->"
#: Help texts are wrapped at this width in the usage lines, whatever the terminal.
WIDTH = 100


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
         ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Yield ``(names, parser)`` for ``parser`` and every sub-parser under it, depth first.

    ``names`` is the command line that reaches it: ``()``, ``("convert", "coco")``...
    """
    yield path, parser
    for action in parser._actions:  # argparse has no public accessor for its sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk(child, (*path, name))


def leaves(parser: argparse.ArgumentParser
           ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Yield the parsers that run a command (those without sub-parsers of their own)."""
    for path, p in walk(parser):
        if path and not any(isinstance(a, argparse._SubParsersAction) for a in p._actions):
            yield path, p


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Return the parser's documented arguments: all but ``--help`` and suppressed ones."""
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
            and a.help is not argparse.SUPPRESS]


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("\n", " ")


def _spelling(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    shown = [s for s in action.option_strings if s not in hidden(action)]
    takes = action.nargs != 0
    metavar = action.metavar or (
        "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.dest.upper())
    return ", ".join(f"`{s} {metavar}`" if takes else f"`{s}`" for s in shown)


def _default(action: argparse.Action) -> str:
    if not action.option_strings or action.nargs == 0 or action.default in (None, False):
        return ""
    return f"`{action.default}`"


def render_reference(parser: argparse.ArgumentParser) -> str:
    """Return the generated part of docs/cli.md: each command's usage and arguments."""
    out = [MARKER, "", "## Command reference", "",
           "Generated from the parsers; `customlabels COMMAND --help` prints the same. Old "
           "spellings that still work are listed under each command.", ""]
    for path, p in [((), parser), *leaves(parser)]:
        name = " ".join(("customlabels", *path))
        out += [f"### {name}", "", p.description or "", "", "```",
                _usage(p), "```", "",
                "| argument | default | meaning |", "|---|---|---|"]
        old: list[str] = []
        for action in arguments(p):
            out.append(f"| {_spelling(action)} | {_cell(_default(action))} | "
                       f"{_cell(action.help or '')} |")
            shown = [s for s in action.option_strings if s not in hidden(action)]
            old += [f"`{s}` (now `{shown[-1]}`)" for s in hidden(action)]
        out.append("")
        if old:
            out += ["Old spellings, still accepted: " + ", ".join(old) + ".", ""]
    return "\n".join(out)


def render(root: Path) -> str:
    """Return docs/cli.md as it should be: its hand-written part, then the reference."""
    from .main import build_parser

    text = (root / "docs" / "cli.md").read_text(encoding="utf-8")
    if MARKER not in text:
        raise ValueError(f"{root / 'docs' / 'cli.md'} has no line {MARKER!r}")
    return text[:text.index(MARKER)] + render_reference(build_parser())


def main(argv: list[str] | None = None) -> int:
    """Rewrite ROOT/docs/cli.md (ROOT: the first argument, default the current directory)."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else ".")
    from ..manifest.writer import atomic_write

    with atomic_write(root / "docs" / "cli.md") as out:
        out.write(render(root).encode("utf-8"))
    print(f"wrote {root / 'docs' / 'cli.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
