"""``-`` reads the one input of a command from standard input; its lines name ``<stdin>``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from customlabels.cli.main import main

from .test_exit_codes import CSV, FAULTY, S3, data  # noqa: F401 - data is a fixture

#: command -> (argv with {stdin} for the input read from standard input, the file it reads)
ONE_INPUT = {
    "validate": ("validate {stdin}", "{faulty}"),
    "entries": ("entries {stdin} --has-errors", "{faulty}"),
    "labels": ("labels {stdin} --format json", "{faulty}"),
    "describe": ("describe {stdin} --format json", "{faulty}"),
    "export": ("export csv {stdin} -o {out}.csv", "{faulty}"),
    "split": ("split {stdin} --output-dir {out}", "{train}"),
    "update": ("update {stdin} --changes {changes} -o {out}.manifest", "{train}"),
    "remove-label": ("remove-label {stdin} bird -o {out}.manifest", "{train}"),
    "merge": ("merge {stdin} {test} -o {out}.manifest", "{train}"),
    "evaluate": ("evaluate --test {stdin} --predictions {predictions}", "{test}"),
    "convert": (f"convert csv {{stdin}} --s3-prefix {S3} -o {{out}}.manifest", str(CSV / "faulty.csv")),
}


def _feed(monkeypatch: pytest.MonkeyPatch, content: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content)))


def _run(argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv.split())
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("command", sorted(ONE_INPUT))
def test_dash_reads_standard_input(command: str, data: dict[str, str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The same status and output as with the file, the file named <stdin>."""
    template, source = ONE_INPUT[command]
    path = source.format(**data)
    from_file = _run(template.format(**data, stdin=path), capsys)
    data = {**data, "out": data["out"] + "-stdin"}
    _feed(monkeypatch, Path(path).read_bytes())
    from_stdin = _run(template.format(**data, stdin="-"), capsys)
    assert from_stdin[0] == from_file[0], from_stdin
    text = from_stdin[1] + from_stdin[2]
    assert "customlabels-stdin-" not in text  # the copy's path never shows
    expected = [(from_file[1] + from_file[2]).replace(path, "<stdin>")
                .replace(data["out"][:-len("-stdin")], data["out"])]
    assert text == expected[0]
    if command in ("validate", "export"):
        assert "<stdin>:" in text  # the problems name standard input with their line


def test_validate_lines_name_stdin(data: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _feed(monkeypatch, Path(FAULTY).read_bytes())
    assert main(["validate", "-", "--format", "github"]) == 1
    out = capsys.readouterr().out
    assert "::error file=<stdin>,line=4,title=ERROR_INVALID_BOUNDING_BOX::" in out


def test_entries_pipe_into_describe(data: dict[str, str]) -> None:
    """A real pipe between two processes: entries' JSON Lines are a manifest."""
    cli = [sys.executable, "-m", "customlabels.cli.main"]
    entries = subprocess.run([*cli, "entries", FAULTY, "--no-errors"], capture_output=True,
                             check=True)
    described = subprocess.run([*cli, "describe", "-", "--format", "json"],
                               input=entries.stdout, capture_output=True, check=False)
    assert described.returncode == 0, described.stderr
    stats = json.loads(described.stdout)["DatasetStats"]
    assert stats["ErrorEntries"] == 0
    assert stats["TotalEntries"] == len(entries.stdout.splitlines())


@pytest.mark.parametrize(("argv", "why"), [
    ("distribute - {out}.manifest --in-place", "distribute rewrites TRAIN"),
    ("update - --changes {changes} --in-place", "--in-place rewrites MANIFEST"),
    ("convert csv - --s3-prefix " + S3, "name the manifest to write: -o OUT"),
    ("merge - - -o {out}.manifest", "one input only"),
])
def test_dash_refused_where_it_cannot_be(argv: str, why: str, data: dict[str, str],
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _feed(monkeypatch, Path(data["train"]).read_bytes())
    with pytest.raises(SystemExit) as exc:
        main(argv.format(**data).split())
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert why in err and "usage:" in err and "Traceback" not in err


def test_dash_on_a_terminal_is_refused(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    with pytest.raises(SystemExit) as exc:
        main(["validate", "-"])
    assert exc.value.code == 2
    assert "standard input, which is a terminal" in capsys.readouterr().err


def test_empty_standard_input_is_an_empty_manifest(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.manifest"
    empty.write_bytes(b"")
    status = main(["validate", str(empty)])
    capsys.readouterr()
    _feed(monkeypatch, b"")
    assert main(["validate", "-", "--format", "json"]) == status  # as an empty file
    doc = json.loads(capsys.readouterr().out)
    assert doc["issues"][0]["file"] == "<stdin>"
    assert doc["issues"][0]["context"]["reason"] == "empty"
