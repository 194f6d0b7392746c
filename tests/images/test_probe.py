"""The header probe against Pillow, and on cut, hostile and random bytes.

Pillow is the reference: for every image made here (PNG, JPEG, GIF, WebP, BMP, TIFF in many
modes, sizes and layouts) and every photograph shipped with scikit-image, the probe must give
Pillow's format, size and (for a JPEG) EXIF orientation. Then no input may make it raise, a cut
header must give a problem and never a wrong size, and a header past the first bytes must be
reached through ``read_at``, or reported as out of reach without it.
"""

from __future__ import annotations

import functools
import io
import os
import random
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, features

from customlabels.images.probe import HEAD_BYTES, ImageHeader, probe

_WEBP = features.check("webp")


# --- making images ----------------------------------------------------------------------------

def _picture(mode: str, size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Return an image of ``mode`` and ``size`` with some texture (so encoders do real work)."""
    rng = random.Random(seed)
    base = Image.effect_noise(size, 40 + rng.randrange(40))
    if mode in ("I;16", "I;16B"):
        return base.convert("I").point(lambda v: v * 200).convert(mode)
    return base.convert(mode)


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """Return ``image`` saved as ``fmt`` with ``options``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _exif(orientation: int, big_endian: bool = False, kind: int = 3) -> bytes:
    """Return an APP1 EXIF body (from "Exif\\0\\0") whose IFD0 holds only an orientation tag."""
    order = ">" if big_endian else "<"
    value = (struct.pack(order + "HH", orientation, 0) if kind == 3
             else struct.pack(order + "I", orientation))
    tiff = ((b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(order + "I", 8)
            + struct.pack(order + "H", 2)
            + struct.pack(order + "HHI", 0x010F, 2, 4) + b"cam\x00"  # Make, before it
            + struct.pack(order + "HHI", 0x0112, kind, 1) + value
            + struct.pack(order + "I", 0))
    return b"Exif\x00\x00" + tiff


def _segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (offset of the marker, marker code, segment length) of a well-formed JPEG to SOS."""
    pos = 2
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF
        code = data[pos + 1]
        length = struct.unpack_from(">H", data, pos + 2)[0]
        yield pos, code, length
        if code == 0xDA:
            return
        pos += 2 + length


def _frame_end(data: bytes) -> int:
    """Return the offset just after a well-formed JPEG's SOF segment."""
    for pos, code, length in _segments(data):
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            return pos + 2 + length
    raise AssertionError("no SOF")


def _after_soi(data: bytes, extra: bytes) -> bytes:
    """Return a JPEG with the segments ``extra`` inserted right after SOI."""
    return data[:2] + extra + data[2:]


def _com(size: int, fill: int = 0x78) -> bytes:
    """Return a COM segment of ``size`` payload bytes (at most 65533)."""
    return b"\xff\xfe" + struct.pack(">H", size + 2) + bytes([fill]) * size


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    """Return a PNG chunk with its CRC."""
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def _png_header(width: int, height: int, depth: int = 8, colour: int = 0,
                interlace: int = 0) -> bytes:
    """Return a PNG signature and IHDR chunk."""
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))


def _interlaced_png(width: int, height: int) -> bytes:
    """Return an Adam7-interlaced 8-bit grey PNG (Pillow writes no interlaced PNG)."""
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
              (1, 0, 2, 2), (0, 1, 1, 2))
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        columns = (width - x0 + dx - 1) // dx if width > x0 else 0
        rows = (height - y0 + dy - 1) // dy if height > y0 else 0
        if columns and rows:
            for row in range(rows):
                raw += b"\x00" + bytes((x0 + row * 7 + c) & 0xFF for c in range(columns))
    return (_png_header(width, height, interlace=1)
            + _png_chunk(b"IDAT", zlib.compress(bytes(raw)))
            + _png_chunk(b"IEND", b""))


def _bmp_core(width: int, height: int) -> bytes:
    """Return a 24-bit BMP with a BITMAPCOREHEADER (12 bytes), which Pillow reads, not writes."""
    stride = (width * 3 + 3) // 4 * 4
    pixels = bytes(stride * height)
    header = struct.pack("<IHHHH", 12, width, height, 1, 24)
    offset = 14 + len(header)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + pixels


def _top_down_bmp(width: int, height: int) -> bytes:
    """Return a BMP whose rows are stored top-down: a negative height in its info header."""
    data = bytearray(_encode(_picture("RGB", (width, height)), "BMP"))
    struct.pack_into("<i", data, 22, -height)
    return bytes(data)


def _tiff_big_endian(width: int, height: int, ifd_last: bool) -> bytes:
    """Return an 8-bit grey big-endian TIFF; with ``ifd_last`` its IFD follows the pixels."""
    pixels = bytes((x * 3 + y) & 0xFF for y in range(height) for x in range(width))
    entries = [(256, 3, 1, width << 16), (257, 4, 1, height), (258, 3, 1, 8 << 16),
               (259, 3, 1, 1 << 16), (262, 3, 1, 1 << 16), (273, 4, 1, 0),
               (277, 3, 1, 1 << 16), (278, 4, 1, height), (279, 4, 1, len(pixels))]
    ifd_size = 2 + 12 * len(entries) + 4
    ifd_at, pixels_at = (8 + len(pixels), 8) if ifd_last else (8, 8 + ifd_size)
    entries[5] = (273, 4, 1, pixels_at)
    ifd = struct.pack(">H", len(entries)) + b"".join(
        struct.pack(">HHII", *entry) for entry in entries) + struct.pack(">I", 0)
    body = (pixels + ifd) if ifd_last else (ifd + pixels)
    return b"MM\x00*" + struct.pack(">I", ifd_at) + body


def _made() -> Iterator[tuple[str, bytes]]:
    """Yield (name, bytes) of every image this module makes."""
    sizes = [(1, 1), (64, 64), (4096, 1), (300, 200), (5000, 64)]
    for mode in ("L", "LA", "P", "RGB", "RGBA", "I;16", "1"):
        for width, height in sizes:
            image = _picture(mode, (width, height))
            yield f"png-{mode}-{width}x{height}.png", _encode(image, "PNG")
    yield "png-1-4099x4099.png", _encode(Image.new("1", (4099, 4099)), "PNG")
    yield "png-optimized.png", _encode(_picture("RGB", (70, 90)), "PNG", optimize=True)
    yield "png-icc.png", _encode(_picture("RGB", (33, 65)), "PNG", icc_profile=bytes(3000))
    for width, height in ((1, 1), (13, 7), (64, 64), (100, 3)):
        yield f"png-interlaced-{width}x{height}.png", _interlaced_png(width, height)

    jpeg_sizes = [(1, 1), (64, 64), (300, 200), (4096, 8), (17, 4099), (1000, 750)]
    for mode in ("RGB", "L", "CMYK"):
        for width, height in jpeg_sizes:
            image = _picture(mode, (width, height))
            yield f"jpeg-{mode}-{width}x{height}.jpg", _encode(image, "JPEG", quality=80)
            yield f"jpeg-{mode}-{width}x{height}-progressive.jpg", _encode(
                image, "JPEG", progressive=True, optimize=True)
    photo = _picture("RGB", (640, 480), seed=3)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x010F] = "camera"
        yield f"jpeg-exif-{orientation}.jpg", _encode(photo, "JPEG", exif=exif)
        yield f"jpeg-exif-{orientation}-progressive-grey.jpg", _encode(
            photo.convert("L"), "JPEG", exif=exif, progressive=True)
        yield f"jpeg-exif-{orientation}-mm.jpg", _encode(
            photo, "JPEG", exif=_exif(orientation, big_endian=True))
        yield f"jpeg-exif-{orientation}-long.jpg", _encode(
            photo, "JPEG", exif=_exif(orientation, kind=4))
    for orientation in (0, 9, 300):  # out of range: both sides must read it as 1
        yield f"jpeg-exif-bad-{orientation}.jpg", _encode(photo, "JPEG",
                                                          exif=_exif(orientation))
    yield "jpeg-subsampling-444.jpg", _encode(photo, "JPEG", subsampling=0, quality=95)
    yield "jpeg-restart.jpg", _encode(photo, "JPEG", restart_marker_blocks=1)
    yield "jpeg-comment.jpg", _encode(photo, "JPEG", comment=b"c" * 65000)
    exif = Image.Exif()
    exif[0x0112] = 6
    # An ICC profile of 200 KB: Pillow splits it over four APP2 segments, so the frame header
    # lies past the first 64 KiB and the probe must ask read_at.
    yield "jpeg-icc-200k.jpg", _encode(photo, "JPEG", icc_profile=bytes(200_000), exif=exif)
    plain = _encode(photo, "JPEG")
    tagged = _encode(photo, "JPEG", exif=_exif(8))
    # Hand-made: COM segments after SOI push the frame header (and the EXIF) past 64 KiB.
    yield "jpeg-com-3x65000.jpg", _after_soi(plain, _com(65000) * 3)
    yield "jpeg-com-then-exif.jpg", _after_soi(tagged, _com(65533, 0xFF) * 2)
    yield "jpeg-com-at-edge.jpg", _after_soi(plain, _com(HEAD_BYTES - 6))
    yield "jpeg-com-across-edge.jpg", _after_soi(plain, _com(HEAD_BYTES - 8) + _com(100))
    # Fill bytes before the SOF marker, as the JPEG standard allows.
    sof = next(pos for pos, code, _ in _segments(plain) if code == 0xC0)
    yield "jpeg-fill-bytes.jpg", plain[:sof] + b"\xff\xff\xff" + plain[sof:]
    mpo = io.BytesIO()
    photo.save(mpo, "MPO", save_all=True, append_images=[_picture("RGB", (640, 480), seed=9)])
    yield "jpeg-two-frames.mpo", mpo.getvalue()

    for mode, (width, height) in (("P", (1, 1)), ("P", (300, 200)), ("L", (64, 64)),
                                  ("RGB", (5000, 64))):
        yield f"gif-{mode}-{width}x{height}.gif", _encode(_picture(mode, (width, height)), "GIF")
    frames = [_picture("P", (120, 80), seed=s) for s in range(3)]
    yield "gif-animated.gif", _encode(frames[0], "GIF", save_all=True,
                                      append_images=frames[1:], duration=50)
    if _WEBP:
        for width, height in ((1, 1), (64, 64), (300, 200), (5000, 64), (16383, 2)):
            image = _picture("RGB", (width, height))
            yield f"webp-lossy-{width}x{height}.webp", _encode(image, "WEBP", quality=70)
            yield f"webp-lossless-{width}x{height}.webp", _encode(image, "WEBP", lossless=True)
        yield "webp-alpha.webp", _encode(_picture("RGBA", (99, 77)), "WEBP")
        yield "webp-alpha-lossless.webp", _encode(_picture("RGBA", (99, 77)), "WEBP",
                                                  lossless=True)
        yield "webp-exif.webp", _encode(_picture("RGB", (120, 90)), "WEBP", exif=_exif(6))
        yield "webp-animated.webp", _encode(frames[0].convert("RGB"), "WEBP", save_all=True,
                                            append_images=[f.convert("RGB") for f in frames[1:]])
    for mode in ("1", "L", "P", "RGB", "RGBA"):
        for width, height in ((1, 1), (300, 200), (5000, 64)):
            yield f"bmp-{mode}-{width}x{height}.bmp", _encode(_picture(mode, (width, height)),
                                                            "BMP")
    yield "bmp-core.bmp", _bmp_core(31, 17)
    yield "bmp-top-down.bmp", _top_down_bmp(45, 23)
    for mode in ("1", "L", "RGB", "RGBA", "CMYK", "I;16", "F"):
        yield f"tiff-{mode}.tiff", _encode(_picture(mode, (300, 200)), "TIFF")
    for compression in ("tiff_lzw", "tiff_deflate", "packbits", "jpeg"):
        yield f"tiff-{compression}.tiff", _encode(_picture("RGB", (123, 45)), "TIFF",
                                                 compression=compression)
    yield "tiff-big-endian-16.tiff", _encode(_picture("I;16B", (64, 70)), "TIFF")
    yield "tiff-bigtiff.tiff", _encode(_picture("L", (81, 19)), "TIFF", big_tiff=True)
    yield "tiff-mm.tiff", _tiff_big_endian(37, 29, ifd_last=False)
    yield "tiff-mm-ifd-after-pixels.tiff", _tiff_big_endian(400, 300, ifd_last=True)
    yield "tiff-multipage.tiff", _encode(_picture("L", (50, 60)), "TIFF", save_all=True,
                                         append_images=[_picture("L", (7, 8))])


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Return the paths of every image made here and of scikit-image's photographs."""
    folder = tmp_path_factory.mktemp("probe-images")
    paths = []
    for name, data in _made():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    skimage = pytest.importorskip("skimage")
    photos = Path(skimage.data_dir)
    for pattern in ("*.png", "*.jpg", "*.jpeg", "*.gif", "*.bmp", "*.tif", "*.tiff"):
        paths.extend(sorted(photos.glob(pattern)))
    return paths


def _pillow(path: Path) -> tuple[str, int, int, int] | None:
    """Return Pillow's format, width, height and JPEG orientation of ``path``; None: unread."""
    try:
        with Image.open(path) as image:
            fmt = "JPEG" if image.format == "MPO" else str(image.format)
            orientation = image.getexif().get(0x0112, 1) if fmt == "JPEG" else 1
            if not (isinstance(orientation, int) and 1 <= orientation <= 8):
                orientation = 1
            return fmt, image.size[0], image.size[1], orientation
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


class _Reader:
    """``read_at`` on bytes in memory, keeping what was asked."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []

    def __call__(self, offset: int, count: int) -> bytes:
        assert 0 <= offset and 0 < count and offset + count <= len(self.data), (offset, count)
        self.calls.append((offset, count))
        return self.data[offset:offset + count]


def _probe_bytes(data: bytes) -> tuple[ImageHeader, _Reader]:
    """Probe ``data`` as a caller does: the first 64 KiB, the size, a reader for the rest."""
    reader = _Reader(data)
    return probe(data[:HEAD_BYTES], len(data), reader), reader


# --- 1. the same as Pillow --------------------------------------------------------------------

def _probe_file(path: Path) -> ImageHeader:
    """Probe the file at ``path`` as a local mirror does: the first bytes, then ``pread``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size

        def read_at(offset: int, count: int) -> bytes:
            assert 0 <= offset and 0 < count and offset + count <= size, (offset, count)
            return os.pread(fd, count, offset)

        return probe(os.read(fd, HEAD_BYTES), size, read_at)
    finally:
        os.close(fd)


def test_matches_pillow(corpus: list[Path]) -> None:
    compared = 0
    wrong = []
    formats = set()
    for path in corpus:
        expected = _pillow(path)
        if expected is None:
            continue
        header = _probe_file(path)
        got = (header.format, header.width, header.height, header.orientation)
        if got != expected or header.problem is not None:
            wrong.append(f"{path.name}: Pillow {expected}, probe {header}")
        compared += 1
        formats.add(expected[0])
    assert not wrong, "\n".join(wrong)
    assert compared > 60
    assert formats >= {"PNG", "JPEG", "GIF", "BMP", "TIFF"} | ({"WEBP"} if _WEBP else set())


def test_corpus_has_headers_past_the_head(corpus: list[Path]) -> None:
    # The differential test covers read_at only if some frame headers lie past 64 KiB.
    far = [p.name for p in corpus if p.suffix == ".jpg" and _probe_bytes(p.read_bytes())[1].calls]
    assert {"jpeg-icc-200k.jpg", "jpeg-com-3x65000.jpg", "jpeg-com-then-exif.jpg"} <= set(far)


# --- 2. cut files -----------------------------------------------------------------------------

@functools.cache
def _small_files() -> list[tuple[str, bytes, int]]:
    """Return (name, bytes, end of the header) of a few small valid JPEGs and PNGs."""
    photo = _picture("RGB", (300, 200), seed=5)
    exif = Image.Exif()
    exif[0x0112] = 3
    jpegs = [("jpeg", _encode(photo, "JPEG")),
             ("jpeg-exif", _encode(photo, "JPEG", exif=exif)),
             ("jpeg-progressive-grey", _encode(photo.convert("L"), "JPEG", progressive=True)),
             ("jpeg-cmyk-exif-mm", _encode(photo.convert("CMYK"), "JPEG",
                                           exif=_exif(6, big_endian=True)))]
    files = [(name, data, _frame_end(data)) for name, data in jpegs]
    files += [(f"png-{mode}", _encode(photo.convert(mode), "PNG"), 29)
              for mode in ("RGB", "P", "1")]
    files.append(("png-interlaced", _interlaced_png(300, 200), 29))
    return files


_SMALL = ["jpeg", "jpeg-exif", "jpeg-progressive-grey", "jpeg-cmyk-exif-mm", "png-RGB", "png-P",
          "png-1", "png-interlaced"]


def test_small_files_are_all_cut() -> None:
    assert [name for name, _, _ in _small_files()] == _SMALL


@pytest.mark.parametrize("name", _SMALL)
def test_every_cut_of_the_header_is_a_problem(name: str) -> None:
    data, end = next((d, e) for n, d, e in _small_files() if n == name)
    full = probe(data)
    assert full.problem is None and full.width == 300 and full.height == 200
    for k in range(end):
        header = probe(data[:k], k)
        assert header.problem is not None, (k, header)
        assert header.width in (0, 300) and header.height in (0, 200), (k, header)
        # Only the first bytes, the rest unreadable: still a problem, never a wrong size.
        header = probe(data[:k], len(data))
        assert header.problem is not None, (k, header)
        assert header.width in (0, 300) and header.height in (0, 200), (k, header)
    for k in list(range(end, min(end + 300, len(data)))) + [len(data) - 1]:
        assert probe(data[:k], k) == full, k


def test_cut_jpeg_says_the_file_ends() -> None:
    data = _encode(_picture("RGB", (64, 64)), "JPEG")
    header = probe(data[:_frame_end(data) - 1])
    assert header.format == "JPEG"
    assert header.problem is not None and header.problem.startswith("truncated JPEG")
    assert "ends before" in header.problem


# --- 3. read_at -------------------------------------------------------------------------------

def _far_jpeg(orientation: int = 6) -> bytes:
    """Return a 640x480 JPEG whose EXIF and frame header lie past 128 KiB."""
    tagged = _encode(_picture("RGB", (640, 480)), "JPEG", exif=_exif(orientation))
    return _after_soi(tagged, _com(65533) * 2)


def test_header_beyond_the_head_is_read_through_read_at() -> None:
    data = _far_jpeg()
    assert _frame_end(data) > 2 * HEAD_BYTES
    header, reader = _probe_bytes(data)
    assert header == ImageHeader("JPEG", 640, 480, 6, None)
    assert 0 < len(reader.calls) <= 4
    assert all(offset >= HEAD_BYTES for offset, _ in reader.calls)


def test_header_beyond_the_head_without_read_at() -> None:
    data = _far_jpeg()
    header = probe(data[:HEAD_BYTES], len(data))
    assert header.format == "JPEG" and (header.width, header.height) == (0, 0)
    assert header.problem is not None
    assert "beyond" in header.problem and "bytes read" in header.problem
    assert "ends" not in header.problem  # not mistaken for a cut file


def test_short_read_is_a_truncation() -> None:
    data = _far_jpeg()
    header = probe(data[:HEAD_BYTES], len(data) + 1000, lambda offset, count: b"")
    assert header.problem is not None and header.problem.startswith("truncated JPEG")


def test_big_icc_profile_within_few_reads() -> None:
    data = _encode(_picture("RGB", (64, 64)), "JPEG", icc_profile=bytes(1_000_000))
    header, reader = _probe_bytes(data)
    assert header == ImageHeader("JPEG", 64, 64, 1, None)
    assert len(reader.calls) <= 20  # one per 64 KiB APP2 segment, not one per 4 bytes


def test_reads_are_bounded() -> None:
    # A 100 GB "JPEG" of nothing but maximal COM segments: the probe gives up after a bounded
    # number of reads instead of walking them all.
    unit = _com(65533)
    calls = []

    def read_at(offset: int, count: int) -> bytes:
        calls.append(offset)
        start = (offset - 2) % len(unit)
        return ((unit[start:] + unit) * (count // len(unit) + 2))[:count]

    head = (b"\xff\xd8" + unit * 2)[:HEAD_BYTES]
    started = time.perf_counter()
    header = probe(head, 100 << 30, read_at)
    assert time.perf_counter() - started < 1
    assert header.problem is not None and "reads" in header.problem
    assert len(calls) <= 256


def test_tiff_ifd_beyond_the_head() -> None:
    data = _tiff_big_endian(400, 300, ifd_last=True)
    assert len(data) > HEAD_BYTES
    header, reader = _probe_bytes(data)
    assert header == ImageHeader("TIFF", 400, 300, 1, None) and reader.calls
    header = probe(data[:HEAD_BYTES], len(data))
    assert header.problem is not None and "beyond" in header.problem


# --- 4. no input makes it raise ---------------------------------------------------------------

def _check(header: object) -> None:
    assert isinstance(header, ImageHeader)
    assert header.format is None or isinstance(header.format, str)
    assert isinstance(header.width, int) and header.width >= 0
    assert isinstance(header.height, int) and header.height >= 0
    assert isinstance(header.orientation, int) and 1 <= header.orientation <= 8
    assert header.problem is None or (isinstance(header.problem, str) and header.problem)
    if header.problem is None:
        assert header.format is not None and header.width > 0 and header.height > 0


def _seeds() -> list[bytes]:
    """Return small valid files of every format, to mutate."""
    photo = _picture("RGB", (40, 30))
    seeds = [_encode(photo, "PNG"), _encode(photo, "JPEG", exif=_exif(5)),
             _encode(photo, "JPEG", exif=_exif(7, big_endian=True), progressive=True),
             _encode(photo, "GIF"), _encode(photo, "BMP"), _bmp_core(5, 6),
             _encode(photo, "TIFF"), _encode(photo, "TIFF", big_tiff=True),
             _tiff_big_endian(9, 4, ifd_last=True), _interlaced_png(9, 9)]
    if _WEBP:
        seeds += [_encode(photo, "WEBP"), _encode(photo, "WEBP", lossless=True),
                  _encode(photo.convert("RGBA"), "WEBP")]
    return seeds


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """Return ``data`` with a random cut, flip, insertion or overwrite."""
    roll = rng.random()
    if roll < 0.25:
        return data[:rng.randrange(len(data) + 1)]
    out = bytearray(data[:rng.randrange(60, 4000)])
    for _ in range(rng.randrange(1, 8)):
        at = rng.randrange(len(out) + 1)
        kind = rng.random()
        if kind < 0.5 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif kind < 0.7:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif kind < 0.8:
            out[at:at] = rng.choice([b"\xff", b"\xff\xd8", b"\xff\xc0", b"\xff\xe1",
                                     b"Exif\x00\x00", b"II*\x00", b"MM\x00*", b"\xff\xff"])
        else:
            del out[at:at + rng.randrange(1, 16)]
    return bytes(out)


def test_fuzz_never_raises() -> None:
    rng = random.Random(20240601)
    seeds = _seeds()
    magics = [b"\xff\xd8", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
              b"RIFF\x00\x00\x00\x00WEBPVP8L", b"RIFF\x00\x00\x00\x00WEBPVP8X", b"BM",
              b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b""]
    for _ in range(20_000):
        roll = rng.random()
        if roll < 0.8:
            data = _mutate(rng, rng.choice(seeds))
        else:
            data = rng.choice(magics) + rng.randbytes(rng.randrange(40))
        size = len(data) + rng.choice([0, 0, 0, rng.randrange(1, 1 << 20)])
        filler = rng.randbytes(64)

        def read_at(offset: int, count: int) -> bytes:
            assert offset >= 0 and count > 0
            if rng.random() < 0.1:
                return b""
            return (filler * (count // 64 + 1))[:count]

        head = data[:rng.choice([len(data), rng.randrange(len(data) + 1)])]
        _check(probe(head, size, rng.choice([None, read_at])))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
                        b"GIF87a", b"RIFF\x10\x00\x00\x00WEBP", b"BM", b"II*\x00",
                        b"MM\x00+", b""]),
       st.binary(max_size=200), st.integers(min_value=0, max_value=1 << 40))
def test_hypothesis_never_raises(magic: bytes, rest: bytes, extra: int) -> None:
    data = magic + rest
    _check(probe(data))
    _check(probe(data, len(data) + extra))
    _check(probe(data, len(data) + extra, lambda offset, count: rest[:count]))


def test_exif_garbage_keeps_orientation_1() -> None:
    photo = _picture("RGB", (30, 20))
    rng = random.Random(7)
    good = _exif(6)
    for _ in range(2000):
        body = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            body[rng.randrange(6, len(body))] = rng.randrange(256)
        data = _encode(photo, "JPEG", exif=bytes(body)) if rng.random() < 0.05 else \
            _after_soi(_encode(photo, "JPEG"),
                       b"\xff\xe1" + struct.pack(">H", len(body) + 2) + bytes(body))
        header = probe(data)
        _check(header)
        assert (header.width, header.height, header.problem) == (30, 20, None)


# --- 5. what is wrong, in words ---------------------------------------------------------------

def _soi_sos() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" \
        b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"


@pytest.mark.parametrize("data,fmt,problem", [
    (b"", None, "empty file"),
    (b"hello, this is a text file\n", None, "unknown format"),
    (b"BMW is a car\n" * 3, None, "unknown format"),
    (_png_header(0, 10) + _png_chunk(b"IEND", b""), "PNG", "zero width"),
    (_png_header(10, 0), "PNG", "zero height"),
    (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"tEXt", b"a\x00b") + _png_header(9, 9)[8:], "PNG",
     "no IHDR chunk"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG", "truncated PNG header"),
    (b"\x89PNG\r\r\x1a\n" + _png_header(9, 9)[8:], "PNG", "bad PNG signature"),
    (_png_header(9, 9, depth=3, colour=2), "PNG", "bad PNG colour type 2 with bit depth 3"),
    (_soi_sos(), "JPEG", "JPEG scan starts before its frame header"),
    (b"\xff\xd8\xff\xd9", "JPEG", "JPEG end marker before its frame header"),
    (b"\xff\xd8", "JPEG", "truncated JPEG: the file ends before its frame header"),
    (b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x10\x03" + bytes(9), "JPEG", "zero height"),
    (b"\xff\xd8\xff\xfe\x00\x01", "JPEG", "bad JPEG segment length 1 (marker 0xfffe)"),
    (b"\xff\xd8\xff\x05\x00\x04", "JPEG", "unknown JPEG marker 0xff05 before its frame header"),
    (b"GIF89a\x05", "GIF", "truncated GIF header"),
])
def test_problems(data: bytes, fmt: str | None, problem: str) -> None:
    header = probe(data)
    assert (header.format, header.problem) == (fmt, problem)
    _check(header)


def test_zero_height_keeps_the_width() -> None:
    # A JPEG whose height comes later in a DNL segment: the service cannot take it.
    header = probe(b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x10\x03" + bytes(9))
    assert (header.width, header.height) == (16, 0)


# --- 6. bombs cost nothing --------------------------------------------------------------------

def test_decompression_bomb_header_is_probed_instantly() -> None:
    bomb = (_png_header(100_000, 100_000, colour=2)
            + _png_chunk(b"IDAT", zlib.compress(bytes(1 << 20), 9)) + _png_chunk(b"IEND", b""))
    started = time.perf_counter()
    header = probe(bomb[:HEAD_BYTES], len(bomb))
    assert time.perf_counter() - started < 0.01
    assert header == ImageHeader("PNG", 100_000, 100_000, 1, None)


def test_a_huge_file_costs_the_same() -> None:
    data = _encode(_picture("RGB", (64, 64)), "JPEG")
    reads: list[int] = []

    def read_at(offset: int, count: int) -> bytes:
        reads.append(count)
        return bytes(count)

    assert probe(data, 10 << 30, read_at) == ImageHeader("JPEG", 64, 64, 1, None)
    assert not reads


def test_speed_is_reasonable() -> None:
    # A loose floor, far below the figure on any machine (over 50,000 a second), against a
    # per-byte loop slipping in: one over a 64 KiB head would make it a few hundred.
    heads = [d[:HEAD_BYTES] for _, d, _ in _small_files()]
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        for head in heads:
            probe(head)
    rate = rounds * len(heads) / (time.perf_counter() - started)
    assert rate > 2000, rate

