"""Concurrent in-place edits of one manifest: none is lost (issue 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from customlabels.manifest.writer import edit_lock

EXAMPLE = Path(__file__).parents[2] / "examples" / "train.manifest"
CLI = [sys.executable, "-m", "customlabels"]
WRITERS = 4

pytestmark = pytest.mark.skipif(os.name != "posix", reason="flock")


def _change(i: int) -> bytes:
    line = json.loads((EXAMPLE.read_text().splitlines())[0])
    line["source-ref"] = f"s3://my-echo-dataset/images/added-{i}.jpg"
    return json.dumps(line).encode() + b"\n"


@pytest.mark.parametrize("trial", range(3))
def test_concurrent_updates_in_place_keep_every_addition(tmp_path: Path, trial: int) -> None:
    manifest = tmp_path / "train.manifest"
    manifest.write_bytes(EXAMPLE.read_bytes())
    changes = []
    for i in range(WRITERS):
        changes.append(tmp_path / f"change-{i}.jsonl")
        changes[-1].write_bytes(_change(i))
    # started together; each process takes ~0.3 s to start, so their edits overlap
    procs = [subprocess.Popen([*CLI, "update", str(manifest), "--changes", str(c), "--in-place",
                               "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for c in changes]
    statuses = [p.wait(timeout=120) for p in procs]
    assert all(s in (0, 1) for s in statuses), [p.stderr.read() for p in procs]  # type: ignore[union-attr]
    text = manifest.read_text()
    missing = [i for i in range(WRITERS) if f"added-{i}.jpg" not in text]
    assert not missing, f"additions lost: {missing}"
    assert len(text.splitlines()) == len(EXAMPLE.read_text().splitlines()) + WRITERS


def test_an_edit_waits_for_the_lock_and_reads_the_new_file(tmp_path: Path) -> None:
    """The lock is taken on the file itself and re-taken when the file was replaced."""
    manifest = tmp_path / "m.manifest"
    manifest.write_bytes(b"old\n")
    script = ("import sys, time\nfrom customlabels.manifest.writer import edit_lock\n"
              "with edit_lock([sys.argv[1]], wait=5):\n"
              "    sys.stdout.write(open(sys.argv[1]).read()); sys.stdout.flush()\n")
    with edit_lock([manifest]):
        waiting = subprocess.Popen([sys.executable, "-c", script, str(manifest)],
                                   stdout=subprocess.PIPE)
        tmp = tmp_path / "new"
        tmp.write_bytes(b"new\n")
        os.replace(tmp, manifest)  # what an in-place edit does while it holds the lock
    out, _ = waiting.communicate(timeout=30)
    assert out == b"new\n"


def test_a_lock_that_stays_taken_is_reported(tmp_path: Path) -> None:
    manifest = tmp_path / "m.manifest"
    manifest.write_bytes(b"x\n")
    script = ("import sys, time\nfrom customlabels.manifest.writer import edit_lock\n"
              "with edit_lock([sys.argv[1]]):\n    print('locked', flush=True); time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(manifest)],
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        with pytest.raises(FileExistsError, match="being edited by another"):
            with edit_lock([manifest], wait=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()
