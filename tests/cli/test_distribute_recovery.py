"""``distribute --in-place`` killed while it replaces the pair, then run again.

The dataset is the examples' (detection, with faulty lines: boxes off the frame, a duplicated
source-ref, a line that is not JSON). A child process runs the command and is SIGKILLed at a
point of the pair's write (the writer's test hook ``CUSTOMLABELS_TEST_KILL_AT``, or a patched
``os.replace`` that does not depend on the hook); the next command on the pair must leave every
line of the original in exactly one file, and so every image on one side only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.dataset import update_entries
from customlabels.manifest import writer
from customlabels.manifest.writer import KILL_VARIABLE, Recovery

from ..helpers import ROOT

EXAMPLES = ROOT / "examples"

#: Runs the command line with os.replace killing the process after its first call: the kill
#: lands between the two renames whatever the writer does (the hook is not involved).
KILL_AFTER_FIRST_REPLACE = """
import os, signal, sys
from customlabels.cli.main import main
real = os.replace
def replace(src, dst, **kw):
    real(src, dst, **kw)
    os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
sys.exit(main(sys.argv[1:]))
"""


def dataset(tmp_path: Path) -> tuple[Path, Path, list[bytes]]:
    """Return (train, test, lines): the examples joined into one training manifest."""
    lines = [line for name in ("train.manifest", "test.manifest")
             for line in (EXAMPLES / name).read_bytes().splitlines()]
    train = tmp_path / "train.manifest"
    train.write_bytes(b"\n".join(lines) + b"\n")
    return train, tmp_path / "test.manifest", lines


def killed(argv: list[str], point: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command line in a child process killed at ``point`` (or by os.replace)."""
    env = {**os.environ}
    if point is None:
        code = KILL_AFTER_FIRST_REPLACE
    else:
        code = "import sys; from customlabels.cli.main import main; sys.exit(main(sys.argv[1:]))"
        env[KILL_VARIABLE] = point
    proc = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True,
                          text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return proc


def lines_of(*paths: Path) -> Counter[bytes]:
    out: Counter[bytes] = Counter()
    for path in paths:
        if path.exists():
            out.update(path.read_bytes().splitlines())
    return out


def source_refs(path: Path) -> set[str]:
    refs = set()
    for line in path.read_bytes().splitlines() if path.exists() else []:
        try:
            refs.add(json.loads(line)["source-ref"])
        except (ValueError, KeyError):
            pass
    return refs


def assert_consistent(train: Path, test: Path, lines: list[bytes]) -> None:
    """Every line of the original in exactly one file; no image on both sides."""
    assert lines_of(train, test) == Counter(lines)
    assert not source_refs(train) & source_refs(test)
    assert not [p.name for p in train.parent.iterdir() if p.name.startswith(".")]


def recovery_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "an interrupted write" in line]


@pytest.mark.parametrize("point", ["after-rename-1", "before-rename"])
def test_kill_after_the_journal_is_completed_by_the_next_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], point: str) -> None:
    train, test, lines = dataset(tmp_path)
    argv = ["distribute", str(train), str(test), "--in-place"]
    killed(argv, point)
    # the next run completes the distribution; TEST then holds entries, so it refuses (2)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert recovery_lines(err) == [f"customlabels: {train}, {test}: an interrupted write was "
                                   "completed (every file now has its new content)"]
    assert "is not empty" in err
    assert_consistent(train, test, lines)
    assert 0 < len(test.read_bytes().splitlines()) < len(lines)


def test_kill_before_the_journal_is_rolled_back_and_the_run_proceeds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, test, lines = dataset(tmp_path)
    argv = ["distribute", str(train), str(test), "--in-place"]
    killed(argv, "before-journal")
    assert train.read_bytes().splitlines() == lines and not test.exists()
    assert main(argv) == 1  # distributed; the examples' faulty lines fail validation
    err = capsys.readouterr().err
    assert recovery_lines(err) == [f"customlabels: {train}, {test}: an interrupted write was "
                                   "rolled back (every file keeps its previous content)"]
    assert_consistent(train, test, lines)
    assert test.read_bytes()


def test_kill_between_the_renames_without_the_hook(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The same kill by os.replace itself: fails where the pair is two independent renames."""
    train, test, lines = dataset(tmp_path)
    argv = ["distribute", str(train), str(test), "--in-place"]
    killed(argv)
    assert main(argv + ["--format", "json"]) == 2
    assert_consistent(train, test, lines)
    assert len(recovery_lines(capsys.readouterr().err)) == 1


def test_a_write_of_either_file_recovers_the_pair(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Another operation writing one of the files (here an update of TEST) completes the pair
    before it reads that file."""
    train, test, lines = dataset(tmp_path)
    killed(["distribute", str(train), str(test), "--in-place"], "after-rename-1")
    seen: list[Recovery] = []
    monkeypatch.setattr(writer, "on_recovery", seen.append)
    new = json.dumps({**json.loads(lines[0]), "source-ref": "s3://my-echo-dataset/images/"
                      "IMG_9999.jpg"}).encode()
    changes = tmp_path / "changes.jsonl"
    changes.write_bytes(new + b"\n")
    result = update_entries(test, changes, validate=False)
    assert result.added == 1
    assert [(r.action, r.targets) for r in seen] == [("completed", (str(train), str(test)))]
    assert lines_of(train, test) == Counter(lines) + Counter([new])
    assert not source_refs(train) & source_refs(test)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_validate_output_dir_removes_a_killed_write_of_its_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A result file's temporary file that a killed run left is rolled back, and said so."""
    train, _test, _lines = dataset(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".manifest_summary.json.customlabels.tmp"
    stale.write_bytes(b'{"statistics": ')  # what a kill in the middle of the write leaves
    assert main(["validate", str(train), "--output-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert recovery_lines(err) == [f"customlabels: {out / 'manifest_summary.json'}: an "
                                   "interrupted write was rolled back (every file keeps its "
                                   "previous content)"]
    assert not stale.exists()
    assert json.loads((out / "manifest_summary.json").read_text())["statistics"]
