"""Real image files for the image tests, made with Pillow from short recipes.

A recipe says what lies at a key of a mirror: an image made with Pillow (``{"png": [W, H]}``,
``{"jpeg": [W, H], "orientation": 6}``, ``{"gif": ...}``, ``{"webp": ...}``, ``{"bmp": ...}``),
one of scikit-image's real photographs (``{"photo": "astronaut.png"}``), an image cut short
(``{"cut": N, "of": RECIPE}``: its first N bytes; a negative N drops that many from the end),
an image padded to a size without writing it (``{"sparse": BYTES, "of": RECIPE}``), raw bytes
(``{"text": "..."}``), and what is not a file: ``{"fifo": true}``, ``{"folder": true}``,
``{"link": TARGET}`` (a symbolic link; TARGET relative to the link). Case folders keep recipes,
not images, so the repository holds no binaries and a 16 MB or FIFO case costs nothing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from PIL import Image


def photo_dir() -> Path:
    """Return the folder of scikit-image's real photographs."""
    import skimage

    return Path(skimage.data_dir)


def image_bytes(recipe: dict[str, Any]) -> bytes:
    """Return the bytes a recipe of a regular file makes."""
    if "photo" in recipe:
        return (photo_dir() / recipe["photo"]).read_bytes()
    if "text" in recipe:
        return str(recipe["text"]).encode()
    if "cut" in recipe:
        data = image_bytes(recipe["of"])
        return data[:recipe["cut"]]
    for fmt in ("png", "jpeg", "gif", "webp", "bmp", "tiff"):
        if fmt in recipe:
            width, height = recipe[fmt]
            mode = recipe.get("mode", "RGB" if fmt != "gif" else "P")
            image = Image.new(mode, (width, height), color=recipe.get("color", 128 if mode in (
                "L", "P") else (200, 120, 40)))
            buffer = io.BytesIO()
            options: dict[str, Any] = {}
            if "orientation" in recipe:
                exif = Image.Exif()
                exif[0x0112] = recipe["orientation"]
                options["exif"] = exif
            image.save(buffer, format=fmt.upper(), **options)
            return buffer.getvalue()
    raise ValueError(f"unknown recipe {recipe!r}")


def make(path: Path, recipe: dict[str, Any]) -> None:
    """Make what ``recipe`` says at ``path`` (its folders too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if recipe.get("fifo"):
        os.mkfifo(path)
    elif recipe.get("folder"):
        path.mkdir()
    elif "link" in recipe:
        path.symlink_to(recipe["link"])
    elif "sparse" in recipe:
        path.write_bytes(image_bytes(recipe["of"]))
        os.truncate(path, recipe["sparse"])
    else:
        path.write_bytes(image_bytes(recipe))


def make_mirror(root: Path, recipes: dict[str, dict[str, Any]]) -> Path:
    """Make a mirror folder ``root`` holding each recipe at its key; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for key, recipe in recipes.items():
        make(root / key, recipe)
    return root
