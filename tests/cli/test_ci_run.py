"""`.ci/run` ends with a closing line of its own, after both phases or where it stopped."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: A python3 whose venvs hold a pip and a python that do what FAIL says (nothing, or fail).
FAKE_PYTHON = """#!/bin/sh
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"
    for tool in pip python; do
        printf '#!/bin/sh\\necho "$0 $*" >> "%s/calls"\\ncase "$*" in *"$FAIL"*) exit 4;; esac\\n' \\
            "$PWD" > "$3/bin/$tool"
        chmod +x "$3/bin/$tool"
    done
    exit 0
fi
exit 1
"""


def _ci(tmp_path: Path, fail: str) -> subprocess.CompletedProcess[str]:
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAIL": fail}
    return subprocess.run(["bash", str(repo / ".ci" / "run")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_closing_line_after_both_phases(tmp_path: Path) -> None:
    done = _ci(tmp_path, fail="no step has this")
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "repo" / "calls").read_text()
    assert "-m pytest -p no:cacheprovider -m not slow" in calls  # phase 2 ran
    assert done.stdout.splitlines()[-1] == (
        "ci: passed: test suite with the compiled core, mypy, test suite on the pure-Python path")


def test_closing_line_names_the_failed_phase(tmp_path: Path) -> None:
    done = _ci(tmp_path, fail="-m mypy")
    assert done.returncode == 4
    assert done.stdout.splitlines()[-1] == "ci: failed in mypy (exit status 4)"
    assert "no:cacheprovider" not in (tmp_path / "repo" / "calls").read_text()  # stopped there
