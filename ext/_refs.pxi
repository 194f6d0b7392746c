# The source-ref table: source-ref -> first line, kept as 128-bit hashes (RefSlot in
# _decls.pxd). Part of ext/_core.pyx (included).

@cython.final
cdef class RefTable:
    """Source-ref -> first line, as ``ScanResult.refs`` (the reference has a dict there).

    It keeps the 128-bit MurmurHash3 of each source-ref's UTF-8 bytes (lone surrogates as
    ``surrogatepass`` writes them), not the strings: ``ref in table``, ``table[ref]``,
    ``table.get(ref)`` and ``len(table)`` work; iteration does not. Two different source-refs
    with the same 128-bit hash would count as one: that collision (odds about n**2 / 2**129) is
    the only way this scanner can differ from the reference.
    """

    cdef RefSlot *slots
    cdef uint64_t mask
    cdef Py_ssize_t count

    def __cinit__(self, Py_ssize_t expected=0):
        """``expected``: about how many source-refs will come (sizes the table up front, to
        spare the rehashing; the table grows as needed anyway)."""
        cdef Py_ssize_t size = REF_MIN_SLOTS
        while 2 * size < 3 * expected and size < REF_MAX_PRESIZE:
            size *= 2
        self.slots = <RefSlot *>cl_big_calloc(size * sizeof(RefSlot))
        if self.slots == NULL:
            raise MemoryError()
        self.mask = size - 1
        self.count = 0

    def __dealloc__(self):
        if self.slots != NULL:
            cl_big_free(self.slots, (self.mask + 1) * sizeof(RefSlot))

    cdef inline void prefetch(self, uint64_t h1) noexcept nogil:
        CL_PREFETCH(&self.slots[h1 & self.mask])

    cdef inline int64_t find(self, uint64_t h1, uint64_t h2) noexcept nogil:
        cdef uint64_t j = h1 & self.mask
        cdef RefSlot *slot
        while True:
            slot = &self.slots[j]
            if slot.line == 0:
                return 0
            if slot.h1 == h1 and slot.h2 == h2:
                return slot.line
            j = (j + 1) & self.mask

    cdef int add(self, uint64_t h1, uint64_t h2, int64_t line) noexcept:
        """Insert a hash not in the table; -1 when memory is short. Linear probing, at most
        2/3 full."""
        cdef RefSlot *old
        cdef RefSlot *slot
        cdef uint64_t j, k, oldsize
        if 3 * (self.count + 1) > 2 * <Py_ssize_t>(self.mask + 1):
            old = self.slots
            oldsize = self.mask + 1
            self.slots = <RefSlot *>cl_big_calloc(2 * oldsize * sizeof(RefSlot))
            if self.slots == NULL:
                self.slots = old
                return -1
            self.mask = 2 * oldsize - 1
            for k in range(oldsize):
                if old[k].line:
                    j = old[k].h1 & self.mask
                    while self.slots[j].line:
                        j = (j + 1) & self.mask
                    self.slots[j] = old[k]
            cl_big_free(old, oldsize * sizeof(RefSlot))
        j = h1 & self.mask
        while self.slots[j].line:
            j = (j + 1) & self.mask
        slot = &self.slots[j]
        slot.h1 = h1
        slot.h2 = h2
        slot.line = <uint32_t>line
        self.count += 1
        return 0

    cdef int64_t lookup(self, object key) except -1:
        cdef uint64_t h[2]
        cdef bytes raw
        if not isinstance(key, str):
            return 0
        raw = (<str>key).encode("utf-8", "surrogatepass")
        hash128(<const unsigned char *><char *>raw, len(raw), h)
        return self.find(h[0], h[1])

    def __contains__(self, key):
        return self.lookup(key) != 0

    def __getitem__(self, key):
        cdef int64_t line = self.lookup(key)
        if line == 0:
            raise KeyError(key)
        return line

    def get(self, key, default=None):
        cdef int64_t line = self.lookup(key)
        return default if line == 0 else line

    def __len__(self):
        return self.count

    def __repr__(self):
        return f"<RefTable of {self.count} source-refs>"
