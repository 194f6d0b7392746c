"""Every multi-file write is all or nothing, even when the process is killed in the middle.

``validate --output-dir`` (three files), ``evaluate --output-dir`` and ``split`` (two) are run as real
processes, killed by the writer's test hook (``CUSTOMLABELS_TEST_KILL_AT``) before the change
commits or after its first rename; the next writer of those files (``recover``, which every
write runs first) must leave either the whole old set or the whole new one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from customlabels.manifest.writer import KILL_VARIABLE, recover

ROOT = Path(__file__).parents[2]
CASES = ROOT / "tests" / "cases" / "valid_classification"
CLI = [sys.executable, "-m", "customlabels"]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL")


def _validate(train: Path, out: Path) -> list[str]:
    return [*CLI, "validate", str(train), "--test", str(CASES / "test.manifest"),
            "--output-dir", str(out), "--quiet"]


def _evaluate(test: Path, out: Path) -> list[str]:
    predictions = test.with_name("p.jsonl")
    return [*CLI, "evaluate", "--test", str(test), "--predictions", str(predictions),
            "--output-dir", str(out), "--quiet"]


def _setup(tmp_path: Path, which: str) -> tuple[list[str], Path, Path]:
    """Return the command, its changing input, and its output folder."""
    import json

    out = tmp_path / "out"
    if which == "split":
        source = tmp_path / "all.manifest"
        source.write_bytes((ROOT / "examples" / "train.manifest").read_bytes())
        return [*CLI, "split", str(source), "--output-dir", str(out), "--quiet"], source, out
    if which == "validate":
        source = tmp_path / "train.manifest"
        source.write_bytes((CASES / "train.manifest").read_bytes())
        return _validate(source, out), source, out
    source = tmp_path / "test.manifest"
    source.write_bytes((CASES / "test.manifest").read_bytes())
    refs = [json.loads(line)["source-ref"] for line in source.read_text().splitlines()]
    (tmp_path / "p.jsonl").write_text("".join(
        json.dumps({"source-ref": r, "CustomLabels": [{"Name": "cat", "Confidence": 80.0}]})
        + "\n" for r in refs))
    return _evaluate(source, out), source, out


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize("which", ["validate", "evaluate", "split"])
@pytest.mark.parametrize("point, keeps", [("before-journal", "old"), ("before-rename", "new"),
                                          ("after-rename-1", "new")])
def test_a_killed_result_set_is_recovered_whole(tmp_path: Path, which: str, point: str,
                                               keeps: str) -> None:
    command, source, out = _setup(tmp_path, which)
    subprocess.run(command, check=False, capture_output=True)
    old = _files(out)
    # a different result set: one line fewer in the changing input
    lines = source.read_bytes().splitlines(keepends=True)
    source.write_bytes(b"".join(lines[:-1]))
    fresh = tmp_path / "fresh"
    subprocess.run([*command[:-2], str(fresh), "--quiet"], check=False, capture_output=True)
    new = _files(fresh)
    assert old.keys() == new.keys() and old != new
    killed = subprocess.run(command, check=False, capture_output=True,
                            env={**os.environ, KILL_VARIABLE: point})
    assert killed.returncode == -signal.SIGKILL
    done = recover([out / name for name in old])
    assert done, "the interrupted write is reported"
    after = _files(out)
    # nothing of ours is left, and every file comes from one run
    assert after.keys() == old.keys()
    expected = old if keeps == "old" else new
    assert _timeless(after) == _timeless(expected)


def _timeless(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files without the times of their run (an evaluation stamps its summary and lines)."""
    stamp = re.compile(rb'"(creation-date|EvaluationEndTimestamp)": ?"[^"]*"')
    return {name: stamp.sub(b"", data) for name, data in files.items()}
