"""Fixtures of the report tests: the photographs' mirror, the files the commands write, and a
headless Chromium driven through Playwright.

Chromium is Debian's ``chromium`` package: where it is missing, the set-up installs it
(``apt-get update`` once, then ``apt-get install -y chromium``: root and apt are needed); the
browser tests are skipped, with the reason, only where it cannot be installed. Playwright
(a test dependency) drives it over the DevTools protocol: no browser is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customlabels.metrics.evaluation import evaluate_files
from customlabels.validation.pipeline import validate_files

from . import data

#: Flags of a headless Chromium in a container: no sandbox (root), no GPU, no first-run work,
#: nothing fetched in the background.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def find_chromium() -> tuple[str | None, str]:
    """Return Chromium's path, installing Debian's package where it is missing, and why not."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found, ""
    if shutil.which("apt-get") is None:
        return None, "no chromium on PATH and no apt-get to install Debian's package"
    if os.geteuid() != 0:
        return None, "no chromium on PATH; installing Debian's package needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            return None, f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    found = shutil.which("chromium")
    return found, "" if found else "apt-get installed chromium but it is not on PATH"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium (Playwright's Browser), one for the session."""
    playwright = pytest.importorskip("playwright.sync_api",
                                     reason="playwright (a test dependency) is not installed")
    executable, why = find_chromium()
    if executable is None:
        pytest.skip(f"headless Chromium unavailable: {why}")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("PIL")
    pytest.importorskip("skimage")
    return data.make_mirror(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> dict[str, Path]:
    """What validate and evaluate write for the photographs (output folders and inputs)."""
    root = tmp_path_factory.mktemp("written")
    train = data.faulty_training(root / "train.manifest")
    test = data.test_manifest(root / "test.manifest")
    predictions = data.detections(root / "predictions.jsonl")
    validate_files(str(train), str(test), output_dir=str(root / "validation"),
                   images=str(mirror), image_cache=False)
    evaluate_files(str(test), str(predictions), output_dir=str(root / "evaluation"),
                   project="photos", version="v1")
    classes, class_predictions = data.classification_files(root)
    evaluate_files(str(classes), str(class_predictions), output_dir=str(root / "classes"),
                   project="species", version="v1")
    return {"train": train, "test": test, "predictions": predictions,
            "validation": root / "validation", "evaluation": root / "evaluation",
            "classes": classes, "class_predictions": class_predictions,
            "classification": root / "classes", "root": root}
