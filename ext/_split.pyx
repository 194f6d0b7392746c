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
  ties still draw ``rng.random()``, in the same order.

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
from libc.stdlib cimport free, malloc


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
    """
    cdef Py_ssize_t n = len(images), i, j, k, m
    cdef list order = list(range(n))
    cdef list rank = [0] * n
    cdef list distinct = [None] * n
    cdef dict members = {}
    cdef object getrandbits = rng.getrandbits
    cdef PyObject *a
    cdef PyObject *b
    cdef PyObject *found
    cdef object labels, image, label, group
    # the shuffle: swap x[i] and x[randbelow(i + 1)], i from n - 1 down to 1
    i = n - 1
    while i >= 1:
        j = randbelow(getrandbits, i + 1)
        a = PyList_GET_ITEM(order, i)
        b = PyList_GET_ITEM(order, j)
        PyList_SET_ITEM(order, i, <object>b)  # a swap: no reference changes hands
        PyList_SET_ITEM(order, j, <object>a)
        i -= 1
    for i in range(n):
        labels = <object>PyList_GET_ITEM(images, i)
        if len(labels) < 2:
            distinct[i] = labels
        else:
            distinct[i] = tuple(dict.fromkeys(labels))
    for k in range(n):
        image = <object>PyList_GET_ITEM(order, k)
        i = PyLong_AsLongLong(image)
        rank[i] = k
        labels = <object>PyList_GET_ITEM(distinct, i)
        for m in range(len(labels)):
            label = labels[m]
            found = PyDict_GetItem(members, label)
            if found == NULL:
                group = [image]
                PyDict_SetItem(members, label, group)
            else:
                PyList_Append(<object>found, image)
    return order, rank, distinct, members


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


def group_lines(object batches not None):
    """Return ``(group_of_line, group_labels, too_long)`` for records in batches (lists of
    rows as ``customlabels.manifest.records.iter_batches`` gives them), as ``split._plan``
    makes them: a group is an image, the lines that name one source-ref (a line without one
    is its own group); its labels, the distinct labels of its lines in order; ``too_long``,
    the lines whose bytes the reader did not keep."""
    cdef list group_of_line = [], group_labels = [], too_long = [], batch
    cdef dict by_ref = {}
    cdef tuple row
    cdef object key, labels, group
    cdef PyObject *found
    cdef Py_ssize_t i, k
    for batch in batches:
        for i in range(len(batch)):
            row = <tuple>PyList_GET_ITEM(batch, i)
            if <object>PyTuple_GET_ITEM(row, 1) is None:
                too_long.append(<object>PyTuple_GET_ITEM(row, 0))
            key = <object>PyTuple_GET_ITEM(row, 4)
            labels = <object>PyTuple_GET_ITEM(row, 5)
            found = NULL if key is None else PyDict_GetItem(by_ref, key)
            if found == NULL:
                group = PyLong_FromSsize_t(len(group_labels))
                group_labels.append(labels)
                if key is not None:
                    PyDict_SetItem(by_ref, key, group)
            else:
                group = <object>found
                if len(labels):
                    k = PyLong_AsLongLong(group)
                    group_labels[k] = tuple(dict.fromkeys(group_labels[k] + labels))
            group_of_line.append(group)
    return group_of_line, group_labels, too_long
