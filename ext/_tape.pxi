# The strict JSON parser: one line into a flat tape of nodes (Node, Parser in _decls.pxd),
# rejecting exactly what customlabels.manifest.jsonline.parse_line rejects. Part of
# ext/_core.pyx (included).

cdef inline const unsigned char *sptr(Parser *p, Node *nd) noexcept nogil:
    """The decoded bytes of a T_STR node."""
    return (<const unsigned char *>p.arena if nd.flags & F_ESC else p.s) + nd.start


cdef bint grow_nodes(Parser *p) noexcept nogil:
    cdef Node *grown = <Node *>realloc(p.nodes, 2 * p.cap * sizeof(Node))
    if grown == NULL:
        p.nomem = True
        return False
    p.nodes = grown
    p.cap *= 2
    return True


cdef inline Py_ssize_t skip_ws(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    # JSON whitespace is exactly ' ', '\t', '\n', '\r' (RFC 8259; Python's scanner agrees).
    # Most calls meet no whitespace or one space: test for those first.
    cdef unsigned char c
    if i < n and s[i] > 32:
        return i
    if i + 1 < n and s[i] == 32 and s[i + 1] > 32:
        return i + 1
    while i < n:
        c = s[i]
        if c != 32 and c != 9 and c != 10 and c != 13:
            break
        i += 1
    return i


cdef inline Py_ssize_t str_run(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """The first position from i holding '"', '\\', a control byte or a non-ASCII byte; or n.

    Sixteen bytes at a time with SSE2 (cl_str_run16), else eight where the platform allows (the
    classic has-zero-byte tests: the lowest flagged byte is always a true hit, borrows only flag
    bytes above one), then byte by byte near the end of the line."""
    cdef uint64_t v, q, b, t
    if CL_SSE2:
        i = cl_str_run16(s, i, n)
        if i + 16 <= n:
            return i
    if CL_SWAR:
        while i + 8 <= n:
            v = load8(s + i)
            q = v ^ (CL_ONES * 0x22)
            b = v ^ (CL_ONES * 0x5C)
            t = (((q - CL_ONES) & ~q) | ((b - CL_ONES) & ~b) | ((v - CL_ONES * 0x20) & ~v)
                 | v) & CL_HIGHS
            if t:
                return i + (CL_CTZ(t) >> 3)
            i += 8
    while i < n and SCLS[s[i]] == 0:
        i += 1
    return i


cdef inline int utf8_seq(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """Length of the valid UTF-8 sequence starting with the non-ASCII byte s[i], or 0.

    Exactly what Python's strict decoder accepts: no overlongs (C0, C1, E0 80-9F, F0 80-8F), no
    surrogates (ED A0-BF), nothing above U+10FFFF (F4 90-BF, F5-FF), no stray or missing
    continuation bytes.
    """
    cdef unsigned char c = s[i], c1
    if c < 0xC2:
        return 0
    if c < 0xE0:
        if i + 1 < n and (s[i + 1] & 0xC0) == 0x80:
            return 2
        return 0
    if c < 0xF0:
        if i + 2 >= n:
            return 0
        c1 = s[i + 1]
        if c == 0xE0:
            if c1 < 0xA0 or c1 > 0xBF:
                return 0
        elif c == 0xED:
            if c1 < 0x80 or c1 > 0x9F:
                return 0
        elif (c1 & 0xC0) != 0x80:
            return 0
        if (s[i + 2] & 0xC0) != 0x80:
            return 0
        return 3
    if c < 0xF5:
        if i + 3 >= n:
            return 0
        c1 = s[i + 1]
        if c == 0xF0:
            if c1 < 0x90 or c1 > 0xBF:
                return 0
        elif c == 0xF4:
            if c1 < 0x80 or c1 > 0x8F:
                return 0
        elif (c1 & 0xC0) != 0x80:
            return 0
        if (s[i + 2] & 0xC0) != 0x80 or (s[i + 3] & 0xC0) != 0x80:
            return 0
        return 4
    return 0


cdef inline int hex4(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """The value of the 4 hex digits at s[i:i+4], or -1."""
    cdef int v = 0, k
    cdef unsigned char d
    if i + 4 > n:
        return -1
    for k in range(4):
        d = HEXV[s[i + k]]
        if d == 255:
            return -1
        v = (v << 4) | d
    return v


cdef inline int put_utf8(unsigned char *o, int cp) noexcept nogil:
    """Write code point ``cp`` as UTF-8 (a lone surrogate as its 3-byte form, which is what
    ``str.encode('utf-8', 'surrogatepass')`` writes); return the number of bytes."""
    if cp < 0x80:
        o[0] = cp
        return 1
    if cp < 0x800:
        o[0] = 0xC0 | (cp >> 6)
        o[1] = 0x80 | (cp & 0x3F)
        return 2
    if cp < 0x10000:
        o[0] = 0xE0 | (cp >> 12)
        o[1] = 0x80 | ((cp >> 6) & 0x3F)
        o[2] = 0x80 | (cp & 0x3F)
        return 3
    o[0] = 0xF0 | (cp >> 18)
    o[1] = 0x80 | ((cp >> 12) & 0x3F)
    o[2] = 0x80 | ((cp >> 6) & 0x3F)
    o[3] = 0x80 | (cp & 0x3F)
    return 4


cdef Py_ssize_t decode_string(Parser *p, Node *nd, Py_ssize_t start,
                              Py_ssize_t i) noexcept nogil:
    """Finish a string that has an escape at s[i]: copy it, decoded, into the arena; return the
    position after its closing quote, or -1.

    Escapes as Python's json scanner takes them: \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX, a
    high surrogate followed by an escaped low one making one character, lone ones kept.
    """
    cdef const unsigned char *s = p.s
    cdef Py_ssize_t n = p.n, o = p.alen
    cdef unsigned char *out = p.arena
    cdef unsigned char c, cl
    cdef int k, cp, lo
    memcpy(out + o, s + start, i - start)
    o += i - start
    while i < n:
        c = s[i]
        cl = SCLS[c]
        if cl == 0:
            out[o] = c
            o += 1
            i += 1
        elif cl == 1:
            nd.type = T_STR
            nd.flags = F_ESC
            nd.start = <int32_t>p.alen
            nd.len = <int32_t>(o - p.alen)
            nd.pfx = prefix8(out + p.alen, nd.len)
            nd.aux = 0
            nd.count = 0
            p.alen = o
            return i + 1
        elif cl == 4:
            k = utf8_seq(s, i, n)
            if k == 0:
                return -1
            memcpy(out + o, s + i, k)
            o += k
            i += k
        elif cl == 2:
            if i + 1 >= n:
                return -1
            c = s[i + 1]
            i += 2
            if c == 34 or c == 92 or c == 47:  # " \ /
                out[o] = c
            elif c == 98:   # b
                out[o] = 8
            elif c == 102:  # f
                out[o] = 12
            elif c == 110:  # n
                out[o] = 10
            elif c == 114:  # r
                out[o] = 13
            elif c == 116:  # t
                out[o] = 9
            elif c == 117:  # u
                cp = hex4(s, i, n)
                if cp < 0:
                    return -1
                i += 4
                if 0xD800 <= cp <= 0xDBFF and i + 1 < n and s[i] == 92 and s[i + 1] == 117:
                    lo = hex4(s, i + 2, n)
                    if lo < 0:
                        return -1  # the reference fails on it too ("Invalid \uXXXX escape")
                    if 0xDC00 <= lo <= 0xDFFF:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                o += put_utf8(out + o, cp)
                continue
            else:
                return -1
            o += 1
        else:
            return -1  # a raw control character
    return -1


cdef inline void set_str(Node *nd, const unsigned char *s, Py_ssize_t start,
                         Py_ssize_t end) noexcept nogil:
    nd.type = T_STR
    nd.flags = 0
    nd.start = <int32_t>start
    nd.len = <int32_t>(end - start)
    nd.pfx = prefix8(s + start, end - start)
    nd.aux = 0
    nd.count = 0


cdef Py_ssize_t parse_str_slow(Parser *p, Node *nd, Py_ssize_t start,
                               Py_ssize_t j) noexcept nogil:
    """The rest of a string whose plain ASCII run from ``start`` stopped at s[j] (not a plain
    quote): non-ASCII bytes are checked as UTF-8 here (outside strings any non-ASCII byte is a
    syntax error anyway, so the whole line gets checked), escapes go to decode_string. Returns
    the position after the closing quote, or -1."""
    cdef const unsigned char *s = p.s
    cdef Py_ssize_t n = p.n
    cdef unsigned char c
    cdef int k
    while j < n:
        c = s[j]
        if c == 34:
            set_str(nd, s, start, j)
            return j + 1
        if c >= 0x80:
            k = utf8_seq(s, j, n)
            if k == 0:
                return -1
            j = str_run(s, j + k, n)
        elif c == 92:
            return decode_string(p, nd, start, j)
        else:
            return -1
    return -1


cdef inline Py_ssize_t parse_str(Parser *p, Node *nd, const unsigned char *s, Py_ssize_t i,
                                 Py_ssize_t n) noexcept nogil:
    """Parse the string whose opening quote is at s[i] into ``nd``; return the position after
    its closing quote, or -1. The common case, plain ASCII, stays inline."""
    cdef Py_ssize_t j = str_run(s, i + 1, n)
    if j < n and s[j] == 34:
        set_str(nd, s, i + 1, j)
        return j + 1
    return parse_str_slow(p, nd, i + 1, j)


cdef inline Py_ssize_t after_colon(const unsigned char *s, Py_ssize_t i,
                                   Py_ssize_t n) noexcept nogil:
    """After a key at s[i]: the position of the value past ws ':' ws, or -1. The usual
    ``": "`` and ``":"`` are taken at once."""
    if i + 2 < n and s[i] == 58:
        if s[i + 1] > 32:
            return i + 1
        if s[i + 1] == 32 and s[i + 2] > 32:
            return i + 2
    i = skip_ws(s, i, n)
    if i >= n or s[i] != 58:  # ':'
        return -1
    i = skip_ws(s, i + 1, n)
    return i if i < n else -1


cdef inline bint is_digit(unsigned char c) noexcept nogil:
    return 48 <= c <= 57


cdef inline int digit_run(const unsigned char *s, Py_ssize_t i, Py_ssize_t n,
                          uint64_t *word) noexcept nogil:
    """How many ASCII digits start at s[i] (at most 8, and none at or past n); ``word`` gets the
    8 bytes at s[i]. Branch-free: a byte is flagged when it is below '0' (borrow), above '9'
    (0x46 + byte >= 0x80) or non-ASCII; the lowest flagged byte is the first non-digit."""
    cdef uint64_t v = load8(s + i)
    cdef uint64_t t = ((v - CL_ONES * 0x30) | (v + CL_ONES * 0x46) | v) & CL_HIGHS
    cdef Py_ssize_t k = 8 if t == 0 else (CL_CTZ(t) >> 3)
    word[0] = v
    return <int>(k if i + k <= n else n - i)


cdef inline uint64_t digits_value(uint64_t v, int k) noexcept nogil:
    """The value of the k (1..8) ASCII digits in the first k bytes of ``v`` (little-endian)."""
    v = (v - CL_ONES * 0x30) << (8 * (8 - k))  # the digits, right-aligned below zeros
    v = (v * 10) + (v >> 8)
    return ((v & CL_LANES) * CL_MUL1 + ((v >> 16) & CL_LANES) * CL_MUL2) >> 32


cdef Py_ssize_t parse_num_loop(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, Node *nd,
                                 int64_t max_int_digits) noexcept nogil:
    """-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)? into a T_NUM node; the position after
    it, or -1.

    The value, as the reference's _number gives it, is computed here when the fast path
    (Clinger's) applies: at most 19 digits, a mantissa of at most 2**53 and a power of ten up to
    22 give the exact double in one correctly rounded operation. Else num_value calls Python's
    own strtod when a rule needs the value.
    """
    cdef Py_ssize_t start = i, d0, f0, e0
    cdef bint neg = False, eneg = False, is_int = True
    cdef uint64_t m = 0
    cdef unsigned int d
    cdef int frac = 0, e = 0, e10, digits
    cdef double v
    if s[i] == 45:  # '-'
        neg = True
        i += 1
    if i >= n:
        return -1
    d0 = i
    if s[i] == 48:
        i += 1
    elif 49 <= s[i] <= 57:
        while i < n:
            d = s[i] - 48
            if d > 9:
                break
            m = m * 10 + d  # wraps beyond 19 digits: then the value is not used
            i += 1
    else:
        return -1
    digits = <int>min(i - d0, 1 << 30)
    if i < n and s[i] == 46:  # '.'
        i += 1
        f0 = i
        while i < n:
            d = s[i] - 48
            if d > 9:
                break
            m = m * 10 + d
            i += 1
        if i == f0:
            return -1
        frac = <int>min(i - f0, 1 << 30)
        is_int = False
    if i < n and (s[i] | 0x20) == 101:  # 'e' or 'E'
        i += 1
        if i < n and (s[i] == 43 or s[i] == 45):
            eneg = s[i] == 45
            i += 1
        e0 = i
        while i < n:
            d = s[i] - 48
            if d > 9:
                break
            if e < 100000:
                e = e * 10 + d
            i += 1
        if i == e0:
            return -1
        is_int = False
    # Python refuses to make an int of more than sys.get_int_max_str_digits() digits (a
    # ValueError that the reference reports as invalid JSON); floats have no such limit.
    if is_int and max_int_digits > 0 and digits > max_int_digits:
        return -1
    nd.type = T_NUM
    nd.start = <int32_t>start
    nd.len = <int32_t>(i - start)
    nd.count = 0
    nd.flags = F_INT if is_int else 0
    if digits + frac <= 19 and m <= (<uint64_t>1 << 53):
        e10 = (-e if eneg else e) - frac
        if e10 == 0:
            v = <double>m
        elif 0 < e10 <= 22:
            v = <double>m * POW10[e10]
        elif -22 <= e10 < 0:
            v = <double>m / POW10[-e10]
        else:
            return i
        if neg and (m != 0 or not is_int):  # the int -0 is 0 (float(0) == 0.0, not -0.0)
            v = -v
        memcpy(&nd.pfx, &v, 8)
        nd.flags |= F_VAL
    return i


cdef inline Py_ssize_t parse_num(const unsigned char *s, Py_ssize_t i, Py_ssize_t n, Node *nd,
                                 int64_t max_int_digits) noexcept nogil:
    """parse_num_loop's result, fast for the usual numbers: an integer part of 1-7 digits and
    an optional fraction of 1-7 digits, no exponent. Anything else goes to parse_num_loop."""
    cdef Py_ssize_t start = i, j
    cdef uint64_t v, w, m
    cdef int k, f
    cdef bint neg = s[i] == 45
    cdef double x
    if CL_SWAR:
        j = i + neg
        if j < n:
            k = digit_run(s, j, n, &v)
            if 1 <= k <= 7 and not (k > 1 and s[j] == 48):
                m = digits_value(v, k)
                j += k
                if j < n and s[j] == 46:  # '.'
                    f = digit_run(s, j + 1, n, &w)
                    if 1 <= f <= 7:
                        m = m * <uint64_t>POW10[f] + digits_value(w, f)
                        j += 1 + f
                        if not (j < n and (s[j] | 0x20) == 101):
                            nd.type = T_NUM
                            nd.start = <int32_t>start
                            nd.len = <int32_t>(j - start)
                            nd.count = 0
                            nd.flags = F_VAL
                            x = <double>m / POW10[f]
                            if neg:
                                x = -x
                            memcpy(&nd.pfx, &x, 8)
                            return j
                elif not (j < n and (s[j] | 0x20) == 101):
                    nd.type = T_NUM
                    nd.start = <int32_t>start
                    nd.len = <int32_t>(j - start)
                    nd.count = 0
                    nd.flags = F_INT | F_VAL
                    x = <double>m
                    if neg and m != 0:  # the int -0 is 0 (float(0) == 0.0, not -0.0)
                        x = -x
                    memcpy(&nd.pfx, &x, 8)
                    return j
    return parse_num_loop(s, i, n, nd, max_int_digits)


cdef inline bint same_key(Parser *p, Node *a, Node *b) noexcept nogil:
    return (a.pfx == b.pfx and a.len == b.len
            and (a.len <= 8 or memcmp(sptr(p, a) + 8, sptr(p, b) + 8, a.len - 8) == 0))


cdef bint index_keys(Parser *p, int32_t obj) noexcept nogil:
    """Reject duplicate keys in a finished object (compared decoded, as Python compares them);
    give an object with many members a hash index of its keys for obj_get."""
    cdef Node *nodes = p.nodes
    cdef Node *a
    cdef int32_t keys[SMALL_OBJECT]
    cdef int bits[SMALL_OBJECT]
    cdef int32_t cnt = nodes[obj].count, m, m2, j, e
    cdef Py_ssize_t size, off
    cdef int32_t *grown
    cdef uint64_t mask, h, seen = 0
    cdef int bit
    if cnt <= 1:
        return True
    if cnt <= SMALL_OBJECT:
        # Each key marks one of 64 bits (a hash of its length and first 8 bytes); only keys
        # that mark the same bit can be equal, and only those are compared.
        j = obj + 1
        for m in range(cnt):
            a = &nodes[j]
            bit = <int>(((a.pfx ^ <uint64_t>a.len) * CL_GOLD) >> 58)
            if seen & ((<uint64_t>1) << bit):
                for m2 in range(m):
                    if bits[m2] == bit and same_key(p, a, &nodes[keys[m2]]):
                        return False
            seen |= (<uint64_t>1) << bit
            keys[m] = j
            bits[m] = bit
            j = nodes[j + 1].next
        return True
    size = 16
    while size < 2 * cnt:
        size *= 2
    if p.hlen + 1 + size > p.hcap:
        while p.hlen + 1 + size > p.hcap:
            p.hcap *= 2
        grown = <int32_t *>realloc(p.hidx, p.hcap * sizeof(int32_t))
        if grown == NULL:
            p.nomem = True
            return False
        p.hidx = grown
    off = p.hlen
    p.hlen += 1 + size
    memset(p.hidx + off, 0, (1 + size) * sizeof(int32_t))
    mask = size - 1
    p.hidx[off] = <int32_t>mask
    j = obj + 1
    for m in range(cnt):
        h = hash64(sptr(p, &nodes[j]), nodes[j].len) & mask
        while True:
            e = p.hidx[off + 1 + h]
            if e == 0:
                p.hidx[off + 1 + h] = j + 1
                break
            if same_key(p, &nodes[j], &nodes[e - 1]):
                return False
            h = (h + 1) & mask
        j = nodes[j + 1].next
    nodes[obj].aux = <int32_t>off
    return True


cdef bint parse_line(Parser *p, const unsigned char *s, Py_ssize_t n) noexcept nogil:
    """Parse one line into the tape (node 0 is the top-level object); False if the reference's
    parse_line would reject it: invalid UTF-8, nesting deeper than MAX_DEPTH, not exactly one
    JSON object between optional whitespace, NaN/Infinity, duplicate keys, too many digits.

    Iterative, with an explicit stack of open containers: a value is parsed, then the
    containers it completes are closed, then the next key (in an object) and value.
    """
    cdef Node *nodes = p.nodes
    cdef Node *nd
    cdef int32_t stack[MAX_DEPTH]
    cdef int32_t counts[MAX_DEPTH]
    cdef int32_t nn = 0, top, cap = p.cap
    cdef int depth = 0
    cdef bint in_obj = False  # the innermost open container is an object
    cdef Py_ssize_t i
    cdef unsigned char c
    cdef int64_t max_int_digits = p.max_int_digits
    p.s = s
    p.n = n
    p.alen = 0
    p.hlen = 0
    p.nnodes = 0
    i = skip_ws(s, 0, n)
    if i >= n or s[i] != 123:  # the line must be an object (and not blank)
        return False
    while True:
        # --- a value starts at s[i] (i < n) ---
        if nn + 2 > cap:  # room for this value and a key
            if not grow_nodes(p):
                return False
            nodes = p.nodes
            cap = p.cap
        nd = &nodes[nn]
        nd.next = nn + 1
        c = s[i]
        if c == 34:  # '"'
            i = parse_str(p, nd, s, i, n)
            if i < 0:
                return False
            nn += 1
        elif c == 45 or is_digit(c):
            i = parse_num(s, i, n, nd, max_int_digits)
            if i < 0:
                return False
            nn += 1
        elif c == 123 or c == 91:  # '{' '['
            if depth == MAX_DEPTH:
                return False
            nd.type = T_OBJ if c == 123 else T_ARR
            nd.flags = 0
            nd.aux = -1
            stack[depth] = nn
            counts[depth] = 0
            depth += 1
            nn += 1
            in_obj = c == 123
            i = skip_ws(s, i + 1, n)
            if i >= n:
                return False
            if s[i] != c + 2:  # not '}' or ']' (empty)
                if not in_obj:
                    continue
                # the first key
                if s[i] != 34:
                    return False
                i = parse_str(p, &nodes[nn], s, i, n)
                if i < 0:
                    return False
                nodes[nn].next = nn + 1
                nn += 1
                i = after_colon(s, i, n)
                if i < 0:
                    return False
                continue
            i += 1
            depth -= 1
            nd.count = 0
            nd.next = nn
            in_obj = depth > 0 and nodes[stack[depth - 1]].type == T_OBJ
        elif c == 116 and i + 4 <= n and memcmp(s + i, b"true", 4) == 0:
            nd.type = T_TRUE
            nd.count = 0
            i += 4
            nn += 1
        elif c == 102 and i + 5 <= n and memcmp(s + i, b"false", 5) == 0:
            nd.type = T_FALSE
            nd.count = 0
            i += 5
            nn += 1
        elif c == 110 and i + 4 <= n and memcmp(s + i, b"null", 4) == 0:
            nd.type = T_NULL
            nd.count = 0
            i += 4
            nn += 1
        else:
            return False  # NaN, Infinity and everything else
        # --- a value ended before s[i]: close the containers that end here ---
        while True:
            if depth == 0:
                p.nnodes = nn
                return skip_ws(s, i, n) == n
            counts[depth - 1] += 1
            i = skip_ws(s, i, n)
            if i >= n:
                return False
            c = s[i]
            if c == 44:  # ','
                i = skip_ws(s, i + 1, n)
                if i >= n:
                    return False
                if in_obj:  # the next key
                    if s[i] != 34:
                        return False
                    if nn + 2 > cap:
                        if not grow_nodes(p):
                            return False
                        nodes = p.nodes
                        cap = p.cap
                    i = parse_str(p, &nodes[nn], s, i, n)
                    if i < 0:
                        return False
                    nodes[nn].next = nn + 1
                    nn += 1
                    i = after_colon(s, i, n)
                    if i < 0:
                        return False
                break
            if c == (125 if in_obj else 93):  # '}' or ']'
                i += 1
                depth -= 1
                top = stack[depth]
                nd = &nodes[top]
                nd.count = counts[depth]
                nd.next = nn
                if in_obj and not index_keys(p, top):
                    return False
                in_obj = depth > 0 and nodes[stack[depth - 1]].type == T_OBJ
                continue
            return False


cdef inline double num_value(Parser *p, int32_t idx) noexcept nogil:
    """The value of a T_NUM node as the reference's _number gives it (huge ones are +-inf):
    computed by parse_num, or by Python's own correctly rounded strtod (float() uses it).

    Without the GIL (``python_ok`` false) the second way is not open: the line is marked
    ``defer`` (the value returned is meaningless) and checked again by the merge."""
    cdef Node *nd = &p.nodes[idx]
    cdef double v
    cdef char *end
    if nd.flags & F_VAL:
        memcpy(&v, &nd.pfx, 8)
        return v
    if not p.python_ok:  # a worker thread: Python's strtod needs the GIL (dtoa's pools)
        p.defer = True
        return 0.0
    memcpy(p.scratch, p.s + nd.start, nd.len)
    p.scratch[nd.len] = 0
    return PyOS_string_to_double(<char *>p.scratch, &end, NULL)
