# cython: language_level=3
"""The split's assignment loops at the C level: exactly what ``customlabels.split.assign`` does in
Python, draw for draw.

Two steps, each mirroring a part of the reference (``src/customlabels/split.py``), which stays the
oracle and the path where the extension is not built (``tests/test_split.py`` holds the two to
the same results):

* :func:`shuffle_members`: the seeded shuffle (``random.Random.shuffle``, its ``_randbelow`` by
  ``getrandbits``: the same calls on the same generator, so the generator ends in the same
  state), each image's distinct labels, and each label's images in shuffled order;
* :func:`stratify`: the iterative stratification loop, with label ids and counts in C arrays;
  ties still draw ``rng.random()``, in the same order;
* :func:`group_lines` and :func:`side_scans`: the lines grouped by image, and the scans of the
  two sides made from the input's records (what the validator would find in the files the
  split writes, without reading them again).

The policy (targets, rounding, the checks and repairs after the loop) stays in Python.
"""

cimport cython
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.list cimport PyList_Append, PyList_GET_ITEM, PyList_SET_ITEM
from cpython.long cimport PyLong_AsLongLong, PyLong_FromSsize_t
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, memmove
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize


cdef Py_ssize_t randbelow(object getrandbits, Py_ssize_t n) except -1:
    """random.Random._randbelow_with_getrandbits(n): draws of n.bit_length() bits until one
    is below n."""
    cdef int k = 0
    cdef Py_ssize_t m = n, r
    while m:
        k += 1
        m >>= 1
    r = PyLong_AsLongLong(getrandbits(k))
    while r >= n:
        r = PyLong_AsLongLong(getrandbits(k))
    return r


def shuffle_members(list images not None, object rng not None):
    """Return ``(order, rank, distinct, members)`` as ``assign`` makes them.

    ``order`` is ``list(range(n))`` shuffled by ``rng.shuffle``; ``rank[image]`` its place
    there; ``distinct[image]`` the image's labels once each, in order; ``members`` label ->
    its images in shuffled order, labels in order of first appearance along ``order``.
    The shuffle and the ranks are made in C arrays, the lists at the end in order (their
    int objects then lie in memory in the order they are read).
    """
    cdef Py_ssize_t n = len(images), i, j, k, m, t
    cdef Py_ssize_t *perm = <Py_ssize_t *>malloc(n * sizeof(Py_ssize_t) + 8)
    cdef Py_ssize_t *where = <Py_ssize_t *>malloc(n * sizeof(Py_ssize_t) + 8)
    cdef list order, rank, distinct = [None] * n
    cdef dict members = {}
    cdef object getrandbits = rng.getrandbits
    cdef PyObject *found
    cdef object labels, image, label, group
    if perm == NULL or where == NULL:
        free(perm)
        free(where)
        raise MemoryError()
    try:
        for i in range(n):
            perm[i] = i
        # the shuffle: swap x[i] and x[randbelow(i + 1)], i from n - 1 down to 1
        i = n - 1
        while i >= 1:
            j = randbelow(getrandbits, i + 1)
            t = perm[i]
            perm[i] = perm[j]
            perm[j] = t
            i -= 1
        order = [perm[k] for k in range(n)]
        for k in range(n):
            where[perm[k]] = k
        rank = [where[i] for i in range(n)]
        for i in range(n):
            labels = <object>PyList_GET_ITEM(images, i)
            if len(labels) < 2:
                distinct[i] = labels
            else:
                distinct[i] = tuple(dict.fromkeys(labels))
        for k in range(n):
            image = <object>PyList_GET_ITEM(order, k)
            labels = <object>PyList_GET_ITEM(distinct, perm[k])
            for m in range(len(labels)):
                label = labels[m]
                found = PyDict_GetItem(members, label)
                if found == NULL:
                    group = [image]
                    PyDict_SetItem(members, label, group)
                else:
                    PyList_Append(<object>found, image)
        return order, rank, distinct, members
    finally:
        free(perm)
        free(where)


@cython.boundscheck(False)
@cython.wraparound(False)
def stratify(list labels not None, dict members not None, list distinct not None,
             list want not None, list total not None, double test_fraction, object rng not None):
    """Run the iterative stratification of ``assign``; return ``is_test`` (a list of bools).

    ``labels`` in ``assign``'s order; ``want[k]`` the ``[testing, training]`` images label
    ``labels[k]`` still wants; ``total`` the same for all images; ``members`` and ``distinct``
    as :func:`shuffle_members` gives them. ``want`` and ``total`` are used up.
    """
    cdef Py_ssize_t nl = len(labels), n = len(distinct), q, k, best, x, i, m, cnt, side
    cdef Py_ssize_t t0 = total[0], t1 = total[1]
    cdef dict ids = {}
    cdef int64_t *need = <int64_t *>malloc(2 * nl * sizeof(int64_t) + 1)
    cdef int64_t *remaining = <int64_t *>malloc(nl * sizeof(int64_t) + 1)
    cdef int *byname = <int *>malloc(nl * sizeof(int) + 1)  # each label's place by name
    cdef char *pending = <char *>malloc(nl + 1)
    cdef char *assigned = <char *>malloc(n + 1)
    cdef list is_test = [False] * n
    cdef list group
    cdef object mine, rnd = rng.random
    if (need == NULL or remaining == NULL or byname == NULL or pending == NULL
            or assigned == NULL):
        free(need); free(remaining); free(byname); free(pending); free(assigned)
        raise MemoryError()
    try:
        for k in range(nl):
            ids[labels[k]] = k
            need[2 * k] = want[k][0]
            need[2 * k + 1] = want[k][1]
            remaining[k] = len(<list>members[labels[k]])
            pending[k] = 1
        for q, k in enumerate(sorted(range(nl), key=labels.__getitem__)):
            byname[k] = q
        for i in range(n):
            assigned[i] = 0
        for q in range(nl):
            # the label with the fewest unassigned images (then by name)
            best = -1
            for k in range(nl):
                if pending[k] and (best < 0 or remaining[k] < remaining[best]
                                   or (remaining[k] == remaining[best]
                                       and byname[k] < byname[best])):
                    best = k
            pending[best] = 0
            group = <list>members[labels[best]]
            for m in range(len(group)):
                i = PyLong_AsLongLong(<object>PyList_GET_ITEM(group, m))
                if assigned[i]:
                    continue
                if need[2 * best] != need[2 * best + 1]:
                    side = 0 if need[2 * best] > need[2 * best + 1] else 1
                elif t0 != t1:
                    side = 0 if t0 > t1 else 1
                else:
                    side = 0 if rnd() < test_fraction else 1
                assigned[i] = 1
                if side == 0:
                    is_test[i] = True
                    t0 -= 1
                else:
                    t1 -= 1
                mine = <object>PyList_GET_ITEM(distinct, i)
                cnt = len(mine)
                if cnt == 1:  # the image's one label is this one
                    need[2 * best + side] -= 1
                    remaining[best] -= 1
                    continue
                for x in range(cnt):
                    k = <Py_ssize_t>PyLong_AsLongLong(ids[mine[x]])
                    need[2 * k + side] -= 1
                    remaining[k] -= 1
        return is_test
    finally:
        free(need); free(remaining); free(byname); free(pending); free(assigned)


def group_lines(object batches not None, bint keep=False, int duplicate=-1):
    """Return ``(group_of_line, group_labels, too_long, lines)`` for records in batches (lists
    of rows as ``customlabels.manifest.records.iter_batches`` gives them), as ``split._plan``
    makes them: a group is an image, the lines that name one source-ref (a line without one
    is its own group); its labels, the distinct labels of its lines in order; ``too_long``,
    the lines whose bytes the reader did not keep (``raw`` None).

    A line that repeats a source-ref carries the validator's ERROR_DUPLICATE_SOURCE_REF
    (code ``duplicate``), whose argument is the first line of that source-ref: it joins that
    line's group, without a table of source-refs. With ``duplicate`` -1, source-refs are
    looked up in a table instead.

    With ``keep`` (records with ``declared``), ``lines`` is what :func:`side_scans` needs of
    every line: ``(verdicts, findings by line, source-refs, declared labels, has findings)``;
    else None.
    """
    cdef list group_of_line = [], group_labels = [], too_long = [], batch
    cdef dict by_ref = {}, problems = {}
    cdef bytearray verdicts = bytearray(), flags = bytearray()
    cdef list srefs = [], declared = []
    cdef tuple row
    cdef object key, labels, group, findings, entry
    cdef PyObject *found
    cdef Py_ssize_t i, k
    for batch in batches:
        for i in range(len(batch)):
            row = <tuple>PyList_GET_ITEM(batch, i)
            findings = <object>PyTuple_GET_ITEM(row, 3)
            if <object>PyTuple_GET_ITEM(row, 1) is None:
                too_long.append(<object>PyTuple_GET_ITEM(row, 0))
            key = <object>PyTuple_GET_ITEM(row, 4)
            labels = <object>PyTuple_GET_ITEM(row, 5)
            found = NULL
            if key is not None:
                if duplicate < 0:
                    found = PyDict_GetItem(by_ref, key)
                elif len(findings):
                    entry = findings[0]
                    if entry[0] == duplicate:  # the group of the source-ref's first line
                        found = PyList_GET_ITEM(group_of_line, <Py_ssize_t>entry[2] - 1)
            if found == NULL:
                group = PyLong_FromSsize_t(len(group_labels))
                group_labels.append(labels)
                if key is not None and duplicate < 0:
                    PyDict_SetItem(by_ref, key, group)
            else:
                group = <object>found
                if len(labels):
                    k = PyLong_AsLongLong(group)
                    group_labels[k] = tuple(dict.fromkeys(group_labels[k] + labels))
            group_of_line.append(group)
            if keep:
                verdicts.append(<int>PyLong_AsLongLong(<object>PyTuple_GET_ITEM(row, 2)))
                flags.append(1 if len(findings) else 0)
                if len(findings):
                    problems[<object>PyTuple_GET_ITEM(row, 0)] = findings
                srefs.append(key)
                declared.append(<object>PyTuple_GET_ITEM(row, 7))
    lines = (verdicts, problems, srefs, declared, flags) if keep else None
    return group_of_line, group_labels, too_long, lines


def side_scans(tuple lines not None, bytes sides not None, Py_ssize_t max_lines,
               object dropped not None, int duplicate):
    """Return the scans of the two sides of a split, training then testing, as the fields of
    ``ScanResult`` (``refs`` None): what scanning the files the split writes gives, from the
    input's records (:func:`group_lines` with ``keep``), without reading them again.

    ``sides[i]`` is line i's side (:func:`line_sides`). The sides hold the input's lines, byte
    for byte, in order: a line keeps its verdict and findings, but for its number, and a
    duplicate's first line (on the same side: a source-ref's lines are one image) is
    renumbered; each side counts its own lines, labels (first reference), buckets, up to
    ``max_lines`` (``exceeded`` past it). No image is on both sides: ``overlaps`` are empty.
    ``dropped``: the codes that drop a line; ``duplicate``: ERROR_DUPLICATE_SOURCE_REF's code.
    """
    cdef bytearray verdicts = <bytearray>lines[0]
    cdef dict problems = <dict>lines[1]
    cdef list srefs = <list>lines[2], declared = <list>lines[3], counts, probs, kind, names
    cdef dict labels, buckets, ids
    cdef Py_ssize_t n = len(sides), i, k, total, ndropped, slash, nd, lab, ncap
    cdef Py_ssize_t blen = -1, rlen
    cdef int v, bits, ors, wanted
    cdef bint exceeded
    cdef const unsigned char *side = <const unsigned char *><const char *>sides
    cdef const char *flags = PyByteArray_AS_STRING(<bytearray>lines[4])
    cdef const char *ref
    cdef char last[64]  # the last bucket, "bucket/" (S3 buckets have at most 63 characters)
    cdef int64_t *number = <int64_t *>malloc(n * sizeof(int64_t) + 8)
    cdef int64_t *tally = NULL
    cdef int64_t *grown
    cdef object findings, decl, sref, entry, name
    cdef PyObject *found
    cdef list out = []
    if number == NULL:
        raise MemoryError()
    try:
        for wanted in range(2):  # 0: training, 1: testing
            total = ndropped = 0
            exceeded = False
            counts = [0, 0, 0]
            probs = []
            kind = [0, 0]
            buckets = {}
            ids = {}  # label -> its place in names; tally: its three counts there
            names = []
            ncap = 0
            blen = -1
            for i in range(n):
                if side[i] != wanted:
                    continue
                if total == max_lines:
                    exceeded = True
                    break
                total += 1
                number[i] = total
                v = verdicts[i]
                counts[v] += 1
                if flags[i]:
                    findings = problems[i + 1]
                    entry = findings[0]
                    if entry[0] == duplicate:  # its only finding: the first line, renumbered
                        findings = [(entry[0], entry[1], number[<Py_ssize_t>entry[2] - 1])]
                    probs.append((total, v, findings))
                    for entry in findings:
                        if entry[0] in dropped:
                            ndropped += 1
                            break
                decl = <object>PyList_GET_ITEM(declared, i)
                if decl is None:
                    continue
                sref = <object>PyList_GET_ITEM(srefs, i)
                try:
                    ref = PyUnicode_AsUTF8AndSize(sref, &rlen)
                except UnicodeEncodeError:  # a lone surrogate in its key
                    ref = NULL
                # buckets.setdefault(bucket, line): the same bucket as the line before is there
                if ref == NULL or not (blen > 0 and rlen > 5 + blen
                                       and memcmp(ref + 5, last, blen) == 0):
                    slash = sref.find("/", 5)
                    buckets.setdefault(sref[5:slash], total)
                    blen = -1
                    if ref != NULL and 0 < slash - 4 <= 64:  # "bucket/" (ASCII: bytes = chars)
                        blen = slash - 4
                        memcpy(last, ref + 5, blen)
                nd = PyTuple_GET_SIZE(decl)
                ors = 0
                for k in range(nd):
                    entry = <object>PyTuple_GET_ITEM(decl, k)
                    name = <object>PyTuple_GET_ITEM(entry, 0)
                    found = PyDict_GetItem(ids, name)
                    if found == NULL:
                        lab = len(names)
                        ids[name] = lab
                        names.append(name)
                        if lab == ncap:
                            ncap = 2 * ncap + 64
                            grown = <int64_t *>realloc(tally, 3 * ncap * sizeof(int64_t))
                            if grown == NULL:
                                raise MemoryError()
                            tally = grown
                        tally[3 * lab] = tally[3 * lab + 1] = tally[3 * lab + 2] = 0
                    else:
                        lab = PyLong_AsLongLong(<object>found)
                    if v != 0:  # not VALID: its labels are declared, not counted
                        continue
                    bits = PyLong_AsLongLong(<object>PyTuple_GET_ITEM(entry, 1))
                    if bits & 1:
                        tally[3 * lab] += 1
                    if bits & 2:
                        tally[3 * lab + 1] += 1
                    if bits & 3:
                        tally[3 * lab + 2] += 1
                    ors |= bits
                if ors & 1:
                    kind[0] += 1
                if ors & 2:
                    kind[1] += 1
            labels = {}
            for lab in range(len(names)):
                labels[names[lab]] = [tally[3 * lab], tally[3 * lab + 1], tally[3 * lab + 2]]
            out.append((total, exceeded, counts, ndropped, probs, labels, kind, buckets, [],
                        None))
        return out[0], out[1]
    finally:
        free(number)
        free(tally)


def line_sides(list group_of_line not None, list is_test not None):
    """Return the side of each line (bytes: 1 testing, 0 training) from its group's."""
    cdef Py_ssize_t n = len(group_of_line), i
    cdef bytearray out = bytearray(n)
    for i in range(n):
        out[i] = 1 if is_test[<Py_ssize_t>PyLong_AsLongLong(
            <object>PyList_GET_ITEM(group_of_line, i))] else 0
    return bytes(out)


def copy_sides(object stream not None, bytes sides not None, object train not None,
               object test not None, Py_ssize_t chunk=1 << 20):
    """Copy each line of ``stream`` to ``train`` (``sides[i]`` 0) or ``test`` (1), byte for
    byte, each followed by ``\\n``; return the number of lines.

    The lines are the manifest reader's (``customlabels.manifest.reader``): a BOM at the very
    start is skipped, one ``\\r`` before ``\\n`` belongs to the terminator, the final newline
    makes no line, a last line without one is a line. No line may be missing from ``sides``.
    The input is read into one buffer (``readinto``, the partial last line moved to its
    front); each side's lines of a read are gathered in a buffer of their own (a line's copy
    is never longer than the line and its terminator) and written at once.
    """
    cdef bytearray buf = bytearray(chunk + 16), out0 = bytearray(chunk + 16)
    cdef bytearray out1 = bytearray(chunk + 16)
    cdef char *s
    cdef char *o0
    cdef char *o1
    cdef const char *nl
    cdef Py_ssize_t have = 0, got, n, p, end, e2, line = 0, nsides = len(sides), at0, at1
    cdef Py_ssize_t start = 0
    cdef const unsigned char *side = <const unsigned char *><const char *>sides
    cdef bint first = True, eof = False
    while not eof:
        if len(buf) - have < chunk:  # a partial line longer than a chunk: room for more
            buf.extend(bytes(chunk))
            out0.extend(bytes(chunk))
            out1.extend(bytes(chunk))
        got = stream.readinto(memoryview(buf)[have:have + chunk])
        if not got:
            eof = True
        have += got or 0
        s = PyByteArray_AS_STRING(buf)
        if first:
            if have < 3 and not eof:
                continue  # short reads: the BOM test needs 3 bytes
            first = False
            if have >= 3 and memcmp(s, b"\xef\xbb\xbf", 3) == 0:
                start = 3
        n = have
        p = start
        start = at0 = at1 = 0
        o0 = PyByteArray_AS_STRING(out0)
        o1 = PyByteArray_AS_STRING(out1)
        while True:
            nl = <const char *>memchr(s + p, 10, n - p)
            if nl == NULL:
                break
            end = nl - s
            e2 = end - 1 if end > p and s[end - 1] == 13 else end
            if line >= nsides:
                raise ValueError("copy_sides: more lines than sides")
            if side[line]:
                memcpy(o1 + at1, s + p, e2 - p)
                at1 += e2 - p
                o1[at1] = 10
                at1 += 1
            else:
                memcpy(o0 + at0, s + p, e2 - p)
                at0 += e2 - p
                o0[at0] = 10
                at0 += 1
            line += 1
            p = end + 1
        if eof and p < n:  # a last line without a newline
            e2 = n - 1 if s[n - 1] == 13 else n
            if line >= nsides:
                raise ValueError("copy_sides: more lines than sides")
            if side[line]:
                memcpy(o1 + at1, s + p, e2 - p)
                at1 += e2 - p
                o1[at1] = 10
                at1 += 1
            else:
                memcpy(o0 + at0, s + p, e2 - p)
                at0 += e2 - p
                o0[at0] = 10
                at0 += 1
            line += 1
            p = n
        if at0:
            train.write(memoryview(out0)[:at0])
        if at1:
            test.write(memoryview(out1)[:at1])
        memmove(s, s + p, n - p)  # the partial last line, to the front
        have = n - p
    return line


def label_counts(list images not None, list is_test not None):
    """Return label -> ``[training images, testing images]``, by label, as ``split``'s
    ``_label_counts`` (each image's labels counted as they are listed)."""
    cdef dict counts = {}
    cdef Py_ssize_t i, k, n = len(images)
    cdef object labels, name
    cdef PyObject *found
    cdef list pair
    cdef int where
    for i in range(n):
        labels = <object>PyList_GET_ITEM(images, i)
        if not len(labels):
            continue
        where = 1 if is_test[i] else 0
        for k in range(len(labels)):
            name = labels[k]
            found = PyDict_GetItem(counts, name)
            if found == NULL:
                pair = [0, 0]
                counts[name] = pair
            else:
                pair = <list>found
            pair[where] += 1
    return {name: counts[name] for name in sorted(counts)}
