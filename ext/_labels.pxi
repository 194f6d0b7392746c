# Label names interned in C hash tables (Label, LabelTab in _decls.pxd): one for the scan,
# one a thread's context. Part of ext/_core.pyx (included).

cdef bint lt_init(LabelTab *t) noexcept nogil:
    t.n = 0
    t.cap = 64
    t.labels = <Label *>malloc(t.cap * sizeof(Label))
    t.mask = 255
    t.slots = <int32_t *>calloc(t.mask + 1, sizeof(int32_t))
    t.alen = 0
    t.acap = 4096
    t.arena = <unsigned char *>malloc(t.acap)
    return t.labels != NULL and t.slots != NULL and t.arena != NULL


cdef void lt_free(LabelTab *t) noexcept nogil:
    free(t.labels)
    free(t.slots)
    free(t.arena)
    t.labels = NULL
    t.slots = NULL
    t.arena = NULL


cdef inline int32_t lt_find(LabelTab *t, const unsigned char *s, Py_ssize_t n,
                            uint64_t h) noexcept nogil:
    """The id of the name s[:n] (hash h), or -1."""
    cdef uint64_t j = h & t.mask
    cdef int32_t e
    cdef Label *lab
    while True:
        e = t.slots[j]
        if e == 0:
            return -1
        lab = &t.labels[e - 1]
        if lab.hash == h and lab.len == n and memcmp(t.arena + lab.off, s, n) == 0:
            return e - 1
        j = (j + 1) & t.mask


cdef int32_t lt_add(LabelTab *t, const unsigned char *s, Py_ssize_t n,
                    uint64_t h) noexcept nogil:
    """Add the name s[:n] (hash h; not in the table); its id, or -1 when memory is short."""
    cdef void *grown
    cdef int32_t *slots
    cdef uint64_t size, j
    cdef Py_ssize_t k
    cdef int32_t lid
    cdef Label *lab
    if t.n == t.cap:
        grown = grow(t.labels, &t.cap, sizeof(Label))
        if grown == NULL:
            return -1
        t.labels = <Label *>grown
    while t.alen + n > t.acap:
        grown = grow(t.arena, &t.acap, 1)
        if grown == NULL:
            return -1
        t.arena = <unsigned char *>grown
    if 2 * (t.n + 1) > <Py_ssize_t>t.mask:
        size = 2 * (t.mask + 1)
        slots = <int32_t *>calloc(size, sizeof(int32_t))
        if slots == NULL:
            return -1
        for k in range(t.n):
            j = t.labels[k].hash & (size - 1)
            while slots[j]:
                j = (j + 1) & (size - 1)
            slots[j] = <int32_t>(k + 1)
        free(t.slots)
        t.slots = slots
        t.mask = size - 1
    lid = <int32_t>t.n
    lab = &t.labels[lid]
    lab.off = t.alen
    lab.len = n
    lab.hash = h
    lab.counts[0] = lab.counts[1] = lab.counts[2] = 0
    lab.st = 0
    lab.pos = 0
    memcpy(t.arena + t.alen, s, n)
    t.alen += n
    j = h & t.mask
    while t.slots[j]:
        j = (j + 1) & t.mask
    t.slots[j] = lid + 1
    t.n += 1
    return lid
