# cython: language_level=3
"""The compiled line scanner: :func:`scan` gives exactly what ``customlabels.validation._pyscan``
gives, several times faster, on several cores.

The reference is the pure-Python scanner (``src/customlabels/validation/_pyscan.py``): every rule
below mirrors one of its lines, in the same order, so that both return equal
:class:`~customlabels.validation._pyscan.ScanResult` objects (the differential tests in
``tests/test_core_equivalence.py`` hold them to that). What differs is how the work is done:

* the file is read with ``readinto`` into two buffers in turn, a block (2 MiB) at a time, and
  split at ``\\n`` with ``memchr``, following ``customlabels.manifest.reader`` exactly (BOM,
  CRLF, final newline, over-long lines);
* each line is parsed by a strict JSON parser written at the C level into a flat tape of nodes
  (type, byte span, child count, next sibling) in a reused array: no Python object is made for a
  line unless it has a problem;
* strings are scanned 16 bytes at a time (SSE2; 8 with portable bit tricks elsewhere), the
  usual numbers are converted without a byte loop, and keys are compared by length and first
  8 bytes before any memcmp;
* a line's findings become Python tuples only when it has some;
* label names and source-refs are interned in C hash tables (the source-refs by a 128-bit hash);
  the Python ``labels`` dict is built once at the end.

Threads. What a line's verdict and findings depend on is the line alone, but for one rule (a
duplicate source-ref: the first occurrence stays valid, a duplicate's other findings go); what
the result adds up depends on the order of the lines. So the work is split in two stages:

* checking, in parallel: the complete lines of a buffer are published as *pieces* (about
  256 KiB of consecutive lines) on a queue; the main thread and the worker threads (POSIX
  threads, ``nogil``, each with its own parser, scratch space and cache of label names, its
  *context*) take pieces as they come and write a compact record a line (kind, verdict, the
  findings with paths of node indexes, the declared labels by their id in the context's cache
  with their classification / detection sets, the bucket, the 128-bit hash of the source-ref),
  with no Python object and nothing shared but the queue;
* merging, on the main thread, piece after piece in line order: the duplicate rule (the
  source-ref table), the counts, buckets, overlaps with ``other``, labels (the context's ids
  mapped to the scan's table, in first-reference order), the Python tuples of problem lines
  (keys' text from the line parsed again; the reason of an invalid JSON line from the
  reference's own ``parse_line``).

A worker cannot call Python's correctly rounded ``strtod`` (it needs the GIL): a line that needs
it (a number with more than 19 digits or a large exponent) is left to the merge, which checks it
again. The main thread reads the next buffer while the workers check the last one, checks pieces
itself when there are some left, and merges as pieces get done. Inputs under 2 MiB are checked by
the main thread alone; else ``min(2, os.cpu_count())`` threads, or ``CUSTOMLABELS_THREADS``. The
result does not depend on the number of threads, the size of the buffers or pieces, or the
order in which pieces are done.

Memory stays bounded: two buffers (a block each, plus the longest line kept, 400,001 bytes), the
records of the pieces in flight (a piece takes at most REC_CAP lines), a tape a thread, and
20 bytes a source-ref (~40 MB for the 1.4M lines of a 1 GB manifest).

``refs`` in the result is a :class:`RefTable`: ``ref in refs`` and ``refs[ref]`` (the first line
of a source-ref) work as on the reference's dict; it is keyed by a 128-bit hash of the source-ref,
see :class:`RefTable`.
"""

cimport cython
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, memmove, memset

include "_codes.pxi"

cdef extern from "Python.h":
    # Python's own correctly rounded, locale-independent strtod (the one float() uses); with a
    # NULL overflow_exception it returns +-inf on overflow, like the reference's _number.
    double PyOS_string_to_double(const char *s, char **endptr,
                                 PyObject *overflow_exception) noexcept nogil

cdef extern from *:
    """
    #define CL_C1 0x87c37b91114253d5ULL
    #define CL_C2 0x4cf5ad432745937fULL
    #define CL_F1 0xff51afd7ed558ccdULL
    #define CL_F2 0xc4ceb9fe1a85ec53ULL
    #define CL_GOLD 0x9e3779b97f4a7c15ULL
    #define CL_SEED2 0x2545f4914f6cdd1dULL
    """
    const uint64_t CL_C1
    const uint64_t CL_C2
    const uint64_t CL_F1
    const uint64_t CL_F2
    const uint64_t CL_GOLD
    const uint64_t CL_SEED2

# --- limits: generated from customlabels.limits (ext/_limits.pxi) -----------------------------

include "_limits.pxi"

cdef enum:
    DEFAULT_CHUNK = 1 << 20   # bytes asked of each readinto

cdef enum:
    VALID = 0
    INVALID = 1
    IGNORED = 2

# Node types of the tape. A container's children follow it; ``next`` is the node after its
# whole subtree, so siblings are walked with ``j = nodes[j].next``. An object's members are a
# key node (T_STR) immediately followed by the value's subtree.
cdef enum:
    T_OBJ = 1
    T_ARR = 2
    T_STR = 3
    T_NUM = 4
    T_TRUE = 5
    T_FALSE = 6
    T_NULL = 7

cdef enum:
    F_ESC = 1  # T_STR: the string had escapes; its decoded bytes are in the arena
    F_INT = 2  # T_NUM: an integer literal (no '.', 'e' or 'E'): a Python int in the reference
    F_VAL = 4  # T_NUM: the value was computed while parsing; its double's bits are in pfx

# Kinds of a metadata ``type`` (what _check_pair_format returns).
cdef enum:
    K_NONE = 0   # not a string: a first-tier error was reported
    K_CLS = 1
    K_DET = 2
    K_OTHER = 3  # a string, but neither use case: ERROR_UNSUPPORTED_USE_CASE_TYPE later

# Path steps of a finding, packed in an int64: (value << 2) | kind.
cdef enum:
    P_KEY = 0   # value: the index of a key node (its decoded string)
    P_NAME = 1  # value: an index into NAMES
    P_INT = 2   # value: a list index

# Constant strings the rules compare with. Those before N_ERRORS are the path steps the reference
# writes literally (NAMES, in this order); the rest are values and reserved keys.
cdef enum:
    N_SOURCE_REF = 0
    N_TYPE
    N_CLASS_NAME
    N_CONFIDENCE
    N_HUMAN
    N_CREATION
    N_JOB
    N_IMAGE_SIZE
    N_ANNOTATIONS
    N_OBJECTS
    N_CLASS_MAP
    N_WIDTH
    N_HEIGHT
    N_DEPTH
    N_CLASS_ID
    N_TOP
    N_LEFT
    N_ERRORS      # the first that is not a path step
    N_WARNINGS
    N_YES
    N_NO
    N_CLS_TYPE
    N_DET_TYPE
    N_COUNT

NAMES = ("source-ref", "type", "class-name", "confidence", "human-annotated", "creation-date",
         "job-name", "image_size", "annotations", "objects", "class-map", "width", "height",
         "depth", "class_id", "top", "left")
_LITS = NAMES + ("errors", "warnings", "yes", "no", "groundtruth/image-classification",
                 "groundtruth/object-detection")
# One buffer for all of them, padded so that an 8-byte load at any of them stays inside.
cdef bytes _LITS_B = b"".join(n.encode() for n in _LITS) + bytes(16)
cdef const unsigned char *LIT_PTR[N_COUNT]
cdef Py_ssize_t LIT_LEN[N_COUNT]
cdef uint64_t LIT_PFX[N_COUNT]
cdef const unsigned char *METADATA_SUFFIX = b"-metadata"

# Byte classes inside a JSON string: 0 plain ASCII, 1 '"', 2 '\\', 3 control (< 0x20), 4 non-ASCII.
cdef unsigned char SCLS[256]
# Hex digit values, or 255.
cdef unsigned char HEXV[256]
# Exact powers of ten for the fast number path (10**22 is the largest exact double power).
cdef double POW10[23]
# S3 bucket characters (_pyscan._BUCKET_CHARS): 1 a letter or digit, 2 '.' or '-', else 0.
cdef unsigned char BUCKET[256]
# MASK8[k]: a word whose first k bytes (in memory order) are 0xFF, the rest 0.
cdef uint64_t MASK8[9]


cdef inline uint64_t load8(const unsigned char *s) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, s, 8)
    return v


cdef inline uint64_t prefix8(const unsigned char *s, Py_ssize_t n) noexcept nogil:
    """The first min(n, 8) bytes at s as a word, the rest zero (8 bytes at s must be readable:
    every buffer that holds strings has that much slack)."""
    return load8(s) & MASK8[n if n < 8 else 8]


cdef void _init_tables() noexcept:
    cdef int c, k
    cdef Py_ssize_t off = 0
    cdef const unsigned char *lits = <const unsigned char *><const char *>_LITS_B
    for c in range(256):
        SCLS[c] = 3 if c < 0x20 else (0 if c < 0x80 else 4)
        HEXV[c] = 255
    SCLS[34] = 1  # '"'
    SCLS[92] = 2  # '\\'
    for c in range(256):
        BUCKET[c] = 1 if (97 <= c <= 122 or 48 <= c <= 57) else (2 if c == 46 or c == 45 else 0)
    for c in range(10):
        HEXV[48 + c] = c
    for c in range(6):
        HEXV[65 + c] = 10 + c
        HEXV[97 + c] = 10 + c
    POW10[0] = 1.0
    for k in range(1, 23):
        POW10[k] = POW10[k - 1] * 10.0
    for k in range(9):
        MASK8[k] = 0
        memset(&MASK8[k], 0xFF, k)
    for k in range(N_COUNT):
        LIT_PTR[k] = lits + off
        LIT_LEN[k] = len(_LITS[k].encode())
        LIT_PFX[k] = prefix8(LIT_PTR[k], LIT_LEN[k])
        off += LIT_LEN[k]


_init_tables()


# --- hashing ---------------------------------------------------------------------------------

cdef inline uint64_t _rotl(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _fmix(uint64_t k) noexcept nogil:
    k ^= k >> 33
    k *= CL_F1
    k ^= k >> 33
    k *= CL_F2
    k ^= k >> 33
    return k


cdef void hash128(const unsigned char *data, Py_ssize_t n, uint64_t *out) noexcept nogil:
    """MurmurHash3 x64_128 of ``data`` (seeded): two 64-bit halves in out[0], out[1]."""
    cdef uint64_t h1 = CL_SEED2, h2 = CL_SEED2 ^ CL_GOLD, k1, k2
    cdef unsigned char tail[16]
    cdef Py_ssize_t i, nblocks = n // 16, rem = n & 15
    for i in range(nblocks):
        memcpy(&k1, data + 16 * i, 8)
        memcpy(&k2, data + 16 * i + 8, 8)
        k1 *= CL_C1
        k1 = _rotl(k1, 31)
        k1 *= CL_C2
        h1 ^= k1
        h1 = _rotl(h1, 27)
        h1 += h2
        h1 = h1 * 5 + 0x52dce729
        k2 *= CL_C2
        k2 = _rotl(k2, 33)
        k2 *= CL_C1
        h2 ^= k2
        h2 = _rotl(h2, 31)
        h2 += h1
        h2 = h2 * 5 + 0x38495ab5
    if rem:
        memset(tail, 0, 16)
        memcpy(tail, data + 16 * nblocks, rem)
        memcpy(&k1, tail, 8)
        memcpy(&k2, tail + 8, 8)
        if rem > 8:
            k2 *= CL_C2
            k2 = _rotl(k2, 33)
            k2 *= CL_C1
            h2 ^= k2
        k1 *= CL_C1
        k1 = _rotl(k1, 31)
        k1 *= CL_C2
        h1 ^= k1
    h1 ^= <uint64_t>n
    h2 ^= <uint64_t>n
    h1 += h2
    h2 += h1
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 += h2
    h2 += h1
    out[0] = h1
    out[1] = h2


cdef inline uint64_t hash64(const unsigned char *data, Py_ssize_t n) noexcept nogil:
    """A quick 64-bit hash for the in-memory tables (object keys, label names)."""
    cdef uint64_t h = CL_GOLD ^ (<uint64_t>n * CL_C1), w
    cdef Py_ssize_t i = 0
    while i + 8 <= n:
        memcpy(&w, data + i, 8)
        h = (h ^ w) * CL_C2
        h ^= h >> 31
        i += 8
    if i < n:
        w = 0
        memcpy(&w, data + i, n - i)
        h = (h ^ w) * CL_C2
        h ^= h >> 31
    return _fmix(h)


# --- the tape and the parser -----------------------------------------------------------------

ctypedef struct Node:  # 32 bytes
    uint8_t type
    uint8_t flags
    int32_t start   # T_STR: decoded bytes at (arena if F_ESC else line) + start; T_NUM: literal
    int32_t len     # T_STR: decoded length in bytes; T_NUM: literal length
    int32_t count   # containers: members (T_OBJ) or items (T_ARR)
    int32_t next    # the node after this subtree
    int32_t aux     # T_OBJ: offset of its key index in Parser.hidx, or -1; T_STR: a mark
    uint64_t pfx    # T_STR: the first 8 decoded bytes (prefix8), for quick comparisons


ctypedef struct Parser:
    const unsigned char *s   # the line
    Py_ssize_t n             # its length
    Node *nodes
    int32_t nnodes
    int32_t cap
    unsigned char *arena     # decoded strings with escapes; never longer than the line
    Py_ssize_t alen
    int32_t *hidx            # key indexes of the objects with many members
    Py_ssize_t hlen
    Py_ssize_t hcap
    unsigned char *scratch   # a NUL-terminated number literal, or KEY-metadata
    int64_t max_int_digits   # sys.get_int_max_str_digits(); 0: no limit
    bint nomem
    bint python_ok           # num_value may call Python's strtod (the thread holds the GIL)
    bint defer               # it needed to and could not: the merge checks the line again


cdef enum:
    SMALL_OBJECT = 8  # objects with more members get a hash index of their keys


cdef extern from *:
    """
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #define CL_SWAR 1
    #define CL_CTZ(x) __builtin_ctzll(x)
    #else
    #define CL_SWAR 0
    #define CL_CTZ(x) 0
    #endif
    #if defined(__GNUC__)
    #define CL_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define CL_PREFETCH(p) ((void)0)
    #endif
    /* Sixteen bytes at a time with SSE2 (every x86-64 has it): the position of the first
       quote, backslash, control byte (< 0x20) or non-ASCII byte (>= 0x80) in s[i:i + 16 * k], or
       the first i with i + 16 > n. One signed compare, v < 0x20, catches both of the last two
       kinds (bytes >= 0x80 are negative). */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #define CL_SSE2 1
    static inline Py_ssize_t cl_str_run16(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
        const __m128i quote = _mm_set1_epi8(0x22), slash = _mm_set1_epi8(0x5C);
        const __m128i space = _mm_set1_epi8(0x20);
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                  _mm_cmpeq_epi8(v, slash)),
                                     _mm_cmplt_epi8(v, space));
            int bits = _mm_movemask_epi8(m);
            if (bits) return i + __builtin_ctz((unsigned)bits);
            i += 16;
        }
        return i;
    }
    #else
    #define CL_SSE2 0
    static inline Py_ssize_t cl_str_run16(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
        (void)s; (void)n; return i;
    }
    #endif
    /* Tables of 2 MB and more: anonymous memory, zeroed, backed by huge pages where the system
       allows (fewer TLB misses on random probes). */
    #if defined(__linux__)
    #include <sys/mman.h>
    static void *cl_big_calloc(size_t size) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
    #ifdef MADV_HUGEPAGE
        madvise(p, size, MADV_HUGEPAGE);
    #endif
        return p;
    }
    static void cl_big_free(void *p, size_t size) { if (p) munmap(p, size); }
    #else
    static void *cl_big_calloc(size_t size) { return calloc(size, 1); }
    static void cl_big_free(void *p, size_t size) { (void)size; free(p); }
    #endif
    #define CL_ONES 0x0101010101010101ULL
    #define CL_HIGHS 0x8080808080808080ULL
    #define CL_LANES 0x000000FF000000FFULL
    #define CL_MUL1 (100ULL + (1000000ULL << 32))
    #define CL_MUL2 (1ULL + (10000ULL << 32))
    """
    const bint CL_SWAR
    const bint CL_SSE2
    void *cl_big_calloc(size_t size) noexcept nogil
    void cl_big_free(void *p, size_t size) noexcept nogil
    Py_ssize_t cl_str_run16(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil
    void CL_PREFETCH(const void *p) noexcept nogil
    int CL_CTZ(uint64_t x) noexcept nogil
    const uint64_t CL_ONES
    const uint64_t CL_HIGHS
    const uint64_t CL_LANES
    const uint64_t CL_MUL1
    const uint64_t CL_MUL2


cdef extern from *:
    """
    /* The last '\n' in s[0:n], or NULL. */
    #if defined(__GLIBC__)
    #define cl_memrchr_nl(s, n) ((const unsigned char *)memrchr((s), 10, (n)))
    #else
    static const unsigned char *cl_memrchr_nl(const unsigned char *s, Py_ssize_t n) {
        while (n > 0) { if (s[--n] == 10) return s + n; }
        return NULL;
    }
    #endif
    /* A mutex with two condition variables (work published, a piece done) and threads: POSIX
       threads where there are any; elsewhere, or built with -DCL_NO_THREADS, none (the scan
       runs on one thread). */
    #if !defined(CL_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
    #include <pthread.h>
    #include <signal.h>
    #define CL_THREADS 1
    typedef struct { pthread_mutex_t mu; pthread_cond_t work, done; } cl_sync;
    typedef struct { pthread_t th; } cl_thread;
    static int cl_sync_init(cl_sync *s) {
        if (pthread_mutex_init(&s->mu, NULL)) return -1;
        if (pthread_cond_init(&s->work, NULL)) { pthread_mutex_destroy(&s->mu); return -1; }
        if (pthread_cond_init(&s->done, NULL)) {
            pthread_cond_destroy(&s->work); pthread_mutex_destroy(&s->mu); return -1;
        }
        return 0;
    }
    static void cl_sync_destroy(cl_sync *s) {
        pthread_cond_destroy(&s->done); pthread_cond_destroy(&s->work);
        pthread_mutex_destroy(&s->mu);
    }
    static void cl_lock(cl_sync *s) { pthread_mutex_lock(&s->mu); }
    static void cl_unlock(cl_sync *s) { pthread_mutex_unlock(&s->mu); }
    static void cl_wait_work(cl_sync *s) { pthread_cond_wait(&s->work, &s->mu); }
    static void cl_wait_done(cl_sync *s) { pthread_cond_wait(&s->done, &s->mu); }
    static void cl_wake_workers(cl_sync *s) { pthread_cond_broadcast(&s->work); }
    static void cl_wake_main(cl_sync *s) { pthread_cond_signal(&s->done); }
    /* Workers never run Python code: they start with every signal blocked, so that signals
       go to the threads that do (Python handles them in the main thread anyway). */
    static int cl_thread_start(cl_thread *t, void *(*fn)(void *), void *arg) {
        sigset_t all, old;
        int rc;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&t->th, NULL, fn, arg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    static void cl_thread_join(cl_thread *t) { pthread_join(t->th, NULL); }
    #else
    #define CL_THREADS 0
    typedef struct { int unused; } cl_sync;
    typedef struct { int unused; } cl_thread;
    static int cl_sync_init(cl_sync *s) { (void)s; return 0; }
    static void cl_sync_destroy(cl_sync *s) { (void)s; }
    static void cl_lock(cl_sync *s) { (void)s; }
    static void cl_unlock(cl_sync *s) { (void)s; }
    static void cl_wait_work(cl_sync *s) { (void)s; }
    static void cl_wait_done(cl_sync *s) { (void)s; }
    static void cl_wake_workers(cl_sync *s) { (void)s; }
    static void cl_wake_main(cl_sync *s) { (void)s; }
    static int cl_thread_start(cl_thread *t, void *(*fn)(void *), void *arg) {
        (void)t; (void)fn; (void)arg; return -1;
    }
    static void cl_thread_join(cl_thread *t) { (void)t; }
    #endif
    """
    ctypedef struct cl_sync:
        pass
    ctypedef struct cl_thread:
        pass
    ctypedef void *(*cl_thread_fn)(void *) noexcept nogil
    const bint CL_THREADS
    const unsigned char *cl_memrchr_nl(const unsigned char *s, Py_ssize_t n) noexcept nogil
    int cl_sync_init(cl_sync *s) noexcept nogil
    void cl_sync_destroy(cl_sync *s) noexcept nogil
    void cl_lock(cl_sync *s) noexcept nogil
    void cl_unlock(cl_sync *s) noexcept nogil
    void cl_wait_work(cl_sync *s) noexcept nogil
    void cl_wait_done(cl_sync *s) noexcept nogil
    void cl_wake_workers(cl_sync *s) noexcept nogil
    void cl_wake_main(cl_sync *s) noexcept nogil
    int cl_thread_start(cl_thread *t, cl_thread_fn fn, void *arg) noexcept nogil
    void cl_thread_join(cl_thread *t) noexcept nogil


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


# --- lookups on the tape ---------------------------------------------------------------------

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


# --- source-refs -----------------------------------------------------------------------------

cdef packed struct RefSlot:  # 20 bytes: a 1.4M-line manifest needs ~40 MB, not ~100
    uint64_t h1
    uint64_t h2
    uint32_t line  # 0: an empty slot


cdef enum:
    REF_MIN_SLOTS = 1024
    REF_MAX_PRESIZE = 1 << 20  # presized tables stay at most 20 MB; they grow past that


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


# --- findings --------------------------------------------------------------------------------

ctypedef struct Finding:  # 20 bytes
    int16_t code
    int16_t n       # path length
    int32_t path[4] # steps, (value << 2) | kind (P_KEY, P_NAME, P_INT)


ctypedef struct Pair:
    int32_t akey    # key node of the attribute, NAME
    int32_t aval
    int32_t mkey    # key node of its metadata, NAME-metadata
    int32_t mval
    int kind
    Py_ssize_t boxes  # detection: offset of its boxes' BOX_SLOTS fields in Ctx.bf, or -1
    int32_t mf[8]     # the metadata's fields (gather_meta), META_SLOTS of them


# A box's fields, gathered in one pass by gather_box and kept for both tiers: the value nodes of
# class_id, top, left, width, height (the reference's _BOX_FIELDS order), then the class-map
# entry (value node) of its class_id, or -1.
cdef enum:
    B_CLASS_ID = 0
    B_TOP
    B_LEFT
    B_WIDTH
    B_HEIGHT
    B_ENTRY
    BOX_SLOTS

# The box field names differ in length: a key of length k can only be BOX_BY_LEN[k].
cdef int BOX_BY_LEN[9]
cdef int BOX_LIT[5]
BOX_BY_LEN[:] = [-1, -1, -1, B_TOP, B_LEFT, B_WIDTH, B_HEIGHT, -1, B_CLASS_ID]
BOX_LIT[:] = [N_CLASS_ID, N_TOP, N_LEFT, N_WIDTH, N_HEIGHT]


# The metadata fields the rules read, gathered in one pass by gather_meta.
cdef enum:
    M_TYPE = 0
    M_CONFIDENCE
    M_CLASS_NAME
    M_HUMAN
    M_CREATION
    M_JOB
    M_OBJECTS
    M_CLASS_MAP
    META_SLOTS


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


cdef inline int32_t PK(int32_t node) noexcept nogil:
    return (node << 2) | P_KEY


cdef inline int32_t PN(int name) noexcept nogil:
    return (<int32_t>name << 2) | P_NAME


cdef inline int32_t PI(int32_t i) noexcept nogil:
    return (i << 2) | P_INT


cdef inline void* grow(void *ptr, Py_ssize_t *cap, Py_ssize_t item) noexcept nogil:
    """Double a malloc'ed array; NULL (ptr untouched) when memory is short."""
    cdef void *out = realloc(ptr, 2 * cap[0] * item)
    if out != NULL:
        cap[0] *= 2
    return out


# --- label names -----------------------------------------------------------------------------

ctypedef struct Label:
    Py_ssize_t off      # the name's bytes in the table's arena
    Py_ssize_t len
    uint64_t hash       # hash64 of the name
    int64_t counts[3]   # the scan's table: [classification images, detection images, images]
    int64_t st          # a context's table: the last line (Ctx.seq) that declared the label;
                        # the scan's, making records: the last line whose classification
                        # labels hold it
    Py_ssize_t pos      # ... and its entry in that line's declared labels (Piece.decl)


# Names in first-reference order, with open addressing on their hash64: one table for the
# scan (the result's labels, with their counts) and one a context (a cache of the names it met:
# the lines it checks refer to labels by their id there; the merge maps those ids to the scan's).
ctypedef struct LabelTab:
    Label *labels
    Py_ssize_t n, cap
    int32_t *slots      # label id + 1; 0: empty
    uint64_t mask
    unsigned char *arena
    Py_ssize_t alen, acap


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


# --- the work: pieces of lines and their records --------------------------------------------

# What became of a line (LineRec.kind).
cdef enum:
    R_CHECKED = 0  # parsed and checked: verdict, findings, declared labels, source-ref
    R_LONG = 1     # too long: ERROR_LINE_TOO_LONG
    R_JSON = 2     # the parser rejected it: ERROR_INVALID_JSON_LINE (the merge gets the reason)
    R_DEFER = 3    # a rule needs a number only Python's strtod reads: the merge checks it


ctypedef struct LineRec:  # 56 bytes
    int32_t start    # the line's offset in its piece's buffer
    int32_t len      # its length without the terminator (\n and one \r before it)
    uint8_t kind
    uint8_t verdict
    uint8_t tier1    # its findings are first-tier ones (grouped by the merge, L6732-6746)
    uint8_t keys     # a path of its findings names a key: the merge parses it again for the text
    int32_t nf       # its findings: the next nf in the piece's f
    int32_t ndecl    # its declared labels: the next ndecl in the piece's decl
    int32_t bucket   # its source-ref's bucket in the piece's bk (a length byte, then the bytes);
                     # -1: no well-formed source-ref
    int32_t sref     # the source-ref's node (a mapping ``other`` needs its text)
    int32_t nlab     # records: its label events, the next nlab in the piece's lab
    int32_t soff     # records: its source-ref's decoded bytes: at start + soff in the
                     # buffer, or (-1 - soff) in the piece's sa (one with escapes)
    int32_t slen
    uint64_t h1      # hash128 of the source-ref
    uint64_t h2


cdef enum:
    MAX_THREADS = 8           # threads that check lines, the main one included
    MERGE_CTX = MAX_THREADS   # the context of the merge (deferred lines, texts of keys)
    N_CTX = MAX_THREADS + 1
    REC_CAP = 8192            # lines a piece takes at most (short lines: see merge_piece)
    FINDING_CAP = 1 << 16     # ... and findings, give or take a line's
    DEFAULT_BLOCK = 2 << 20   # bytes a buffer holds (two of them), besides a partial line
    DEFAULT_PIECE = 256 << 10 # bytes of lines in a piece
    MIN_PIECE = 16
    MAX_BLOCK = 1 << 28
    THREAD_MIN_BYTES = 2 << 20  # smaller inputs are checked by the main thread alone


# Consecutive lines of a buffer, checked by one thread; the merge takes pieces in order.
ctypedef struct Piece:
    unsigned char *buf   # the buffer
    int bufid            # its index in _Scanner.bufs; -1: none (a piece of too-long lines)
    int ctx              # the context that checked it
    bint done
    bint nomem
    Py_ssize_t start     # its lines are buf[start:end], each with its '\n'
    Py_ssize_t end
    Py_ssize_t stop      # where the checking stopped: end, unless REC_CAP or FINDING_CAP did
    Py_ssize_t nlong     # too-long lines whose bytes were dropped, just before buf[start]
    LineRec *recs
    Py_ssize_t nrecs, rcap
    Finding *f
    Py_ssize_t nf, fcap
    int32_t *decl        # declared labels: (context label id << 2) | 1 (cls) | 2 (det)
    Py_ssize_t ndecl, dcap
    unsigned char *bk    # buckets
    Py_ssize_t nbk, bkcap
    Py_ssize_t last_bk
    int32_t *lab         # records: label events (see rec_event)
    Py_ssize_t nlab, lcap
    unsigned char *sa    # records: the decoded source-refs that had escapes
    Py_ssize_t nsa, sacap


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
        if (pc.recs == NULL or pc.f == NULL or pc.decl == NULL or pc.bk == NULL
                or pc.lab == NULL or pc.sa == NULL):
            piece_free(pc)
            return False
    pc.nrecs = pc.nf = pc.ndecl = pc.nbk = pc.nlab = pc.nsa = 0
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
    pc.recs = NULL
    pc.f = NULL
    pc.decl = NULL
    pc.bk = NULL
    pc.lab = NULL
    pc.sa = NULL
    pc.rcap = pc.fcap = pc.dcap = pc.bkcap = pc.lcap = pc.sacap = 0


# --- a context: what one thread needs to check lines -----------------------------------------

ctypedef struct Ctx:
    Parser p
    LabelTab lt       # the names this context met; ids in Piece.decl are ids here
    cl_sync *sync     # held while lt grows, where the merge reads it from another thread
    int id
    bint nomem
    bint records      # note the label events of each line (records())
    Piece *out        # the piece being checked: records, findings, labels go there
    Py_ssize_t fbase  # the line's first finding in out.f
    int64_t seq       # lines checked (label stamps)
    bint tier1
    bint keys
    Pair *pairs
    Py_ssize_t npairs, pcap
    int32_t *bf       # the line's boxes: BOX_SLOTS value nodes each (gather_box)
    Py_ssize_t nbf, bcap
    int32_t mark      # per-line counter for the "reported" set of check_boxes
    Py_ssize_t ncls, ndet, nany
    Py_ssize_t bucket_len  # 0: no well-formed source-ref
    int32_t sref
    uint64_t h[2]


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


# --- findings and labels of the line being checked -------------------------------------------

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

cdef int check(Ctx *c) noexcept nogil:
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
        pr.kind = check_pair_format(c, pr)
    if c.nomem:
        return INVALID
    if c.out.nf > c.fbase:
        c.tier1 = True
        return INVALID
    if nkeys == 0:
        add0(c, C_WARNING_UNANNOTATED_RECORD)
        return IGNORED
    return second_tier(c)


cdef int second_tier(Ctx *c) noexcept nogil:
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
            if not check_boxes(c, ann, pr.boxes, width, height, pr.akey, pr.mkey):
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


cdef bint check_boxes(Ctx *c, int32_t ann, Py_ssize_t boxes, double width, double height,
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


cdef int check_pair_format(Ctx *c, Pair *pr) noexcept nogil:
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
        check_common_metadata(c, mf, mkey)
        return K_CLS
    if not str_is(p, kind, N_DET_TYPE):
        return K_OTHER

    pr.boxes = -1
    ann = check_detection_value(c, value, akey, &pr.boxes)
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
    check_common_metadata(c, mf, mkey)
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


cdef void check_common_metadata(Ctx *c, int32_t *mf, int32_t mkey) noexcept nogil:
    cdef Parser *p = &c.p
    cdef int32_t v = mf[M_HUMAN]
    if not (str_is(p, v, N_YES) or str_is(p, v, N_NO)):
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_HUMAN))
    if not is_type(p, mf[M_CREATION], T_STR):
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_CREATION))
    v = mf[M_JOB]
    if v >= 0 and p.nodes[v].type != T_STR:
        add2(c, C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_JOB))


cdef int32_t check_detection_value(Ctx *c, int32_t value, int32_t akey,
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
    verdict = check(c)
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


# --- the queue of pieces, the worker threads -------------------------------------------------

ctypedef struct Shared:
    cl_sync sync                  # guards what follows, and Piece.done
    Piece *pieces                 # a ring: piece i is pieces[i % qcap]
    Py_ssize_t qcap
    Py_ssize_t npub               # pieces published
    Py_ssize_t nclaim             # the next piece to claim (the dynamic schedule)
    Py_ssize_t cursor[MAX_THREADS]  # each thread's next piece (the static schedule)
    int nthreads                  # threads that check pieces, the main one included
    bint static_sched             # piece i goes to thread i % nthreads (tests)
    bint quit


ctypedef struct WorkerArg:
    Shared *sh
    Ctx *ctx


cdef inline Py_ssize_t claim(Shared *sh, int t) noexcept nogil:
    """The next piece thread ``t`` checks, or -1 for none yet (sh.sync is held)."""
    cdef Py_ssize_t i
    if sh.static_sched:
        i = sh.cursor[t]
        if i < sh.npub:
            sh.cursor[t] = i + sh.nthreads
            return i
        return -1
    if sh.nclaim < sh.npub:
        i = sh.nclaim
        sh.nclaim += 1
        return i
    return -1


cdef void *worker_main(void *arg) noexcept nogil:
    """A worker thread: check pieces as they come until told to quit. No Python here."""
    cdef WorkerArg *wa = <WorkerArg *>arg
    cdef Shared *sh = wa.sh
    cdef Ctx *c = wa.ctx
    cdef Piece *pc
    cdef Py_ssize_t i
    cl_lock(&sh.sync)
    while not sh.quit:
        i = claim(sh, c.id)
        if i < 0:
            cl_wait_work(&sh.sync)
            continue
        pc = &sh.pieces[i % sh.qcap]
        cl_unlock(&sh.sync)
        process_piece(c, pc)
        cl_lock(&sh.sync)
        pc.done = True
        cl_wake_main(&sh.sync)
    cl_unlock(&sh.sync)
    return NULL


@cython.final
cdef class _Buffer:
    """Memory for the reads, uninitialized (a bytearray would zero it first), exported to
    ``readinto`` through the buffer protocol."""

    cdef unsigned char *data
    cdef Py_ssize_t size

    def __cinit__(self, Py_ssize_t size):
        self.data = <unsigned char *>malloc(size)
        if self.data == NULL:
            raise MemoryError()
        self.size = size

    def __dealloc__(self):
        free(self.data)

    def __getbuffer__(self, Py_buffer *view, int flags):
        PyBuffer_FillInfo(view, self, self.data, self.size, 0, flags)

    def __releasebuffer__(self, Py_buffer *view):
        pass


@cython.final
@cython.no_gc_clear  # __dealloc__ stops the threads before the buffers they read go
cdef class _Scanner:
    """The state of one scan: buffers, the queue of pieces, the contexts and worker threads,
    the tables and the Python results (built by the merge, in line order); an iterator of
    batches of records when made by :func:`records`."""

    cdef Ctx *ctxs[N_CTX]      # 0: the main thread's; 1..: the workers'; MERGE_CTX: the merge's
    cdef int32_t *gmap[N_CTX]  # a context's label id -> the scan's (-1: not mapped yet)
    cdef Py_ssize_t gmapn[N_CTX]
    cdef LabelTab glob         # the scan's labels, in first-reference order, with their counts
    cdef Shared *sh
    cdef bint sync_ok
    cdef WorkerArg wargs[MAX_THREADS]
    cdef cl_thread threads[MAX_THREADS]
    cdef int nstarted          # worker threads running
    cdef int nthreads          # threads wanted, the main one included
    cdef bint forced           # started whatever the input's size
    cdef Piece rest            # the main thread's, for what a cap left of a piece
    cdef Piece dpiece          # the merge's, for a deferred line
    # reading
    cdef _Buffer buf0, buf1
    cdef object view0, view1
    cdef unsigned char *bufs[2]
    cdef Py_ssize_t unmerged[2]  # pieces of each buffer not merged yet
    cdef Py_ssize_t cap          # a buffer's size (plus slack)
    cdef Py_ssize_t block, piece, chunk
    cdef Py_ssize_t tail_off, tail_len  # the partial line at the end of the last buffer read
    cdef Py_ssize_t pending_long        # too-long lines for the next piece
    cdef Py_ssize_t published
    cdef Py_ssize_t nmerged
    cdef bint first, eof, overflow
    cdef object readinto, read
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
    cdef list batch
    cdef list names
    cdef list singles
    cdef int y                   # the buffer to fill next
    cdef bint finished

    def __cinit__(self):
        self.sh = <Shared *>calloc(1, sizeof(Shared))
        if self.sh == NULL or not lt_init(&self.glob):
            raise MemoryError()
        self.sync_ok = cl_sync_init(&self.sh.sync) == 0

    def __dealloc__(self):
        cdef int k
        cdef Py_ssize_t i
        self.stop_workers()
        for k in range(N_CTX):
            ctx_free(self.ctxs[k])
            free(self.gmap[k])
        lt_free(&self.glob)
        piece_free(&self.rest)
        piece_free(&self.dpiece)
        if self.sh != NULL:
            if self.sh.pieces != NULL:
                for i in range(self.sh.qcap):
                    piece_free(&self.sh.pieces[i])
                free(self.sh.pieces)
            if self.sync_ok:
                cl_sync_destroy(&self.sh.sync)
            free(self.sh)

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

    # --- reading (customlabels.manifest.reader.iter_lines) ------------------------------------

    cdef Py_ssize_t read_some(self, int y, Py_ssize_t at, Py_ssize_t want) except -1:
        """Read at most ``want`` bytes into buffer y at ``at``; 0 at the end."""
        cdef Py_ssize_t got
        if self.readinto is not None:
            view = self.view0 if y == 0 else self.view1
            got = self.readinto(view[at:at + want]) or 0
            if got < 0 or got > want:
                raise ValueError("readinto() returned a bad byte count")
        else:
            data = self.read(want) or b""
            got = len(data)
            if got > want:
                raise ValueError("read() returned more bytes than asked for")
            memcpy(self.bufs[y] + at, <const char *>data, got)
        return got

    cdef int fill(self, int y) except -1:
        """Read the next block into buffer y, after the partial line the last one left, and
        publish its complete lines as pieces (eagerly: the threads start on them while it
        reads on). The reader's rules: a BOM at the very start is skipped; a line longer than
        MAX_LINE_BYTES + 1 (a \\r may end it) is too long whatever follows, its bytes are
        dropped; a final line without a \\n is a line."""
        cdef unsigned char *b
        cdef Py_ssize_t hi, pub = 0, last = 0, scanned = 0, target, got, want
        cdef const unsigned char *nl
        cdef bint seen_nl = False
        cdef _Buffer buf
        if self.bufs[y] == NULL:
            buf = _Buffer(self.cap + 72)  # slack: the final \n, 8-byte loads past a line's end
            if y == 0:
                self.buf0 = buf
                self.view0 = memoryview(buf)
            else:
                self.buf1 = buf
                self.view1 = memoryview(buf)
            self.bufs[y] = buf.data
        b = self.bufs[y]
        hi = self.tail_len
        if hi:
            memcpy(b, self.bufs[y ^ 1] + self.tail_off, hi)
        self.tail_len = 0
        target = hi + self.block
        # Read to the target, and on to a newline (a line that spans many small blocks is not
        # copied block after block).
        while not self.eof and (hi < target or not seen_nl):
            want = min(self.chunk, self.cap - hi)
            if want <= 0:  # cannot happen: a line this long was dropped
                raise RuntimeError("customlabels._core: the read buffer is full")
            got = self.read_some(y, hi, want)
            if got == 0:
                self.eof = True
            hi += got
            if self.first:
                if hi < 3 and not self.eof:  # short reads: the BOM test needs 3 bytes
                    continue
                self.first = False
                if hi >= 3 and b[0] == 0xEF and b[1] == 0xBB and b[2] == 0xBF:
                    pub = last = scanned = 3  # a BOM only at the very start of the file
            if self.overflow:  # in a too-long line: drop its bytes up to its end
                nl = <const unsigned char *>memchr(b + scanned, 10, hi - scanned)
                if nl == NULL:
                    hi = scanned = pub
                    continue
                self.pending_long += 1
                self.overflow = False
                pub = last = scanned = nl - b + 1
                seen_nl = True
            if hi > scanned:
                nl = cl_memrchr_nl(b + scanned, hi - scanned)
                if nl != NULL:
                    last = nl - b + 1
                    seen_nl = True
                scanned = hi
            if last - pub >= self.piece:
                pub = self.publish(y, pub, last, False)
            if hi - last > MAX_LINE_BYTES + 1:  # too long whatever follows
                self.publish(y, pub, last, True)
                self.overflow = True
                return 0  # (one such line a block: pieces a block stay few)
        if self.eof:
            if self.overflow:
                self.pending_long += 1
                self.overflow = False
            elif hi > last:  # the final line has no \n: give it one (the buffer has room)
                b[hi] = 10
                hi += 1
                last = hi
            self.publish(y, pub, last, True)
            if self.pending_long:
                self.push_piece(-1, 0, 0)
        else:
            self.publish(y, pub, last, True)
            self.tail_off = last
            self.tail_len = hi - last
        return 0

    cdef Py_ssize_t publish(self, int y, Py_ssize_t a, Py_ssize_t e, bint final) except -1:
        """Publish the lines in buffer y [a:e] as pieces of about self.piece bytes (unless
        ``final``, less than that is left); return where the unpublished lines start."""
        cdef unsigned char *b = self.bufs[y]
        cdef const unsigned char *nl
        cdef Py_ssize_t cut, end
        while a < e:
            if e - a < self.piece and not final:
                break
            cut = a + self.piece
            if cut >= e:
                end = e
            else:  # the end of the line holding byte cut - 1 (b[e - 1] is a \n)
                nl = <const unsigned char *>memchr(b + cut - 1, 10, e - cut + 1)
                end = nl - b + 1
            self.push_piece(y, a, end)
            a = end
        return a

    cdef int push_piece(self, int y, Py_ssize_t a, Py_ssize_t e) except -1:
        cdef Shared *sh = self.sh
        cdef Piece *pc
        if sh.npub - self.nmerged >= sh.qcap:
            raise RuntimeError("customlabels._core: the queue of pieces overflowed")
        pc = &sh.pieces[sh.npub % sh.qcap]
        pc.buf = self.bufs[y] if y >= 0 else NULL
        pc.bufid = y
        pc.start = a
        pc.end = e
        pc.stop = a
        pc.nlong = self.pending_long
        self.pending_long = 0
        pc.done = False
        if y >= 0:
            self.unmerged[y] += 1
            self.published += e - a
        with nogil:
            cl_lock(&sh.sync)
            sh.npub += 1
            cl_wake_workers(&sh.sync)
            cl_unlock(&sh.sync)
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
                self.batch.append((self.lineno, self.raw(pc, rec), INVALID,
                                   [(C_ERROR_DUPLICATE_SOURCE_REF, (NAMES[N_SOURCE_REF],),
                                     first)], self.sref_text(pc, rec), (), ()))
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
            return self.record(c, pc, rec, f, events)
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

    cdef int record(self, Ctx *c, Piece *pc, LineRec *rec, Finding *f,
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
                if n == 2:  # and one box
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
                    elif e & 3 == 0:
                        if bl is None:
                            bl = []
                        bl.append(self.names[self.gid(c, e >> 2)])
                labels = tuple(out)
                if bl is not None:
                    boxes = tuple(bl)
        self.batch.append((self.lineno, self.raw(pc, rec), rec.verdict,
                           self.findings_list(pc, rec, f) if rec.nf else [],
                           self.sref_text(pc, rec) if rec.bucket >= 0 else None,
                           labels, boxes))
        return 0

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
        self.block = DEFAULT_BLOCK if block is None else int(block)
        self.piece = DEFAULT_PIECE if piece is None else int(piece)
        if not 1 <= self.block <= MAX_BLOCK:
            raise ValueError(f"_block must be in [1, {MAX_BLOCK}]")
        self.piece = min(max(self.piece, MIN_PIECE), MAX_BLOCK)
        self.chunk = chunk
        # A buffer holds a block after the partial line the last one left (at most
        # MAX_LINE_BYTES + 1: longer, it is dropped), so the reads never need more than that.
        self.cap = self.block + MAX_LINE_BYTES + 8
        # Pieces a fill publishes: a piece of self.piece bytes or more each, plus 3 (the end
        # of the fill, a too-long line, the end of the file); two buffers in flight.
        sh.qcap = 2 * (self.cap // self.piece + 4)
        sh.pieces = <Piece *>calloc(sh.qcap, sizeof(Piece))
        if sh.pieces == NULL:
            raise MemoryError()
        sh.static_sched = static and self.nthreads > 1
        sh.nthreads = self.nthreads
        for y in range(MAX_THREADS):
            sh.cursor[y] = y
        self.ctxs[0] = ctx_new(0, True, mid)
        self.ctxs[MERGE_CTX] = ctx_new(MERGE_CTX, True, mid)
        if self.ctxs[0] == NULL or self.ctxs[MERGE_CTX] == NULL:
            raise MemoryError()
        self.ctxs[0].records = self.ctxs[MERGE_CTX].records = self.records
        self.readinto = getattr(stream, "readinto", None)
        if self.readinto is None:
            self.read = stream.read
        self.first = True
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
        if self.view0 is not None:
            self.view0.release()
        if self.view1 is not None:
            self.view1.release()

    def run(self, stream, max_lines, other, reason, Py_ssize_t chunk, threads, block, piece,
            bint static):
        try:
            self.start(stream, max_lines, other, reason, chunk, threads, block, piece, static)
            return self.result(self.pump() == 2)
        finally:
            self.finish()

    def run_records(self, stream, reason, Py_ssize_t chunk, threads, block, piece, bint static):
        self.records = True
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


def records(stream, *, reason, chunk_size=DEFAULT_CHUNK, _threads=None, _block=None,
            _piece=None, _static=False):
    """Check ``stream`` line by line as :func:`scan` does; yield a record a line, in batches.

    Yields lists (the lines of a piece, at most a few hundred KiB of them, in line order) of
    tuples ``(line, raw, verdict, findings, source_ref, labels, box_labels)``, the fields of
    ``customlabels.manifest.records.Record``: the 1-based line; its bytes without the terminator
    (None for a line over MAX_LINE_BYTES, which the reader drops); VALID, INVALID or IGNORED;
    the line's findings as :func:`scan` gives them (a new list, empty when none); its
    source-ref when well formed (duplicates too), else None; on a valid line, its labels
    (distinct: its classification labels, then its detection labels, each in the order met)
    and the label of each usable box (in attribute and annotation order), else ``()``. Each
    label name is one str object for the whole scan.

    Every line is read (no max_lines); memory stays bounded as in :func:`scan`. The options
    are :func:`scan`'s. Threads stop when the iterator is exhausted, fails or is dropped.
    """
    return _Scanner().run_records(stream, reason, chunk_size, _threads, _block, _piece, _static)


def scan(stream, max_lines, other=None, *, reason, chunk_size=DEFAULT_CHUNK, _threads=None,
         _block=None, _piece=None, _static=False):
    """Scan ``stream`` line by line; ``other`` is the ``refs`` of an earlier scan, if any.

    Returns the fields of ``customlabels.validation.scan.ScanResult`` as a tuple, in its order;
    ``refs`` is a :class:`RefTable`. ``other`` may be a RefTable or any mapping of source-ref to
    line. ``reason(raw)`` gives the detail text of a line that is not a strict JSON object (the
    core computes no prose). ``chunk_size`` is how many bytes each read asks for.

    Lines are checked by min(2, CPUs) threads once the input passes 2 MiB (the environment
    variable ``CUSTOMLABELS_THREADS``, read once a scan, sets another count: 1 for one thread);
    the result is the same whatever the count. For tests: ``_threads`` forces that many threads
    whatever the input's size, ``_block`` and ``_piece`` set the bytes a buffer and a piece
    hold, ``_static`` hands piece i to thread i % threads.
    """
    return _Scanner().run(stream, max_lines, other, reason, chunk_size, _threads, _block, _piece,
                          _static)
