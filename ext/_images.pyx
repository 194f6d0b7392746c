# cython: language_level=3
"""The system calls of a local image check at the C level: what
``customlabels.images.local.LocalImages`` does with ``os.stat``, ``os.open``, ``os.fstat``,
``os.read`` and ``os.close``, in one call an image (``head``) or a list of them (``heads``,
which holds no GIL while it reads them all), and without the Python objects each of those
calls makes (a ``stat_result`` is dearer than the ``stat`` itself).

The policy stays in Python (``src/customlabels/images/local.py``), which also holds the
reference path used where this extension is not built; ``tests/images/test_local.py`` holds
the two to the same checks.
"""

from libc.errno cimport EINTR, errno
from libc.stdlib cimport free, malloc
from libc.string cimport memchr
from posix.fcntl cimport O_NONBLOCK, O_RDONLY, open
from posix.stat cimport S_ISREG, fstat, stat, struct_stat
from posix.unistd cimport close, read
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize

cdef extern from "<fcntl.h>" nogil:
    enum: O_CLOEXEC
    enum: O_NOFOLLOW

cdef enum:
    # what ``head`` stopped at (the first field of its answer)
    C_HEAD_READ = 0  # a regular file: its first bytes are read
    C_STAT_FAILED = 1  # stat() of the path failed (errno)
    C_NOT_REGULAR = 2  # stat() says it is no regular file (mode): never opened
    C_OPEN_FAILED = 3  # open() failed (errno; ELOOP: the file is a symbolic link)
    C_CHANGED = 4  # what was opened is no regular file (mode): never read
    C_READ_FAILED = 5  # read() failed (errno)
    C_NUL_IN_PATH = 6  # (heads only) the path holds a NUL byte: nothing was asked of the system

#: The states, for Python (see the enum above).
HEAD_READ = C_HEAD_READ
STAT_FAILED = C_STAT_FAILED
NOT_REGULAR = C_NOT_REGULAR
OPEN_FAILED = C_OPEN_FAILED
CHANGED = C_CHANGED
READ_FAILED = C_READ_FAILED
NUL_IN_PATH = C_NUL_IN_PATH


cdef struct Answer:
    int state
    int err
    long long mode
    long long size
    long long mtime_ns
    long long inode
    Py_ssize_t got


cdef void read_head(const char *name, Py_ssize_t first, char *out, Answer *a) noexcept nogil:
    """Fill ``a`` (and ``out``, at least ``first`` bytes) for the file at ``name``."""
    cdef struct_stat info
    cdef int fd
    cdef Py_ssize_t want, n
    a.err = 0
    a.mode = a.size = a.mtime_ns = a.inode = 0
    a.got = 0
    if stat(name, &info) != 0:
        a.state = C_STAT_FAILED
        a.err = errno
        return
    if not S_ISREG(info.st_mode):
        a.state = C_NOT_REGULAR
        a.mode = info.st_mode
        return
    while True:
        fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)
        if fd >= 0 or errno != EINTR:
            break
    if fd < 0:
        a.state = C_OPEN_FAILED
        a.err = errno
        return
    if fstat(fd, &info) != 0:
        a.state = C_READ_FAILED
        a.err = errno
        close(fd)
        return
    a.mode = info.st_mode
    a.size = info.st_size
    a.mtime_ns = info.st_mtim.tv_sec * 1000000000 + info.st_mtim.tv_nsec
    a.inode = info.st_ino
    if not S_ISREG(info.st_mode):
        a.state = C_CHANGED
        close(fd)
        return
    want = first if info.st_size > first else info.st_size
    while a.got < want:
        n = read(fd, out + a.got, want - a.got)
        if n < 0:
            if errno == EINTR:
                continue
            a.err = errno
            break
        if n == 0:
            break
        a.got += n
    close(fd)
    a.state = C_READ_FAILED if a.err else C_HEAD_READ


cdef tuple answer(Answer *a, const char *out):
    if a.state != C_HEAD_READ:
        if a.state == C_CHANGED:
            return C_CHANGED, 0, a.mode, a.size, a.mtime_ns, a.inode, b""
        return a.state, a.err, a.mode if a.state == C_NOT_REGULAR else 0, 0, 0, 0, b""
    return (C_HEAD_READ, 0, a.mode, a.size, a.mtime_ns, a.inode,
            PyBytes_FromStringAndSize(out, a.got))


def head(bytes path, Py_ssize_t first):
    """Return ``(state, errno, mode, size, mtime_ns, inode, head)`` for the file at ``path``.

    As the Python path does it: ``stat`` (a FIFO, a device or a folder is never opened),
    ``open`` with ``O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC``, ``fstat`` of what was opened (no
    read unless it is a regular file), a read of at most ``first`` bytes, ``close``. The
    state is one of the module's constants; ``head`` is the bytes read (``b""`` otherwise).
    """
    cdef const char *name = PyBytes_AS_STRING(path)
    if memchr(name, 0, len(path)) != NULL:
        raise ValueError("embedded null byte")  # as the os module says it
    cdef Answer a
    # read straight into the bytes object (an image's file is longer than the first read, so
    # it is usually returned as it is; a shorter file's bytes are cut to what was read)
    cdef bytes buffer = PyBytes_FromStringAndSize(NULL, first if first > 0 else 1)
    cdef char *out = PyBytes_AS_STRING(buffer)
    with nogil:
        read_head(name, first, out, &a)
    if a.state != C_HEAD_READ:
        return answer(&a, NULL)
    return (C_HEAD_READ, 0, a.mode, a.size, a.mtime_ns, a.inode,
            buffer if a.got == len(buffer) else buffer[:a.got])


cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_create(pthread_t *thread, const void *attr,
                       void *(*start)(void *) noexcept nogil, void *arg)
    int pthread_join(pthread_t thread, void **result)


cdef struct Batch:
    Py_ssize_t n
    Py_ssize_t first
    Py_ssize_t room
    const char **names
    Answer *answers
    char *out


cdef void read_batch(Batch *b) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(b.n):
        if b.names[i] == NULL:
            b.answers[i].state = C_NUL_IN_PATH
            b.answers[i].err = 0
        else:
            read_head(b.names[i], b.first, b.out + i * b.room, &b.answers[i])


cdef void *run_batch(void *arg) noexcept nogil:
    read_batch(<Batch *>arg)
    return NULL


cdef class Reads:
    """The heads of a list of files, read by a thread of the C library that the call starts
    and :meth:`answers` joins: it never takes the GIL, so the caller's Python code runs on
    while the files are read (a Python thread would wait for the GIL at its every return)."""

    cdef list paths
    cdef Batch batch
    cdef pthread_t thread
    cdef bint running
    cdef list done

    def __cinit__(self, list paths, Py_ssize_t first):
        cdef Py_ssize_t n = len(paths), i
        cdef bytes path
        self.paths = paths  # holds the bytes that the names point into
        self.running = False
        self.done = None
        self.batch.n = n
        self.batch.first = first
        self.batch.room = first if first > 0 else 1
        self.batch.names = <const char **>malloc(sizeof(char *) * (n if n else 1))
        self.batch.answers = <Answer *>malloc(sizeof(Answer) * (n if n else 1))
        self.batch.out = <char *>malloc(self.batch.room * (n if n else 1))
        if self.batch.names == NULL or self.batch.answers == NULL or self.batch.out == NULL:
            raise MemoryError()
        for i in range(n):
            path = paths[i]  # a TypeError for anything but bytes
            self.batch.names[i] = PyBytes_AS_STRING(path)
            if memchr(self.batch.names[i], 0, len(path)) != NULL:
                self.batch.names[i] = NULL
        if pthread_create(&self.thread, NULL, run_batch, &self.batch) == 0:
            self.running = True
        else:  # no thread to be had: read now
            with nogil:
                read_batch(&self.batch)

    def answers(self):
        """Return :func:`head`'s answer for each path, in order (waits for the reads)."""
        cdef Py_ssize_t i
        if self.running:
            with nogil:
                pthread_join(self.thread, NULL)
            self.running = False
        if self.done is None:
            self.done = [answer(&self.batch.answers[i], self.batch.out + i * self.batch.room)
                         for i in range(self.batch.n)]
        return self.done

    def __dealloc__(self):
        if self.running:
            with nogil:
                pthread_join(self.thread, NULL)
        free(self.batch.names)
        free(self.batch.answers)
        free(self.batch.out)


def heads(list paths, Py_ssize_t first):
    """Return :func:`head`'s answer for each of ``paths`` (bytes), in order, all read without
    the GIL; a path holding a NUL byte gets ``NUL_IN_PATH`` instead of a ValueError."""
    return Reads(paths, first).answers()
