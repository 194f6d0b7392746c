"""Every subcommand's parser follows docs/cli.md's conventions (walked, not listed by hand)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from customlabels.cli._options import REPORT_FORMATS, hidden
from customlabels.cli.docs import arguments, leaves, walk
from customlabels.cli.main import (INPUT_ARGUMENTS, OUTPUT_DIR_ARGUMENTS, OUTPUT_FILE_ARGUMENTS,
                                   SUBCOMMANDS, build_parser, main)

from .test_exit_codes import CLEAN, data  # noqa: F401 - data is a fixture used below

#: Commands that print data rather than problems: their --format has their own choices.
LISTINGS = {"entries", "labels", "describe", "models", "describe-model", "detect", "report"}
#: detect writes JSON Lines for evaluate by default; export-model's --format is the file's
#: (onnx or torchscript, as the issue spells it), not a report's.
FORMAT_DEFAULTS = {"detect": "json", "export-model": "onnx"}
#: Commands that can take more than about a second on a large input: they draw progress.
SLOW = {"split", "distribute", "describe", "labels", "export", "convert",
        "validate",  # validate: a bar over the images, with --images
        "train", "detect"}
#: The old spellings kept as hidden aliases: (command, old, current).
OLD_SPELLINGS = {("convert", "--s3-path", "--s3-prefix"), ("export", "--s3-path", "--s3-prefix"),
                 ("evaluate", "--ground-truth", "--test"), ("evaluate", "--version",
                                                           "--version-name"),
                 ("validate", "--engine", "--backend"), ("evaluate", "--engine", "--backend"),
                 ("train", "--engine", "--backend")}

PARSER = build_parser()
LEAVES = list(leaves(PARSER))
LEAF_IDS = [" ".join(path) for path, _ in LEAVES]


def _texts(parser: argparse.ArgumentParser) -> list[str]:
    """Return every text of a parser a user reads in --help."""
    texts = [parser.description or "", parser.format_help()]
    texts += [a.help for a in parser._actions if isinstance(a.help, str)]
    return texts


def test_every_subcommand_is_walked() -> None:
    assert {path[0] for path, _ in LEAVES} == set(SUBCOMMANDS)
    assert ("convert", "coco") in {path for path, _ in LEAVES}


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=LEAF_IDS)
def test_format_choices_and_help(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    formats = [a for a in parser._actions if "--format" in a.option_strings]
    assert len(formats) == 1, "every command has --format"
    action = formats[0]
    assert action.default == FORMAT_DEFAULTS.get(path[0], "text")
    assert action.choices is not None
    if path[0] == "export-model":
        assert tuple(action.choices) == ("onnx", "torchscript")
    elif path[0] in LISTINGS:
        assert {"text", "json"} <= set(action.choices)
    else:
        assert tuple(action.choices) == REPORT_FORMATS
        for option in ("--max-issues", "--quiet"):
            assert option in parser._option_string_actions, option
    for choice in action.choices:  # the help says what each choice writes
        assert f"{choice}: " in (action.help or ""), choice


@pytest.mark.parametrize(("path", "parser"), list(walk(PARSER)),
                         ids=[" ".join(p) or "customlabels" for p, _ in walk(PARSER)])
def test_no_guide_line_numbers_in_help(path: tuple[str, ...],
                                       parser: argparse.ArgumentParser) -> None:
    for text in _texts(parser):
        assert re.search(r"\bL\d+", text) is None, text
        assert re.search(r"guide,? (line|l\.) ?\d", text, re.I) is None, text
        assert "data/*.json" not in text, text


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=LEAF_IDS)
def test_every_argument_has_help(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        assert action.help is not argparse.SUPPRESS, (
            f"{action.option_strings or action.dest}: hide an old spelling with alias() instead")
        assert action.help, action.option_strings or action.dest


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=LEAF_IDS)
def test_options_are_kebab_case(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        for spelling in action.option_strings:
            assert re.fullmatch(r"-[a-zA-Z]|--[a-z0-9]+(-[a-z0-9]+)*", spelling), spelling


def test_one_spelling_for_one_destination() -> None:
    """The same argument is spelled the same in every command that has it."""
    spellings: dict[str, set[str]] = {}
    for _path, parser in LEAVES:
        mine: dict[str, list[str]] = {}  # one dest may have two options (--has/--no-errors)
        for action in arguments(parser):
            if action.option_strings:
                shown = [s for s in action.option_strings if s not in hidden(action)]
                mine.setdefault(action.dest, []).append("/".join(shown))
        for dest, options in mine.items():
            spellings.setdefault(dest, set()).add(" ".join(options))
    assert {dest: s for dest, s in spellings.items() if len(s) > 1} == {}
    # the ideas the issue names, each with its one spelling
    assert spellings["s3_prefix"] == {"--s3-prefix"}
    assert spellings["output"] == {"-o/--output"}
    assert spellings["output_dir"] == {"--output-dir"}
    assert spellings["backend"] == {"--backend"}
    assert spellings["test"] == {"--test"}


def test_outputs_name_files_and_directories() -> None:
    for path, parser in LEAVES:
        for action in arguments(parser):
            if "--output" in action.option_strings:
                assert action.option_strings[:2] == ["-o", "--output"], path
                assert action.dest in OUTPUT_FILE_ARGUMENTS and action.metavar != "DIR", path
            if action.dest == "output_dir":
                assert action.option_strings == ["--output-dir"], path
                assert action.dest in OUTPUT_DIR_ARGUMENTS and action.metavar == "DIR", path
            if action.metavar == "DIR" and action.option_strings:
                assert action.dest in ("images_dir", "store", *OUTPUT_DIR_ARGUMENTS), (
                    path, action.dest)


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=LEAF_IDS)
def test_slow_commands_draw_progress(path: tuple[str, ...],
                                     parser: argparse.ArgumentParser) -> None:
    has = "--no-progress" in parser._option_string_actions
    assert has == (path[0] in SLOW), path


def test_old_spellings_are_the_known_ones() -> None:
    found = set()
    for path, parser in LEAVES:
        for action in parser._actions:
            shown = [s for s in action.option_strings if s not in hidden(action)]
            for old in hidden(action):
                found.add((path[0], old, shown[-1]))
    assert found == OLD_SPELLINGS


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=LEAF_IDS)
def test_old_spellings_parse_and_are_hidden(path: tuple[str, ...],
                                            parser: argparse.ArgumentParser) -> None:
    help_text = parser.format_help()
    for action in parser._actions:
        for old in hidden(action):
            current = [s for s in action.option_strings if s not in hidden(action)][-1]
            assert re.search(rf"(?<![\w-]){re.escape(old)}(?![\w-])", help_text) is None, old
            assert current in help_text
            value = {"backend": "compiled", "version_name": "v2", "test": "t2.manifest",
                     "s3_prefix": "s3://b/f/"}[action.dest]
            argv = [*path, *_required(path), old, value]
            old_args = PARSER.parse_args(argv)
            new_args = PARSER.parse_args([*path, *_required(path), current, value])
            assert getattr(old_args, action.dest) == getattr(new_args, action.dest) == (
                action.type(value) if callable(action.type) else value)


def _required(path: tuple[str, ...]) -> list[str]:
    """Return the other arguments the command needs to parse."""
    if path[0] == "evaluate":
        return ["--predictions", "p.jsonl", "--test", "t.manifest"]
    if path[0] == "convert":
        return ["in.csv"]
    if path[0] == "export":
        return ["in.manifest", "-o", "out"]
    if path[0] == "train":
        return ["--project", "p"]
    return ["in.manifest"]


def test_input_arguments_are_known() -> None:
    """Each command's input arguments (for `-` and the exit status) exist in its parser."""
    for path, parser in LEAVES:
        dests = {a.dest for a in parser._actions}
        assert set(INPUT_ARGUMENTS[path[0]]) <= dests, path


@pytest.mark.parametrize("command", sorted(c for c in CLEAN if " -o " in CLEAN[c]))
def test_output_that_is_a_directory_is_unusable(command: str, data: dict[str, str],  # noqa: F811
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """-o names a file: an existing directory there is an unusable output (2), no traceback."""
    argv = CLEAN[command].format(**data).split()
    argv[argv.index("-o") + 1] = data["dir"]
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err
