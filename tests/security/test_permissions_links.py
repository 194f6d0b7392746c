"""Writes keep a file's permissions, respect the umask, and edit through symbolic links."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from customlabels.cli.main import main

EXAMPLE = Path(__file__).parents[2] / "examples" / "train.manifest"
NEW_LINE = (b'{"source-ref": "s3://my-echo-dataset/images/IMG_9999.jpg", "bounding-box": '
            b'{"image_size": [{"width": 640, "height": 480, "depth": 3}], "annotations": '
            b'[{"class_id": 0, "top": 10, "left": 10, "width": 100, "height": 100}]}, '
            b'"bounding-box-metadata": {"objects": [{"confidence": 1}], "class-map": '
            b'{"0": "Echo"}, "type": "groundtruth/object-detection", "human-annotated": "yes", '
            b'"creation-date": "2024-03-11T09:12:36.315", "job-name": "labeling-job/echo"}}\n')

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and links")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    manifest = tmp_path / "train.manifest"
    manifest.write_bytes(EXAMPLE.read_bytes())
    changes = tmp_path / "changes.jsonl"
    changes.write_bytes(NEW_LINE)
    return manifest, changes


def test_an_in_place_edit_keeps_a_private_manifest_private(setup: tuple[Path, Path]) -> None:
    manifest, changes = setup
    manifest.chmod(0o600)
    main(["update", str(manifest), "--changes", str(changes), "--in-place"])
    assert NEW_LINE.rstrip() in manifest.read_bytes()
    assert _mode(manifest) == 0o600  # was widened to 0644


@pytest.mark.parametrize("umask, expected", [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_new_files_follow_the_umask(setup: tuple[Path, Path], umask: int,
                                    expected: int) -> None:
    manifest, changes = setup
    out = manifest.with_name("out.manifest")
    old = os.umask(umask)
    try:
        main(["update", str(manifest), "--changes", str(changes), "-o", str(out)])
    finally:
        os.umask(old)
    assert _mode(out) == expected


def test_an_in_place_edit_through_a_link_edits_the_target(setup: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    manifest, changes = setup
    link = tmp_path / "link.manifest"
    link.symlink_to(manifest)
    main(["update", str(link), "--changes", str(changes), "--in-place"])
    assert link.is_symlink() and link.resolve() == manifest.resolve()
    assert NEW_LINE.rstrip() in manifest.read_bytes()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_distribute_through_links_keeps_them(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    train, test = real / "train.manifest", real / "test.manifest"
    train.write_bytes(EXAMPLE.read_bytes())
    test.write_bytes(b"")
    train.chmod(0o640)
    links = [tmp_path / "train.manifest", tmp_path / "test.manifest"]
    links[0].symlink_to(train)
    links[1].symlink_to(test)
    main(["distribute", str(links[0]), str(links[1]), "--in-place"])
    assert all(link.is_symlink() for link in links)
    assert test.read_bytes() and len(train.read_bytes()) < len(EXAMPLE.read_bytes())
    assert _mode(train) == 0o640
