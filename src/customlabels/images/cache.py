"""What earlier runs found in each image, so that a re-run reads no image that has not changed.

One file per image source (a mirror's real path, or an S3 endpoint) under the user cache folder
(:func:`cache_dir`). An entry is keyed by the image's key and holds the file's stamp, (size,
mtime, inode) for a local file or (size, ETag) for an S3 object, followed by its
:class:`~customlabels.images.check.ImageCheck`; it is used only when the stamp is unchanged. Only
what the file's bytes decide is kept: a missing or unreadable image is looked at again next time.

The file is replaced atomically (a temporary file, then a rename: a killed run leaves the old
cache or the new one, never a part), and a file that does not load (cut short by something
else, or of another version) is ignored and rebuilt. The cache is a shortcut, never a source of
truth: when it cannot be written the run's results are the same, and the report says why.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .check import UNREADABLE_KINDS, ImageCheck

_make = ImageCheck._make

#: Bumped whenever the probe or the checks change what they find, so that older entries are
#: not used.
CACHE_VERSION = 1
#: Entries kept at most a source; the oldest go first (a dict keeps insertion order).
MAX_ENTRIES = 2_000_000


def cache_dir() -> Path:
    """Return the folder of customlabels' caches.

    ``CUSTOMLABELS_CACHE_DIR`` when set; else the platform's user cache folder:
    ``$XDG_CACHE_HOME/customlabels`` or ``~/.cache/customlabels`` (Linux),
    ``~/Library/Caches/customlabels`` (macOS), ``%LOCALAPPDATA%\\customlabels\\Cache`` (Windows).
    """
    explicit = os.environ.get("CUSTOMLABELS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "customlabels" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "customlabels"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "customlabels"


class ImageCache:
    """The cached checks of one image source (``identity``: what names the source)."""

    def __init__(self, identity: str, directory: str | os.PathLike[str] | None = None):
        folder = cache_dir() if directory is None else Path(directory)
        digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        self.identity = identity
        self.path = folder / f"images-{digest}.json"
        self.hits = 0
        self.error: str | None = None
        self._entries: dict[str, list[Any]] = self._load()
        self._changed = False

    def _load(self) -> dict[str, list[Any]]:
        try:
            with open(self.path, "rb") as stream:
                doc = orjson.loads(stream.read())  # a fifth of json.load's time
        except FileNotFoundError:
            return {}
        # cut short or garbled by something else: rebuilt (orjson's error is a ValueError)
        except (OSError, ValueError) as exc:
            self.error = f"{self.path} was not used: {exc}"
            return {}
        if (not isinstance(doc, dict) or doc.get("version") != CACHE_VERSION
                or doc.get("identity") != self.identity
                or not isinstance(doc.get("entries"), dict)):
            return {}
        return doc["entries"]  # type: ignore[no-any-return]

    def get(self, key: str, stamp: Sequence[Any]) -> ImageCheck | None:
        """Return the check cached for ``key`` when its stamp is ``stamp``, else None."""
        entry = self._entries.get(key)
        n = len(stamp)
        # a stamp has 2 or 3 fields; comparing them one by one makes no lists
        if (entry is None or len(entry) != n + 7 or entry[0] != stamp[0]
                or entry[1] != stamp[1] or (n > 2 and entry[2:n] != list(stamp[2:]))):
            return None
        self.hits += 1
        return _make(entry[n:])

    def put(self, key: str, stamp: Sequence[Any], check: ImageCheck) -> None:
        """Keep ``check`` of ``key`` (stamped ``stamp``), unless it is about an unread file."""
        if check.problem in UNREADABLE_KINDS:
            return
        self._entries.pop(key, None)  # re-inserted last: the newest entries are kept longest
        self._entries[key] = [*stamp, *check]
        self._changed = True

    def save(self) -> bool:
        """Write the cache if anything was added; return whether it was written.

        A cache that cannot be written (a read-only home, a full disk) is not an error of the
        run: :attr:`error` says why, and the report shows it.
        """
        if not self._changed:
            return False
        from ..manifest.writer import os_error_text, replace_all

        entries = self._entries
        if len(entries) > MAX_ENTRIES:
            entries = dict(list(entries.items())[-MAX_ENTRIES:])
        doc = {"version": CACHE_VERSION, "identity": self.identity, "entries": entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with replace_all([self.path], durable=False) as (stream,):
                # ASCII: a key with a lone surrogate (kept from a \ud800 escape) loads back
                stream.write(json.dumps(doc, separators=(",", ":")).encode("ascii"))
        except (OSError, ValueError) as exc:
            text = os_error_text(exc, self.path) if isinstance(exc, OSError) else str(exc)
            self.error = f"the image cache was not written: {text}"
            return False
        self._changed = False
        return True
