"""Injected failures in every multi-file write: before the commit nothing changes; after it,
the next run completes the change (issue 9: "a fault-injection test for every multi-file write").

The failure is injected in the writer itself, in this process: an ``ENOSPC`` while the second
journal is written (before the commit), or an ``EIO`` from the second rename (after it).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.manifest import writer
from customlabels.manifest.writer import recover

ROOT = Path(__file__).parents[2]
CASES = ROOT / "tests" / "cases" / "valid_classification"


def _setup(tmp_path: Path, which: str) -> tuple[list[str], list[Path], Path]:
    """Return the command, its outputs, and the input to change between runs."""
    out = tmp_path / "out"
    if which == "validate":
        train = tmp_path / "train.manifest"
        train.write_bytes((CASES / "train.manifest").read_bytes())
        names = ["training_manifest_with_validation.json",
                 "testing_manifest_with_validation.json", "manifest_summary.json"]
        return (["validate", str(train), "--test", str(CASES / "test.manifest"),
                 "--output-dir", str(out)], [out / n for n in names], train)
    if which == "split":
        source = tmp_path / "all.manifest"
        source.write_bytes((ROOT / "examples" / "train.manifest").read_bytes())
        return (["split", str(source), "--output-dir", str(out)],
                [out / "train.manifest", out / "test.manifest"], source)
    if which == "distribute":
        train, test = tmp_path / "train.manifest", tmp_path / "test.manifest"
        train.write_bytes((ROOT / "examples" / "train.manifest").read_bytes())
        return ["distribute", str(train), str(test), "--in-place"], [train, test], train
    test = tmp_path / "test.manifest"
    test.write_bytes((CASES / "test.manifest").read_bytes())
    refs = [json.loads(line)["source-ref"] for line in test.read_text().splitlines()]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"source-ref": r, "CustomLabels": [
        {"Name": "cat", "Confidence": 80.0}]}) + "\n" for r in refs))
    # the outputs' names come from the project and version: found after the first run
    return (["evaluate", "--test", str(test), "--predictions", str(predictions),
             "--output-dir", str(out)], [], test)


def _state(paths: list[Path]) -> dict[str, bytes | None]:
    return {p.name: p.read_bytes() if p.exists() else None for p in paths}


def _outputs(which: str, paths: list[Path], tmp_path: Path) -> list[Path]:
    if which == "evaluate":
        return sorted((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    return paths


WHICH = ["validate", "evaluate", "split", "distribute"]


@pytest.mark.parametrize("which", WHICH)
def test_a_failure_before_the_commit_changes_nothing(tmp_path: Path, which: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    command, paths, _source = _setup(tmp_path, which)
    if which != "distribute":
        main(command)  # an earlier result set
    paths = _outputs(which, paths, tmp_path)
    before = _state(paths)
    real = writer._write_journal
    calls = []

    def full(*args: object, **kwargs: object) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "_write_journal", full)
    status = main(command)
    assert calls, "the write is journaled"
    assert status in (1, 2), capsys.readouterr()
    assert _state(paths) == before
    folders = {p.parent for p in paths}
    leftovers = [p.name for f in folders for p in f.iterdir() if ".customlabels" in p.name]
    assert leftovers == []


@pytest.mark.parametrize("which", WHICH)
def test_a_failure_after_the_commit_is_completed_by_the_next_run(
        tmp_path: Path, which: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    command, paths, _source = _setup(tmp_path, which)
    real = os.replace
    calls = []

    def failing(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error", dst)
        real(src, dst)

    monkeypatch.setattr(writer.os, "replace", failing)
    main(command)
    monkeypatch.setattr(writer.os, "replace", real)
    assert len(calls) == 2, calls
    paths = [Path(p) for p in calls] if which == "evaluate" else paths
    mixed = _state(paths)
    done = recover(paths)
    assert done and done[0].action == "completed"
    after = _state(paths)
    assert all(v is not None for v in after.values()) and after != mixed
    folders = {p.parent for p in paths}
    assert [p.name for f in folders for p in f.iterdir() if ".customlabels" in p.name] == []
