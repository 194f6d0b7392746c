"""The pre-commit hook in .pre-commit-hooks.yaml, run for real with ``pre-commit try-repo``.

``try-repo`` installs the hook the way a user's ``pre-commit`` does: a fresh virtualenv and
``pip install .`` of the repository (so the build, Cython core included, runs as well). It
always builds into a throw-away store of its own, whatever ``PRE_COMMIT_HOME`` says, so the
module makes a single ``try-repo`` run and every test reads that run's result.

``try-repo`` on a path with uncommitted changes only carries over staged files and changes to
tracked files (``git add -u``): untracked files are left out. The hook is therefore tried from
a snapshot of the working tree (tracked and untracked files, minus what .gitignore ignores)
committed to a temporary repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOK = "customlabels-validate"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None or shutil.which("git") is None,
    reason="pre-commit (pip install 'customlabels[test]') and git are needed")


def _line(name: str, label: int, class_name: str) -> str:
    return json.dumps({
        "source-ref": f"s3://my-bucket/images/{name}.jpg",
        "animal": label,
        "animal-metadata": {
            "confidence": 1,
            "job-name": "labeling-job/animal",
            "class-name": class_name,
            "human-annotated": "yes",
            "creation-date": "2024-01-02T03:04:05.000",
            "type": "groundtruth/image-classification",
        },
    })


GOOD = [_line("a", 0, "cat"), _line("b", 1, "dog"), _line("c", 0, "cat"), _line("d", 1, "dog")]
# Line 3 is cut short: ERROR_INVALID_JSON_LINE; the other four lines are the good ones.
BAD = [*GOOD[:2], '{"source-ref": "s3://my-bucket/images/e.jpg", "animal": ', *GOOD[2:]]


def _env(home: Path) -> dict[str, str]:
    # Drop GIT_* (set when pytest runs inside a git hook) so git works on the temporary repos.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never",
               GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
               GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com")
    return env


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True).stdout


def _snapshot(dest: Path, env: dict[str, str]) -> Path:
    """Commit the working tree (tracked + untracked, not ignored) to a new repo at ``dest``."""
    try:
        listed = _git(ROOT, env, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    except subprocess.CalledProcessError:
        pytest.skip(f"{ROOT} is not a git working tree")
    for name in filter(None, listed.split("\0")):
        src = ROOT / name
        if src.is_file():  # a tracked file deleted in the working tree is left out
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    _git(dest, env, "init", "-q")
    _git(dest, env, "add", "-A")
    _git(dest, env, "commit", "-q", "--no-verify", "-m", "snapshot")
    return dest


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture(scope="module")
def try_repo(tmp_path_factory: pytest.TempPathFactory,
             pre_commit_home: Path) -> subprocess.CompletedProcess[str]:
    """One ``pre-commit try-repo`` run on good.manifest, bad.manifest and notes.txt."""
    assert (ROOT / ".pre-commit-hooks.yaml").is_file()
    env = _env(pre_commit_home)
    hook_repo = _snapshot(tmp_path_factory.mktemp("hook-repo"), env)
    work = tmp_path_factory.mktemp("dataset-repo")
    _git(work, env, "init", "-q")
    (work / "data").mkdir()
    (work / "data" / "good.manifest").write_text("\n".join(GOOD) + "\n", encoding="utf-8")
    (work / "data" / "bad.manifest").write_text("\n".join(BAD) + "\n", encoding="utf-8")
    (work / "notes.txt").write_text("not a manifest {\n", encoding="utf-8")
    _git(work, env, "add", "-A")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), HOOK,
         "--files", "data/good.manifest", "data/bad.manifest", "notes.txt"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900)


def test_hook_installs(try_repo: subprocess.CompletedProcess[str]) -> None:
    out = try_repo.stdout + try_repo.stderr
    assert "error has occurred" not in out, out
    assert f"- hook id: {HOOK}" in out, out


def test_hook_fails_on_the_bad_manifest(try_repo: subprocess.CompletedProcess[str]) -> None:
    out = try_repo.stdout
    assert try_repo.returncode == 1, out + try_repo.stderr
    assert "customlabels validate" in out and "Failed" in out
    assert ("data/bad.manifest:3: ERROR_INVALID_JSON_LINE "
            "The JSON Line has an invalid format.") in out
    assert "data/bad.manifest: failed: 1 error, 0 warnings" in out


def test_hook_passes_the_good_manifest(try_repo: subprocess.CompletedProcess[str]) -> None:
    out = try_repo.stdout
    assert "training: data/good.manifest: IMAGE_LEVEL_LABELS, 4 lines: 4 valid" in out, out
    assert "data/good.manifest: passed: 0 errors, 0 warnings" in out
    assert re.search(r"^(customlabels: )?data/good\.manifest(:\d+)?: [A-Z]+_", out, re.M) is None


def test_hook_only_takes_manifests(try_repo: subprocess.CompletedProcess[str]) -> None:
    assert "data/bad.manifest" in try_repo.stdout
    assert "notes.txt" not in try_repo.stdout
