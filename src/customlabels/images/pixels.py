"""An image's pixels as they are shown: one decoding rule for the trainer, ``detect`` and the
HTML report, so that a box drawn on a picture lands where the model saw it.

Pillow is imported on first use (the ``[train]`` and ``[report]`` extras install it).
"""

from __future__ import annotations

import io
from typing import Any


def shown_image(data: bytes, draft: int | None = None) -> Any:
    """Return the image ``data`` (PNG or JPEG bytes) as a PIL RGB image, as it is shown.

    The EXIF orientation is applied (``docs/decisions.md``, "Training"). With ``draft``, a
    JPEG is decoded at the smallest DCT scale still at least ``draft`` pixels a side
    (Pillow's ``draft``).
    """
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG" and draft is not None:
            image.draft("RGB", (draft, draft))
        shown = ImageOps.exif_transpose(image)
        return shown.convert("RGB")
