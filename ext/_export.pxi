# The numbers of a valid line's boxes, taken by the thread that checked it (records with
# ``numbers``), and the COCO export's images and annotations written from them at the C level:
# what ``customlabels.convert.coco._export_to`` writes for such a line, byte for byte. Part of
# ext/_core.pyx (included).
#
# Mechanics only: the caller keeps the policy (which lines are problems, the issues, the
# categories' order, the file's layout) and exports itself every record this code declines; it
# declines a record whenever the Python path could differ in the smallest way (findings, a
# number that is not a whole one, a date not in the plain form, an ignored line), so the two
# give the same bytes.

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.list cimport PyList_Append
from cpython.long cimport PyLong_AsLongLong, PyLong_FromLongLong
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from cpython.buffer cimport PyBUF_READ
from cpython.memoryview cimport PyMemoryView_FromMemory

cdef extern from "<math.h>" nogil:
    double floor(double x)

cdef enum:
    X_DONE = 0      # the record is exported (or counted among the lines without boxes)
    X_CONFLICT = 2  # a label has two class ids, or a class id two labels: categories by rank
    X_HEAD = 6      # a line's numbers: image width, height, 1 if dated, the date's 19 bytes (24)
    X_BOX = 5       # ... then each box's left, top, width, height, class id


# Numbers written are below 2**31 in size: their sums and products stay exact in int64.
cdef int64_t X_LIMIT = 2147483648


cdef inline int days_in(int y, int mo) noexcept nogil:
    """The days of month ``mo`` (1-12) of year ``y`` (Gregorian)."""
    if mo == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if mo == 4 or mo == 6 or mo == 9 or mo == 11 else 31


cdef inline bint whole_literal(const unsigned char *s, Py_ssize_t n, int64_t *out) noexcept nogil:
    """An integer literal of at most 18 digits (optional '-') as an int64; False otherwise."""
    cdef Py_ssize_t i = 0
    cdef int64_t v = 0
    cdef bint neg = False
    if n > 0 and s[0] == 45:
        neg = True
        i = 1
    if n - i < 1 or n - i > 18:
        return False
    while i < n:
        if not is_digit(s[i]):
            return False
        v = v * 10 + (s[i] - 48)
        i += 1
    out[0] = -v if neg else v
    return True


cdef inline bint whole_number(Parser *p, int32_t idx, int64_t *out) noexcept nogil:
    """A number node as the export writes it when it is a whole number below 2**31 in size:
    an integer literal as is, a float with no fraction as its integer (the export's ``_int``);
    False for anything else (the caller's Python writes it)."""
    cdef Node *nd
    cdef double v
    cdef int64_t w
    if idx < 0:
        return False
    nd = &p.nodes[idx]
    if nd.type != T_NUM:
        return False
    if nd.flags & F_INT:
        if not whole_literal(p.s + nd.start, nd.len, &w):
            return False
    else:
        v = num_value(p, idx)
        if not (-2147483648.0 < v < 2147483648.0) or floor(v) != v:  # X_LIMIT
            return False
        w = <int64_t>v  # -0.0 gives 0, as int(-0.0) does
    if w <= -X_LIMIT or w >= X_LIMIT:
        return False
    out[0] = w
    return True


cdef inline bint digits(const unsigned char *s, int n, int *out) noexcept nogil:
    cdef int v = 0, k
    for k in range(n):
        if not is_digit(s[k]):
            return False
        v = v * 10 + (s[k] - 48)
    out[0] = v
    return True


cdef bint plain_date(const unsigned char *s, Py_ssize_t n, unsigned char *out) noexcept nogil:
    """``YYYY-MM-DD[T ]HH:MM:SS`` with an optional fraction of 1 to 6 digits, a real date and
    time: write ``YYYY-MM-DD HH:MM:SS`` (19 bytes) to ``out``, what ``parse_date(value)`` with
    ``T`` replaced gives for it; False for every other form (Python parses those)."""
    cdef int y, mo, d, h, mi, se, f
    if n != 19 and not (21 <= n <= 26 and s[19] == 46):
        return False
    if s[4] != 45 or s[7] != 45 or (s[10] != 84 and s[10] != 32) or s[13] != 58 or s[16] != 58:
        return False
    if not (digits(s, 4, &y) and digits(s + 5, 2, &mo) and digits(s + 8, 2, &d)
            and digits(s + 11, 2, &h) and digits(s + 14, 2, &mi) and digits(s + 17, 2, &se)):
        return False
    if n > 19 and not digits(s + 20, <int>(n - 20), &f):
        return False
    if y < 1 or not 1 <= mo <= 12 or h > 23 or mi > 59 or se > 59:
        return False
    if not 1 <= d <= days_in(y, mo):
        return False
    memcpy(out, s, 19)
    out[10] = 32
    return True


cdef void line_numbers(Ctx *c, LineRec *rec) noexcept nogil:
    """Note the numbers the COCO export writes for a valid line without findings (just
    checked, its tape and boxes still there) in the piece: the first detection attribute's
    image size and its metadata's creation-date, then every box of every detection attribute
    in order (X_HEAD + X_BOX a box); none (nnum -1) where one is not a whole number or the
    date is not plain, which the export's Python then reads from the line."""
    cdef Parser *p = &c.p
    cdef Piece *pc = c.out
    cdef Pair *pr
    cdef Pair *first = NULL
    cdef Py_ssize_t q, i, cnt, need = X_HEAD
    cdef int32_t size0, ann, node
    cdef int32_t *bf
    cdef int64_t *o
    cdef unsigned char date[24]
    cdef void *grown
    for q in range(c.npairs):
        pr = &c.pairs[q]
        if pr.kind == K_DET:
            if first == NULL:
                first = pr
            ann = get_name(p, pr.aval, N_ANNOTATIONS)
            need += X_BOX * p.nodes[ann].count  # a valid line: every one an array of boxes
    if first == NULL:
        rec.nnum = 0
        return
    while pc.nnum + need > pc.ncap:
        grown = grow(pc.num, &pc.ncap, sizeof(int64_t))
        if grown == NULL:
            c.nomem = True
            return
        pc.num = <int64_t *>grown
    o = pc.num + pc.nnum
    size0 = get_name(p, first.aval, N_IMAGE_SIZE) + 1
    if not (whole_number(p, get_name(p, size0, N_WIDTH), &o[0])
            and whole_number(p, get_name(p, size0, N_HEIGHT), &o[1])):
        return
    o[2] = 0
    memset(date, 0, 24)
    node = first.mf[M_CREATION]
    if is_type(p, node, T_STR):
        if not plain_date(sptr(p, &p.nodes[node]), p.nodes[node].len, date):
            return
        o[2] = 1
    memcpy(&o[3], date, 24)
    o = o + X_HEAD
    for q in range(c.npairs):
        pr = &c.pairs[q]
        if pr.kind != K_DET:
            continue
        cnt = p.nodes[get_name(p, pr.aval, N_ANNOTATIONS)].count
        for i in range(cnt):
            bf = c.bf + pr.boxes + i * BOX_SLOTS
            node = bf[B_CLASS_ID]
            if not whole_literal(p.s + p.nodes[node].start, p.nodes[node].len, &o[4]):
                return
            if not (whole_number(p, bf[B_LEFT], &o[0]) and whole_number(p, bf[B_TOP], &o[1])
                    and whole_number(p, bf[B_WIDTH], &o[2])
                    and whole_number(p, bf[B_HEIGHT], &o[3])):
                return
            o = o + X_BOX
    rec.noff = <int32_t>pc.nnum
    rec.nnum = <int32_t>need
    pc.nnum += need


cdef inline unsigned char *w_lit(unsigned char *w, const char *text, Py_ssize_t k) noexcept nogil:
    memcpy(w, text, k)
    return w + k


cdef const char *PAIRS = (b"00010203040506070809101112131415161718192021222324252627282930313233"
                          b"34353637383940414243444546474849505152535455565758596061626364656667"
                          b"6869707172737475767778798081828384858687888990919293949596979899")


cdef inline unsigned char *w_int(unsigned char *w, int64_t v) noexcept nogil:
    """Write ``v`` in decimal at ``w``; return the end (two digits a step)."""
    cdef unsigned char tmp[20]
    cdef int k = 20
    cdef uint64_t u, r
    if v < 0:
        w[0] = 45
        w += 1
        u = <uint64_t>0 - <uint64_t>v
    else:
        u = <uint64_t>v
    while u >= 100:
        r = u % 100
        u //= 100
        k -= 2
        memcpy(tmp + k, PAIRS + 2 * r, 2)
    if u >= 10:
        k -= 2
        memcpy(tmp + k, PAIRS + 2 * u, 2)
    else:
        k -= 1
        tmp[k] = <unsigned char>(48 + u)
    memcpy(w, tmp + k, 20 - k)
    return w + 20 - k


cdef class CocoLines:
    """The images and annotations of a COCO export, for the records that need no Python.

    Records come from :func:`records` with ``numbers``: each has an eighth field, the numbers
    of a valid line without findings (bytes, see line_numbers; empty without a detection
    attribute), or None. ``ids`` (label -> category id) and ``labels`` (class id -> label) are
    the caller's categories while they keep the class ids (``_Categories`` not ranked): this
    fills them as boxes come. :meth:`feed` takes records in order until one needs the caller;
    ``images``, ``other_lines`` and ``annotations`` are shared with the caller, who adds its
    own records' in line order; :meth:`write_to` writes the annotations made since the last
    call (:meth:`take` gives them as bytes), each item after a ``,`` unless it is the
    export's first.
    """

    cdef dict ids
    cdef dict labels
    cdef public list images
    cdef public list other_lines
    cdef public long long annotations
    cdef public bint conflict
    cdef unsigned char *out
    cdef Py_ssize_t olen, ocap

    def __cinit__(self, dict ids not None, dict labels not None):
        self.ocap = 1 << 20
        self.out = <unsigned char *>malloc(self.ocap)
        if self.out == NULL:
            raise MemoryError()
        self.ids = ids
        self.labels = labels
        self.images = []
        self.other_lines = []
        self.annotations = 0
        self.conflict = False

    def __dealloc__(self):
        free(self.out)

    def take(self):
        """Return the annotations made since the last call (bytes) and forget them."""
        cdef bytes done = PyBytes_FromStringAndSize(<const char *>self.out, self.olen)
        self.olen = 0
        return done

    def write_to(self, stream):
        """Write the annotations made since the last call to ``stream`` (no copy of them is
        made here) and forget them; return the bytes written."""
        cdef Py_ssize_t n = self.olen
        cdef object view
        if n:
            view = PyMemoryView_FromMemory(<char *>self.out, n, PyBUF_READ)
            try:
                stream.write(view)
            finally:
                view.release()  # the buffer is ours again before anything can grow it
        self.olen = 0
        return n

    def feed(self, list batch not None, Py_ssize_t start=0):
        """Export ``batch[start:]`` (records with numbers) in order; return the index of the
        first record the caller must export, or ``len(batch)``. With ``conflict`` set, stop:
        the class ids cannot be the category ids (what was exported is to be thrown away)."""
        cdef Py_ssize_t i, n = len(batch)
        cdef tuple rec
        cdef object nums
        for i in range(start, n):
            rec = <tuple>batch[i]
            if PyTuple_GET_SIZE(rec) < 8:
                return i
            nums = <object>PyTuple_GET_ITEM(rec, 7)
            if nums is None:
                return i
            if len(<bytes>nums) == 0:
                PyList_Append(self.other_lines, <object>PyTuple_GET_ITEM(rec, 0))
                continue
            if self.line(rec, <bytes>nums) == X_CONFLICT:
                self.conflict = True
                return i
        return n

    cdef int reserve(self, Py_ssize_t more) except -1:
        cdef unsigned char *grown
        if self.olen + more <= self.ocap:
            return 0
        while self.olen + more > self.ocap:
            self.ocap *= 2
        grown = <unsigned char *>realloc(self.out, self.ocap)
        if grown == NULL:
            raise MemoryError()
        self.out = grown
        return 0

    cdef int line(self, tuple rec, bytes nums) except -1:
        """Export one valid line from its numbers (see :meth:`feed`)."""
        cdef const int64_t *o = <const int64_t *><const char *>nums
        cdef const int64_t *bx
        cdef Py_ssize_t nbox = (len(nums) // 8 - X_HEAD) // X_BOX, b
        cdef tuple box_labels = <tuple>PyTuple_GET_ITEM(rec, 6)
        cdef object label, cid
        cdef int64_t image_id
        cdef unsigned char *w
        cdef PyObject *known
        if PyTuple_GET_SIZE(box_labels) != nbox:  # records() notes both from the same boxes
            raise RuntimeError(f"line {<object>PyTuple_GET_ITEM(rec, 0)}: the numbers of "
                               "its boxes do not match its labels (please report)")
        # the categories (_Categories.id while the class ids are kept)
        cdef PyObject *last = NULL
        cdef int64_t last_id = 0
        for b in range(nbox):
            # a label and class id as the box before (the same str object: one a name)
            if (PyTuple_GET_ITEM(box_labels, b) == last
                    and o[X_HEAD + X_BOX * b + 4] == last_id):
                continue
            last = PyTuple_GET_ITEM(box_labels, b)
            last_id = o[X_HEAD + X_BOX * b + 4]
            label = <object>last
            known = PyDict_GetItem(self.ids, label)
            if known == NULL:
                cid = PyLong_FromLongLong(o[X_HEAD + X_BOX * b + 4])
                if PyDict_GetItem(self.labels, cid) != NULL:
                    return X_CONFLICT
                PyDict_SetItem(self.ids, label, cid)
                PyDict_SetItem(self.labels, cid, label)
            elif PyLong_AsLongLong(<object>known) != o[X_HEAD + X_BOX * b + 4]:
                return X_CONFLICT
        # the image, then its annotations
        PyList_Append(self.images, (<object>PyTuple_GET_ITEM(rec, 4), o[0], o[1],
                                    PyUnicode_DecodeUTF8(<const char *>&o[3], 19, NULL)
                                    if o[2] else ""))
        image_id = len(self.images)
        self.reserve(nbox * 400)
        w = self.out + self.olen
        for b in range(nbox):
            bx = o + X_HEAD + X_BOX * b
            if self.annotations:
                w = w_lit(w, ",", 1)
            self.annotations += 1
            w = w_lit(w, '{"id":', 6)
            w = w_int(w, self.annotations)
            w = w_lit(w, ',"image_id":', 12)
            w = w_int(w, image_id)
            w = w_lit(w, ',"category_id":', 15)
            w = w_int(w, bx[4])
            w = w_lit(w, ',"bbox":[', 9)
            w = w_int(w, bx[0])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[1])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[2])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[3])
            w = w_lit(w, '],"area":', 9)
            w = w_int(w, bx[2] * bx[3])
            w = w_lit(w, ',"iscrowd":0,"segmentation":[[', 30)
            w = w_int(w, bx[0])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[1])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[0] + bx[2])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[1])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[0] + bx[2])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[1] + bx[3])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[0])
            w = w_lit(w, ",", 1)
            w = w_int(w, bx[1] + bx[3])
            w = w_lit(w, "]]}", 3)
        self.olen = w - self.out
        return X_DONE


cdef inline bint plain_json(const char *s, Py_ssize_t n) noexcept nogil:
    """Whether orjson writes the UTF-8 string ``s[:n]`` between quotes as is (no escapes)."""
    cdef Py_ssize_t i
    cdef unsigned char ch
    for i in range(n):
        ch = <unsigned char>s[i]
        if ch < 32 or ch == 34 or ch == 92:
            return False
    return True


def coco_images(list images not None, str folder not None):
    """Return the COCO images of ``images`` (``(source-ref, width, height, date_captured)``
    tuples) as the items of a JSON array, ids from 1, ``file_name`` the source-ref without
    ``folder`` when it starts with it: the bytes the export's orjson writes; None when one
    needs what orjson does and this does not (an escape, a lone surrogate, a number that is
    not an int of 64 bits), and the caller's orjson writes them."""
    cdef Py_ssize_t k, n = len(images), cap = 1 << 16, olen = 0, rl, dl, fl
    cdef Py_ssize_t need
    cdef const char *folder_s
    cdef const char *ref
    cdef const char *date
    cdef tuple image
    cdef object width, height
    cdef int64_t wv, hv
    cdef unsigned char *out = <unsigned char *>malloc(cap)
    cdef unsigned char *grown
    cdef unsigned char *w
    if out == NULL:
        raise MemoryError()
    try:
        try:
            folder_s = PyUnicode_AsUTF8AndSize(folder, &fl)
        except UnicodeEncodeError:
            return None
        for k in range(n):
            image = <tuple>images[k]
            width = <object>PyTuple_GET_ITEM(image, 1)
            height = <object>PyTuple_GET_ITEM(image, 2)
            if type(width) is not int or type(height) is not int:
                return None
            try:
                ref = PyUnicode_AsUTF8AndSize(<str>PyTuple_GET_ITEM(image, 0), &rl)
                date = PyUnicode_AsUTF8AndSize(<str>PyTuple_GET_ITEM(image, 3), &dl)
                wv = PyLong_AsLongLong(width)
                hv = PyLong_AsLongLong(height)
            except (UnicodeEncodeError, OverflowError):
                return None
            if not (plain_json(ref, rl) and plain_json(date, dl)):
                return None
            need = 2 * rl + dl + 160
            if olen + need > cap:
                while olen + need > cap:
                    cap *= 2
                grown = <unsigned char *>realloc(out, cap)
                if grown == NULL:
                    raise MemoryError()
                out = grown
            w = out + olen
            if k:
                w = w_lit(w, ",", 1)
            w = w_lit(w, '{"id":', 6)
            w = w_int(w, k + 1)
            w = w_lit(w, ',"file_name":"', 14)
            if rl >= fl and memcmp(ref, folder_s, fl) == 0:
                w = w_lit(w, ref + fl, rl - fl)
            else:
                w = w_lit(w, ref, rl)
            w = w_lit(w, '","coco_url":"', 14)
            w = w_lit(w, ref, rl)
            w = w_lit(w, '","width":', 10)
            w = w_int(w, wv)
            w = w_lit(w, ',"height":', 10)
            w = w_int(w, hv)
            w = w_lit(w, ',"date_captured":"', 18)
            w = w_lit(w, date, dl)
            w = w_lit(w, '"}', 2)
            olen = w - out
        return PyBytes_FromStringAndSize(<const char *>out, olen)
    finally:
        free(out)
