# The reading half of a scan, ``customlabels.manifest.reader.iter_lines`` exactly: the stream
# read into two buffers in turn, a block at a time, split at '\n', its complete lines published
# as pieces on the queue the threads take them from. Part of ext/_core.pyx (included).

@cython.final
cdef class _Buffer:
    """Memory for the reads, uninitialized (a bytearray would zero it first), exported to
    ``readinto`` through the buffer protocol."""

    cdef unsigned char *data
    cdef Py_ssize_t size

    def __cinit__(self, Py_ssize_t size):
        self.data = <unsigned char *>malloc(size)
        if self.data == NULL:
            raise MemoryError()
        self.size = size

    def __dealloc__(self):
        free(self.data)

    def __getbuffer__(self, Py_buffer *view, int flags):
        PyBuffer_FillInfo(view, self, self.data, self.size, 0, flags)

    def __releasebuffer__(self, Py_buffer *view):
        pass


@cython.no_gc_clear  # _Scanner.__dealloc__ stops the threads before the buffers they read go
cdef class _Reader:
    """The reading half of a scan: the buffers, the queue of pieces (``sh``), what is left of
    the last buffer read. :class:`_Scanner` (the checking and merging half) extends it."""

    cdef Shared *sh              # the queue of pieces, and the lock the threads share
    cdef bint sync_ok
    cdef _Buffer buf0, buf1
    cdef object view0, view1
    cdef unsigned char *bufs[2]
    cdef Py_ssize_t unmerged[2]  # pieces of each buffer not merged yet
    cdef Py_ssize_t cap          # a buffer's size (plus slack)
    cdef Py_ssize_t block, piece, chunk
    cdef Py_ssize_t tail_off, tail_len  # the partial line at the end of the last buffer read
    cdef Py_ssize_t pending_long        # too-long lines for the next piece
    cdef Py_ssize_t published
    cdef Py_ssize_t nmerged      # pieces taken off the queue (by the merge)
    cdef int y                   # the buffer to fill next
    cdef bint first, eof, overflow
    cdef object readinto, read

    def __cinit__(self):
        self.sh = <Shared *>calloc(1, sizeof(Shared))
        if self.sh == NULL:
            raise MemoryError()
        self.sync_ok = cl_sync_init(&self.sh.sync) == 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.sh != NULL:
            if self.sh.pieces != NULL:
                for i in range(self.sh.qcap):
                    piece_free(&self.sh.pieces[i])
                free(self.sh.pieces)
            if self.sync_ok:
                cl_sync_destroy(&self.sh.sync)
            free(self.sh)

    cdef int open(self, stream, Py_ssize_t chunk, Py_ssize_t block, Py_ssize_t piece) except -1:
        """Read ``stream`` (``readinto``, else ``read``) ``chunk`` bytes a read, into buffers of
        ``block`` bytes, in pieces of about ``piece`` bytes of lines."""
        cdef Shared *sh = self.sh
        self.block = block
        self.piece = piece
        self.chunk = chunk
        # A buffer holds a block after the partial line the last one left (at most
        # MAX_LINE_BYTES + 1: longer, it is dropped), so the reads never need more than that.
        self.cap = self.block + MAX_LINE_BYTES + 8
        # Pieces a fill publishes: a piece of self.piece bytes or more each, plus 3 (the end
        # of the fill, a too-long line, the end of the file); two buffers in flight.
        sh.qcap = 2 * (self.cap // self.piece + 4)
        sh.pieces = <Piece *>calloc(sh.qcap, sizeof(Piece))
        if sh.pieces == NULL:
            raise MemoryError()
        self.readinto = getattr(stream, "readinto", None)
        if self.readinto is None:
            self.read = stream.read
        self.first = True
        return 0

    cdef void release(self) noexcept:
        """Give the buffers' views back (the stream may hold them no longer)."""
        if self.view0 is not None:
            self.view0.release()
        if self.view1 is not None:
            self.view1.release()

    cdef Py_ssize_t read_some(self, int y, Py_ssize_t at, Py_ssize_t want) except -1:
        """Read at most ``want`` bytes into buffer y at ``at``; 0 at the end."""
        cdef Py_ssize_t got
        if self.readinto is not None:
            view = self.view0 if y == 0 else self.view1
            got = self.readinto(view[at:at + want]) or 0
            if got < 0 or got > want:
                raise ValueError("readinto() returned a bad byte count")
        else:
            data = self.read(want) or b""
            got = len(data)
            if got > want:
                raise ValueError("read() returned more bytes than asked for")
            memcpy(self.bufs[y] + at, <const char *>data, got)
        return got

    cdef int fill(self, int y) except -1:
        """Read the next block into buffer y, after the partial line the last one left, and
        publish its complete lines as pieces (eagerly: the threads start on them while it
        reads on). The reader's rules: a BOM at the very start is skipped; a line longer than
        MAX_LINE_BYTES + 1 (a \\r may end it) is too long whatever follows, its bytes are
        dropped; a final line without a \\n is a line."""
        cdef unsigned char *b
        cdef Py_ssize_t hi, pub = 0, last = 0, scanned = 0, target, got, want
        cdef const unsigned char *nl
        cdef bint seen_nl = False
        cdef _Buffer buf
        if self.bufs[y] == NULL:
            buf = _Buffer(self.cap + 72)  # slack: the final \n, 8-byte loads past a line's end
            if y == 0:
                self.buf0 = buf
                self.view0 = memoryview(buf)
            else:
                self.buf1 = buf
                self.view1 = memoryview(buf)
            self.bufs[y] = buf.data
        b = self.bufs[y]
        hi = self.tail_len
        if hi:
            memcpy(b, self.bufs[y ^ 1] + self.tail_off, hi)
        self.tail_len = 0
        target = hi + self.block
        # Read to the target, and on to a newline (a line that spans many small blocks is not
        # copied block after block).
        while not self.eof and (hi < target or not seen_nl):
            want = min(self.chunk, self.cap - hi)
            if want <= 0:  # cannot happen: a line this long was dropped
                raise RuntimeError("customlabels._core: the read buffer is full")
            got = self.read_some(y, hi, want)
            if got == 0:
                self.eof = True
            hi += got
            if self.first:
                if hi < 3 and not self.eof:  # short reads: the BOM test needs 3 bytes
                    continue
                self.first = False
                if hi >= 3 and b[0] == 0xEF and b[1] == 0xBB and b[2] == 0xBF:
                    pub = last = scanned = 3  # a BOM only at the very start of the file
            if self.overflow:  # in a too-long line: drop its bytes up to its end
                nl = <const unsigned char *>memchr(b + scanned, 10, hi - scanned)
                if nl == NULL:
                    hi = scanned = pub
                    continue
                self.pending_long += 1
                self.overflow = False
                pub = last = scanned = nl - b + 1
                seen_nl = True
            if hi > scanned:
                nl = cl_memrchr_nl(b + scanned, hi - scanned)
                if nl != NULL:
                    last = nl - b + 1
                    seen_nl = True
                scanned = hi
            if last - pub >= self.piece:
                pub = self.publish(y, pub, last, False)
            if hi - last > MAX_LINE_BYTES + 1:  # too long whatever follows
                self.publish(y, pub, last, True)
                self.overflow = True
                return 0  # (one such line a block: pieces a block stay few)
        if self.eof:
            if self.overflow:
                self.pending_long += 1
                self.overflow = False
            elif hi > last:  # the final line has no \n: give it one (the buffer has room)
                b[hi] = 10
                hi += 1
                last = hi
            self.publish(y, pub, last, True)
            if self.pending_long:
                self.push_piece(-1, 0, 0)
        else:
            self.publish(y, pub, last, True)
            self.tail_off = last
            self.tail_len = hi - last
        return 0

    cdef Py_ssize_t publish(self, int y, Py_ssize_t a, Py_ssize_t e, bint final) except -1:
        """Publish the lines in buffer y [a:e] as pieces of about self.piece bytes (unless
        ``final``, less than that is left); return where the unpublished lines start."""
        cdef unsigned char *b = self.bufs[y]
        cdef const unsigned char *nl
        cdef Py_ssize_t cut, end
        while a < e:
            if e - a < self.piece and not final:
                break
            cut = a + self.piece
            if cut >= e:
                end = e
            else:  # the end of the line holding byte cut - 1 (b[e - 1] is a \n)
                nl = <const unsigned char *>memchr(b + cut - 1, 10, e - cut + 1)
                end = nl - b + 1
            self.push_piece(y, a, end)
            a = end
        return a

    cdef int push_piece(self, int y, Py_ssize_t a, Py_ssize_t e) except -1:
        cdef Shared *sh = self.sh
        cdef Piece *pc
        if sh.npub - self.nmerged >= sh.qcap:
            raise RuntimeError("customlabels._core: the queue of pieces overflowed")
        pc = &sh.pieces[sh.npub % sh.qcap]
        pc.buf = self.bufs[y] if y >= 0 else NULL
        pc.bufid = y
        pc.start = a
        pc.end = e
        pc.stop = a
        pc.nlong = self.pending_long
        self.pending_long = 0
        pc.done = False
        if y >= 0:
            self.unmerged[y] += 1
            self.published += e - a
        with nogil:
            cl_lock(&sh.sync)
            sh.npub += 1
            cl_wake_workers(&sh.sync)
            cl_unlock(&sh.sync)
        self.published_more()
        return 0

    cdef int published_more(self) except -1:
        """Called after each piece is published (the scanner starts its threads there)."""
        return 0
