"""A killed run's temporary files are ours by name, and the next run removes them (reported)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.manifest.writer import TEMP_SUFFIX

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL")


def test_a_killed_convert_leaves_a_named_temporary_that_the_next_run_removes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.csv"
    big.write_text("".join(f"s3://my-bucket/img{i}.jpg,cat\n" for i in range(300_000)))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "customlabels", "convert", "csv", str(big),
                             "-o", str(out / "big.manifest"), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    temp = out / f".big.manifest{TEMP_SUFFIX}"
    deadline = time.monotonic() + 60
    while not (temp.exists() and temp.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert temp.exists(), "the killed run was writing its temporary file"
    assert not (out / "big.manifest").exists()
    # the next run writes another file of that folder: the leftover goes, and it says so
    small = tmp_path / "small.csv"
    small.write_text("s3://my-bucket/a.jpg,cat\ns3://my-bucket/b.jpg,dog\n")
    main(["convert", "csv", str(small), "-o", str(out / "small.manifest")])
    err = capsys.readouterr().err
    assert "an interrupted write was rolled back" in err and "big.manifest" in err
    assert sorted(p.name for p in out.iterdir()) == ["small.manifest"]


def test_a_temporary_file_in_use_is_left_alone(tmp_path: Path) -> None:
    from customlabels.manifest.writer import atomic_write, recover

    with atomic_write(tmp_path / "a.manifest") as stream:  # this process is still writing
        stream.write(b"x\n")
        assert recover([tmp_path / "b.manifest"]) == []
        assert (tmp_path / f".a.manifest{TEMP_SUFFIX}").exists()
    assert (tmp_path / "a.manifest").read_bytes() == b"x\n"
