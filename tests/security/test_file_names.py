"""A file name that is not UTF-8 prints, even when standard output insists on UTF-8 (issue 9)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "train.manifest"


@pytest.mark.skipif(sys.platform == "darwin" or os.name != "posix",
                    reason="the file system must take any byte in a name")
@pytest.mark.parametrize("command", [["validate"], ["labels"], ["describe", "--format", "csv"],
                                     ["entries", "--label", "nosuch"]])
def test_a_non_utf8_name_is_printed_escaped(tmp_path: Path, command: list[str]) -> None:
    name = os.fsdecode(b"bad\xff.manifest")
    (tmp_path / name).write_bytes(EXAMPLE.read_bytes())
    run = subprocess.run([sys.executable, "-m", "customlabels", command[0], name, *command[1:]],
                         cwd=tmp_path, capture_output=True,
                         env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    said = run.stdout + run.stderr
    assert b"Traceback" not in said and run.returncode in (0, 1, 2), said[-2000:]
    if command[0] in ("validate", "entries"):
        assert b"bad\\udcff.manifest" in said
