"""Write files atomically, alone or several all-or-nothing; annotate JSON Lines with findings.

One file (:func:`atomic_write`) is written to a temporary file beside it (`.NAME.customlabels.tmp`)
and renamed over it: a rename is atomic, so readers see the old file or the whole new one.

Several files (:func:`replace_all`, used where a command changes a pair such as ``distribute
--in-place``) cannot be renamed at once, so the renames are journaled:

1. each new file is written to ``.NAME.customlabels.tmp`` beside its target, and fsynced
   (unless the writer says its outputs can be made again: ``durable=False``);
2. a journal ``.NAME.customlabels-journal`` is written beside *every* target, each naming all the
   planned renames (paths relative to its folder), and fsynced: once all of them exist the
   change is committed;
3. the renames are done, in order, then the journals are removed.

A process killed on the way leaves temporary files and perhaps journals. The next write of any
of those targets (and ``distribute``, before it reads its pair) calls :func:`recover` first:
with every journal of the change present it finishes the renames (*completed*); otherwise the
change never committed, or had finished, and the temporary files left are removed (*rolled
back*: every target keeps its old content). Either way the targets are consistent again, and one
line per change says which (:data:`on_recovery`; the command line prints it on stderr).

A process that is still writing holds an advisory lock (``flock``) on its temporary files and
journals; recovery leaves those alone, and a second writer of the same target fails with
``FileExistsError`` rather than interleave. Where ``fcntl`` is missing (Windows) there is no
lock, and any leftover counts as stale.

Permissions and links: a file replaced keeps its permission bits (an in-place edit of a 0600
manifest stays 0600); a new file gets what the umask leaves of 0666, as any program's. A path
that is a symbolic link is written through: its target is replaced and the link stays
(:func:`real_target`).

Test hook: with the environment variable ``CUSTOMLABELS_TEST_KILL_AT`` set to ``before-journal``
(the new files written, no journal yet), ``after-journal-N`` (N journals written),
``before-rename`` (every journal written, nothing renamed) or ``after-rename-N`` (N renames
done), a multi-file write kills its own process with SIGKILL at that point. Only the tests set
it, to check that the next run recovers.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

try:
    import fcntl
except ImportError:  # Windows: no advisory locks (see the module's docstring)
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".customlabels.tmp"
JOURNAL_SUFFIX = ".customlabels-journal"
#: The test hook (see the module's docstring).
KILL_VARIABLE = "CUSTOMLABELS_TEST_KILL_AT"
_JOURNAL_FORMAT = 1


def temp_path(target: str | os.PathLike[str]) -> Path:
    """Return where the new content of ``target`` is written before it replaces it."""
    path = Path(target)
    return path.with_name(f".{path.name}{TEMP_SUFFIX}")


def public_name(path: str | os.PathLike[str]) -> str:
    """Return the file a message should name: a temporary file's target, else ``path``.

    An error raised while writing ``.NAME.customlabels.tmp`` is about ``NAME`` for the user.
    """
    given = Path(path)
    for suffix in (TEMP_SUFFIX, JOURNAL_SUFFIX):
        if given.name.startswith(".") and given.name.endswith(suffix):
            return str(given.with_name(given.name[1:-len(suffix)]))
    return str(path)


def os_error_text(exc: OSError, path: str | os.PathLike[str] | None = None) -> str:
    """Return ``PATH: why`` for an error met while writing, in the user's terms.

    The path is the output the user named (never our temporary file); an output whose folder
    is a file says so (the system says "File exists" or "Not a directory").
    """
    where = public_name(exc.filename) if exc.filename else os.fspath(path or "")
    system = exc.strerror in (os.strerror(errno.EEXIST), os.strerror(errno.ENOTDIR))
    if system and exc.errno in (errno.EEXIST, errno.ENOTDIR) and where:
        for place in (Path(where), *Path(where).parents):  # the first that exists
            if place.exists():
                if place.is_dir():
                    break
                if place == Path(where):
                    return f"{where} is a file, not a folder"
                return f"{where}: {place} is a file, not a folder"
    if exc.errno == errno.EISDIR and where:
        return f"{where}: is a folder, not a file"
    why = exc.strerror or str(exc)
    return f"{where}: {why}" if where else why


def journal_path(target: str | os.PathLike[str]) -> Path:
    """Return the journal beside ``target`` of a multi-file change that includes it."""
    path = Path(target)
    return path.with_name(f".{path.name}{JOURNAL_SUFFIX}")


@dataclass(frozen=True)
class Recovery:
    """What :func:`recover` did to an interrupted write.

    Attributes:
        action: ``completed`` (every target has its new content) or ``rolled_back`` (every
            target kept its old content).
        targets: the files of the interrupted write, as paths.
    """

    action: str
    targets: tuple[str, ...]

    @property
    def message(self) -> str:
        """Return the one line that tells the user."""
        names = ", ".join(self.targets)
        if self.action == "completed":
            return (f"{names}: an interrupted write was completed "
                    "(every file now has its new content)")
        return (f"{names}: an interrupted write was rolled back "
                "(every file keeps its previous content)")


def _log_recovery(recovery: Recovery) -> None:
    import logging  # only when there is something to say

    logging.getLogger("customlabels").warning(recovery.message)


#: Called with each :class:`Recovery`; by default a warning of the ``customlabels`` logger
#: (stderr when logging is not set up). The command line prints ``customlabels: MESSAGE``.
on_recovery: Callable[[Recovery], None] = _log_recovery


def _try_lock(fd: int) -> bool:
    """Take the advisory lock of ``fd``; tell whether it was free."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _in_use(path: Path) -> bool:
    """Tell whether a live writer holds ``path`` (a temporary file or a journal)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)  # releases the lock taken to look


def _fsync_dirs(paths: Sequence[Path]) -> None:
    """Make the renames and new names in the folders of ``paths`` durable (where possible)."""
    for directory in dict.fromkeys(os.path.abspath(p.parent) for p in paths):
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:  # a platform that cannot open folders (Windows)
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _unlink(path: Path) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _read_journal(path: Path) -> dict[str, Any] | None:
    """Return the journal at ``path``, or None when it is missing or not a whole journal.

    Journals are written in full before the first rename, so one that does not parse was
    being written when its process died: its change never committed.
    """
    try:
        with open(path, "rb") as stream:
            doc = json.loads(stream.read())
    except FileNotFoundError:
        return None
    except ValueError:
        return None
    if (not isinstance(doc, dict) or doc.get("customlabels_journal") != _JOURNAL_FORMAT
            or not isinstance(doc.get("id"), str) or not isinstance(doc.get("renames"), list)
            or not all(isinstance(pair, list) and len(pair) == 2
                       and all(isinstance(p, str) for p in pair) for pair in doc["renames"])):
        return None
    return doc


def _recover_change(journal: Path, doc: dict[str, Any]) -> Recovery | None:
    """Complete or roll back the change ``doc`` (read from ``journal``); None while it runs."""
    base = journal.parent
    pairs = [(Path(os.path.normpath(base / temp)), Path(os.path.normpath(base / target)))
             for temp, target in doc["renames"]]
    copies = [journal_path(target) for _, target in pairs]
    if any(_in_use(path) for path in copies + [temp for temp, _ in pairs]):
        return None
    ids = [(_read_journal(copy) or {}).get("id") for copy in copies]
    names = tuple(str(target) for _, target in pairs)
    if all(i == doc["id"] for i in ids):  # committed: finish the renames
        for temp, target in pairs:
            if temp.exists():
                os.replace(temp, target)
        _fsync_dirs([target for _, target in pairs])
        for copy in copies:
            _unlink(copy)
        return Recovery("completed", names)
    # not committed (or finished, with some journals already removed): drop what is left,
    # except a temporary file that a later change's journal claims
    left = [temp for (temp, target), copy_id in zip(pairs, ids)
            if copy_id in (None, doc["id"]) and temp.exists()]
    for copy, copy_id in zip(copies, ids):
        if copy_id == doc["id"]:
            _unlink(copy)
    for temp in left:
        _unlink(temp)
    return Recovery("rolled_back" if left else "completed", names)


#: Folders whose leftovers this process has looked for already. Other targets' leftovers are
#: looked for once a folder (a batch writes thousands of files into one); a target's own
#: leftover is looked for at every write of it.
_SWEPT: set[str] = set()


def recover(targets: Sequence[str | os.PathLike[str]]) -> list[Recovery]:
    """Complete or roll back any interrupted write of ``targets``; return what was done.

    Each change found is reported to :data:`on_recovery` as well. A change still being
    written by a live process is left alone. ``OSError`` when a leftover cannot be removed.
    """
    done: list[Recovery] = []
    seen: set[str] = set()
    paths = [real_target(t) for t in targets]
    for target in paths:
        journal = journal_path(target)
        if not journal.exists():
            continue
        doc = _read_journal(journal)
        if doc is None:
            if not _in_use(journal):  # a journal cut short: that change never committed
                _unlink(journal)
            continue
        if doc["id"] in seen:
            continue
        seen.add(doc["id"])
        recovery = _recover_change(journal, doc)
        if recovery is not None:
            done.append(recovery)
    # a temporary file with no journal beside its target was never committed: ours, in the
    # folders written to, whatever target a killed run was writing
    candidates = dict.fromkeys(paths)
    for folder in dict.fromkeys(t.parent for t in paths):
        if str(folder.absolute()) in _SWEPT:  # a batch writes many files into one folder
            continue
        _SWEPT.add(str(folder.absolute()))
        try:
            for temp in folder.glob(f".*{TEMP_SUFFIX}"):
                candidates.setdefault(folder / temp.name[1:-len(TEMP_SUFFIX)])
        except OSError:  # a folder we cannot list: its files are left alone
            continue
    stray = [target for target in candidates
             if temp_path(target).exists() and not journal_path(target).exists()
             and not _in_use(temp_path(target))]
    for target in stray:
        _unlink(temp_path(target))
    if stray:
        done.append(Recovery("rolled_back", tuple(str(t) for t in stray)))
    for recovery in done:
        on_recovery(recovery)
    return done


def _open_exclusive(path: Path, target: Path, mode: int | None = None) -> int:
    """Create ``path`` (a temporary file or a journal of ``target``) and lock it.

    ``mode``: the permission bits to give it (those of the file it replaces); None: what the
    umask leaves of ``0o666``, as for any new file.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o666)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, f"being written by another process ({path.name} "
                              "is in use)", str(target)) from None
    if not _try_lock(fd):  # a recovery looked at it just now: let it go
        os.close(fd)
        raise FileExistsError(errno.EEXIST, f"being written by another process ({path.name} "
                              "is in use)", str(target))
    if mode is not None and hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    return fd


def _mode_of(target: Path) -> int | None:
    """Return the permission bits of the file ``target`` names, None when there is none.

    ``IsADirectoryError`` when it names a directory: no file can replace it.
    """
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(target))
    return stat.S_IMODE(mode)


def same_file(a: Path, b: Path) -> bool:
    """Tell whether two paths name one file (links and ``..`` resolved); False on an error."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def real_target(path: str | os.PathLike[str]) -> Path:
    """Return the file a write of ``path`` must replace: a symbolic link's target, else ``path``.

    Renaming over a link would replace the link by a regular file and leave the file it
    names unchanged; an in-place edit through a link edits the file, as an editor does.
    """
    target = Path(path)
    if target.is_symlink():
        return Path(os.path.realpath(target))
    return target


def _test_kill(point: str) -> None:
    """The test hook: SIGKILL this process at ``point`` when the tests ask for it."""
    if os.environ.get(KILL_VARIABLE) == point:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def replace_all(paths: Sequence[str | os.PathLike[str]], *, durable: bool = True
                ) -> Iterator[list[BinaryIO]]:
    """Open a stream for each of ``paths``; on success replace them all, or none.

    ``durable``: the new files and the journals are fsynced before the renames, so that the
    change also survives a power loss. A writer whose targets are outputs it can make again
    from inputs it leaves alone (``split``) passes False: the journal protocol is the same, so a
    killed process is recovered as well, without the cost of flushing the disk cache.

    Interrupted writes of those paths are recovered first (:func:`recover`). On an error in
    the ``with`` block nothing is replaced and the temporary files are removed. A process
    killed during the renames leaves a journal that the next write of any of the paths
    completes (see the module's docstring). ``FileExistsError`` when another process is
    writing one of them; ``ValueError`` when a path is given twice.
    """
    targets = [real_target(p) for p in paths]
    if len({os.path.abspath(t) for t in targets}) != len(targets):
        raise ValueError("replace_all: a file is named twice")
    recover(targets)
    # a file replaced keeps its permissions; a directory in the way is found before anything
    # is written (a rename over it would fail after the first ones)
    modes = [_mode_of(t) for t in targets]
    streams: list[BinaryIO] = []
    journals: list[int] = []
    renamed = 0
    committed = False
    try:
        for target, mode in zip(targets, modes):
            streams.append(os.fdopen(_open_exclusive(temp_path(target), target, mode), "wb",
                                     buffering=1 << 20))
        yield streams
        for stream in streams:
            stream.flush()
        if len(targets) > 1:
            # the journals commit the change: what they name must be on disk before them. (One
            # file is not fsynced, as before: its rename is atomic for a killed process, and
            # an fsync a write would slow down every large output.)
            if durable:
                for stream in streams:
                    os.fsync(stream.fileno())
            _test_kill("before-journal")
            change = os.urandom(8).hex()
            for target in targets:
                journals.append(_write_journal(target, targets, change, durable))
                _test_kill(f"after-journal-{len(journals)}")
            if durable:
                _fsync_dirs(targets)
            committed = True
            _test_kill("before-rename")
        for target in targets:
            os.replace(temp_path(target), target)
            renamed += 1
            if committed:
                _test_kill(f"after-rename-{renamed}")
        if committed and durable:
            _fsync_dirs(targets)
    except BaseException:
        if not renamed:  # nothing replaced yet: undo, the journals first (see recover)
            for target, _fd in zip(targets, journals):
                _unlink(journal_path(target))
            for target in targets[:len(streams)]:
                _unlink(temp_path(target))
        # else committed and partly renamed: the journals stay for the next run to complete
        raise
    finally:
        for stream in streams:
            stream.close()
        if committed and renamed == len(targets):
            for target in targets:
                _unlink(journal_path(target))
        for fd in journals:  # the locks go last: a recovery sees the change until it is done
            os.close(fd)


def _write_journal(target: Path, targets: list[Path], change: str, durable: bool = True) -> int:
    """Write the journal of ``change`` beside ``target``; return its (locked) descriptor."""
    path = journal_path(target)
    fd = _open_exclusive(path, target)
    try:
        base = os.path.abspath(path.parent)
        doc = {"customlabels_journal": _JOURNAL_FORMAT, "id": change, "pid": os.getpid(),
               "renames": [[os.path.relpath(os.path.abspath(temp_path(t)), base),
                            os.path.relpath(os.path.abspath(t), base)] for t in targets]}
        data = json.dumps(doc).encode() + b"\n"
        while data:
            data = data[os.write(fd, data):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink(path)
        raise
    return fd


#: How long an in-place edit waits for another one of the same file before it gives up.
EDIT_WAIT_SECONDS = 30.0


@contextmanager
def edit_lock(paths: Sequence[str | os.PathLike[str]], wait: float | None = None
              ) -> Iterator[None]:
    """Hold an exclusive lock on each existing file of ``paths`` while it is edited in place.

    An in-place edit reads a file, writes its new content beside it and renames that over it;
    two at once would each start from the old content, and the first one's change would be
    lost. With the lock, the second waits (up to ``wait`` seconds, :data:`EDIT_WAIT_SECONDS`
    by default) and then reads what the first one wrote: the file's identity is checked after
    the lock is taken, and a file replaced meanwhile is locked again. ``FileExistsError``
    (naming the file) when the wait runs out. The lock is ``flock`` on the file itself, so a
    killed process leaves none; without ``fcntl`` (Windows) there is no lock.
    """
    import time

    if fcntl is None:
        yield
        return
    limit = time.monotonic() + (EDIT_WAIT_SECONDS if wait is None else wait)
    held: list[int] = []
    try:
        for target in sorted({os.path.abspath(real_target(p)) for p in paths}):
            while True:
                try:
                    # O_NONBLOCK: a named pipe given by mistake must not block the open
                    fd = os.open(target, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
                                 | getattr(os, "O_NONBLOCK", 0))
                except FileNotFoundError:
                    break  # nothing to lock: the edit creates it
                if _try_lock(fd):
                    try:
                        same = os.fstat(fd).st_ino == os.stat(target).st_ino
                    except FileNotFoundError:
                        same = False
                    if same:
                        held.append(fd)
                        break
                os.close(fd)  # replaced while we waited, or still held: look again
                if time.monotonic() > limit:
                    raise FileExistsError(errno.EEXIST, "being edited by another customlabels "
                                          "process; try again when it has finished", target)
                time.sleep(0.02)
        yield
    finally:
        for fd in held:
            os.close(fd)


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    Readers see the old file or the whole new one, never a part; on error the temporary file is
    removed and ``path`` is left as it was. An interrupted write of ``path`` (a temporary
    file, a journal) is recovered first (:func:`recover`).
    """
    with replace_all([path]) as (stream,):
        yield stream


# A number literal goes through json.dumps as a marked string, then the marks are removed. The
# random token keeps any string a manifest may hold from looking like a mark.
_TOKEN = os.urandom(8).hex()
_MARK = f"\x00{_TOKEN}:"
_MARKED = re.compile(rb'"\\u0000' + _TOKEN.encode() + rb':([-+.eE0-9]+)\\u0000"')


def _literal(value: Any) -> str:
    text = getattr(value, "text", None)  # validation._pyscan.NumberLiteral
    if text is None:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
    return f"{_MARK}{text}\x00"


def dumps_document(obj: Any, indent: int = 4) -> bytes:
    """Serialise a JSON file (a summary) as UTF-8 and a newline, escaping only if it must.

    A lone surrogate (a ``\\ud800`` escape in an input, kept in a label name) cannot be
    UTF-8: then the document is written with every non-ASCII character escaped.
    """
    text = json.dumps(obj, indent=indent, ensure_ascii=False) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(obj, indent=indent) + "\n").encode("ascii")


def dumps_line(obj: Any) -> bytes:
    """Serialise one JSON Line as UTF-8 (escaping only what UTF-8 cannot hold).

    Numbers read as :class:`~customlabels.validation._pyscan.NumberLiteral` are written as they
    were read, so a line never gains a non-JSON ``Infinity``.
    """
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_literal)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \\uD800-style escapes
        text = json.dumps(obj, allow_nan=False, default=_literal)
        data = text.encode("ascii")
    if _TOKEN.encode() in data:
        data = _MARKED.sub(rb"\1", data)
    return data


def attach(obj: dict[str, Any], where: tuple[str | int, ...], key: str,
           entry: dict[str, str]) -> None:
    """Append ``entry`` to the ``key`` list ("errors" or "warnings") of the object at ``where``.

    ``where`` walks from the line down; where it stops being an object, the entry goes into the
    deepest object reached, the line itself at worst.
    """
    node: dict[str, Any] = obj
    current: Any = obj
    for step in where:
        if isinstance(current, dict) and isinstance(step, str):
            current = current.get(step)
        elif isinstance(current, list) and isinstance(step, int) and 0 <= step < len(current):
            current = current[step]
        else:
            break
        if isinstance(current, dict):
            node = current
    existing = node.get(key, [])
    node[key] = (existing if isinstance(existing, list) else [existing]) + [entry]
