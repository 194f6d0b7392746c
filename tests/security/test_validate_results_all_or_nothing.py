"""validate --output-dir replaces its three result files together, or none of them."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from customlabels.cli.main import main
from customlabels.validation import pipeline

EXAMPLES = Path(__file__).parents[2] / "examples"
NAMES = ("training_manifest_with_validation.json", "testing_manifest_with_validation.json",
         "manifest_summary.json")


@pytest.fixture
def first_run(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A result set from the examples, and a changed training manifest to validate next."""
    out = tmp_path / "results"
    train = tmp_path / "train.manifest"
    train.write_bytes((EXAMPLES / "train.manifest").read_bytes())
    main(["validate", str(train), "--test", str(EXAMPLES / "test.manifest"),
          "--output-dir", str(out), "--quiet"])
    before = {name: (out / name).read_bytes() for name in NAMES}
    lines = train.read_bytes().splitlines(keepends=True)
    train.write_bytes(b"".join(lines[:5]))  # a different result set
    return train, out, before


def _run(train: Path, out: Path) -> int:
    return main(["validate", str(train), "--test", str(EXAMPLES / "test.manifest"),
                 "--output-dir", str(out), "--quiet"])


def test_a_summary_that_cannot_be_written_leaves_the_old_set(
        first_run: tuple[Path, Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    train, out, before = first_run

    def full(_summary: object) -> bytes:
        raise OSError(errno.ENOSPC, "No space left on device",
                      str(out / ".manifest_summary.json.customlabels.tmp"))

    monkeypatch.setattr(pipeline, "_dump_summary", full)
    assert _run(train, out) == 2
    assert {name: (out / name).read_bytes() for name in NAMES} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)  # no leftovers
    err = capsys.readouterr().err
    assert "manifest_summary.json: No space left on device" in err
    assert ".customlabels.tmp" not in err  # the output is named, not the temporary file


def test_a_directory_in_the_way_is_found_before_anything_is_replaced(
        first_run: tuple[Path, Path, dict[str, bytes]],
        capsys: pytest.CaptureFixture[str]) -> None:
    train, out, before = first_run
    (out / NAMES[2]).unlink()
    (out / NAMES[2]).mkdir()
    assert _run(train, out) == 2
    assert [(out / name).read_bytes() for name in NAMES[:2]] == [before[n] for n in NAMES[:2]]
    assert "manifest_summary.json: is a folder, not a file" in capsys.readouterr().err


def test_a_good_run_replaces_all_three(first_run: tuple[Path, Path, dict[str, bytes]]) -> None:
    train, out, before = first_run
    _run(train, out)
    after = {name: (out / name).read_bytes() for name in NAMES}
    assert after[NAMES[0]] != before[NAMES[0]] and after[NAMES[2]] != before[NAMES[2]]
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
