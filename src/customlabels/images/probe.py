"""Read an image file's format, size and EXIF orientation from its header bytes alone.

The service accepts PNG and JPEG images of bounded size and dimensions (guide: "Guidelines and
quotas"), so checking a dataset's images needs only what their headers say: the format, the
width and height, and for a JPEG the EXIF orientation. Only headers are decoded, never pixel
data, so a decompression bomb or a 10 GB file costs no more than a small one, and neither
Pillow nor any other third-party package is needed: this is the standard library alone.

:func:`probe` takes the file's first bytes (:data:`HEAD_BYTES` of them, or the whole file when
it is shorter). A PNG's header lies in its first 29 bytes; a JPEG's frame header (SOF) usually
within a few KiB, but large APPn segments (ICC profiles, XMP, thumbnails) can push it further,
and then the probe asks the caller's ``read_at`` for the bytes there, a few KiB at a time.
GIF, WebP, BMP and TIFF are recognised too, so that a caller can say "a GIF, not PNG or JPEG",
and their sizes are read as Pillow reads them. No input makes the probe raise: what cannot be
read is described in :attr:`ImageHeader.problem`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import NamedTuple

#: Bytes a caller reads first: the whole header of nearly every image.
HEAD_BYTES = 65536

#: Reads ``count`` bytes at ``offset`` of the file (fewer only at its end).
ReadAt = Callable[[int, int], bytes]


class ImageHeader(NamedTuple):
    """What an image file's header says.

    Attributes:
        format: ``PNG``, ``JPEG``, ``GIF``, ``WEBP``, ``BMP`` or ``TIFF``; None when the bytes
            are no image format the probe knows.
        width, height: pixels as stored (before any EXIF rotation); 0 when unknown.
        orientation: a JPEG's EXIF orientation, 1 to 8; 1 when absent, out of range, or not a
            JPEG.
        problem: None when the header parsed; else a short lower-case reason, such as
            ``"truncated PNG header"`` or ``"zero width"``.
    """

    format: str | None
    width: int
    height: int
    orientation: int
    problem: str | None


_U16BE = struct.Struct(">H").unpack_from
_SOF_BODY = struct.Struct(">HHB").unpack_from  # height, width, component count
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IHDR = struct.Struct(">I4sIIBBBBB").unpack_from
# Bit depths allowed for each PNG colour type (PNG specification, 11.2.2).
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Sizes of the BMP info headers Pillow reads: BITMAPCOREHEADER (12), BITMAPINFOHEADER (40) and
# its extensions (52, 56, 108, 124), OS/2 2.x (64).
_BMP_HEADERS = frozenset({12, 40, 52, 56, 64, 108, 124})
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_WEBP_CHUNKS = (b"VP8 ", b"VP8L", b"VP8X")

# A JPEG marker: fill bytes (any number of 0xFF) and the marker code. Bytes before it are
# skipped, as libjpeg and Pillow skip them ("extraneous bytes before marker"); FF 00, a stuffed
# byte of entropy-coded data, is no marker and is skipped with them.
_MARKER = re.compile(rb"\xff+([^\x00\xff])")
# Start-of-frame markers SOF0..SOF15: C0..CF less DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length: TEM, RST0..RST7, and SOI (a repeated one is skipped as libjpeg does).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_EXIF = b"Exif\x00\x00"
_ORIENTATION = 0x0112
# Bytes asked of ``read_at`` at least: one request then covers a run of small segments, and
# a segment header costs the same as a few KiB whether the file is local or in S3.
_FETCH = 4096
# Reads past the head before giving up: 256 covers 16 MiB of maximal (64 KiB) segments, more
# than any image the service accepts, and bounds the requests a hostile file can cause.
_MAX_READS = 200
# Bytes of a TIFF IFD read at most: 5461 entries, far more than any image's first IFD holds.
_MAX_IFD_BYTES = 65536

# Unpackers of a TIFF structure (EXIF's) by byte order: the header's magic number and IFD
# offset, a SHORT, and an IFD entry (tag, type, count, and the value field as a LONG).
_Unpack = Callable[[bytes, int], tuple[int, ...]]
_TIFF_LE: tuple[_Unpack, _Unpack, _Unpack] = (
    struct.Struct("<HI").unpack_from, struct.Struct("<H").unpack_from,
    struct.Struct("<HHII").unpack_from)
_TIFF_BE: tuple[_Unpack, _Unpack, _Unpack] = (
    struct.Struct(">HI").unpack_from, struct.Struct(">H").unpack_from,
    struct.Struct(">HHII").unpack_from)

_EMPTY = ImageHeader(None, 0, 0, 1, "empty file")
_UNKNOWN = ImageHeader(None, 0, 0, 1, "unknown format")


def probe(head: bytes, size: int | None = None, read_at: ReadAt | None = None) -> ImageHeader:
    """Read the format, size and EXIF orientation of the image whose first bytes are ``head``.

    ``size`` is the whole file's length (None: ``head`` is the whole file). Where a JPEG's
    frame header or EXIF segment, or a TIFF's first IFD, lies beyond ``head``, the probe calls
    ``read_at(offset, count)`` for the bytes there; without ``read_at`` it reports that the
    header lies beyond the bytes read. Only headers are decoded. No content of ``head`` makes
    the probe raise; what ``read_at`` raises (an ``OSError``, a client error) passes through.
    """
    length = len(head)
    if size is None or size < length:  # the bytes in hand are there, whatever size says
        size = length
    if not length:
        return _EMPTY if not size else ImageHeader(None, 0, 0, 1, "no bytes read")
    first = head[0]
    if first == 0xFF:
        if head[1:2] == b"\xd8":
            return _jpeg(head, size, read_at)
    elif first == 0x89:
        if head[1:4] == b"PNG":
            return _png(head)
    elif first == 0x47:  # "G"
        if head[:4] == b"GIF8":
            return _gif(head)
    elif first == 0x52:  # "R"
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp(head)
    elif first == 0x42:  # "B"
        if head[:2] == b"BM":
            return _bmp(head)
    elif head[:4] in _TIFF_MAGIC:
        return _tiff(head, size, read_at)
    return _UNKNOWN


# --- JPEG -----------------------------------------------------------------------------------

class _Window:
    """The bytes of a file at hand: the head, or the last chunk ``read_at`` gave.

    Positions are offsets in the file; ``buf[0]`` is at offset ``base``. The JPEG walk only
    moves forward, so one window at a time is enough.
    """

    __slots__ = ("head", "size", "read_at", "buf", "base", "reads", "why")

    def __init__(self, head: bytes, size: int, read_at: ReadAt | None) -> None:
        """Start with the head in hand."""
        self.head = head
        self.size = size
        self.read_at = read_at
        self.buf = head
        self.base = 0
        self.reads = 0
        self.why = ""

    def get(self, offset: int, count: int) -> bool:
        """Bring the bytes ``offset`` to ``offset + count`` into ``buf``; tell whether it could.

        When it could not, ``why`` says why: the file ends, there is no reader, the reads
        are spent, or the reader gave fewer bytes than the file's size promises.
        """
        if offset + count <= len(self.head):
            self.buf, self.base = self.head, 0
            return True
        if offset + count > self.size:
            self.why = "ends"
            return False
        if self.read_at is None:
            self.why = "unread"
            return False
        if self.reads >= _MAX_READS:
            self.why = "reads"
            return False
        self.reads += 1
        got = self.read_at(offset, min(max(count, _FETCH), self.size - offset))
        if len(got) < count:
            self.why = "short"
            return False
        self.buf, self.base = got, offset
        return True

    def problem(self) -> ImageHeader:
        """Return the header of a JPEG whose frame header could not be reached, and why."""
        if self.why == "unread":
            reason = (f"the JPEG frame header lies beyond the {len(self.head)} bytes read "
                      "(no reader for the rest)")
        elif self.why == "reads":
            reason = f"no JPEG frame header within {_MAX_READS} reads past the first bytes"
        elif self.why == "short":
            reason = "truncated JPEG: the file ends before its frame header (a short read)"
        else:
            reason = "truncated JPEG: the file ends before its frame header"
        return ImageHeader("JPEG", 0, 0, 1, reason)


def _jpeg(head: bytes, size: int, read_at: ReadAt | None) -> ImageHeader:
    """Walk a JPEG's marker segments from SOI to its frame header (and EXIF APP1)."""
    window = _Window(head, size, read_at)
    buf, base, end = head, 0, len(head)  # the bytes at hand, their offset, their length
    pos = 2  # after SOI
    width = height = 0
    found = False  # the frame header is read; go on only for an EXIF segment at hand
    exif_seen = False
    orientation = 1
    # Marker codes are written as literals in this loop, which runs for every segment:
    # 0xD9 EOI, 0xDA SOS, 0xE1 APP1.
    while True:
        at = pos - base
        if at + 1 < end and buf[at] == 0xFF and 0 < buf[at + 1] < 0xFF:
            # The marker right where the last segment ended, as in nearly every file: no
            # search needed.
            code = buf[at + 1]
            at += 2  # the segment's length field, in buf
        elif (match := _MARKER.search(buf, at)) is not None:
            code = buf[match.end() - 1]
            at = match.end()
        else:
            if found:
                break
            # No marker in the bytes at hand: read on after them, from a trailing 0xFF,
            # which may be the first byte of a marker cut by the end of the chunk (or from
            # the next segment, where the last one ran past them).
            if at >= end:
                after = pos
            else:
                after = base + end - (1 if buf[end - 1] == 0xFF else 0)
            if not window.get(after, 2):
                return window.problem()
            buf, base, end, pos = window.buf, window.base, len(window.buf), after
            continue
        if code < 0xC0 or 0xD0 <= code <= 0xDA:
            if code in _STANDALONE:
                pos = base + at
                continue
            if found:
                break
            if code == 0xDA:
                reason = "JPEG scan starts before its frame header"
            elif code == 0xD9:
                reason = "JPEG end marker before its frame header"
            else:
                reason = f"unknown JPEG marker 0xff{code:02x} before its frame header"
            return ImageHeader("JPEG", 0, 0, orientation, reason)
        if at + 2 > end:
            if found:
                break
            if not window.get(base + at, 2):
                return window.problem()
            at += base - window.base
            buf, base, end = window.buf, window.base, len(window.buf)
        seglen = _U16BE(buf, at)[0]
        if seglen < 2:
            if found:
                break
            return ImageHeader("JPEG", 0, 0, orientation,
                               f"bad JPEG segment length {seglen} (marker 0xff{code:02x})")
        if code in _SOF and not found:
            if at + seglen > end:
                if not window.get(base + at, seglen):
                    return window.problem()
                at += base - window.base
                buf, base, end = window.buf, window.base, len(window.buf)
            if seglen < 8:
                return ImageHeader("JPEG", 0, 0, orientation, "JPEG frame header too short")
            height, width, components = _SOF_BODY(buf, at + 3)
            if components == 0 or seglen < 8 + 3 * components:
                return ImageHeader("JPEG", 0, 0, orientation,
                                   "bad JPEG frame header (component count and length "
                                   "disagree)")
            if width == 0 or height == 0:
                return ImageHeader("JPEG", width, height, orientation,
                                   "zero width" if width == 0 else "zero height")
            found = True
            if exif_seen:
                break
        elif code == 0xE1 and not exif_seen:
            # Only the first APP1 that starts "Exif\0\0" counts, as with Pillow; XMP is APP1
            # too. After the frame header, only what is at hand is looked at.
            if at + 8 > end and not found and window.get(base + at, 8):
                at += base - window.base
                buf, base, end = window.buf, window.base, len(window.buf)
            if buf.startswith(_EXIF, at + 2):
                exif_seen = True
                if at + seglen > end and not found and window.get(base + at, seglen):
                    at += base - window.base
                    buf, base, end = window.buf, window.base, len(window.buf)
                orientation = _exif_orientation(buf, at + 8, min(at + seglen, end))
                if found:
                    break
        pos = base + at + seglen
    return ImageHeader("JPEG", width, height, orientation, None)


def _exif_orientation(buf: bytes, start: int, end: int) -> int:
    """Return the orientation tag of the TIFF structure in ``buf[start:end]``, or 1.

    A malformed structure gives 1: every offset is checked against ``end`` before it is read.
    """
    if end - start < 8:
        return 1
    order = buf[start:start + 2]
    if order == b"II":
        header, short, entry = _TIFF_LE
    elif order == b"MM":
        header, short, entry = _TIFF_BE
    else:
        return 1
    magic, ifd = header(buf, start + 2)
    if magic != 42:
        return 1
    ifd += start
    if ifd + 2 > end:
        return 1
    count = min(short(buf, ifd)[0], (end - ifd - 2) // 12)
    for offset in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind, values, value = entry(buf, offset)
        if tag != _ORIENTATION:
            continue
        if values != 1:
            return 1
        if kind == 3:  # SHORT, as the standard says: the first 2 of the 4 value bytes
            value = short(buf, offset + 8)[0]
        elif kind != 4:  # LONG is written by some tools, and Pillow reads it alike
            return 1
        return value if 1 <= value <= 8 else 1
    return 1


# --- PNG, GIF, WebP, BMP ----------------------------------------------------------------------

def _png(head: bytes) -> ImageHeader:
    """Read a PNG's IHDR chunk, which must come first (the CRC is not checked)."""
    if len(head) < 8 and _PNG_SIGNATURE.startswith(head):
        return ImageHeader("PNG", 0, 0, 1, "truncated PNG signature")
    if not head.startswith(_PNG_SIGNATURE):
        # "\x89PNG" then something else: most often line endings converted in transfer.
        return ImageHeader("PNG", 0, 0, 1, "bad PNG signature")
    if len(head) < 16:
        return ImageHeader("PNG", 0, 0, 1, "truncated PNG header")
    if head[12:16] != b"IHDR":
        return ImageHeader("PNG", 0, 0, 1, "no IHDR chunk")
    if len(head) < 29:
        return ImageHeader("PNG", 0, 0, 1, "truncated PNG header")
    length, _, width, height, depth, colour, compression, filtering, interlace = \
        _PNG_IHDR(head, 8)
    if length != 13:
        return ImageHeader("PNG", 0, 0, 1, f"bad IHDR chunk length {length}")
    if width == 0 or height == 0:
        return ImageHeader("PNG", width, height, 1, "zero width" if width == 0 else "zero height")
    if width > 0x7FFFFFFF or height > 0x7FFFFFFF:  # the PNG specification's limit
        return ImageHeader("PNG", 0, 0, 1, "PNG size over 2**31 - 1")
    if depth not in _PNG_DEPTHS.get(colour, ()):
        return ImageHeader("PNG", width, height, 1,
                           f"bad PNG colour type {colour} with bit depth {depth}")
    if compression or filtering or interlace > 1:
        return ImageHeader("PNG", width, height, 1,
                           "bad PNG compression, filter or interlace method")
    return ImageHeader("PNG", width, height, 1, None)


def _gif(head: bytes) -> ImageHeader:
    """Read a GIF's logical screen size."""
    if len(head) < 10:
        return ImageHeader("GIF", 0, 0, 1, "truncated GIF header")
    if head[4:6] not in (b"7a", b"9a"):
        return ImageHeader("GIF", 0, 0, 1, "bad GIF version")
    width, height = struct.unpack_from("<HH", head, 6)
    return _sized("GIF", width, height)


def _webp(head: bytes) -> ImageHeader:
    """Read a WebP's size from its first chunk: VP8 (lossy), VP8L (lossless) or VP8X."""
    chunk = head[12:16]
    if len(head) < 20:
        return ImageHeader("WEBP", 0, 0, 1, "truncated WebP header")
    if chunk not in _WEBP_CHUNKS:
        return ImageHeader("WEBP", 0, 0, 1, "no VP8, VP8L or VP8X chunk first")
    if chunk == b"VP8X":
        if len(head) < 30:
            return ImageHeader("WEBP", 0, 0, 1, "truncated WebP header")
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return ImageHeader("WEBP", width, height, 1, None)
    if chunk == b"VP8L":
        if len(head) < 25:
            return ImageHeader("WEBP", 0, 0, 1, "truncated WebP header")
        if head[20] != 0x2F:
            return ImageHeader("WEBP", 0, 0, 1, "bad VP8L signature")
        bits = int.from_bytes(head[21:25], "little")
        return ImageHeader("WEBP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1, None)
    if len(head) < 30:
        return ImageHeader("WEBP", 0, 0, 1, "truncated WebP header")
    if head[23:26] != b"\x9d\x01\x2a" or head[20] & 1:  # start code; bit 0 clear: a key frame
        return ImageHeader("WEBP", 0, 0, 1, "bad VP8 frame header")
    width, height = struct.unpack_from("<HH", head, 26)
    return _sized("WEBP", width & 0x3FFF, height & 0x3FFF)  # the top 2 bits are scaling


def _bmp(head: bytes) -> ImageHeader:
    """Read a BMP's size from its info header; a "BM" file of no known header is unknown."""
    if len(head) < 18:
        return _UNKNOWN  # two letters are too little to call it a BMP
    header = int.from_bytes(head[14:18], "little")
    if header not in _BMP_HEADERS:
        return _UNKNOWN
    if header == 12:
        if len(head) < 22:
            return ImageHeader("BMP", 0, 0, 1, "truncated BMP header")
        width, height = struct.unpack_from("<HH", head, 18)
        return _sized("BMP", width, height)
    if len(head) < 26:
        return ImageHeader("BMP", 0, 0, 1, "truncated BMP header")
    width, height = struct.unpack_from("<ii", head, 18)
    if width < 0:
        return ImageHeader("BMP", 0, 0, 1, "negative BMP width")
    return _sized("BMP", width, abs(height))  # a negative height: rows stored top-down


def _sized(fmt: str, width: int, height: int) -> ImageHeader:
    """Return the header of a ``fmt`` image, with a problem when a side is zero."""
    if width == 0 or height == 0:
        return ImageHeader(fmt, width, height, 1, "zero width" if width == 0 else "zero height")
    return ImageHeader(fmt, width, height, 1, None)


# --- TIFF -----------------------------------------------------------------------------------

def _tiff(head: bytes, size: int, read_at: ReadAt | None) -> ImageHeader:
    """Read tags 256 (ImageWidth) and 257 (ImageLength) of a TIFF's (or BigTIFF's) first IFD."""
    prefix = "<" if head[0] == 0x49 else ">"
    big = head[2:4] in (b"+\x00", b"\x00+")
    if big:
        if len(head) < 16:
            return ImageHeader("TIFF", 0, 0, 1, "truncated TIFF header")
        offsize, zero, ifd = struct.unpack_from(prefix + "HHQ", head, 4)
        if offsize != 8 or zero != 0:
            return ImageHeader("TIFF", 0, 0, 1, "bad BigTIFF header")
        count_format, entry_size, entry_format = "Q", 20, "HHQ8s"
    else:
        if len(head) < 8:
            return ImageHeader("TIFF", 0, 0, 1, "truncated TIFF header")
        ifd = struct.unpack_from(prefix + "I", head, 4)[0]
        count_format, entry_size, entry_format = "H", 12, "HHI4s"
    count_size = struct.calcsize(count_format)
    got = _bytes_at(head, size, read_at, ifd, count_size)
    if isinstance(got, str):
        return ImageHeader("TIFF", 0, 0, 1, got)
    count = min(struct.unpack_from(prefix + count_format, got)[0], _MAX_IFD_BYTES // entry_size)
    entries = _bytes_at(head, size, read_at, ifd + count_size, count * entry_size)
    if isinstance(entries, str):
        return ImageHeader("TIFF", 0, 0, 1, entries)
    unpack = struct.Struct(prefix + entry_format).unpack_from
    sides = {256: 0, 257: 0}
    for offset in range(0, count * entry_size, entry_size):
        tag, kind, values, value = unpack(entries, offset)
        if tag in sides and values >= 1 and not sides[tag]:
            if kind == 3:  # SHORT
                sides[tag] = struct.unpack_from(prefix + "H", value)[0]
            elif kind == 4:  # LONG
                sides[tag] = struct.unpack_from(prefix + "I", value)[0]
            elif kind == 16 and big:  # LONG8
                sides[tag] = struct.unpack_from(prefix + "Q", value)[0]
    if not sides[256] or not sides[257]:
        return ImageHeader("TIFF", sides[256], sides[257], 1,
                           "no TIFF ImageWidth or ImageLength tag")
    return ImageHeader("TIFF", sides[256], sides[257], 1, None)


def _bytes_at(head: bytes, size: int, read_at: ReadAt | None, offset: int,
              count: int) -> bytes | str:
    """Return ``count`` bytes at ``offset`` of the file, or why they cannot be had."""
    if offset + count <= len(head):
        return head[offset:offset + count]
    if offset + count > size:
        return "truncated TIFF: the file ends before its first IFD"
    if read_at is None:
        return f"the TIFF IFD lies beyond the {len(head)} bytes read (no reader for the rest)"
    got = read_at(offset, count)
    if len(got) < count:
        return "truncated TIFF: the file ends before its first IFD (a short read)"
    return got
