"""Data-driven image cases: each folder of tests/image_cases holds manifests, the recipe of a
mirror's files (``images.json``, see :mod:`tests.images.files`) and what must come out.

As for the validator's cases (``tests/validation/test_cases.py``): ``expected.json`` holds the
issues as ``FILE:LINE CODE PATH`` strings in report order, the whole manifest summary, and the
images' problems by kind. Both backends must give exactly this, with the cache off, and again
from a warm cache. Rewrite after a deliberate change with
``CUSTOMLABELS_REGEN_CASES=1 pytest tests/images/test_image_cases.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from customlabels.validation.pipeline import validate_files

from tests.helpers import BACKENDS, TESTS
from tests.images.files import make_mirror
from tests.validation.test_cases import compact

CASES = TESTS / "image_cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def run_case(name: str, backend: str, tmp: Path, **options: object) -> dict:
    folder = CASES / name
    mirror = tmp / "mirror"
    if not mirror.exists():
        make_mirror(mirror, json.loads((folder / "images.json").read_text()))
    test = folder / "test.manifest"
    args_file = folder / "args.json"
    args = json.loads(args_file.read_text()) if args_file.exists() else {}
    return validate_files(str(folder / "train.manifest"), str(test) if test.exists() else None,
                          backend=backend, images=str(mirror), **args, **options)


def outcome(report: dict) -> dict:
    return {"ok": report["ok"], "issues": compact(report), "summary": report["summary"],
            "images": {role: {"images": d["images"], "problems": d["problems"],
                              "failed_copy": d["failed_copy"]}
                       for role, d in report["images"]["datasets"].items()}}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_image_case(name: str, backend: str, tmp_path: Path) -> None:
    got = outcome(run_case(name, backend, tmp_path, image_cache=False))
    expected_file = CASES / name / "expected.json"
    if os.environ.get("CUSTOMLABELS_REGEN_CASES") == "1":
        expected_file.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_file.read_text())


@pytest.mark.parametrize("name", CASE_NAMES)
def test_a_warm_cache_gives_the_same_results(name: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMLABELS_CACHE_DIR", str(tmp_path / "cache"))
    cold = run_case(name, "auto", tmp_path)
    warm = run_case(name, "auto", tmp_path)
    assert outcome(warm) == outcome(cold) == json.loads((CASES / name / "expected.json").read_text())
    for role, cold_images in cold["images"]["datasets"].items():
        warm_images = warm["images"]["datasets"][role]
        # what the files' bytes decide is cached; a missing or refused file is looked at again
        unread = sum(n for kind, n in cold_images["problems"].items()
                     if kind in ("missing", "outside", "not_a_file", "unreadable"))
        assert warm_images["cached"] == cold_images["images"] - unread
        assert warm_images["read"] <= unread  # a refused key is not even looked for


def test_every_image_code_has_a_case() -> None:
    """Each code of the image stage appears in some case."""
    seen = set()
    for name in CASE_NAMES:
        expected = json.loads((CASES / name / "expected.json").read_text())
        seen.update(item.split()[1] for item in expected["issues"])
    assert {"ERROR_INVALID_IMAGE", "ERROR_INVALID_IMAGE_DIMENSION",
            "ERROR_FAILED_IMAGES_S3_COPY", "WARNING_IMAGE_SIZE_MISMATCH",
            "WARNING_IMAGE_ORIENTATION", "WARNING_IMAGE_EXTENSION"} <= seen
