"""Run the atheris harness (fuzz/fuzz_validate.py) briefly, and replay its seed corpus.

The fuzzer works on a temporary copy of ``fuzz/corpus`` (libFuzzer adds the inputs it finds to
the first corpus folder) and writes any crash file into the temporary folder, so the checked-in
corpus never changes.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "fuzz" / "fuzz_validate.py"
CORPUS = ROOT / "fuzz" / "corpus"
DICTIONARY = ROOT / "fuzz" / "manifest.dict"
SECONDS = 5


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(cwd)}  # the harness's scratch files stay in tmp_path
    return subprocess.run([sys.executable, str(HARNESS), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_seed_corpus_is_checked_in() -> None:
    assert len(list(CORPUS.iterdir())) >= 15


def test_seed_corpus_replays(tmp_path: Path) -> None:
    """Every seed passes every invariant (no atheris needed)."""
    before = _snapshot(CORPUS)
    done = _run(["--replay", str(CORPUS)], tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    assert _snapshot(CORPUS) == before


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris is not installed (pip install atheris; Linux only)")
def test_fuzz_for_a_few_seconds(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    before = _snapshot(CORPUS)
    done = _run([str(corpus), f"-max_total_time={SECONDS}", f"-dict={DICTIONARY}",
                 f"-artifact_prefix={tmp_path}/", "-timeout=60", "-rss_limit_mb=4096",
                 "-print_final_stats=1"], tmp_path)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(
        ("crash-", "timeout-", "oom-", "leak-")))
    assert done.returncode == 0 and not crashes, (crashes, done.stderr[-6000:])
    assert "Done" in done.stderr or "DONE" in done.stderr, done.stderr[-2000:]
    assert _snapshot(CORPUS) == before
