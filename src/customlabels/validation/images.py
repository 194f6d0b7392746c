"""The image stage of ``validate --images``: the file behind every source-ref, as the service
copies it (spec decision 9, ``docs/decisions.md``, "Image checks").

It runs on each manifest after its line scan and before its dataset rules, so that the 20% rule,
the counts, the validation manifests and the summary see the images' findings in their lines'
places. Which lines: each one that passed the first tier of line checks (a first-tier error
stops every later check of its line, L6726-6746) and is not dropped at import; valid, invalid
and ignored lines alike, since the service copies every image of a dataset.

What a line gets, after its other findings:

- ``ERROR_INVALID_IMAGE`` (the whole line is excluded, L6354-6357): a missing, unreadable or
  refused file, a format other than PNG or JPEG, a header that does not parse, more than 15 MB;
  and a side outside 64..4096 px or an aspect ratio over 20:1 on a classification line.
- ``ERROR_INVALID_IMAGE_DIMENSION`` instead, for the sides and the aspect ratio of an image with
  bounding boxes (L7577), unless the line's declared ``image_size`` already gave it.
- Ours, warnings, on an image the service accepts: ``WARNING_IMAGE_SIZE_MISMATCH`` (a box line's
  ``image_size`` is not the image's size), ``WARNING_IMAGE_ORIENTATION`` (a box line's JPEG has
  an EXIF orientation that rotates or mirrors it), ``WARNING_IMAGE_EXTENSION``.

When no image of a dataset could be read at all, the dataset gets ERROR_FAILED_IMAGES_S3_COPY.
"""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

from ..codes import CODE_NAMES, CODES
from ..images.batch import BatchStats, check_keys
from ..images.check import ImageCheck, wrong_extension
from ..manifest.records import iter_rows, load_object
from ..manifest.schema import INVALID, VALID, Finding
from .scan import ScanResult

_C = {name: i for i, name in enumerate(CODE_NAMES)}
INVALID_IMAGE = _C["ERROR_INVALID_IMAGE"]
IMAGE_DIMENSION = _C["ERROR_INVALID_IMAGE_DIMENSION"]
SIZE_MISMATCH = _C["WARNING_IMAGE_SIZE_MISMATCH"]
ORIENTATION = _C["WARNING_IMAGE_ORIENTATION"]
EXTENSION = _C["WARNING_IMAGE_EXTENSION"]
#: Lines whose image is not looked at: a first-tier error, or dropped at import.
_SKIP = frozenset(_C[c.name] for c in CODES.values()
                  if c.scope in ("line", "attribute", "annotation", "metadata")
                  and (c.tier == "first" or c.effect == "dropped"))
_DETECTION_KEY = b'"image_size"'
#: EXIF orientations that swap width and height when the image is shown (TIFF 6.0, tag 274).
_SWAPS_AXES = frozenset({5, 6, 7, 8})
_ORIENTATION_WORDS = {2: "mirrored", 3: "rotated 180 degrees", 4: "flipped upside down",
                      5: "mirrored and rotated 90 degrees", 6: "rotated 90 degrees clockwise",
                      7: "mirrored and rotated 90 degrees", 8: "rotated 90 degrees counter-clockwise"}


class ImageOutcome(NamedTuple):
    """What the image stage found in one manifest.

    Attributes:
        images: images looked at (one a line that passed the first tier).
        problems: images with a problem, by kind (``missing``, ``format``, ...).
        failed_copy: no image could be read at all (ERROR_FAILED_IMAGES_S3_COPY).
        batch: how the checks went (images read, taken from the cache, seconds).
    """

    images: int
    problems: dict[str, int]
    failed_copy: bool
    batch: BatchStats


def check_manifest_images(path: str, result: ScanResult, source: Any, *, cache: Any = None,
                          workers: int | None = None, backend: str = "auto",
                          progress: bool | None = False) -> ImageOutcome:
    """Check the images of the manifest at ``path`` (scanned as ``result``) and add the findings.

    ``result`` is updated in place: its problems, counts, dropped lines, label counts and lines
    of each kind, as if the scanner had found the images' problems itself. ``source``: a
    :class:`~customlabels.images.local.LocalImages` or :class:`~customlabels.images.s3.S3Images`;
    ``cache``: an :class:`~customlabels.images.cache.ImageCache` of it, or None; ``workers``:
    images checked at once; ``progress``: a bar over the images on stderr (None: when it is a
    terminal).
    """
    lines: list[tuple[int, bytes | None, int, list[Finding]]] = []
    keys: list[str] = []
    refused: dict[int, str] = {}
    key_of = source.key
    for line, raw, verdict, findings, source_ref, _labels, _boxes in iter_rows(
            path, backend=backend):
        if line > result.total:
            break
        if source_ref is None or (findings and any(c in _SKIP for c, _, _ in findings)):
            continue
        key, refusal = key_of(source_ref)
        if key is None:
            refused[len(lines)] = refusal
            key = ""
        lines.append((line, raw, verdict, findings))
        keys.append(key)
    wanted = [k for i, k in enumerate(keys) if i not in refused]
    from ..convert._common import Progress

    bar = Progress(len(wanted), f"images of {os.path.basename(path)}", progress, unit="image")
    try:
        checks, batch = check_keys(source, wanted, cache=cache, workers=workers,
                                   progress=bar.update)
    finally:
        bar.close()
    found = iter(checks)
    problems: dict[str, int] = {}
    added: dict[int, tuple[int, list[Finding]]] = {}
    readable = 0
    for i, ((line, raw, verdict, findings), key) in enumerate(zip(lines, keys)):
        if i in refused:
            check = ImageCheck(None, None, 0, 0, 1, "outside", f"{refused[i]}: not read")
        else:
            check = next(found)
        readable += check.readable
        if check.problem is not None:
            problems[check.problem] = problems.get(check.problem, 0) + 1
        new = _findings(check, raw, findings, source.name(key) if key else "")
        if new:
            added[line] = (verdict, new)
    if added:
        _merge(result, added, lines)
    return ImageOutcome(len(lines), problems, bool(lines) and readable == 0, batch)


def _findings(check: ImageCheck, raw: bytes | None, findings: list[Finding],
              name: str) -> list[Finding]:
    """Return the findings of a line's image (``name``: where it was looked for)."""
    detection = raw is not None and _DETECTION_KEY in raw
    if check.problem is not None:
        if check.problem == "dimension" and detection and _detection_sizes(raw):  # type: ignore[arg-type]
            if any(code == IMAGE_DIMENSION for code, _, _ in findings):
                return []  # the declared image_size already said it
            return [(IMAGE_DIMENSION, ("source-ref",), f"{name}: {check.detail}")]
        return [(INVALID_IMAGE, ("source-ref",), f"{check.problem}: {check.detail}")]
    out: list[Finding] = []
    extension = wrong_extension(name, check)
    if extension is not None:
        named = f"named {extension}" if extension else "named without an extension"
        out.append((EXTENSION, ("source-ref",), f"{name}: a {check.format} image {named}"))
    width, height, orientation = check.width, check.height, check.orientation
    if not detection or (orientation == 1 and _sizes_match(raw, width, height)):  # type: ignore[arg-type]
        return out
    for attr, declared in _detection_sizes(raw):  # type: ignore[arg-type]
        if declared == (width, height):
            if orientation != 1:
                out.append((ORIENTATION, (attr,), f"EXIF orientation {orientation}: "
                            f"{_ORIENTATION_WORDS.get(orientation, 'transformed')} when shown"))
        elif orientation in _SWAPS_AXES and declared == (height, width):
            out.append((ORIENTATION, (attr, "image_size", 0),
                        f"image_size {_size(declared)} is the size shown with EXIF orientation "
                        f"{orientation} ({_ORIENTATION_WORDS[orientation]}); the file is stored "
                        f"as {width}x{height}"))
        else:
            out.append((SIZE_MISMATCH, (attr, "image_size", 0),
                        f"image_size is {_size(declared)}, the image is {width}x{height} px"))
    return out


def _size(declared: tuple[Any, Any]) -> str:
    return f"{declared[0]:g}x{declared[1]:g}" if all(
        isinstance(v, (int, float)) for v in declared) else f"{declared[0]}x{declared[1]}"


_IMAGE_SIZE = re.compile(rb'"image_size"\s*:\s*\[\s*\{([^{}\[\]"]*(?:"[a-z]+"[^{}\[\]"]*)*)\}')
_PLAIN_SIZE = re.compile(
    rb'"image_size"\s*:\s*\[\s*\{\s*"width"\s*:\s*(\d+)\s*,\s*"height"\s*:\s*(\d+)\s*[,}]')
_WIDTH = re.compile(rb'"width"\s*:\s*([-+.eE0-9]+)')
_HEIGHT = re.compile(rb'"height"\s*:\s*([-+.eE0-9]+)')


def _sizes_match(raw: bytes, width: int, height: int) -> bool:
    """Tell, without parsing the line, whether every ``image_size`` in it is ``width`` x
    ``height`` (the common case); False when unsure, and the line is parsed."""
    if raw.count(_DETECTION_KEY) == 1:
        # one image_size, written as json.dumps and Ground Truth write it: one regex
        fast = _PLAIN_SIZE.search(raw)
        if fast is not None:
            return int(fast.group(1)) == width and int(fast.group(2)) == height
    found = False
    for match in _IMAGE_SIZE.finditer(raw):
        body = match.group(1)
        w, h = _WIDTH.search(body), _HEIGHT.search(body)
        try:
            if w is None or h is None or float(w.group(1)) != width or float(
                    h.group(1)) != height:
                return False
        except ValueError:
            return False
        found = True
    return found


def _detection_sizes(raw: bytes) -> list[tuple[str, tuple[Any, Any]]]:
    """Return ``(attribute, (width, height))`` of each bounding-box attribute of a line."""
    try:
        obj = load_object(raw)
    except ValueError:
        return []
    out = []
    for attr, value in obj.items():
        if not isinstance(value, dict) or attr.endswith("-metadata"):
            continue
        sizes = value.get("image_size")
        if isinstance(sizes, list) and sizes and isinstance(sizes[0], dict):
            size = sizes[0]
            out.append((attr, (size.get("width"), size.get("height"))))
    return out


def _merge(result: ScanResult, added: dict[int, tuple[int, list[Finding]]],
           lines: list[tuple[int, bytes | None, int, list[Finding]]]) -> None:
    """Add the images' findings to ``result`` and move the lines they invalidate."""
    from ._pyscan import check_line

    raws = {line: raw for line, raw, _, _ in lines if line in added}
    merged: list[tuple[int, int, list[Finding]]] = []
    problems = iter(result.problems)
    pending = sorted(added.items())
    current = next(problems, None)
    for line, (verdict, new) in pending:
        while current is not None and current[0] < line:
            merged.append(current)
            current = next(problems, None)
        old: list[Finding] = []
        if current is not None and current[0] == line:
            old = current[2]
            current = next(problems, None)
        invalidates = any(code in (INVALID_IMAGE, IMAGE_DIMENSION) for code, _, _ in new)
        if invalidates:
            if verdict != INVALID:
                _uncount(result, verdict, check_line(raws[line], line, {})[2])
            if any(code == INVALID_IMAGE for code, _, _ in new):
                result.dropped += 1
            verdict = INVALID
        merged.append((line, verdict, old + new))
    while current is not None:
        merged.append(current)
        current = next(problems, None)
    result.problems[:] = merged


def _uncount(result: ScanResult, verdict: int, info: Any) -> None:
    """Take a line that was valid or ignored out of the counts: it is invalid now."""
    result.counts[verdict] -= 1
    result.counts[INVALID] += 1
    if verdict != VALID or info is None:
        return
    _sref, _bucket, _declared, cls, det = info
    labels = result.labels
    for name in cls:
        labels[name][0] -= 1
    for name in det:
        labels[name][1] -= 1
    for name in dict.fromkeys(cls + det):
        labels[name][2] -= 1
    if cls:
        result.kind_lines[0] -= 1
    if det:
        result.kind_lines[1] -= 1

