"""Strings from a dataset never reach a terminal raw (issue 9): control sequences are escaped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from customlabels.cli._terminal import escape_control_bytes, escape_controls
from customlabels.cli.main import main

from ..helpers import classification_line

EVIL = "\u001b]0;pwned\u0007\u001b[31m"
BIDI = "abc\u202edcba"


def _line(i: int, label: str) -> str:
    return classification_line(f"s3://my-bucket/img{i}.jpg", label)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    labels = [EVIL, "cat", BIDI] * 4
    manifest = tmp_path / "evil.manifest"
    manifest.write_text("".join(_line(i, label) + "\n" for i, label in enumerate(labels)))
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text("".join(json.dumps({"source-ref": f"s3://my-bucket/img{i}.jpg",
                                               "CustomLabels": [{"Name": label,
                                                                 "Confidence": 90.0}]}) + "\n"
                                   for i, label in enumerate(labels)))
    empty = tmp_path / "test.manifest"
    empty.write_text("")
    return {"manifest": manifest, "pred": predictions, "empty": empty, "dir": tmp_path}


def _commands(f: dict[str, Path]) -> dict[str, list[str]]:
    m, d = str(f["manifest"]), f["dir"]
    return {
        "labels": ["labels", m],
        "split": ["split", m, "--output-dir", str(d / "split")],
        "distribute": ["distribute", m, str(f["empty"]), "--in-place"],
        "evaluate": ["evaluate", "--test", m, "--predictions", str(f["pred"]), "--output-dir",
                     str(d / "eval")],
        "entries": ["entries", m, "--label", EVIL],
        "validate": ["validate", m, "--max-issues", "0"],
        "missing file named with escapes": ["describe", str(d / f"no{EVIL}.manifest")],
    }


@pytest.mark.parametrize("command", list(_commands({k: Path("/x") for k in
                                                     ("manifest", "pred", "empty", "dir")})))
def test_nothing_raw_reaches_a_terminal(command: str, files: dict[str, Path],
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    main(_commands(files)[command])
    captured = capsys.readouterr()
    both = captured.out + captured.err
    for char in ("\x1b", "\x07", "\u202e"):
        assert char not in both, (command, both[:2000])
    if command == "entries":  # JSON Lines as they are: JSON spells the controls \\u001b
        assert "\\u001b]0;pwned\\u0007" in both
    elif command != "validate":  # validate names lines, not labels, when all is well
        assert "\\x1b]0;pwned\\x07\\x1b[31m" in both, both[:2000]


def test_a_pipe_gets_the_data_as_it_is(files: dict[str, Path],
                                       capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    main(["entries", str(files["manifest"])])
    assert capsysbinary.readouterr().out == files["manifest"].read_bytes()


def test_the_escapes() -> None:
    assert escape_controls("a\tb\nc\rd\x00\x7f\x85\u202e\u2066") == (
        "a\tb\nc\\x0dd\\x00\\x7f\\x85\\u202e\\u2066")
    assert escape_control_bytes("a\x1b[31m\u0085\u202e\n".encode()) == (
        b"a\\x1b[31m\\x85\\u202e\n")
    assert escape_control_bytes(b"\xff\xfe raw") == b"\xff\xfe raw"  # not UTF-8: as it is
