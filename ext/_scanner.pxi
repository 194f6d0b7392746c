# The checking and merging half of a scan: the threads' contexts, the merge in line order
# (the duplicate rule, counts, labels, overlaps), the Python results of scan() and the records
# of records(). Part of ext/_core.pyx (included).

@cython.final
@cython.no_gc_clear  # __dealloc__ stops the threads before the buffers they read go
cdef class _Scanner(_Reader):
    """The state of one scan: the reader's (buffers, the queue of pieces), the contexts and
    worker threads, the tables and the Python results (built by the merge, in line order); an
    iterator of batches of records when made by :func:`records`."""

    cdef Ctx *ctxs[N_CTX]      # 0: the main thread's; 1..: the workers'; MERGE_CTX: the merge's
    cdef int32_t *gmap[N_CTX]  # a context's label id -> the scan's (-1: not mapped yet)
    cdef Py_ssize_t gmapn[N_CTX]
    cdef LabelTab glob         # the scan's labels, in first-reference order, with their counts
    cdef WorkerArg wargs[MAX_THREADS]
    cdef cl_thread threads[MAX_THREADS]
    cdef int nstarted          # worker threads running
    cdef int nthreads          # threads wanted, the main one included
    cdef bint forced           # started whatever the input's size
    cdef Piece rest            # the main thread's, for what a cap left of a piece
    cdef Piece dpiece          # the merge's, for a deferred line
    # results
    cdef int64_t lineno, limit
    cdef int64_t counts[3]
    cdef int64_t kind_lines[2]
    cdef int64_t dropped
    cdef unsigned char last_bucket[64]
    cdef Py_ssize_t last_bucket_len
    cdef RefTable refs
    cdef RefTable other_table
    cdef object other
    cdef list problems
    cdef dict buckets
    cdef list overlaps
    cdef object reason_py
    # records (records()): the batch being made, the scan's label names as str (one object a
    # name) and as 1-tuples (the labels of most lines)
    cdef bint records
    cdef bint numbers  # records with the numbers of a valid line's boxes (line_numbers)
    cdef bint declared  # records with the labels a line declares (and no bytes)
    cdef dict dcache    # declared: ((name, bits),) by (label id << 2) | bits
    cdef list batch
    cdef list names
    cdef list singles
    cdef bint finished

    def __cinit__(self):
        if not lt_init(&self.glob):
            raise MemoryError()

    def __dealloc__(self):  # before _Reader's, which frees the queue the threads read
        cdef int k
        self.stop_workers()
        for k in range(N_CTX):
            ctx_free(self.ctxs[k])
            free(self.gmap[k])
        lt_free(&self.glob)
        piece_free(&self.rest)
        piece_free(&self.dpiece)

    # --- threads ------------------------------------------------------------------------------

    cdef int start_workers(self) except -1:
        """Start the worker threads (nthreads - 1); with fewer, go on with those that run."""
        cdef int t
        cdef Ctx *c
        cdef Shared *sh = self.sh
        for t in range(1, self.nthreads):
            if self.ctxs[t] == NULL:
                c = ctx_new(t, False, self.ctxs[0].p.max_int_digits)
                if c == NULL:
                    raise MemoryError()
                c.sync = &sh.sync
                c.records = self.records
                c.numbers = self.numbers
                self.ctxs[t] = c
            self.wargs[t].sh = sh
            self.wargs[t].ctx = self.ctxs[t]
            if cl_thread_start(&self.threads[t], worker_main, &self.wargs[t]) != 0:
                break
            self.nstarted += 1
        if self.nstarted + 1 < self.nthreads and sh.static_sched:
            # the static schedule counts on every thread: fall back to the main one alone
            self.stop_workers()
            sh.static_sched = False
        self.nthreads = self.nstarted + 1
        return 0

    cdef void stop_workers(self) noexcept:
        cdef int t, n = self.nstarted
        cdef Shared *sh = self.sh
        if n == 0:
            return
        with nogil:
            cl_lock(&sh.sync)
            sh.quit = True
            cl_wake_workers(&sh.sync)
            cl_unlock(&sh.sync)
            for t in range(1, n + 1):
                cl_thread_join(&self.threads[t])
            sh.quit = False
        self.nstarted = 0

    cdef int published_more(self) except -1:
        """Start the threads once the input proves larger than THREAD_MIN_BYTES."""
        if (self.nstarted == 0 and self.nthreads > 1 and not self.forced
                and self.published >= THREAD_MIN_BYTES):
            self.start_workers()
        return 0

    # --- the merge: what depends on earlier lines, in line order --------------------------------

    cdef inline int next_line(self) except -1:
        """Count a line; 1 when it is past max_lines (the scan stops there)."""
        if self.lineno >= self.limit:
            return 1
        self.lineno += 1
        if self.lineno >= 0xFFFFFFFF:  # RefTable keeps lines as uint32
            raise OverflowError("customlabels._core reads at most 4,294,967,294 lines")
        return 0

    cdef int merge_piece(self, Piece *pc) except -1:
        """Merge a checked piece; 1 when max_lines stopped the scan."""
        cdef Py_ssize_t k
        for k in range(pc.nlong):
            if self.next_line():
                return 1
            self.simple(C_ERROR_LINE_TOO_LONG, None, NULL, 0)
        if pc.bufid < 0:
            return 0
        while True:
            if pc.nomem:
                raise MemoryError()
            if self.merge_recs(pc):
                return 1
            if pc.stop >= pc.end:
                return 0
            # A cap stopped it (many short lines): the rest, here, a cap at a time.
            self.rest.buf = pc.buf
            self.rest.bufid = pc.bufid
            self.rest.start = pc.stop
            self.rest.end = pc.end
            self.rest.nlong = 0
            process_piece(self.ctxs[0], &self.rest)
            pc = &self.rest

    cdef int merge_recs(self, Piece *pc) except -1:
        cdef Ctx *c = self.ctxs[pc.ctx]
        cdef LineRec *rec
        cdef LineRec *ahead
        cdef Py_ssize_t r, fo = 0, do = 0, lo = 0
        for r in range(pc.nrecs):
            if r + 8 < pc.nrecs:  # the source-ref tables are big, their slots random
                ahead = &pc.recs[r + 8]
                if ahead.bucket >= 0:
                    self.refs.prefetch(ahead.h1)
            if self.next_line():
                return 1
            rec = &pc.recs[r]
            if rec.kind == R_CHECKED:
                self.merge_checked(c, pc, rec, pc.f + fo, pc.decl + do, pc.lab + lo)
            elif rec.kind == R_DEFER:
                self.redo(pc, rec)
            elif rec.kind == R_LONG:  # its bytes are kept unless the reader drops them
                self.simple(C_ERROR_LINE_TOO_LONG, None,
                            NULL if rec.len > MAX_LINE_BYTES else pc.buf + rec.start, rec.len)
            else:
                self.simple(C_ERROR_INVALID_JSON_LINE, self.reason(pc.buf + rec.start, rec.len),
                            pc.buf + rec.start, rec.len)
            fo += rec.nf
            do += rec.ndecl
            lo += rec.nlab
        return 0

    cdef int redo(self, Piece *pc, LineRec *rec) except -1:
        """Check a deferred line here, where Python's strtod may be called, and merge it."""
        cdef Ctx *c = self.ctxs[MERGE_CTX]
        cdef Piece *d = &self.dpiece
        d.buf = pc.buf
        if not piece_ready(d):
            raise MemoryError()
        d.ctx = MERGE_CTX
        c.out = d
        c.nomem = False
        do_line(c, rec.start, rec.len, False)
        if c.nomem:
            raise MemoryError()
        if d.recs[0].kind != R_CHECKED:
            raise RuntimeError(f"line {self.lineno}: a deferred line was not checked "
                               "(please report)")
        return self.merge_checked(c, d, &d.recs[0], d.f, d.decl, d.lab)

    cdef int simple(self, int code, object arg, const unsigned char *s,
                    Py_ssize_t n) except -1:
        """A line with one terminal finding (LINE_TOO_LONG, INVALID_JSON_LINE); s[:n] are its
        bytes (NULL: the reader drops them), for its record."""
        if self.records and self.declared:  # the bytes left out (b""), or not kept (None)
            self.batch.append((self.lineno, None if s == NULL else b"", INVALID,
                               [(code, (), arg)], None, (), (), None))
            return 0
        if self.records:
            self.batch.append((self.lineno, None if s == NULL else
                               PyBytes_FromStringAndSize(<const char *>s, n),
                               INVALID, [(code, (), arg)], None, (), ()))
            return 0
        self.counts[INVALID] += 1
        self.problems.append((self.lineno, INVALID, [(code, (), arg)]))
        self.dropped += 1
        return 0

    cdef int32_t gid(self, Ctx *c, int32_t lid) except -1:
        """The scan's id of label ``lid`` of context c (added to the scan's table when new: the
        merge meets labels in first-reference order)."""
        cdef int32_t *m = self.gmap[c.id]
        cdef Py_ssize_t n = self.gmapn[c.id], size, k
        cdef int32_t g
        cdef Label *lab
        if lid < n:
            g = m[lid]
            if g >= 0:
                return g
        else:
            size = max(64, 2 * n)
            while size <= lid:
                size *= 2
            m = <int32_t *>realloc(m, size * sizeof(int32_t))
            if m == NULL:
                raise MemoryError()
            for k in range(n, size):
                m[k] = -1
            self.gmap[c.id] = m
            self.gmapn[c.id] = size
        if c.sync != NULL:  # its thread may be growing the table
            cl_lock(c.sync)
        lab = &c.lt.labels[lid]
        g = lt_find(&self.glob, c.lt.arena + lab.off, lab.len, lab.hash)
        if g < 0:
            g = lt_add(&self.glob, c.lt.arena + lab.off, lab.len, lab.hash)
        if c.sync != NULL:
            cl_unlock(c.sync)
        if g < 0:
            raise MemoryError()
        m[lid] = g
        if self.records and g == len(self.names):  # a new name: its one str object
            lab = &self.glob.labels[g]
            name = PyUnicode_DecodeUTF8(<const char *>self.glob.arena + lab.off, lab.len,
                                        "surrogatepass")
            self.names.append(name)
            self.singles.append((name,))
        return g

    cdef int merge_checked(self, Ctx *c, Piece *pc, LineRec *rec, Finding *f,
                           int32_t *decl, int32_t *events) except -1:
        """scan()'s bookkeeping for a checked line: the duplicate rule, then the counts (or
        the line's record)."""
        cdef Py_ssize_t r, blen
        cdef int verdict = rec.verdict
        cdef int64_t first
        cdef int32_t e, ors = 0, g
        cdef Label *lab
        cdef const unsigned char *bk
        if rec.bucket >= 0:
            first = self.refs.find(rec.h1, rec.h2)
            if first and self.records:
                self.batch.append((self.lineno, b"" if self.declared else self.raw(pc, rec),
                                   INVALID, [(C_ERROR_DUPLICATE_SOURCE_REF,
                                              (NAMES[N_SOURCE_REF],), first)],
                                   self.sref_text(pc, rec), (), ()) + (
                                       (None,) if self.declared else ()))
                return 0
            if first:  # dropped at import: no other rule counts, nothing is counted
                self.counts[INVALID] += 1
                self.problems.append((self.lineno, INVALID,
                                      [(C_ERROR_DUPLICATE_SOURCE_REF, (NAMES[N_SOURCE_REF],),
                                        first)]))
                self.dropped += 1
                return 0
            if self.refs.add(rec.h1, rec.h2, self.lineno) < 0:
                raise MemoryError()
        if self.records:
            return self.record(c, pc, rec, f, decl, events)
        self.counts[verdict] += 1
        if rec.nf:
            self.problems.append((self.lineno, verdict, self.findings_list(pc, rec, f)))
            for r in range(rec.nf):
                if is_dropped(f[r].code):
                    self.dropped += 1
                    break
        if rec.bucket < 0:
            return 0
        # buckets.setdefault(bucket, line), with a fast path for the previous line's bucket
        bk = pc.bk + rec.bucket
        blen = bk[0]
        if blen != self.last_bucket_len or memcmp(self.last_bucket, bk + 1, blen) != 0:
            memcpy(self.last_bucket, bk + 1, blen)
            self.last_bucket_len = blen
            self.buckets.setdefault(
                PyUnicode_DecodeUTF8(<const char *>self.last_bucket, blen, NULL), self.lineno)
        if self.other_table is not None:
            first = self.other_table.find(rec.h1, rec.h2)
            if first:
                self.overlaps.append((self.lineno, first))
        elif self.other is not None:
            ref = self.key_str(self.tape(pc, rec), rec.sref)
            if ref in self.other:
                self.overlaps.append((self.lineno, self.other[ref]))
        # labels: declared ones join the table; a valid line counts its cls, det and union
        for r in range(rec.ndecl):
            e = decl[r]
            g = self.gid(c, e >> 2)
            if verdict == VALID:
                lab = &self.glob.labels[g]
                if e & 1:
                    lab.counts[0] += 1
                if e & 2:
                    lab.counts[1] += 1
                if e & 3:  # the union of cls and det; a declared label may be in neither
                    lab.counts[2] += 1
                ors |= e
        if verdict == VALID:
            if ors & 1:
                self.kind_lines[0] += 1
            if ors & 2:
                self.kind_lines[1] += 1
        return 0

    # --- records -------------------------------------------------------------------------------

    cdef inline object raw(self, Piece *pc, LineRec *rec):
        return PyBytes_FromStringAndSize(<const char *>pc.buf + rec.start, rec.len)

    cdef object sref_text(self, Piece *pc, LineRec *rec):
        """The source-ref of a line with a well-formed one (its decoded bytes: in the line
        itself, or copied to the piece when it had escapes)."""
        if rec.soff >= 0:
            return PyUnicode_DecodeUTF8(<const char *>pc.buf + rec.start + rec.soff, rec.slen,
                                        NULL)
        return PyUnicode_DecodeUTF8(<const char *>pc.sa + (-1 - rec.soff), rec.slen,
                                    "surrogatepass")

    cdef int record(self, Ctx *c, Piece *pc, LineRec *rec, Finding *f, int32_t *decl,
                    int32_t *events) except -1:
        """The record of a checked line that is not a duplicate: ``(line, raw, verdict,
        findings, source_ref, labels, box_labels)``, as customlabels.manifest.records makes it.

        A valid line's labels are its classification labels then its detection labels not
        among them, each set in the order its labels joined it (the reference's
        ``dict.fromkeys([*cls, *det])``); its box labels, the label of each usable box."""
        cdef object labels = (), boxes = ()
        cdef list out, bl
        cdef Py_ssize_t r, n = rec.nlab
        cdef int32_t e, g
        if rec.verdict == VALID and n:
            e = events[0]
            if n == 1 or (n == 2 and e & 3 == 2 and events[1] == e & ~3):  # one label
                labels = self.singles[self.gid(c, e >> 2)]
                if n == 2 and not self.declared:  # and one box
                    boxes = labels
            else:
                out = []
                bl = None
                for r in range(n):  # the classification labels; stamped with the line
                    e = events[r]
                    if e & 3 == 1:
                        g = self.gid(c, e >> 2)
                        self.glob.labels[g].st = self.lineno
                        out.append(self.names[g])
                for r in range(n):  # the detection labels not among them, the boxes' labels
                    e = events[r]
                    if e & 3 == 2:
                        g = self.gid(c, e >> 2)
                        if self.glob.labels[g].st != self.lineno:
                            out.append(self.names[g])
                    elif e & 3 == 0 and not self.declared:  # (declared: no box labels)
                        if bl is None:
                            bl = []
                        bl.append(self.names[self.gid(c, e >> 2)])
                labels = tuple(out)
                if bl is not None:
                    boxes = tuple(bl)
        if self.declared:
            self.batch.append((self.lineno, b"", rec.verdict,
                               self.findings_list(pc, rec, f) if rec.nf else [],
                               self.sref_text(pc, rec) if rec.bucket >= 0 else None,
                               labels, boxes,
                               self.declared_labels(c, rec, decl) if rec.bucket >= 0 else None))
            return 0
        if not self.numbers:
            self.batch.append((self.lineno, self.raw(pc, rec), rec.verdict,
                               self.findings_list(pc, rec, f) if rec.nf else [],
                               self.sref_text(pc, rec) if rec.bucket >= 0 else None,
                               labels, boxes))
            return 0
        if rec.nnum < 0:
            self.batch.append((self.lineno, self.raw(pc, rec), rec.verdict,
                               self.findings_list(pc, rec, f) if rec.nf else [],
                               self.sref_text(pc, rec) if rec.bucket >= 0 else None,
                               labels, boxes, None))
            return 0
        # a line with numbers: what its bytes would tell is in them (no findings, no raw);
        # without a detection attribute, only its line number is of use (no source-ref)
        if rec.nnum == 0:
            self.batch.append((self.lineno, None, rec.verdict, [], None, labels, boxes, b""))
            return 0
        self.batch.append((self.lineno, None, rec.verdict, [],
                           self.sref_text(pc, rec) if rec.bucket >= 0 else None,
                           labels, boxes, PyBytes_FromStringAndSize(
                               <const char *>(pc.num + rec.noff), rec.nnum * sizeof(int64_t))))
        return 0

    cdef tuple declared_labels(self, Ctx *c, LineRec *rec, int32_t *decl):
        """The labels a line declares, ``(name, bits)`` in the order declared: bits 1 when it
        is among the line's classification labels, 2 its detection labels (what the scan
        counts of a line with a well-formed source-ref)."""
        cdef Py_ssize_t r
        cdef int32_t e, g
        cdef object key, one
        cdef list out
        if rec.ndecl == 1:
            e = decl[0]
            g = self.gid(c, e >> 2)
            key = (g << 2) | (e & 3)
            one = self.dcache.get(key)
            if one is None:
                one = self.dcache[key] = ((self.names[g], e & 3),)
            return <tuple>one
        out = []
        for r in range(rec.ndecl):
            e = decl[r]
            out.append((self.names[self.gid(c, e >> 2)], e & 3))
        return tuple(out)

    # --- Python results ----------------------------------------------------------------------

    cdef Parser *tape(self, Piece *pc, LineRec *rec) except NULL:
        """The line parsed again, in the merge's context (for the text of its keys)."""
        cdef Parser *p = &self.ctxs[MERGE_CTX].p
        if not parse_line(p, pc.buf + rec.start, rec.len):
            if p.nomem:
                raise MemoryError()
            raise RuntimeError(f"line {self.lineno}: a checked line does not parse again "
                               "(please report)")
        return p

    cdef object key_str(self, Parser *p, int32_t idx):
        cdef Node *nd = &p.nodes[idx]
        return PyUnicode_DecodeUTF8(<const char *>sptr(p, nd), nd.len, "surrogatepass")

    cdef object finding_tuple(self, Parser *p, Finding *fd):
        cdef list path = []
        cdef int k, kind
        cdef int32_t v
        for k in range(fd.n):
            v = fd.path[k]
            kind = v & 3
            if kind == P_KEY:
                path.append(self.key_str(p, v >> 2))
            elif kind == P_NAME:
                path.append(NAMES[v >> 2])
            else:
                path.append(v >> 2)
        return (fd.code, tuple(path), None)

    cdef list findings_list(self, Piece *pc, LineRec *rec, Finding *f):
        """The line's findings; first-tier ones grouped in the guide's order, each group in
        the order met (the reference's stable sort on _TIER1_RANK)."""
        cdef list out = []
        cdef Py_ssize_t r
        cdef int t
        cdef Parser *p = self.tape(pc, rec) if rec.keys else NULL
        if rec.tier1:
            for t in range(N_TIER1):
                for r in range(rec.nf):
                    if f[r].code == tier1_code(t):
                        out.append(self.finding_tuple(p, &f[r]))
        else:
            for r in range(rec.nf):
                out.append(self.finding_tuple(p, &f[r]))
        return out

    cdef str reason(self, const unsigned char *s, Py_ssize_t n):
        """The reason text for a line the parser rejected, from the caller's ``reason``."""
        return self.reason_py(PyBytes_FromStringAndSize(<const char *>s, n))

    # --- the scan ------------------------------------------------------------------------------

    cdef int merge_ready(self) except -1:
        """Merge the pieces that are done, in order; 1 when max_lines stopped the scan, 2
        when a piece gave a batch of records."""
        cdef Shared *sh = self.sh
        cdef Piece *pc
        cdef bint done
        while self.nmerged < sh.npub:
            pc = &sh.pieces[self.nmerged % sh.qcap]
            with nogil:
                cl_lock(&sh.sync)
                done = pc.done
                cl_unlock(&sh.sync)
            if not done:
                return 0
            if self.merge_piece(pc):
                return 1
            if pc.bufid >= 0:
                self.unmerged[pc.bufid] -= 1
            self.nmerged += 1
            if self.records and self.batch:
                return 2
        return 0

    cdef bint take_one(self) noexcept:
        """Check one piece on this thread, if one is there for it."""
        cdef Shared *sh = self.sh
        cdef Py_ssize_t i
        cdef Piece *pc
        with nogil:
            cl_lock(&sh.sync)
            i = claim(sh, 0)
            cl_unlock(&sh.sync)
        if i < 0:
            return False
        pc = &sh.pieces[i % sh.qcap]
        process_piece(self.ctxs[0], pc)  # with the GIL: it may call Python's strtod
        with nogil:
            cl_lock(&sh.sync)
            pc.done = True
            cl_unlock(&sh.sync)
        return True

    cdef void wait_next(self) noexcept:
        """Wait until the next piece to merge is done (a worker has it)."""
        cdef Shared *sh = self.sh
        cdef Piece *pc = &sh.pieces[self.nmerged % sh.qcap]
        with nogil:
            cl_lock(&sh.sync)
            while not pc.done:
                cl_wait_done(&sh.sync)
            cl_unlock(&sh.sync)

    cdef int start(self, stream, max_lines, other, reason, Py_ssize_t chunk, threads, block,
                   piece, bint static) except -1:
        """Set the scan up and read the first buffer (the threads start on it)."""
        cdef Shared *sh = self.sh
        cdef int y, n
        cdef int64_t mid
        cdef Py_ssize_t blk, pce
        import os
        import sys
        self.reason_py = reason
        mid = sys.get_int_max_str_digits()
        self.limit = max(-1, min(int(max_lines), 1 << 62))
        expected = 0
        try:  # a file: about one line in 512 bytes (the table grows if there are more)
            expected = min(os.fstat(stream.fileno()).st_size // 512, self.limit + 1)
        except (AttributeError, OSError, ValueError):
            pass
        self.refs = RefTable(expected)
        if isinstance(other, RefTable):
            self.other_table = other
        elif other is not None:
            self.other = other
        self.problems = []
        self.buckets = {}
        self.overlaps = []
        if chunk < 1:
            raise ValueError("chunk_size must be positive")
        # Threads: _threads forces that many; else CUSTOMLABELS_THREADS, else min(2, CPUs),
        # started once the input proves larger than THREAD_MIN_BYTES.
        if threads is None and not static:
            n = 0
            env = os.environ.get("CUSTOMLABELS_THREADS", "").strip()
            if env:
                try:
                    n = int(env)
                except ValueError:
                    n = 0
            if n < 1:
                n = min(2, os.cpu_count() or 1)
            self.forced = False
        else:  # forced: started whatever the size (the static schedule counts on them)
            n = 2 if threads is None else int(threads)
            if n < 1:
                raise ValueError("_threads must be positive")
            self.forced = True
        self.nthreads = min(n, MAX_THREADS) if CL_THREADS and self.sync_ok else 1
        blk = DEFAULT_BLOCK if block is None else int(block)
        if not 1 <= blk <= MAX_BLOCK:
            raise ValueError(f"_block must be in [1, {MAX_BLOCK}]")
        pce = DEFAULT_PIECE if piece is None else int(piece)
        self.open(stream, chunk, blk, min(max(pce, MIN_PIECE), MAX_BLOCK))
        sh.static_sched = static and self.nthreads > 1
        sh.nthreads = self.nthreads
        for y in range(MAX_THREADS):
            sh.cursor[y] = y
        self.ctxs[0] = ctx_new(0, True, mid)
        self.ctxs[MERGE_CTX] = ctx_new(MERGE_CTX, True, mid)
        if self.ctxs[0] == NULL or self.ctxs[MERGE_CTX] == NULL:
            raise MemoryError()
        self.ctxs[0].records = self.ctxs[MERGE_CTX].records = self.records
        self.ctxs[0].numbers = self.ctxs[MERGE_CTX].numbers = self.numbers
        if self.forced and self.nthreads > 1:
            self.start_workers()
        sh.nthreads = self.nthreads
        self.fill(0)
        self.y = 1
        return 0

    cdef int pump(self) except -1:
        """Read, check and merge on: until the end (1), max_lines (2), or, making records,
        a batch of them (0)."""
        cdef Shared *sh = self.sh
        cdef int r
        while True:
            r = self.merge_ready()
            if r == 1:
                return 2
            if r == 2:
                return 0
            if not self.eof and self.unmerged[self.y] == 0:
                self.fill(self.y)
                self.y ^= 1
                continue
            if self.take_one():
                continue
            if self.nmerged == sh.npub:
                if self.eof:
                    return 1
                continue
            self.wait_next()

    cdef void finish(self) noexcept:
        """Stop the threads, give the buffers back (at the end, or on an error)."""
        self.finished = True
        self.stop_workers()
        self.release()

    def run(self, stream, max_lines, other, reason, Py_ssize_t chunk, threads, block, piece,
            bint static):
        try:
            self.start(stream, max_lines, other, reason, chunk, threads, block, piece, static)
            return self.result(self.pump() == 2)
        finally:
            self.finish()

    def run_records(self, stream, reason, Py_ssize_t chunk, threads, block, piece, bint static,
                    bint numbers=False, bint declared=False):
        if numbers and declared:
            raise ValueError("records: numbers and declared do not go together")
        self.records = True
        self.numbers = numbers
        self.declared = declared
        self.dcache = {}
        self.batch = []
        self.names = []
        self.singles = []
        try:
            self.start(stream, 1 << 62, None, reason, chunk, threads, block, piece, static)
        except BaseException:
            self.finish()
            raise
        return self

    def __iter__(self):
        return self

    def __next__(self):
        """The next batch of records (the lines of a piece, in line order)."""
        cdef list out
        if not self.records or self.finished:
            raise StopIteration
        try:
            if self.pump() != 0:
                self.finish()
        except BaseException:
            self.finish()
            raise
        out = self.batch
        if not out:
            raise StopIteration
        self.batch = []
        return out

    cdef tuple result(self, bint exceeded):
        cdef dict labels = {}
        cdef Label *lab
        cdef Py_ssize_t k
        for k in range(self.glob.n):
            lab = &self.glob.labels[k]
            labels[PyUnicode_DecodeUTF8(<const char *>self.glob.arena + lab.off, lab.len,
                                        "surrogatepass")] = [lab.counts[0], lab.counts[1],
                                                             lab.counts[2]]
        # the fields of customlabels.validation.scan.ScanResult, in its order
        return (self.lineno, exceeded, [self.counts[0], self.counts[1], self.counts[2]],
                self.dropped, self.problems, labels, [self.kind_lines[0], self.kind_lines[1]],
                self.buckets, self.overlaps, self.refs)
