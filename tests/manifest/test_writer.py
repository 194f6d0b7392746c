"""manifest.writer: one file atomically, several all-or-nothing, and recovery after a kill.

The kills are real: a child process replaces three files (two folders, as ``validate
--output-dir`` or a pair in different folders would) and SIGKILLs itself at a point of the
write chosen by the test hook ``CUSTOMLABELS_TEST_KILL_AT``; the test then recovers and checks
that the files are all old or all new, with nothing of ours left beside them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from customlabels.manifest import writer
from customlabels.manifest.writer import (KILL_VARIABLE, Recovery, atomic_write, journal_path,
                                          recover, replace_all, temp_path)

OLD = [b'{"source-ref": "s3://bucket/old-%d.jpg"}\n' % i for i in range(3)]
NEW = [b'{"source-ref": "s3://bucket/new-%d.jpg"}\n' % i for i in range(3)]

CHILD = """
import sys
from customlabels.manifest.writer import replace_all
durable, *paths = sys.argv[1:]
with replace_all(paths, durable=durable == "1") as streams:
    for i, stream in enumerate(streams):
        stream.write(b'{"source-ref": "s3://bucket/new-%d.jpg"}\\n' % i)
"""


def three_files(tmp_path: Path) -> list[Path]:
    """Return three targets in two folders, holding the old content."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = [tmp_path / "a" / "train.manifest", tmp_path / "b" / "test.manifest",
             tmp_path / "a" / "manifest_summary.json"]
    for path, data in zip(paths, OLD):
        path.write_bytes(data)
    return paths


def killed_write(paths: list[Path], point: str, durable: bool = True) -> None:
    """Replace ``paths`` in a child process that SIGKILLs itself at ``point``."""
    env = {**os.environ, KILL_VARIABLE: point}
    proc = subprocess.run([sys.executable, "-c", CHILD, "1" if durable else "0",
                           *map(str, paths)], env=env,
                          capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.rglob(".*") if p.is_file())


def contents(paths: list[Path]) -> list[bytes]:
    return [p.read_bytes() if p.exists() else b"" for p in paths]


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> list[Recovery]:
    """Collect what recovery reports instead of logging it."""
    seen: list[Recovery] = []
    monkeypatch.setattr(writer, "on_recovery", seen.append)
    return seen


def test_replace_all_replaces_every_file_and_leaves_nothing(tmp_path: Path,
                                                            reported: list[Recovery]) -> None:
    paths = three_files(tmp_path)
    with replace_all(paths) as streams:
        for stream, data in zip(streams, NEW):
            stream.write(data)
        assert contents(paths) == OLD  # nothing replaced before the block ends
    assert contents(paths) == NEW
    assert leftovers(tmp_path) == []
    assert reported == []


def test_an_error_in_the_block_replaces_nothing(tmp_path: Path) -> None:
    paths = three_files(tmp_path)
    with pytest.raises(RuntimeError), replace_all(paths) as streams:
        streams[0].write(NEW[0])
        raise RuntimeError("stop")
    assert contents(paths) == OLD
    assert leftovers(tmp_path) == []


def test_a_file_named_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.manifest"
    with pytest.raises(ValueError), replace_all([path, tmp_path / "." / "x.manifest"]):
        pass
    assert not path.exists()


@pytest.mark.parametrize(("point", "action", "expected"), [
    ("before-journal", "rolled_back", OLD),  # new files written, no journal
    ("after-journal-1", "rolled_back", OLD),  # one journal of three: never committed
    ("after-journal-2", "rolled_back", OLD),
    ("before-rename", "completed", NEW),  # committed, nothing renamed
    ("after-rename-1", "completed", NEW),
    ("after-rename-2", "completed", NEW),
    ("after-rename-3", "completed", NEW),  # every rename done, the journals not yet removed
])
@pytest.mark.parametrize("durable", [True, False], ids=["durable", "not-durable"])
def test_a_killed_write_is_recovered_all_or_nothing(tmp_path: Path, reported: list[Recovery],
                                                    point: str, action: str,
                                                    expected: list[bytes],
                                                    durable: bool) -> None:
    paths = three_files(tmp_path)
    killed_write(paths, point, durable)
    assert leftovers(tmp_path)  # the kill left something to recover
    done = recover(paths)
    assert [(r.action, set(r.targets)) for r in done] == [(action, set(map(str, paths)))]
    assert reported == done
    assert contents(paths) == expected
    assert leftovers(tmp_path) == []
    assert recover(paths) == []  # and it is done once


def test_recovery_through_one_target_handles_the_whole_change(tmp_path: Path,
                                                               reported: list[Recovery]) -> None:
    """The journal beside any one target names every rename (other folders included)."""
    paths = three_files(tmp_path)
    killed_write(paths, "after-rename-1")
    assert contents(paths)[1:] == OLD[1:]  # half done: the case the journal is for
    done = recover([paths[1]])  # the one in the other folder
    assert [r.action for r in done] == ["completed"]
    assert contents(paths) == NEW
    assert leftovers(tmp_path) == []


def test_the_next_write_recovers_first(tmp_path: Path, reported: list[Recovery]) -> None:
    """Writing any target of an interrupted change completes that change before the write."""
    paths = three_files(tmp_path)
    killed_write(paths, "before-rename")
    with atomic_write(paths[2]) as stream:
        stream.write(b"{}\n")
    assert [r.action for r in reported] == ["completed"]
    assert contents(paths) == NEW[:2] + [b"{}\n"]
    assert leftovers(tmp_path) == []


def test_a_journal_cut_short_counts_as_not_committed(tmp_path: Path,
                                                     reported: list[Recovery]) -> None:
    paths = three_files(tmp_path)
    killed_write(paths, "before-rename")
    journal = journal_path(paths[1])
    journal.write_bytes(journal.read_bytes()[:20])  # as if the kill came while writing it
    done = recover(paths)
    assert [r.action for r in done] == ["rolled_back"]
    assert contents(paths) == OLD
    assert leftovers(tmp_path) == []


def test_a_stale_temporary_file_of_one_write_is_removed(tmp_path: Path,
                                                        reported: list[Recovery]) -> None:
    target = tmp_path / "train.manifest"
    target.write_bytes(OLD[0])
    temp_path(target).write_bytes(NEW[0][:10])  # what a killed atomic_write leaves
    with atomic_write(target) as stream:
        stream.write(NEW[1])
    assert [(r.action, r.targets) for r in reported] == [("rolled_back", (str(target),))]
    assert target.read_bytes() == NEW[1]
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(writer.fcntl is None, reason="no advisory locks on this platform")
def test_a_write_in_progress_is_left_alone(tmp_path: Path, reported: list[Recovery]) -> None:
    paths = three_files(tmp_path)
    with replace_all(paths) as streams:
        streams[0].write(NEW[0])
        assert recover(paths) == []  # its temporary files are locked: not stale
        assert temp_path(paths[0]).exists()
        with pytest.raises(FileExistsError) as caught, atomic_write(paths[0]):
            pass
        assert caught.value.filename == str(paths[0])
        for stream, data in zip(streams[1:], NEW[1:]):
            stream.write(data)
    assert contents(paths) == NEW
    assert leftovers(tmp_path) == []
    assert reported == []


def test_the_journal_names_the_renames_relative_to_its_folder(tmp_path: Path) -> None:
    """Relative paths: a tree moved after the kill still recovers."""
    paths = three_files(tmp_path)
    killed_write(paths, "before-rename")
    doc = json.loads(journal_path(paths[0]).read_text())
    assert doc["renames"] == [[".train.manifest.customlabels.tmp", "train.manifest"],
                              ["../b/.test.manifest.customlabels.tmp", "../b/test.manifest"],
                              [".manifest_summary.json.customlabels.tmp",
                               "manifest_summary.json"]]
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    tmp_path.rename(moved)
    try:
        moved_paths = [moved / p.relative_to(tmp_path) for p in paths]
        assert [r.action for r in recover(moved_paths)] == ["completed"]
        assert contents(moved_paths) == NEW
    finally:
        moved.rename(tmp_path)


@pytest.mark.parametrize("durable", [True, False])
def test_only_a_durable_write_flushes_the_disk_cache(tmp_path: Path, durable: bool,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    paths = three_files(tmp_path)
    with replace_all(paths, durable=durable) as streams:
        for stream, data in zip(streams, NEW):
            stream.write(data)
    assert contents(paths) == NEW
    assert leftovers(tmp_path) == []
    # three files, three journals and the two folders twice
    assert len(synced) == (10 if durable else 0)
