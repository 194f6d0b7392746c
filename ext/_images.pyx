# cython: language_level=3
"""The system calls of a local image check at the C level: what
``customlabels.images.local.LocalImages`` does with ``os.stat``, ``os.open``, ``os.fstat``,
``os.read`` and ``os.close``, in one call an image and without the Python objects each of those
calls makes (a ``stat_result`` is dearer than the ``stat`` itself).

The policy stays in Python (``src/customlabels/images/local.py``), which also holds the
reference path used where this extension is not built; ``tests/images/test_local.py`` holds
the two to the same checks.
"""

from libc.errno cimport EINTR, errno
from posix.fcntl cimport O_NONBLOCK, O_RDONLY, open
from posix.stat cimport S_ISREG, fstat, stat, struct_stat
from posix.unistd cimport close, read
from libc.string cimport memchr
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize

cdef extern from "<fcntl.h>" nogil:
    enum: O_CLOEXEC
    enum: O_NOFOLLOW

#: What ``head`` stopped at (the first field of its answer).
HEAD_READ = 0  # a regular file: its first bytes are read
STAT_FAILED = 1  # stat() of the path failed (errno)
NOT_REGULAR = 2  # stat() says it is no regular file (mode): never opened
OPEN_FAILED = 3  # open() failed (errno; ELOOP: the file is a symbolic link)
CHANGED = 4  # what was opened is no regular file (mode): never read
READ_FAILED = 5  # read() failed (errno)


def head(bytes path, Py_ssize_t first):
    """Return ``(state, errno, mode, size, mtime_ns, inode, head)`` for the file at ``path``.

    As the Python path does it: ``stat`` (a FIFO, a device or a folder is never opened),
    ``open`` with ``O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC``, ``fstat`` of what was opened (no
    read unless it is a regular file), a read of at most ``first`` bytes, ``close``. The
    state is one of the module's constants; ``head`` is the bytes read (``b""`` otherwise).
    """
    cdef struct_stat info
    cdef const char *name = PyBytes_AS_STRING(path)
    if memchr(name, 0, len(path)) != NULL:
        raise ValueError("embedded null byte")  # as the os module says it
    cdef int fd, rc, err = 0
    cdef Py_ssize_t want, got = 0, n
    cdef long long mtime_ns
    cdef object buffer
    cdef char *out
    with nogil:
        rc = stat(name, &info)
    if rc != 0:
        return STAT_FAILED, errno, 0, 0, 0, 0, b""
    if not S_ISREG(info.st_mode):
        return NOT_REGULAR, 0, info.st_mode, 0, 0, 0, b""
    with nogil:
        while True:
            fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)
            if fd >= 0 or errno != EINTR:
                break
        if fd < 0:
            err = errno
    if fd < 0:
        return OPEN_FAILED, err, 0, 0, 0, 0, b""
    with nogil:
        rc = fstat(fd, &info)
        if rc != 0:
            err = errno
    if rc != 0:
        close(fd)
        return READ_FAILED, err, 0, 0, 0, 0, b""
    mtime_ns = info.st_mtim.tv_sec * 1000000000 + info.st_mtim.tv_nsec
    if not S_ISREG(info.st_mode):
        close(fd)
        return CHANGED, 0, info.st_mode, info.st_size, mtime_ns, info.st_ino, b""
    want = first if info.st_size > first else info.st_size
    buffer = PyBytes_FromStringAndSize(NULL, want)
    out = PyBytes_AS_STRING(buffer)
    with nogil:
        while got < want:
            n = read(fd, out + got, want - got)
            if n < 0:
                if errno == EINTR:
                    continue
                err = errno
                break
            if n == 0:
                break
            got += n
        close(fd)
    if err:
        return READ_FAILED, err, 0, 0, 0, 0, b""
    if got < want:
        buffer = buffer[:got]
    return HEAD_READ, 0, info.st_mode, info.st_size, mtime_ns, info.st_ino, buffer
