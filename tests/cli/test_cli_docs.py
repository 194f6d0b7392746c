"""docs/cli.md: hand-written conventions, then a reference generated from the parsers."""

from __future__ import annotations

from pathlib import Path

from customlabels.cli._options import hidden
from customlabels.cli.docs import MARKER, arguments, leaves, render
from customlabels.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "cli.md"


def test_cli_md_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(ROOT), (
        "docs/cli.md is stale: run `python -m customlabels.cli.docs .`")


def test_reference_names_every_command_and_option() -> None:
    text = DOC.read_text(encoding="utf-8")
    reference = text[text.index(MARKER):]
    for path, parser in leaves(build_parser()):
        assert f"### customlabels {' '.join(path)}\n" in reference, path
        for action in arguments(parser):
            for spelling in action.option_strings:
                assert f"`{spelling}" in reference, (path, spelling)
                if spelling in hidden(action):  # listed as old, not as an option
                    assert f"`{spelling}` (now " in reference


def test_conventions_document_the_backend_switch() -> None:
    conventions = DOC.read_text(encoding="utf-8").split(MARKER)[0]
    for text in ("--backend auto|compiled|python", '"backend"', "--engine", "--s3-path",
                 "--ground-truth", "--max-issues", "--quiet", "--no-progress", "<stdin>"):
        assert text.replace("|", "\\|") in conventions or text in conventions, text
