"""Fixtures of the command-line tests: a store with one trained version, for the model
commands (``train``, ``detect``, ``models``, ``describe-model``, ``export-model``)."""

from __future__ import annotations

import importlib.util

import pytest

#: Commands that need the [train] extra (torch); models and describe-model need a version.
MODEL_COMMANDS = {"train", "detect", "models", "describe-model", "export-model"}
HAVE_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The images of the ``data`` manifests in a mirror, and a store with one version trained
    on them (one epoch at 32 px, from scratch: only the commands' statuses are tested)."""
    if not HAVE_TORCH:
        return {}
    from PIL import Image

    import customlabels

    from .test_exit_codes import LABELS, _line

    root = tmp_path_factory.mktemp("model-store")
    mirror = root / "mirror"
    (mirror / "images").mkdir(parents=True)
    colours = {"cat": (200, 40, 40), "dog": (40, 200, 40), "bird": (40, 40, 200)}
    for i in range(8):
        for label in LABELS:
            Image.new("RGB", (64, 64), colours[label]).save(mirror / "images" / f"{label}{i}.jpg")
    train, test = root / "train.manifest", root / "test.manifest"
    train.write_text("".join(_line(i, label) + "\n" for i in range(6) for label in LABELS))
    test.write_text("".join(_line(i, label) + "\n" for i in range(6, 8) for label in LABELS))
    store = root / "store"
    result = customlabels.train(str(train), str(test), images=str(mirror), project="toy",
                                version="v", store=store, epochs=1, image_size=32,
                                batch_size=16, pretrained=False, device="cpu")
    assert result.ok, result.message
    return {"mirror": str(mirror), "store": str(store)}
