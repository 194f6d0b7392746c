# Lookups on the tape: members by name, type tests, the reference's value tests
# (customlabels.manifest.schema: is_integer, is_confidence, label_name_ok, dimension_ok,
# source_ref_bucket), and the one-pass gathering of a metadata's and a box's fields. Part of
# ext/_core.pyx (included).

cdef inline int32_t obj_get(Parser *p, int32_t obj, const unsigned char *key, Py_ssize_t klen,
                            uint64_t kpfx) noexcept nogil:
    """The value node of member ``key`` (decoded bytes, prefix8 ``kpfx``) of object ``obj``, or
    -1. The key node is always the value node - 1."""
    cdef Node *nodes = p.nodes
    cdef Node *k
    cdef int32_t j, m, cnt = nodes[obj].count, e
    cdef Py_ssize_t off
    cdef uint64_t h, mask
    if nodes[obj].aux >= 0:
        off = nodes[obj].aux
        mask = <uint64_t>p.hidx[off]
        h = hash64(key, klen) & mask
        while True:
            e = p.hidx[off + 1 + h]
            if e == 0:
                return -1
            k = &nodes[e - 1]
            if (k.pfx == kpfx and k.len == klen
                    and (klen <= 8 or memcmp(sptr(p, k) + 8, key + 8, klen - 8) == 0)):
                return e
            h = (h + 1) & mask
    j = obj + 1
    for m in range(cnt):
        k = &nodes[j]
        if (k.pfx == kpfx and k.len == klen
                and (klen <= 8 or memcmp(sptr(p, k) + 8, key + 8, klen - 8) == 0)):
            return j + 1
        j = nodes[j + 1].next
    return -1


cdef inline int32_t get_name(Parser *p, int32_t obj, int name) noexcept nogil:
    """The value node of the member named LIT ``name`` of object ``obj``, or -1."""
    return obj_get(p, obj, LIT_PTR[name], LIT_LEN[name], LIT_PFX[name])


cdef inline bint str_is(Parser *p, int32_t idx, int name) noexcept nogil:
    """Whether node ``idx`` is the string LIT ``name``."""
    cdef Node *nd
    if idx < 0:
        return False
    nd = &p.nodes[idx]
    return (nd.type == T_STR and nd.pfx == LIT_PFX[name] and nd.len == LIT_LEN[name]
            and (nd.len <= 8 or memcmp(sptr(p, nd) + 8, LIT_PTR[name] + 8, nd.len - 8) == 0))


cdef inline bint is_type(Parser *p, int32_t idx, int type) noexcept nogil:
    return idx >= 0 and p.nodes[idx].type == type


cdef inline bint is_integer(Parser *p, int32_t idx) noexcept nogil:
    """The reference's _is_integer: an int (from an integer literal), not a bool."""
    return idx >= 0 and p.nodes[idx].type == T_NUM and (p.nodes[idx].flags & F_INT) != 0


cdef inline bint is_confidence(Parser *p, int32_t idx) noexcept nogil:
    cdef double v
    if not is_type(p, idx, T_NUM):
        return False
    v = num_value(p, idx)
    return 0.0 <= v <= 1.0


cdef inline bint name_ok(Parser *p, int32_t idx) noexcept nogil:
    """1 <= len(name) <= 256, len in code points: the bytes that are not continuation bytes."""
    cdef Node *nd = &p.nodes[idx]
    cdef const unsigned char *s
    cdef Py_ssize_t i, chars = 0
    if nd.len == 0:
        return False
    if nd.len <= MAX_LABEL_NAME:
        return True
    if nd.len > 4 * MAX_LABEL_NAME:
        return False
    s = sptr(p, nd)
    for i in range(nd.len):
        if (s[i] & 0xC0) != 0x80:
            chars += 1
    return chars <= MAX_LABEL_NAME


cdef inline bint dimension_ok(double width, double height) noexcept nogil:
    cdef double longest, shortest
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return False
    longest = height if height > width else width
    shortest = height if height < width else width
    return longest <= MAX_ASPECT * shortest


cdef inline bint bucket_char(unsigned char c) noexcept nogil:
    return BUCKET[c] != 0


cdef inline bint bucket_alnum(unsigned char c) noexcept nogil:
    return BUCKET[c] == 1


cdef Py_ssize_t source_ref_bucket(const unsigned char *s, Py_ssize_t n) noexcept nogil:
    """The reference's source_ref_bucket on decoded bytes: the bucket's length (it starts at 5),
    or 0 when the source-ref is not ``s3://bucket/key`` with a valid bucket and a key.

    Byte and character tests agree here: the bucket may only hold ASCII characters."""
    cdef const unsigned char *slash
    cdef Py_ssize_t blen, i
    if n < 5 or memcmp(s, b"s3://", 5) != 0:
        return 0
    slash = <const unsigned char *>memchr(s + 5, 47, n - 5)
    if slash == NULL:
        return 0
    blen = slash - (s + 5)
    if slash + 1 == s + n or blen < 3 or blen > 63:
        return 0
    for i in range(blen):
        if not bucket_char(s[5 + i]):
            return 0
    if not bucket_alnum(s[5]) or not bucket_alnum(s[5 + blen - 1]):
        return 0
    return blen


cdef inline bint key_is(Parser *p, Node *k, int name) noexcept nogil:
    return (k.pfx == LIT_PFX[name] and k.len == LIT_LEN[name]
            and (k.len <= 8 or memcmp(sptr(p, k) + 8, LIT_PTR[name] + 8, k.len - 8) == 0))


cdef inline void gather_meta(Parser *p, int32_t meta, int32_t *out) noexcept nogil:
    """The value nodes of a metadata object's fields (or -1), in one pass over its members
    (keys are unique, so this is what a get of each name gives)."""
    cdef Node *nodes = p.nodes
    cdef Node *k
    cdef int32_t j = meta + 1, m
    cdef int slot, ln
    for m in range(META_SLOTS):
        out[m] = -1
    for m in range(nodes[meta].count):
        k = &nodes[j]
        ln = k.len
        slot = -1
        if ln == 4:
            if key_is(p, k, N_TYPE):
                slot = M_TYPE
        elif ln == 10:
            if key_is(p, k, N_CONFIDENCE):
                slot = M_CONFIDENCE
            elif key_is(p, k, N_CLASS_NAME):
                slot = M_CLASS_NAME
        elif ln == 15:
            if key_is(p, k, N_HUMAN):
                slot = M_HUMAN
        elif ln == 13:
            if key_is(p, k, N_CREATION):
                slot = M_CREATION
        elif ln == 8:
            if key_is(p, k, N_JOB):
                slot = M_JOB
        elif ln == 7:
            if key_is(p, k, N_OBJECTS):
                slot = M_OBJECTS
        elif ln == 9:
            if key_is(p, k, N_CLASS_MAP):
                slot = M_CLASS_MAP
        if slot >= 0:
            out[slot] = j + 1
        j = nodes[j + 1].next


cdef inline void gather_box(Parser *p, int32_t box, int32_t *out) noexcept nogil:
    """The value nodes of a box's five fields (or -1), in one pass over its members; every
    name is at most 8 bytes, so equal length and prefix8 mean equal keys."""
    cdef Node *nodes = p.nodes
    cdef Node *k
    cdef int32_t j = box + 1, m
    cdef int slot
    out[0] = out[1] = out[2] = out[3] = out[4] = out[5] = -1
    for m in range(nodes[box].count):
        k = &nodes[j]
        if k.len <= 8:
            slot = BOX_BY_LEN[k.len]
            if slot >= 0 and k.pfx == LIT_PFX[BOX_LIT[slot]]:
                out[slot] = j + 1
        j = nodes[j + 1].next
