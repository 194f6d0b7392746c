"""The trainer's data: which lines train, how images decode, the augmentation's draws."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from customlabels.images.local import LocalImages  # noqa: E402
from customlabels.train import data, transforms  # noqa: E402
from customlabels.validation.pipeline import validate_files  # noqa: E402

from tests.train.toy import classification_line, make_set  # noqa: E402


def _png(size: tuple[int, int], colour: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_only_the_lines_the_validator_keeps_train(tmp_path: Path) -> None:
    manifest, mirror = make_set(tmp_path, 8, seed=3)
    lines = manifest.read_text().splitlines()
    lines[1] = lines[1].replace('"class-name": "square"', '"class-name": ""')  # no usable label
    lines[2] = json.dumps(classification_line("img/missing.png", "shape", "disc"))
    (mirror / "img" / "tiny.png").write_bytes(_png((20, 20)))
    lines[3] = json.dumps(classification_line("img/tiny.png", "shape", "square"))
    lines.append("{not json")
    manifest.write_text("\n".join(lines) + "\n")
    scans: dict = {}
    validate_files(str(manifest), images=str(mirror), keep_scans=scans, image_cache=False)
    found = data.examples(str(manifest), scans["training"], LocalImages(str(mirror)))
    assert [ex.line for ex in found] == [1, 5, 6, 7, 8]  # 2: no label, 3: missing, 4: 20 px
    assert found[0].key == "img/3-000.png" and found[0].labels == ("disc",)
    assert found[0].source_ref == "s3://toy/img/3-000.png"


def test_decode_gives_the_shown_image_as_a_square() -> None:
    from PIL import Image

    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    pixels[:, :100] = (255, 0, 0)  # red left half, as stored
    stored = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the red half is on top
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif, quality=95)
    shown = data.decode(buffer.getvalue(), 64)
    assert shown.shape == (64, 64, 3) and shown.dtype == np.uint8
    assert shown[:24, :, 0].mean() > 200 and shown[40:, :, 0].mean() < 60
    grey = Image.new("L", (300, 300), 128)
    buffer = io.BytesIO()
    grey.save(buffer, "PNG")
    assert data.decode(buffer.getvalue(), 224).shape == (224, 224, 3)  # grey becomes RGB


def test_the_bank_notes_images_that_do_not_decode() -> None:
    good = _png((80, 80))
    blobs = {"a": good, "b": good[:60], "c": good}  # b: a header, then nothing

    def read(key: str) -> bytes:
        if key == "gone":
            raise FileNotFoundError(2, "No such file or directory", "/m/gone")
        return blobs[key]

    bank = data.ImageBank(["a", "b", "c", "gone"], read, 32, workers=2)
    bank.load()
    assert [i for i, _ in bank.bad] == [1, 3]
    assert "does not decode" in bank.bad[0][1] and bank.bad[1][1].startswith("/m/gone")
    assert bank.batch([0, 2]).shape == (2, 32, 32, 3)
    kept = bank.keep([0, 2])  # the decoded images, without reading them again

    def never(key: str) -> bytes:
        raise AssertionError(f"{key} read again")

    kept.read = never
    assert kept.keys == ["a", "c"] and np.array_equal(kept.batch([0, 1]), bank.batch([0, 2]))
    uncached = data.ImageBank(["a", "c"], read, 32, cache_bytes=0)
    uncached.load()
    got = [(chunk, images.shape) for chunk, images in uncached.batches([1, 0], 1)]
    assert got == [([1], (1, 32, 32, 3)), ([0], (1, 32, 32, 3))]


def test_augmentation_draws_from_its_generator() -> None:
    images = torch.randint(0, 256, (6, 3, 40, 40), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    a = transforms.augment(images, torch.Generator().manual_seed(5))
    b = transforms.augment(images, torch.Generator().manual_seed(5))
    c = transforms.augment(images, torch.Generator().manual_seed(6))
    assert a.shape == images.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    normalize = transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25), torch.device("cpu"))
    x = normalize(torch.full((1, 3, 2, 2), 255, dtype=torch.uint8))
    assert torch.allclose(x, torch.full((1, 3, 2, 2), 2.0))
    assert x.is_contiguous(memory_format=torch.channels_last)
