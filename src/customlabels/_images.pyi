"""Typed stub of the local image reader's system calls (``ext/_images.pyx``); the reference
is :meth:`customlabels.images.local.LocalImages._check_python`."""

HEAD_READ: int
STAT_FAILED: int
NOT_REGULAR: int
OPEN_FAILED: int
CHANGED: int
READ_FAILED: int

def head(path: bytes, first: int) -> tuple[int, int, int, int, int, int, bytes]:
    """Return ``(state, errno, mode, size, mtime_ns, inode, head)`` for the file at ``path``."""
