# Pieces of lines and the contexts that check them: a line into its record (LineRec), a
# piece a line at a time. Part of ext/_core.pyx (included).

# --- pieces -----------------------------------------------------------------------------------

cdef bint piece_ready(Piece *pc) noexcept nogil:
    """Empty the piece's outputs (allocated on first use)."""
    if pc.recs == NULL:
        pc.rcap = 64
        pc.recs = <LineRec *>malloc(pc.rcap * sizeof(LineRec))
        pc.fcap = 64
        pc.f = <Finding *>malloc(pc.fcap * sizeof(Finding))
        pc.dcap = 256
        pc.decl = <int32_t *>malloc(pc.dcap * sizeof(int32_t))
        pc.bkcap = 256
        pc.bk = <unsigned char *>malloc(pc.bkcap)
        pc.lcap = 64
        pc.lab = <int32_t *>malloc(pc.lcap * sizeof(int32_t))
        pc.sacap = 256
        pc.sa = <unsigned char *>malloc(pc.sacap)
        pc.ncap = 256
        pc.num = <int64_t *>malloc(pc.ncap * sizeof(int64_t))
        if (pc.recs == NULL or pc.f == NULL or pc.decl == NULL or pc.bk == NULL
                or pc.lab == NULL or pc.sa == NULL or pc.num == NULL):
            piece_free(pc)
            return False
    pc.nrecs = pc.nf = pc.ndecl = pc.nbk = pc.nlab = pc.nsa = pc.nnum = 0
    pc.last_bk = -1
    pc.nomem = False
    return True


cdef void piece_free(Piece *pc) noexcept nogil:
    free(pc.recs)
    free(pc.f)
    free(pc.decl)
    free(pc.bk)
    free(pc.lab)
    free(pc.sa)
    free(pc.num)
    pc.recs = NULL
    pc.f = NULL
    pc.decl = NULL
    pc.bk = NULL
    pc.lab = NULL
    pc.sa = NULL
    pc.num = NULL
    pc.rcap = pc.fcap = pc.dcap = pc.bkcap = pc.lcap = pc.sacap = pc.ncap = 0


# --- contexts ---------------------------------------------------------------------------------

cdef Ctx *ctx_new(int id, bint python_ok, int64_t max_int_digits) noexcept nogil:
    cdef Ctx *c = <Ctx *>calloc(1, sizeof(Ctx))
    cdef bint ok
    if c == NULL:
        return NULL
    c.id = id
    c.p.cap = 4096
    c.p.nodes = <Node *>malloc(c.p.cap * sizeof(Node))
    c.p.arena = <unsigned char *>malloc(MAX_LINE_BYTES + 64)
    c.p.scratch = <unsigned char *>malloc(MAX_LINE_BYTES + 64)
    c.p.hcap = 4096
    c.p.hidx = <int32_t *>malloc(c.p.hcap * sizeof(int32_t))
    c.p.max_int_digits = max_int_digits
    c.p.python_ok = python_ok
    c.pcap = 16
    c.pairs = <Pair *>malloc(c.pcap * sizeof(Pair))
    c.bcap = 64 * BOX_SLOTS
    c.bf = <int32_t *>malloc(c.bcap * sizeof(int32_t))
    ok = lt_init(&c.lt)
    if (not ok or c.p.nodes == NULL or c.p.arena == NULL or c.p.scratch == NULL
            or c.p.hidx == NULL or c.pairs == NULL or c.bf == NULL):
        ctx_free(c)
        return NULL
    return c


cdef void ctx_free(Ctx *c) noexcept nogil:
    if c == NULL:
        return
    free(c.p.nodes)
    free(c.p.arena)
    free(c.p.scratch)
    free(c.p.hidx)
    free(c.pairs)
    free(c.bf)
    lt_free(&c.lt)
    free(c)


# --- a line, a piece -------------------------------------------------------------------------

cdef void do_line(Ctx *c, Py_ssize_t start, Py_ssize_t n, bint strip_cr) noexcept nogil:
    """check_line (but the duplicate rule) for the line at c.out.buf[start:start + n], without
    its \\n (and, unless ``strip_cr`` is false, with the \\r before it): a record in c.out."""
    cdef Piece *pc = c.out
    cdef const unsigned char *s = pc.buf + start
    cdef const unsigned char *src
    cdef LineRec *rec
    cdef Py_ssize_t i, chars, blen, lab0
    cdef Node *nd
    cdef bint too_long = False
    cdef int verdict
    cdef void *grown
    if pc.nrecs == pc.rcap:
        grown = grow(pc.recs, &pc.rcap, sizeof(LineRec))
        if grown == NULL:
            c.nomem = True
            return
        pc.recs = <LineRec *>grown
    rec = &pc.recs[pc.nrecs]
    pc.nrecs += 1
    if strip_cr and n and s[n - 1] == 13:  # one \r before the \n is part of the terminator
        n -= 1
    rec.start = <int32_t>start
    rec.len = <int32_t>n
    rec.verdict = INVALID
    rec.tier1 = rec.keys = 0
    rec.nf = rec.ndecl = rec.nlab = 0
    rec.bucket = -1
    rec.sref = -1
    rec.nnum = -1
    if n > MAX_LINE_BYTES:
        too_long = True
    elif n > MAX_LINE_CHARS:  # count characters: bytes that are not continuations
        chars = 0
        for i in range(n):
            if (s[i] & 0xC0) != 0x80:
                chars += 1
        too_long = chars > MAX_LINE_CHARS
    if too_long:
        rec.kind = R_LONG
        return
    c.p.defer = False
    if not parse_line(&c.p, s, n):
        if c.p.nomem:
            c.nomem = True
        rec.kind = R_JSON
        return
    c.seq += 1
    c.fbase = pc.nf
    i = pc.ndecl
    lab0 = pc.nlab
    verdict = check_line(c)
    if c.p.defer:  # for the merge, which holds the GIL
        pc.nf = c.fbase
        pc.ndecl = i
        pc.nlab = lab0
        rec.kind = R_DEFER
        return
    rec.kind = R_CHECKED
    rec.verdict = <uint8_t>verdict
    rec.tier1 = c.tier1
    rec.keys = c.keys
    rec.nf = <int32_t>(pc.nf - c.fbase)
    rec.ndecl = <int32_t>(pc.ndecl - i)
    rec.nlab = <int32_t>(pc.nlab - lab0)
    if c.numbers and verdict == VALID and rec.nf == 0:
        line_numbers(c, rec)
        if c.nomem:
            return
    blen = c.bucket_len
    if blen:
        src = sptr(&c.p, &c.p.nodes[c.sref]) + 5
        if (pc.last_bk >= 0 and pc.bk[pc.last_bk] == blen
                and memcmp(pc.bk + pc.last_bk + 1, src, blen) == 0):
            rec.bucket = <int32_t>pc.last_bk
        else:
            while pc.nbk + 1 + blen > pc.bkcap:
                grown = grow(pc.bk, &pc.bkcap, 1)
                if grown == NULL:
                    c.nomem = True
                    return
                pc.bk = <unsigned char *>grown
            pc.bk[pc.nbk] = <unsigned char>blen
            memcpy(pc.bk + pc.nbk + 1, src, blen)
            rec.bucket = <int32_t>pc.nbk
            pc.last_bk = pc.nbk
            pc.nbk += 1 + blen
        rec.sref = c.sref
        rec.h1 = c.h[0]
        rec.h2 = c.h[1]
        if c.records:  # where the source-ref's text is, for its record
            nd = &c.p.nodes[c.sref]
            rec.slen = nd.len
            if not (nd.flags & F_ESC):
                rec.soff = nd.start
            else:  # decoded in the parser's arena, which the next line reuses: keep a copy
                while pc.nsa + nd.len > pc.sacap:
                    grown = grow(pc.sa, &pc.sacap, 1)
                    if grown == NULL:
                        c.nomem = True
                        return
                    pc.sa = <unsigned char *>grown
                memcpy(pc.sa + pc.nsa, sptr(&c.p, nd), nd.len)
                rec.soff = <int32_t>(-1 - pc.nsa)
                pc.nsa += nd.len


cdef void process_piece(Ctx *c, Piece *pc) noexcept nogil:
    """Check the lines of a piece, in order, until its end or a cap (REC_CAP, FINDING_CAP)."""
    cdef Py_ssize_t pos = pc.start, end = pc.end
    cdef const unsigned char *nl
    pc.ctx = c.id
    if not piece_ready(pc):
        pc.nomem = True
        pc.stop = pos
        return
    c.out = pc
    c.nomem = False
    while pos < end and pc.nrecs < REC_CAP and pc.nf < FINDING_CAP:
        nl = <const unsigned char *>memchr(pc.buf + pos, 10, end - pos)  # end follows a \n
        do_line(c, pos, (nl - pc.buf) - pos, True)
        if c.nomem:
            pc.nomem = True
            break
        pos = (nl - pc.buf) + 1
    pc.stop = pos
