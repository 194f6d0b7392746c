"""Images in a local mirror of the bucket: where a source-ref's file is, and what it holds.

``aws s3 sync s3://BUCKET/ DIR`` leaves the object ``KEY`` at ``DIR/KEY``; with a prefix
(``s3://BUCKET/some/prefix/``, for a mirror of a sub-folder) the part after the prefix is the
path under ``DIR``. A key is never decoded (S3 keys hold ``%`` literally), and one that could
lead out of ``DIR`` is refused before the file system is asked: an empty, ``.`` or ``..``
segment (``s3://b//etc/passwd`` would otherwise be absolute), a NUL. A symbolic link inside
``DIR`` that leads out is refused: a folder's real path is looked up once, the first time a key
in it is checked; a file that is itself a link is opened without ``O_NOFOLLOW`` only after that
open failed, and refused by the path the kernel opened.

Only the header is read: a ``stat``, one ``open``, ``fstat`` and a read of the first bytes,
more only where a JPEG's frame header lies further on. A FIFO, a device or a folder is
reported, never opened; a 10 GB file costs the same as a small one.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any, NamedTuple

from .._backend import resolve_backend
from ..errors import ImageSourceError
from ..limits import MAX_IMAGE_BYTES
from ..manifest.reader import mode_kind
from ..manifest.schema import source_ref_bucket
from .check import ImageCheck, failed, judge
from .probe import probe

#: Bytes read first; a PNG's header is in the first 33, a JPEG's frame header usually within
#: the first KiB or two, and what lies further is read where the probe asks for it (a read of
#: 4 KiB costs a third less than one of 16 KiB, benchmarks/bench_images.py).
FIRST_READ = 4096
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
try:
    from .. import _images as _compiled
except ImportError:  # built without the extension: the os module's calls
    _compiled = None  # type: ignore[assignment]
_PROC_FD = "/proc/self/fd/"
_HAS_PROC = os.path.isdir(_PROC_FD)


class Stamp(NamedTuple):
    """What identifies a local file's content for the cache: size, mtime and inode."""

    size: int
    mtime_ns: int
    inode: int


def key_refusal(key: str) -> str | None:
    """Return why ``key`` (a path under the mirror) is refused, or None when it is safe."""
    # an empty, "." or ".." segment needs a "//", a "/." or a "/" or "." at an end
    if (key and key[0] not in "./" and key[-1] != "/" and "//" not in key and "/." not in key
            and "\x00" not in key):
        return None
    if not key:
        return "the key is empty"
    if "\x00" in key:
        return "the key holds a NUL character"
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            shown = "an empty" if not segment else f"a {segment!r}"
            return f"the key has {shown} path segment, which could lead out of the mirror"
    return None


def object_key(source_ref: str) -> tuple[str, str]:
    """Return the bucket and key of a well-formed ``s3://BUCKET/KEY`` source-ref."""
    bucket, _, key = source_ref[5:].partition("/")
    return bucket, key


class LocalImages:
    """Images under ``root``, a local mirror of a bucket (or of ``prefix``, a part of one)."""

    kind = "local"

    def __init__(self, root: str, prefix: str | None = None, backend: str = "auto"):
        """``backend``: ``compiled`` (the system calls in ``customlabels._images``),
        ``python`` (the ``os`` module's), or ``auto`` (the first where it is built)."""
        if not os.path.isdir(root):
            raise ImageSourceError(f"--images {root}: not a folder")
        if prefix is not None:
            if not prefix.endswith("/"):
                prefix += "/"
            # the source-refs' own rule: a prefix that no source-ref could start with is refused
            if source_ref_bucket(prefix + "x") is None:
                raise ImageSourceError(f"--images-prefix {prefix}: not an s3://BUCKET/ or "
                                       "s3://BUCKET/PREFIX/ location")
            folder = object_key(prefix)[1].rstrip("/")
            refusal = None if not folder else key_refusal(folder)
            if refusal is not None:
                raise ImageSourceError(f"--images-prefix {prefix}: {refusal}")
        self.root = root
        # keys are refused when they could be absolute (key_refusal): a plain concatenation
        # joins them, at a fraction of os.path.join's cost on 20,000 images
        self._base = root if root.endswith(os.sep) else root + os.sep
        self.prefix = prefix
        self.real_root = os.path.realpath(root)
        self._inside = self.real_root.rstrip(os.sep) + os.sep
        #: folder (a key's part before its last "/") -> whether its real path is under the root
        self._folders: dict[str, bool] = {}
        self.identity = "local:" + self.real_root
        self._head = None if resolve_backend(
            backend, _compiled, "the compiled image reader customlabels._images is"
        ) == "python" else _compiled.head

    def key(self, source_ref: str) -> tuple[str | None, str | None]:
        """Return the path of ``source_ref``'s file under the root, or None and why not."""
        if self.prefix is not None:
            if not source_ref.startswith(self.prefix):
                return None, f"the source-ref is not under --images-prefix {self.prefix}"
            key = source_ref[len(self.prefix):]
        else:
            key = object_key(source_ref)[1]
        refusal = key_refusal(key)
        return (key, None) if refusal is None else (None, refusal)

    def name(self, key: str) -> str:
        """Return the file's path as users see it."""
        return self._base + key

    def stamp(self, key: str) -> Stamp | None:
        """Return the stamp of ``key``'s file for the cache; None when it is not a plain file."""
        try:
            info = os.stat(self._base + key)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        return Stamp(info.st_size, info.st_mtime_ns, info.st_ino)

    def check(self, key: str) -> tuple[ImageCheck, Stamp | None]:
        """Check the file of ``key``; return the check and the file's stamp (None: not read)."""
        if self._head is not None:
            return self._check_compiled(key)
        return self._check_python(key)

    def read(self, key: str, limit: int = MAX_IMAGE_BYTES) -> bytes:
        """Return the bytes of ``key``'s file, for decoding (the trainer, ``detect``).

        The same rules as a check: a key that could lead out, a link that leads out, a FIFO, a
        device or a folder is refused, and at most ``limit`` bytes are read. ``OSError`` (its
        message names the file) when the file cannot be read or is refused.
        """
        refusal = key_refusal(key)
        if refusal is not None:
            raise OSError(errno.EINVAL, f"{self._base + key}: {refusal}: not read")
        opened = self._open_file(key)
        if isinstance(opened, ImageCheck):
            raise OSError(errno.EIO, opened.detail)
        fd, info = opened
        try:
            if info.st_size > limit:
                raise OSError(errno.EFBIG, f"{self._base + key}: {info.st_size:,} bytes, over "
                                           f"the {limit:,} bytes an image may have")
            chunks = []
            left = info.st_size
            while left > 0:
                chunk = os.read(fd, left)
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def prefetch(self, keys: list[str]) -> Any:
        """Start the system calls of checking ``keys``' files and return at once: a thread
        of the C library makes them, holding no GIL (the compiled reader; None with the ``os``
        module's). :meth:`finish` judges what they read, so the next keys are read while the
        last ones are judged (:func:`~customlabels.images.batch.check_keys`)."""
        if self._head is None:
            return None
        base = self._base
        return _compiled.Reads([os.fsencode(base + key) for key in keys], FIRST_READ)

    def finish(self, keys: list[str], fetched: Any) -> list[tuple[ImageCheck, Stamp | None]]:
        """Return :meth:`check` of each of ``keys``, from what :meth:`prefetch` read."""
        if fetched is None:
            return [self._check_python(key) for key in keys]
        judge_head = self._judge_head
        return [judge_head(key, answer) for key, answer in zip(keys, fetched.answers())]

    def _check_compiled(self, key: str) -> tuple[ImageCheck, Stamp | None]:
        """:meth:`_check_python`, its system calls made by ``customlabels._images.head``."""
        return self._judge_head(key, self._head(  # type: ignore[misc]
            os.fsencode(self._base + key), FIRST_READ))

    def _judge_head(self, key: str, answer: tuple[int, int, int, int, int, int, bytes]
                    ) -> tuple[ImageCheck, Stamp | None]:
        """Judge ``key``'s file from the answer of ``customlabels._images.head``."""
        path = self._base + key
        state, err, mode, size, mtime_ns, inode, head = answer
        if state:
            if state == _compiled.NUL_IN_PATH:
                return self._check_python(key)  # the os module's ValueError
            if state == _compiled.OPEN_FAILED and err == errno.ELOOP:
                return self._check_python(key)  # the file is a link: where it leads is checked
            if state == _compiled.NOT_REGULAR or state == _compiled.CHANGED:
                return _not_a_file(path, mode), None
            step = {_compiled.STAT_FAILED: "stat", _compiled.OPEN_FAILED: "open"}.get(state, "read")
            return _os_failure(path, step, err, os.strerror(err)), None
        if not self._folder_within(key):
            return failed("outside", f"{path} is a link that leads out of {self.root}"), None
        stamp = Stamp(size, mtime_ns, inode)
        reader = None if len(head) >= size else _Reopen(path, stamp)
        try:
            return judge(probe(head, size, reader), size), stamp
        except OSError as exc:
            return _os_failure(path, "read", exc.errno, exc.strerror or str(exc)), None
        finally:
            if reader is not None:
                reader.close()

    def _check_python(self, key: str) -> tuple[ImageCheck, Stamp | None]:
        """Check the file of ``key`` with the os module's calls (the reference path)."""
        opened = self._open_file(key)
        if isinstance(opened, ImageCheck):
            return opened, None
        fd, info = opened
        try:
            size = info.st_size
            head = os.read(fd, min(size, FIRST_READ)) if size else b""

            def read_at(offset: int, count: int) -> bytes:
                return os.pread(fd, count, offset)

            check = judge(probe(head, size, read_at), size)
        except OSError as exc:
            return _os_failure(self._base + key, "read", exc.errno,
                               exc.strerror or str(exc)), None
        finally:
            os.close(fd)
        return check, Stamp(size, info.st_mtime_ns, info.st_ino)

    def _open_file(self, key: str) -> tuple[int, os.stat_result] | ImageCheck:
        """Open ``key``'s file for reading; return the descriptor and its ``fstat``, or the
        check of a file that cannot be read (the caller closes the descriptor).

        A ``stat`` first: a FIFO, a device or a folder is never opened. The open does not
        follow a link at the end of the path; a file that is a link is opened again, and
        refused when what it leads to is not under the root.
        """
        path = self._base + key
        try:
            info = os.stat(path)
        except OSError as exc:
            return _os_failure(path, "stat", exc.errno, exc.strerror or str(exc))
        if not stat.S_ISREG(info.st_mode):
            return _not_a_file(path, info.st_mode)
        linked = False
        try:
            try:
                fd = os.open(path, _FLAGS | _NOFOLLOW)
            except OSError as exc:
                if exc.errno != errno.ELOOP or not _NOFOLLOW:
                    raise
                fd = os.open(path, _FLAGS)  # the file is a link: where it leads is checked
                linked = True
        except OSError as exc:
            return _os_failure(path, "open", exc.errno, exc.strerror or str(exc))
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):  # replaced between the stat and the open
                refused = _not_a_file(path, opened.st_mode)
            elif not (self._within(fd, path) if linked or not _NOFOLLOW
                      else self._folder_within(key)):
                refused = failed("outside", f"{path} is a link that leads out of {self.root}")
            else:
                return fd, opened
        except OSError as exc:
            refused = _os_failure(path, "read", exc.errno, exc.strerror or str(exc))
        os.close(fd)
        return refused

    def _folder_within(self, key: str) -> bool:
        """Tell whether the folder holding ``key``'s file lies under the real root."""
        folder = key[:key.rfind("/") + 1]
        inside = self._folders.get(folder)
        if inside is None:
            real = os.path.realpath(self._base + folder)
            inside = self._folders[folder] = (real.rstrip(os.sep) + os.sep).startswith(
                self._inside)
        return inside

    def _within(self, fd: int, path: str) -> bool:
        """Tell whether the file open as ``fd`` lies under the real root."""
        try:
            real = os.readlink(_PROC_FD + str(fd)) if _HAS_PROC else os.path.realpath(path)
        except OSError:
            real = os.path.realpath(path)
        return real.startswith(self._inside)


class _Reopen:
    """Reads past the first bytes of a file checked by ``customlabels._images.head``, which
    closed it: it is opened again on the first read, and refused if it is no longer the file
    the first bytes came from (another size, mtime or inode)."""

    __slots__ = ("path", "stamp", "fd")

    def __init__(self, path: str, stamp: Stamp) -> None:
        self.path = path
        self.stamp = stamp
        self.fd: int | None = None

    def __call__(self, offset: int, count: int) -> bytes:
        if self.fd is None:
            fd = os.open(self.path, _FLAGS | _NOFOLLOW)
            info = os.fstat(fd)
            if (not stat.S_ISREG(info.st_mode)
                    or (info.st_size, info.st_mtime_ns, info.st_ino) != self.stamp):
                os.close(fd)
                raise OSError(errno.ESTALE, "the file changed while it was read")
            self.fd = fd
        return os.pread(self.fd, count, offset)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _os_failure(path: str, step: str, err: int | None, text: str) -> ImageCheck:
    """Return the check of a file whose ``step`` (``stat``, ``open`` or ``read``) failed with
    ``err`` (``text``: its words): the same for both readers."""
    if err == errno.ENOENT and step != "read":
        return failed("missing", f"{path} does not exist" if step == "stat" else f"{path}: {text}")
    if step == "stat" and err in (errno.EACCES, errno.EPERM):
        return failed("unreadable", f"{path}: permission denied")
    return failed("unreadable", f"{path}: {text}")


def _not_a_file(path: str, mode: int) -> ImageCheck:
    return failed("not_a_file", f"{path} is {_file_kind(mode)}, not a file")


def _file_kind(mode: int) -> str:
    return "a folder" if stat.S_ISDIR(mode) else mode_kind(mode) or "not a regular file"
