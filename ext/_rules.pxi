# The line rules: customlabels.validation._pyscan.check_line and the functions it calls,
# rule for rule and in the same order, each C function named after the Python one it
# mirrors. Part of ext/_core.pyx (included).

# --- findings: path steps, adding one ---------------------------------------------------------

cdef inline int32_t PK(int32_t node) noexcept nogil:
    return (node << 2) | P_KEY


cdef inline int32_t PN(int name) noexcept nogil:
    return (<int32_t>name << 2) | P_NAME


cdef inline int32_t PI(int32_t i) noexcept nogil:
    return (i << 2) | P_INT


cdef void add(Ctx *c, int code, int n, int32_t a, int32_t b, int32_t d, int32_t e) noexcept nogil:
    cdef Piece *pc = c.out
    cdef Finding *fd
    cdef void *grown
    if pc.nf == pc.fcap:
        grown = grow(pc.f, &pc.fcap, sizeof(Finding))
        if grown == NULL:
            c.nomem = True
            return
        pc.f = <Finding *>grown
    fd = &pc.f[pc.nf]
    pc.nf += 1
    fd.code = <int16_t>code
    fd.n = <int16_t>n
    fd.path[0] = a
    fd.path[1] = b
    fd.path[2] = d
    fd.path[3] = e
    if ((n > 0 and (a & 3) == P_KEY) or (n > 1 and (b & 3) == P_KEY)
            or (n > 2 and (d & 3) == P_KEY) or (n > 3 and (e & 3) == P_KEY)):
        c.keys = True


cdef inline void add0(Ctx *c, int code) noexcept nogil:
    add(c, code, 0, 0, 0, 0, 0)


cdef inline void add1(Ctx *c, int code, int32_t a) noexcept nogil:
    add(c, code, 1, a, 0, 0, 0)


cdef inline void add2(Ctx *c, int code, int32_t a, int32_t b) noexcept nogil:
    add(c, code, 2, a, b, 0, 0)


cdef inline void add3(Ctx *c, int code, int32_t a, int32_t b, int32_t d) noexcept nogil:
    add(c, code, 3, a, b, d, 0)


cdef inline void add4(Ctx *c, int code, int32_t a, int32_t b, int32_t d,
                      int32_t e) noexcept nogil:
    add(c, code, 4, a, b, d, e)


# --- labels of the line being checked ---------------------------------------------------------

cdef int32_t declare(Ctx *c, int32_t idx) noexcept nogil:
    """The context's id of the label named by string node ``idx``; the first time on the line,
    the label joins the line's declared labels (the reference's ``declared``: first-reference
    order). -1 when memory is short."""
    cdef Node *nd = &c.p.nodes[idx]
    cdef const unsigned char *s = sptr(&c.p, nd)
    cdef Py_ssize_t n = nd.len
    cdef uint64_t h = hash64(s, n)
    cdef int32_t lid = lt_find(&c.lt, s, n, h)
    cdef Piece *pc = c.out
    cdef Label *lab
    cdef void *grown
    if lid < 0:
        if c.sync != NULL:
            cl_lock(c.sync)
        lid = lt_add(&c.lt, s, n, h)
        if c.sync != NULL:
            cl_unlock(c.sync)
        if lid < 0:
            c.nomem = True
            return -1
    lab = &c.lt.labels[lid]
    if lab.st != c.seq:
        if pc.ndecl == pc.dcap:
            grown = grow(pc.decl, &pc.dcap, sizeof(int32_t))
            if grown == NULL:
                c.nomem = True
                return -1
            pc.decl = <int32_t *>grown
        lab.st = c.seq
        lab.pos = pc.ndecl
        pc.decl[pc.ndecl] = lid << 2
        pc.ndecl += 1
    return lid


cdef inline void mark(Ctx *c, int32_t lid, int bit) noexcept nogil:
    """Put label ``lid`` (declared on the line) in the line's classification (bit 1) or
    detection (bit 2) labels; count each set, and their union, once a label."""
    cdef int32_t *e = &c.out.decl[c.lt.labels[lid].pos]
    if e[0] & bit:
        return
    if not (e[0] & 3):
        c.nany += 1
    e[0] |= bit
    if bit == 1:
        c.ncls += 1
    else:
        c.ndet += 1
    if c.records:
        rec_event(c, (lid << 2) | bit)


cdef void rec_event(Ctx *c, int32_t ev) noexcept nogil:
    """Note a label event of the line, for its record: ``(lid << 2) | 1`` the label joins the
    line's classification labels, ``| 2`` its detection labels (the first time each: the
    reference's cls and det dicts), ``| 0`` a usable box of that label."""
    cdef Piece *pc = c.out
    cdef void *grown
    if pc.nlab == pc.lcap:
        grown = grow(pc.lab, &pc.lcap, sizeof(int32_t))
        if grown == NULL:
            c.nomem = True
            return
        pc.lab = <int32_t *>grown
    pc.lab[pc.nlab] = ev
    pc.nlab += 1


# --- the line rules (_pyscan.check_line) -----------------------------------------------------

cdef int check_line(Ctx *c) noexcept nogil:
    """Apply every per-line rule to the parsed line but the duplicate source-ref (the merge's:
    it depends on the lines before); return the verdict.

    Findings go to c.out.f, declared labels (with their cls and det sets) to c.out.decl; the
    well-formed source-ref (check_line's info) to c.bucket_len, c.sref, c.h."""
    cdef Parser *p = &c.p
    cdef int32_t sref, j, m, cnt, mv
    cdef Node *nd
    cdef Py_ssize_t blen, npairs, nkeys = 0, q
    cdef Pair *pr
    cdef void *grown
    cdef const unsigned char *ks
    c.tier1 = False
    c.keys = False
    c.bucket_len = 0
    c.ncls = c.ndet = c.nany = 0
    c.nbf = 0
    c.mark = 0

    sref = get_name(p, 0, N_SOURCE_REF)
    if sref < 0:
        add0(c, C_ERROR_MISSING_SOURCE_REF)
    else:
        nd = &p.nodes[sref]
        blen = source_ref_bucket(sptr(p, nd), nd.len) if nd.type == T_STR else 0
        if blen == 0:
            add1(c, C_ERROR_INVALID_SOURCE_REF_FORMAT, PN(N_SOURCE_REF))
        else:
            hash128(sptr(p, nd), nd.len, c.h)
            c.bucket_len = blen
            c.sref = sref

    # Label attributes: keys other than the reserved ones; pairs: NAME with NAME-metadata.
    c.npairs = 0
    cnt = p.nodes[0].count
    j = 1
    for m in range(cnt):
        nd = &p.nodes[j]
        ks = sptr(p, nd)
        if not (str_is(p, j, N_SOURCE_REF) or str_is(p, j, N_ERRORS)
                or str_is(p, j, N_WARNINGS)):
            nkeys += 1
            if not (nd.len >= 9 and memcmp(ks + nd.len - 9, METADATA_SUFFIX, 9) == 0):
                memcpy(p.scratch, ks, nd.len)
                memcpy(p.scratch + nd.len, METADATA_SUFFIX, 9)
                mv = obj_get(p, 0, p.scratch, nd.len + 9,
                             prefix8(p.scratch, nd.len + 9))
                if mv >= 0:
                    if c.npairs == c.pcap:
                        grown = grow(c.pairs, &c.pcap, sizeof(Pair))
                        if grown == NULL:
                            c.nomem = True
                            return INVALID
                        c.pairs = <Pair *>grown
                    pr = &c.pairs[c.npairs]
                    c.npairs += 1
                    pr.akey = j
                    pr.aval = j + 1
                    pr.mkey = mv - 1
                    pr.mval = mv
        j = p.nodes[j + 1].next
    npairs = c.npairs
    if nkeys and not npairs:
        add0(c, C_ERROR_NO_LABEL_ATTRIBUTES)
    for q in range(npairs):
        pr = &c.pairs[q]
        pr.kind = _check_pair_format(c, pr)
    if c.nomem:
        return INVALID
    if c.out.nf > c.fbase:
        c.tier1 = True
        return INVALID
    if nkeys == 0:
        add0(c, C_WARNING_UNANNOTATED_RECORD)
        return IGNORED
    return _check_second_tier(c)


cdef int _check_second_tier(Ctx *c) noexcept nogil:
    """The second-tier rules of check_line, for a line that passed the first tier."""
    cdef Parser *p = &c.p
    cdef Pair *pr
    cdef Py_ssize_t q, r, boxes = 0
    cdef int32_t name, size0, ann, lid, too_many_at = -1
    cdef bint pair_error = False, line_error
    cdef double width, height
    for q in range(c.npairs):
        pr = &c.pairs[q]
        if pr.kind == K_CLS:
            name = pr.mf[M_CLASS_NAME]
            if name_ok(p, name):
                lid = declare(c, name)
                if lid < 0:
                    return INVALID
                mark(c, lid, 1)
            else:
                add2(c, C_ERROR_INVALID_LABEL_NAME_LENGTH, PK(pr.mkey), PN(N_CLASS_NAME))
                pair_error = True
        elif pr.kind == K_DET:
            size0 = get_name(p, pr.aval, N_IMAGE_SIZE) + 1
            width = num_value(p, get_name(p, size0, N_WIDTH))
            height = num_value(p, get_name(p, size0, N_HEIGHT))
            if not dimension_ok(width, height):
                add3(c, C_ERROR_INVALID_IMAGE_DIMENSION, PK(pr.akey), PN(N_IMAGE_SIZE), PI(0))
            ann = get_name(p, pr.aval, N_ANNOTATIONS)
            if ann < 0 or p.nodes[ann].count == 0:
                add1(c, C_WARNING_NO_ATTRIBUTE_ANNOTATIONS, PK(pr.akey))
                continue
            boxes += p.nodes[ann].count
            if boxes > MAX_BOXES and too_many_at < 0:
                too_many_at = pr.akey
            if not _check_boxes(c, ann, pr.boxes, width, height, pr.akey, pr.mkey):
                add1(c, C_ERROR_NO_VALID_ANNOTATIONS, PK(pr.akey))
                pair_error = True
        else:
            add2(c, C_ERROR_UNSUPPORTED_USE_CASE_TYPE, PK(pr.mkey), PN(N_TYPE))
            pair_error = True
    if c.nomem:
        return INVALID

    if too_many_at >= 0:
        add2(c, C_ERROR_TOO_MANY_BOUNDING_BOXES, PK(too_many_at), PN(N_ANNOTATIONS))
    # the union of cls and det (dict.fromkeys([*cls, *det])), counted by mark()
    if c.nany > MAX_LABELS_PER_IMAGE:
        add0(c, C_ERROR_TOO_MANY_LABELS_PER_IMAGE)
    line_error = False
    for r in range(c.fbase, c.out.nf):
        if is_line_error(c.out.f[r].code):
            line_error = True
            break
    if c.ncls == 0 and c.ndet == 0:
        if pair_error:
            add0(c, C_ERROR_NO_VALID_LABEL_ATTRIBUTES)
            line_error = True
        elif not line_error:
            add0(c, C_WARNING_NO_ANNOTATIONS)
    if line_error:
        return INVALID
    if c.ncls or c.ndet:
        return VALID
    return IGNORED


cdef bint _check_boxes(Ctx *c, int32_t ann, Py_ssize_t boxes, double width, double height,
                      int32_t akey, int32_t mkey) noexcept nogil:
    """_check_boxes (spec decision 7): check each box; return whether one is usable.

    The first tier made sure every number is there, every class_id an int in class-map and
    every class-map name a string; ``boxes`` is where gather_box left the box fields."""
    cdef Parser *p = &c.p
    cdef double longest = height if height > width else width  # max(width, height)
    cdef double scale = 1.0 if longest <= SCALE_SIDE else SCALE_SIDE / longest
    cdef double left, top, w, h
    cdef bint usable = False, ok
    cdef int32_t entry, lid = -1, i, cnt = p.nodes[ann].count
    cdef int32_t *bf
    cdef Node *nd
    c.mark += 1  # a fresh "reported" set: a class-map key node is in it when aux == mark
    for i in range(cnt):
        bf = c.bf + boxes + i * BOX_SLOTS
        entry = bf[B_ENTRY]
        # The class-map entry's value node caches its label: aux is 0 (not seen yet), the
        # label id + 1, or -1 (the name's length is invalid).
        nd = &p.nodes[entry]
        if nd.aux == 0:
            if name_ok(p, entry):
                lid = declare(c, entry)
                if lid < 0:
                    return True
                p.nodes[entry].aux = lid + 1
            else:
                p.nodes[entry].aux = -1
            nd = &p.nodes[entry]
        ok = nd.aux > 0
        if ok:
            lid = nd.aux - 1
        elif p.nodes[entry - 1].aux != c.mark:
            p.nodes[entry - 1].aux = c.mark
            add3(c, C_ERROR_INVALID_LABEL_NAME_LENGTH, PK(mkey), PN(N_CLASS_MAP), PK(entry - 1))
        left = num_value(p, bf[B_LEFT])
        top = num_value(p, bf[B_TOP])
        w = num_value(p, bf[B_WIDTH])
        h = num_value(p, bf[B_HEIGHT])
        if (left < 0 or top < 0 or w < 0 or h < 0 or left + w > width
                or top + h > height):
            add3(c, C_ERROR_INVALID_BOUNDING_BOX, PK(akey), PN(N_ANNOTATIONS), PI(i))
        elif w * scale <= 1 or h * scale <= 1:
            add3(c, C_ERROR_BOUNDING_BOX_TOO_SMALL, PK(akey), PN(N_ANNOTATIONS), PI(i))
        elif ok:
            usable = True
            mark(c, lid, 2)
            if c.records:
                rec_event(c, lid << 2)
    return usable


cdef int _check_pair_format(Ctx *c, Pair *pr) noexcept nogil:
    """_check_pair_format: the first-tier format rules of one attribute and its metadata."""
    cdef Parser *p = &c.p
    cdef int32_t value = pr.aval, meta = pr.mval, akey = pr.akey, mkey = pr.mkey
    cdef int32_t kind, ann, objects, cmap, item, conf, cid, j, m, cnt, nobj
    cdef int32_t *bf
    cdef bint objects_ok, map_ok
    cdef Node *nd
    cdef const unsigned char *key
    cdef Py_ssize_t klen
    cdef int32_t *mf = pr.mf
    cdef int32_t *oc
    cdef void *grown
    if not is_type(p, meta, T_OBJ):
        add1(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey))
        return K_NONE
    gather_meta(p, meta, mf)
    kind = mf[M_TYPE]
    if not is_type(p, kind, T_STR):
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_TYPE))
        return K_NONE
    if str_is(p, kind, N_CLS_TYPE):
        if not is_integer(p, value):
            add1(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey))
        if not is_confidence(p, mf[M_CONFIDENCE]):
            add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_CONFIDENCE))
        if not is_type(p, mf[M_CLASS_NAME], T_STR):
            add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_CLASS_NAME))
        _check_common_metadata(c, mf, mkey)
        return K_CLS
    if not str_is(p, kind, N_DET_TYPE):
        return K_OTHER

    pr.boxes = -1
    ann = _check_detection_value(c, value, akey, &pr.boxes)
    objects = mf[M_OBJECTS]
    objects_ok = is_type(p, objects, T_ARR)
    oc = c.bf  # unused unless objects_ok
    if not objects_ok:
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_OBJECTS))
    else:
        # Each item's confidence node (-1: none, -2: the item is not a dict), kept for the
        # missing-confidence rule below, in scratch space after the boxes in c.bf.
        nobj = p.nodes[objects].count
        while c.nbf + nobj > c.bcap:
            grown = grow(c.bf, &c.bcap, sizeof(int32_t))
            if grown == NULL:
                c.nomem = True
                return K_NONE
            c.bf = <int32_t *>grown
        oc = c.bf + c.nbf
        item = objects + 1
        for m in range(nobj):
            if p.nodes[item].type != T_OBJ:
                oc[m] = -2
                add3(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey),
                     PN(N_OBJECTS), PI(m))
            else:
                conf = get_name(p, item, N_CONFIDENCE)
                oc[m] = conf
                if conf >= 0 and not is_confidence(p, conf):
                    add4(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey),
                         PN(N_OBJECTS), PI(m), PN(N_CONFIDENCE))
            item = p.nodes[item].next
    cmap = mf[M_CLASS_MAP]
    map_ok = is_type(p, cmap, T_OBJ)
    if not map_ok:
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_CLASS_MAP))
    else:
        j = cmap + 1
        for m in range(p.nodes[cmap].count):
            if p.nodes[j + 1].type != T_STR:
                add3(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey),
                     PN(N_CLASS_MAP), PK(j))
            j = p.nodes[j + 1].next
    _check_common_metadata(c, mf, mkey)
    if ann >= 0 and objects_ok:
        cnt = p.nodes[ann].count
        nobj = p.nodes[objects].count
        for m in range(cnt):
            if m >= nobj or oc[m] == -1:
                add3(c, C_ERROR_MISSING_BOUNDING_BOX_CONFIDENCE, PK(mkey), PN(N_OBJECTS), PI(m))
    if ann >= 0 and map_ok:
        for m in range(p.nodes[ann].count):
            bf = c.bf + pr.boxes + m * BOX_SLOTS
            cid = bf[B_CLASS_ID]  # -1 when the box is not a dict
            if is_integer(p, cid):
                nd = &p.nodes[cid]
                key = p.s + nd.start
                klen = nd.len
                if klen == 2 and key[0] == 45 and key[1] == 48:  # str(-0) == "0"
                    key += 1
                    klen = 1
                bf[B_ENTRY] = obj_get(p, cmap, key, klen, prefix8(key, klen))
                if bf[B_ENTRY] < 0:
                    add4(c, C_ERROR_MISSING_CLASS_MAP_ID, PK(akey), PN(N_ANNOTATIONS), PI(m),
                         PN(N_CLASS_ID))
    return K_DET


cdef void _check_common_metadata(Ctx *c, int32_t *mf, int32_t mkey) noexcept nogil:
    cdef Parser *p = &c.p
    cdef int32_t v = mf[M_HUMAN]
    if not (str_is(p, v, N_YES) or str_is(p, v, N_NO)):
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_HUMAN))
    if not is_type(p, mf[M_CREATION], T_STR):
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_CREATION))
    v = mf[M_JOB]
    if v >= 0 and p.nodes[v].type != T_STR:
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_JOB))


cdef int32_t _check_detection_value(Ctx *c, int32_t value, int32_t akey,
                                   Py_ssize_t *boxes) noexcept nogil:
    """_check_detection_value: the detection attribute's shape; its annotations list node,
    or -1 (not a dict, no annotations, or annotations not a list). The boxes' fields are
    gathered into c.bf at ``boxes[0]``."""
    cdef Parser *p = &c.p
    cdef int32_t size, s0, ann, box, i, k, item, cnt
    cdef bint ok
    cdef int32_t *bf
    cdef void *grown
    if not is_type(p, value, T_OBJ):
        add1(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey))
        return -1
    size = get_name(p, value, N_IMAGE_SIZE)
    if (not is_type(p, size, T_ARR) or p.nodes[size].count != 1
            or p.nodes[size + 1].type != T_OBJ):
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey), PN(N_IMAGE_SIZE))
    else:
        s0 = size + 1
        for k in range(N_WIDTH, N_DEPTH + 1):  # width, height, depth
            if not is_type(p, get_name(p, s0, k), T_NUM):
                add4(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey), PN(N_IMAGE_SIZE),
                     PI(0), PN(k))
    ann = get_name(p, value, N_ANNOTATIONS)
    if ann < 0:
        return -1
    if p.nodes[ann].type != T_ARR:
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey), PN(N_ANNOTATIONS))
        return -1
    cnt = p.nodes[ann].count
    while c.nbf + cnt * BOX_SLOTS > c.bcap:
        grown = grow(c.bf, &c.bcap, sizeof(int32_t))
        if grown == NULL:
            c.nomem = True
            return -1
        c.bf = <int32_t *>grown
    boxes[0] = c.nbf
    c.nbf += cnt * BOX_SLOTS
    box = ann + 1
    for i in range(cnt):
        bf = c.bf + boxes[0] + i * BOX_SLOTS
        if p.nodes[box].type != T_OBJ:
            bf[0] = bf[1] = bf[2] = bf[3] = bf[4] = bf[5] = -1
            add3(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey), PN(N_ANNOTATIONS), PI(i))
        else:
            gather_box(p, box, bf)
            for k in range(5):
                item = bf[k]
                ok = is_integer(p, item) if k == 0 else is_type(p, item, T_NUM)
                if not ok:
                    add4(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey),
                         PN(N_ANNOTATIONS), PI(i), PN(BOX_LIT[k]))
        box = p.nodes[box].next
    return ann
