"""Typed stub of the local image reader's system calls (``ext/_images.pyx``); the reference
is :meth:`customlabels.images.local.LocalImages._check_python`."""

HEAD_READ: int
STAT_FAILED: int
NOT_REGULAR: int
OPEN_FAILED: int
CHANGED: int
READ_FAILED: int
NUL_IN_PATH: int

def head(path: bytes, first: int) -> tuple[int, int, int, int, int, int, bytes]:
    """Return ``(state, errno, mode, size, mtime_ns, inode, head)`` for the file at ``path``."""

def heads(paths: list[bytes], first: int) -> list[tuple[int, int, int, int, int, int, bytes]]:
    """Return :func:`head`'s answer for each of ``paths``, in order, read without the GIL."""

class Reads:
    """The heads of ``paths``, read by a C thread started by the constructor."""

    def __init__(self, paths: list[bytes], first: int) -> None: ...
    def answers(self) -> list[tuple[int, int, int, int, int, int, bytes]]:
        """Return :func:`head`'s answer for each path, in order (waits for the reads)."""
