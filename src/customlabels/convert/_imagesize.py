"""Read the pixel size of a PNG or JPEG file from its header, without decoding the image.

The service takes PNG and JPEG images only (L17920), so these two are all a converter needs; no
imaging library is required.
"""

from __future__ import annotations

import os
import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (they carry the size): C0-CF except DHT, JPG and DAC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Markers with no length field after them.
_STANDALONE = frozenset(range(0xD0, 0xDA)) | {0x01}


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Return ``(width, height)`` of a PNG or JPEG file, or None when it is neither or broken.

    ``OSError`` propagates (a missing file is the caller's to report).
    """
    with open(path, "rb") as stream:
        head = stream.read(32)
        if head.startswith(PNG_SIGNATURE):
            if len(head) < 24 or head[12:16] != b"IHDR":
                return None
            width, height = struct.unpack(">II", head[16:24])
            return (width, height) if width and height else None
        if head[:2] != b"\xff\xd8":
            return None
        stream.seek(2)
        return _jpeg_size(stream)


def _jpeg_size(stream: object) -> tuple[int, int] | None:
    read = stream.read  # type: ignore[attr-defined]
    while True:
        byte = read(1)
        if not byte:
            return None
        if byte != b"\xff":
            return None  # markers must be back to back outside entropy-coded data
        marker = read(1)
        while marker == b"\xff":  # fill bytes
            marker = read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _STANDALONE:
            continue
        length_bytes = read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if length < 2:
            return None
        if code in _SOF:
            frame = read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return (width, height) if width and height else None
        if code == 0xDA:  # start of scan before any frame header
            return None
        stream.seek(length - 2, 1)  # type: ignore[attr-defined]
