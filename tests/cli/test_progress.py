"""Progress bars: on standard error when it is a terminal, whole-number counts, never in a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from .test_exit_codes import CSV, S3, data  # noqa: F401 - data is a fixture

COCO = Path(__file__).parents[1] / "convert_cases" / "coco"
CLI = [sys.executable, "-m", "customlabels.cli.main"]
#: command -> (argv with {name} from the data fixture, what its bar counts)
SLOW = {
    "describe": ("describe {train}", "lines"),
    "labels": ("labels {train}", "lines"),
    "split": ("split {train} --output-dir {out}", "lines"),
    "distribute": ("distribute {faulty} {out}.manifest --in-place", "lines"),
    "export": ("export csv {train} -o {out}.csv", "lines"),
    "batch convert": ("convert coco {coco} {coco2} --s3-prefix " + S3 + " --output-dir {out} "
                      "--jobs 1", "files"),
}


def _on_terminal(argv: list[str]) -> tuple[int, str]:
    """Run the command with standard error on a pseudo-terminal; return (status, what it drew)."""
    leader, follower = pty.openpty()
    # a terminal 120 columns wide (a new pseudo-terminal has 0, where tqdm draws nothing)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=follower, timeout=120, check=False)
    finally:
        os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    return done.returncode, drawn.decode("utf-8", "replace")


def _argv(template: str, data: dict[str, str], tmp_path: Path) -> list[str]:
    coco2 = tmp_path / "second" / "instances.json"
    coco2.parent.mkdir(exist_ok=True)
    shutil.copy(COCO / "instances.json", coco2)
    return [*CLI, *template.format(**data, coco=COCO / "instances.json", coco2=coco2).split()]


@pytest.mark.parametrize("command", sorted(SLOW))
def test_bar_on_a_terminal(command: str, data: dict[str, str], tmp_path: Path) -> None:
    template, unit = SLOW[command]
    status, drawn = _on_terminal(_argv(template, data, tmp_path))
    assert status in (0, 1), drawn
    # "train.manifest: 18 lines [00:00, ...]", or with a total "0/2 [00:00<?, ? files/s]"
    assert re.search(rf"\b\d+ {unit} \[|\b\d+/\d+ \[.* {unit}/s\]", drawn), drawn
    # a scaled count ("0.00/2.00 files"), not a rate ("3.57 files/s")
    assert not re.search(r"\d\.\d\d(/\d+\.\d\d)? (lines|files)\b(?!/s)", drawn), drawn


def test_batch_bar_counts_whole_files(data: dict[str, str], tmp_path: Path) -> None:
    _, drawn = _on_terminal(_argv(SLOW["batch convert"][0], data, tmp_path))
    assert "| 0/2 [" in drawn, drawn
    assert "0.00" not in drawn and "2.00" not in drawn, drawn


@pytest.mark.parametrize("command", sorted(SLOW))
def test_no_bar_in_a_pipe(command: str, data: dict[str, str], tmp_path: Path) -> None:
    template, unit = SLOW[command]
    done = subprocess.run(_argv(template, data, tmp_path), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr
    assert unit not in done.stderr and "\r" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", sorted(SLOW))
def test_no_bar_with_no_progress(command: str, data: dict[str, str], tmp_path: Path) -> None:
    template, unit = SLOW[command]
    status, drawn = _on_terminal([*_argv(template, data, tmp_path), "--no-progress"])
    assert status in (0, 1), drawn
    assert f" {unit}" not in drawn and "\r" not in drawn, drawn
