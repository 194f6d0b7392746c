# cython: language_level=3
"""The compiled line scanner: :func:`scan` gives exactly what ``customlabels.validate._pyscan``
gives, several times faster.

The reference is the pure-Python scanner (``src/customlabels/validate/_pyscan.py``): every rule
below mirrors one of its lines, in the same order, so that both return equal
:class:`~customlabels.validate._pyscan.ScanResult` objects (the differential tests in
``tests/test_core_equivalence.py`` hold them to that). What differs is how the work is done:

* the file is read with ``readinto`` into one reused buffer and split at ``\\n`` with ``memchr``,
  following ``customlabels.manifest.reader`` exactly (BOM, CRLF, final newline, over-long lines);
* each line is parsed by a strict JSON parser written at the C level into a flat tape of nodes
  (type, byte span, child count, next sibling) in a reused array: no Python object is made for a
  line unless it has a problem;
* strings are scanned 16 bytes at a time (SSE2; 8 with portable bit tricks elsewhere), the
  usual numbers are converted without a byte loop, and keys are compared by length and first
  8 bytes before any memcmp;
* the rules read the tape; a line's findings become Python tuples only when it has some;
* label names and source-refs are interned in C hash tables (the source-refs by a 128-bit hash);
  the Python ``labels`` dict is built once at the end.

Memory stays bounded: one read buffer (``chunk_size`` plus the longest line kept, 400,001 bytes),
the per-line tape, and 20 bytes a source-ref (~40 MB for the 1.4M lines of a 1 GB manifest).

Only a line that the parser rejects goes back to Python: the reason text of the finding comes from
the reference's own ``parse_line``, so the messages are the same by construction.

``refs`` in the result is a :class:`RefTable`: ``ref in refs`` and ``refs[ref]`` (the first line
of a source-ref) work as on the reference's dict; it is keyed by a 128-bit hash of the source-ref,
see :class:`RefTable`.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
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

# --- limits: the same values as the reference (checked against it by _reference()) ----------

cdef enum:
    MAX_LINE_CHARS = 100000   # L5411-5412 (reader.MAX_LINE_CHARS)
    MAX_LINE_BYTES = 400000   # 4 bytes a character at most (reader.MAX_LINE_BYTES)
    MAX_DEPTH = 64            # _pyscan.MAX_DEPTH
    MAX_BOXES = 50            # L17957-17959
    MAX_LABELS_PER_IMAGE = 50 # L17944
    MAX_LABEL_NAME = 256      # L8162-8174
    MIN_SIDE = 64             # L17961-17967
    MAX_SIDE = 4096
    MAX_ASPECT = 20
    SCALE_SIDE = 1280         # L7743-7760
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
# The first-tier codes in the guide's order (L6732-6746): findings are grouped in this order.
cdef int TIER1[8]


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
    TIER1[:] = [C_ERROR_MISSING_SOURCE_REF, C_ERROR_INVALID_SOURCE_REF_FORMAT,
                C_ERROR_NO_LABEL_ATTRIBUTES, C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT,
                C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
                C_ERROR_MISSING_BOUNDING_BOX_CONFIDENCE, C_ERROR_MISSING_CLASS_MAP_ID,
                C_ERROR_INVALID_JSON_LINE]
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
    computed by parse_num, or by Python's own correctly rounded strtod (float() uses it)."""
    cdef Node *nd = &p.nodes[idx]
    cdef double v
    cdef char *end
    if nd.flags & F_VAL:
        memcpy(&v, &nd.pfx, 8)
        return v
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


cdef inline bint is_line_error(int code) noexcept nogil:
    """_pyscan.LINE_ERRORS: codes that make the whole line invalid (besides first-tier ones)."""
    return (code == C_ERROR_LINE_TOO_LONG or code == C_ERROR_DUPLICATE_SOURCE_REF
            or code == C_ERROR_INVALID_IMAGE_DIMENSION or code == C_ERROR_TOO_MANY_BOUNDING_BOXES
            or code == C_ERROR_TOO_MANY_LABELS_PER_IMAGE
            or code == C_ERROR_NO_VALID_LABEL_ATTRIBUTES)


cdef inline bint is_dropped(int code) noexcept nogil:
    """_pyscan.DROPPED: terminal content errors, the line is dropped at import (L5403-5420)."""
    return (code == C_ERROR_LINE_TOO_LONG or code == C_ERROR_INVALID_JSON_LINE
            or code == C_ERROR_MISSING_SOURCE_REF or code == C_ERROR_INVALID_SOURCE_REF_FORMAT
            or code == C_ERROR_DUPLICATE_SOURCE_REF)


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


# --- label names -----------------------------------------------------------------------------

# The per-line label sets, as indexes into Label.counts.
cdef enum:
    L_CLS = 0
    L_DET = 1
    L_ANY = 2


ctypedef struct Label:
    Py_ssize_t off      # the name's bytes in the label arena
    Py_ssize_t len
    uint64_t hash
    int64_t counts[3]   # [classification images, detection images, images] (valid lines)
    int64_t st_cls      # stamps: the last line whose cls / det / any set holds the label
    int64_t st_det
    int64_t st_any


# --- findings --------------------------------------------------------------------------------

ctypedef struct Finding:
    int code
    int n           # path length
    int64_t path[4]
    int64_t arg     # ERROR_DUPLICATE_SOURCE_REF: the first line; else 0 (None)


ctypedef struct Pair:
    int32_t akey    # key node of the attribute, NAME
    int32_t aval
    int32_t mkey    # key node of its metadata, NAME-metadata
    int32_t mval
    int kind
    Py_ssize_t boxes  # detection: offset of its boxes' BOX_SLOTS fields in _Scanner.bf, or -1
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


cdef inline int64_t PK(int32_t node) noexcept nogil:
    return (<int64_t>node << 2) | P_KEY


cdef inline int64_t PN(int name) noexcept nogil:
    return (<int64_t>name << 2) | P_NAME


cdef inline int64_t PI(int64_t i) noexcept nogil:
    return (i << 2) | P_INT


cdef inline void* grow(void *ptr, Py_ssize_t *cap, Py_ssize_t item) noexcept nogil:
    """Double a malloc'ed array; NULL (ptr untouched) when memory is short."""
    cdef void *out = realloc(ptr, 2 * cap[0] * item)
    if out != NULL:
        cap[0] *= 2
    return out


@cython.final
cdef class _Scanner:
    """The state of one scan: buffers, the tape, the tables and the Python results."""

    cdef Parser p
    cdef Finding *f
    cdef Py_ssize_t nf, fcap
    cdef bint tier1            # the findings are first-tier ones (to be grouped, L6732-6746)
    cdef bint nomem
    cdef Pair *pairs
    cdef Py_ssize_t npairs, pcap
    cdef int32_t *ids          # the line's labels: (label id << 2) | its set (L_CLS, L_DET, L_ANY)
    cdef int32_t *bf           # the line's boxes: BOX_SLOTS value nodes each (gather_box)
    cdef Py_ssize_t nbf, bcap
    cdef Py_ssize_t nids, icap
    cdef Label *labels
    cdef Py_ssize_t nlabels, lcap
    cdef int32_t *lslots       # open addressing: label id + 1, 0 empty
    cdef uint64_t lmask
    cdef unsigned char *larena
    cdef Py_ssize_t larena_len, larena_cap
    cdef int32_t mark          # per-line counter for the "reported" set of _check_boxes
    # per-line results of check()
    cdef int64_t lineno
    cdef Py_ssize_t bucket_len  # 0: no well-formed source-ref (info is None)
    cdef int32_t sref
    cdef uint64_t h[2]
    cdef Py_ssize_t ncls, ndet, nany
    # totals
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
    cdef object parse_line_py

    def __cinit__(self):
        self.p.cap = 4096
        self.p.nodes = <Node *>malloc(self.p.cap * sizeof(Node))
        self.p.arena = <unsigned char *>malloc(MAX_LINE_BYTES + 64)
        self.p.scratch = <unsigned char *>malloc(MAX_LINE_BYTES + 64)
        self.p.hcap = 4096
        self.p.hidx = <int32_t *>malloc(self.p.hcap * sizeof(int32_t))
        self.fcap = 64
        self.f = <Finding *>malloc(self.fcap * sizeof(Finding))
        self.pcap = 16
        self.pairs = <Pair *>malloc(self.pcap * sizeof(Pair))
        self.icap = 256
        self.ids = <int32_t *>malloc(self.icap * sizeof(int32_t))
        self.bcap = 64 * BOX_SLOTS
        self.bf = <int32_t *>malloc(self.bcap * sizeof(int32_t))
        self.lcap = 256
        self.labels = <Label *>malloc(self.lcap * sizeof(Label))
        self.lmask = 1023
        self.lslots = <int32_t *>calloc(self.lmask + 1, sizeof(int32_t))
        self.larena_cap = 1 << 16
        self.larena = <unsigned char *>malloc(self.larena_cap)
        if (self.p.nodes == NULL or self.p.arena == NULL or self.p.scratch == NULL
                or self.p.hidx == NULL or self.f == NULL or self.pairs == NULL
                or self.ids == NULL or self.bf == NULL or self.labels == NULL or self.lslots == NULL
                or self.larena == NULL):
            raise MemoryError()

    def __dealloc__(self):
        free(self.p.nodes)
        free(self.p.arena)
        free(self.p.scratch)
        free(self.p.hidx)
        free(self.f)
        free(self.pairs)
        free(self.ids)
        free(self.bf)
        free(self.labels)
        free(self.lslots)
        free(self.larena)

    # --- findings ----------------------------------------------------------------------------

    cdef void add(self, int code, int n, int64_t a, int64_t b, int64_t c, int64_t d) noexcept:
        cdef Finding *fd
        cdef void *grown
        if self.nf == self.fcap:
            grown = grow(self.f, &self.fcap, sizeof(Finding))
            if grown == NULL:
                self.nomem = True
                return
            self.f = <Finding *>grown
        fd = &self.f[self.nf]
        self.nf += 1
        fd.code = code
        fd.n = n
        fd.path[0] = a
        fd.path[1] = b
        fd.path[2] = c
        fd.path[3] = d
        fd.arg = 0

    cdef inline void add0(self, int code) noexcept:
        self.add(code, 0, 0, 0, 0, 0)

    cdef inline void add1(self, int code, int64_t a) noexcept:
        self.add(code, 1, a, 0, 0, 0)

    cdef inline void add2(self, int code, int64_t a, int64_t b) noexcept:
        self.add(code, 2, a, b, 0, 0)

    cdef inline void add3(self, int code, int64_t a, int64_t b, int64_t c) noexcept:
        self.add(code, 3, a, b, c, 0)

    cdef inline void add4(self, int code, int64_t a, int64_t b, int64_t c, int64_t d) noexcept:
        self.add(code, 4, a, b, c, d)

    # --- labels ------------------------------------------------------------------------------

    cdef int32_t intern(self, int32_t idx) noexcept:
        """The id of the label named by string node ``idx``, added (in first-reference order,
        which is the order of the reference's labels dict) when new; -1 when memory is short."""
        cdef Node *nd = &self.p.nodes[idx]
        cdef const unsigned char *s = sptr(&self.p, nd)
        cdef Py_ssize_t n = nd.len
        cdef uint64_t h = hash64(s, n), j
        cdef int32_t e, lid
        cdef Label *lab
        cdef void *grown
        j = h & self.lmask
        while True:
            e = self.lslots[j]
            if e == 0:
                break
            lab = &self.labels[e - 1]
            if lab.hash == h and lab.len == n and memcmp(self.larena + lab.off, s, n) == 0:
                return e - 1
            j = (j + 1) & self.lmask
        if self.nlabels == self.lcap:
            grown = grow(self.labels, &self.lcap, sizeof(Label))
            if grown == NULL:
                self.nomem = True
                return -1
            self.labels = <Label *>grown
        while self.larena_len + n > self.larena_cap:
            grown = grow(self.larena, &self.larena_cap, 1)
            if grown == NULL:
                self.nomem = True
                return -1
            self.larena = <unsigned char *>grown
        lid = <int32_t>self.nlabels
        self.nlabels += 1
        lab = &self.labels[lid]
        lab.off = self.larena_len
        lab.len = n
        lab.hash = h
        lab.counts[0] = lab.counts[1] = lab.counts[2] = 0
        lab.st_cls = lab.st_det = lab.st_any = 0
        memcpy(self.larena + self.larena_len, s, n)
        self.larena_len += n
        self.lslots[j] = lid + 1
        if 2 * self.nlabels > <Py_ssize_t>self.lmask:
            if not self.rehash_labels():
                return -1
        return lid

    cdef bint rehash_labels(self) noexcept:
        cdef uint64_t size = 2 * (self.lmask + 1), j
        cdef int32_t *slots = <int32_t *>calloc(size, sizeof(int32_t))
        cdef Py_ssize_t k
        if slots == NULL:
            self.nomem = True
            return False
        for k in range(self.nlabels):
            j = self.labels[k].hash & (size - 1)
            while slots[j]:
                j = (j + 1) & (size - 1)
            slots[j] = <int32_t>(k + 1)
        free(self.lslots)
        self.lslots = slots
        self.lmask = size - 1
        return True

    cdef void push_id(self, int32_t lid, int which) noexcept:
        """Note that label ``lid`` is in the line's set ``which`` (each label once a set)."""
        cdef void *grown
        if self.nids == self.icap:
            grown = grow(self.ids, &self.icap, sizeof(int32_t))
            if grown == NULL:
                self.nomem = True
                return
            self.ids = <int32_t *>grown
        self.ids[self.nids] = (lid << 2) | which
        self.nids += 1

    # --- the line rules (_pyscan.check_line) --------------------------------------------------

    cdef int check(self) noexcept:
        """Apply every per-line rule to the parsed line; return the verdict.

        Fills self.f (findings), self.bucket_len/sref/h (info: the well-formed source-ref) and
        self.ids (labels: cls ids, det ids, then their union) like check_line's return value.
        """
        cdef Parser *p = &self.p
        cdef int32_t sref, j, m, cnt, k, mv
        cdef Node *nd
        cdef Py_ssize_t blen, npairs, nkeys = 0, q
        cdef int64_t first_line
        cdef Pair *pr
        cdef void *grown
        cdef const unsigned char *ks
        self.nf = 0
        self.tier1 = False
        self.bucket_len = 0
        self.nids = self.ncls = self.ndet = self.nany = 0
        self.nbf = 0
        self.mark = 0

        sref = get_name(p, 0, N_SOURCE_REF)
        if sref < 0:
            self.add0(C_ERROR_MISSING_SOURCE_REF)
        else:
            nd = &p.nodes[sref]
            blen = source_ref_bucket(sptr(p, nd), nd.len) if nd.type == T_STR else 0
            if blen == 0:
                self.add1(C_ERROR_INVALID_SOURCE_REF_FORMAT, PN(N_SOURCE_REF))
            else:
                # The table is big and its slots random: start loading this one now, and
                # look it up after the first-tier rules, which do not depend on it.
                hash128(sptr(p, nd), nd.len, self.h)
                self.refs.prefetch(self.h[0])
                self.bucket_len = blen
                self.sref = sref

        # Label attributes: keys other than the reserved ones; pairs: NAME with NAME-metadata.
        self.npairs = 0
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
                        if self.npairs == self.pcap:
                            grown = grow(self.pairs, &self.pcap, sizeof(Pair))
                            if grown == NULL:
                                self.nomem = True
                                return INVALID
                            self.pairs = <Pair *>grown
                        pr = &self.pairs[self.npairs]
                        self.npairs += 1
                        pr.akey = j
                        pr.aval = j + 1
                        pr.mkey = mv - 1
                        pr.mval = mv
            j = p.nodes[j + 1].next
        npairs = self.npairs
        if nkeys and not npairs:
            self.add0(C_ERROR_NO_LABEL_ATTRIBUTES)
        for q in range(npairs):
            pr = &self.pairs[q]
            pr.kind = self.check_pair_format(pr)

        if self.bucket_len:
            first_line = self.refs.find(self.h[0], self.h[1])
            if first_line:  # dropped at import: no other rule runs, nothing is counted
                self.nf = 0
                self.bucket_len = 0
                self.add1(C_ERROR_DUPLICATE_SOURCE_REF, PN(N_SOURCE_REF))
                self.f[0].arg = first_line
                return INVALID
            if self.refs.add(self.h[0], self.h[1], self.lineno) < 0:
                self.nomem = True
                return INVALID
        if self.nf:
            self.tier1 = True
            return INVALID
        if nkeys == 0:
            self.add0(C_WARNING_UNANNOTATED_RECORD)
            return IGNORED
        return self.second_tier()

    cdef int second_tier(self) noexcept:
        """The second-tier rules of check_line, for a line that passed the first tier."""
        cdef Parser *p = &self.p
        cdef Pair *pr
        cdef Py_ssize_t q, r, boxes = 0
        cdef int32_t name, size0, ann, lid, too_many_at = -1
        cdef bint pair_error = False, line_error
        cdef double width, height
        cdef Label *lab
        cdef int32_t *ids
        cdef Py_ssize_t ncls_end
        for q in range(self.npairs):
            pr = &self.pairs[q]
            if pr.kind == K_CLS:
                name = pr.mf[M_CLASS_NAME]
                if name_ok(p, name):
                    lid = self.intern(name)
                    if lid < 0:
                        return INVALID
                    lab = &self.labels[lid]
                    if lab.st_cls != self.lineno:
                        lab.st_cls = self.lineno
                        self.push_id(lid, L_CLS)
                        self.ncls += 1
                else:
                    self.add2(C_ERROR_INVALID_LABEL_NAME_LENGTH, PK(pr.mkey), PN(N_CLASS_NAME))
                    pair_error = True
            elif pr.kind == K_DET:
                size0 = get_name(p, pr.aval, N_IMAGE_SIZE) + 1
                width = num_value(p, get_name(p, size0, N_WIDTH))
                height = num_value(p, get_name(p, size0, N_HEIGHT))
                if not dimension_ok(width, height):
                    self.add3(C_ERROR_INVALID_IMAGE_DIMENSION, PK(pr.akey), PN(N_IMAGE_SIZE),
                              PI(0))
                ann = get_name(p, pr.aval, N_ANNOTATIONS)
                if ann < 0 or p.nodes[ann].count == 0:
                    self.add1(C_WARNING_NO_ATTRIBUTE_ANNOTATIONS, PK(pr.akey))
                    continue
                boxes += p.nodes[ann].count
                if boxes > MAX_BOXES and too_many_at < 0:
                    too_many_at = pr.akey
                if not self.check_boxes(ann, pr.boxes, width, height, pr.akey, pr.mkey):
                    self.add1(C_ERROR_NO_VALID_ANNOTATIONS, PK(pr.akey))
                    pair_error = True
            else:
                self.add2(C_ERROR_UNSUPPORTED_USE_CASE_TYPE, PK(pr.mkey), PN(N_TYPE))
                pair_error = True
        if self.nomem:
            return INVALID

        if too_many_at >= 0:
            self.add2(C_ERROR_TOO_MANY_BOUNDING_BOXES, PK(too_many_at), PN(N_ANNOTATIONS))
        # the union of cls and det (dict.fromkeys([*cls, *det]))
        ncls_end = self.nids
        for r in range(ncls_end):
            lid = self.ids[r] >> 2
            lab = &self.labels[lid]
            if lab.st_any != self.lineno:
                lab.st_any = self.lineno
                self.push_id(lid, L_ANY)
                self.nany += 1
        if self.nany > MAX_LABELS_PER_IMAGE:
            self.add0(C_ERROR_TOO_MANY_LABELS_PER_IMAGE)
        line_error = False
        for r in range(self.nf):
            if is_line_error(self.f[r].code):
                line_error = True
                break
        if self.ncls == 0 and self.ndet == 0:
            if pair_error:
                self.add0(C_ERROR_NO_VALID_LABEL_ATTRIBUTES)
                line_error = True
            elif not line_error:
                self.add0(C_WARNING_NO_ANNOTATIONS)
        if line_error:
            return INVALID
        if self.ncls or self.ndet:
            return VALID
        return IGNORED

    cdef bint check_boxes(self, int32_t ann, Py_ssize_t boxes, double width, double height,
                          int32_t akey, int32_t mkey) noexcept:
        """_check_boxes (spec decision 7): check each box; return whether one is usable.

        The first tier made sure every number is there, every class_id an int in class-map and
        every class-map name a string; ``boxes`` is where gather_box left the box fields."""
        cdef Parser *p = &self.p
        cdef double longest = height if height > width else width  # max(width, height)
        cdef double scale = 1.0 if longest <= SCALE_SIDE else SCALE_SIDE / longest
        cdef double left, top, w, h
        cdef bint usable = False, ok
        cdef int32_t entry, lid = -1, i, cnt = p.nodes[ann].count
        cdef int32_t *bf
        cdef Node *nd
        cdef Label *lab
        self.mark += 1  # a fresh "reported" set: a class-map key node is in it when aux == mark
        for i in range(cnt):
            bf = self.bf + boxes + i * BOX_SLOTS
            entry = bf[B_ENTRY]
            # The class-map entry's value node caches its label: aux is 0 (not seen yet), the
            # label id + 1, or -1 (the name's length is invalid).
            nd = &p.nodes[entry]
            if nd.aux == 0:
                if name_ok(p, entry):
                    lid = self.intern(entry)
                    if lid < 0:
                        return True
                    p.nodes[entry].aux = lid + 1
                else:
                    p.nodes[entry].aux = -1
                nd = &p.nodes[entry]
            ok = nd.aux > 0
            if ok:
                lid = nd.aux - 1
            elif p.nodes[entry - 1].aux != self.mark:
                p.nodes[entry - 1].aux = self.mark
                self.add3(C_ERROR_INVALID_LABEL_NAME_LENGTH, PK(mkey), PN(N_CLASS_MAP),
                          PK(entry - 1))
            left = num_value(p, bf[B_LEFT])
            top = num_value(p, bf[B_TOP])
            w = num_value(p, bf[B_WIDTH])
            h = num_value(p, bf[B_HEIGHT])
            if (left < 0 or top < 0 or w < 0 or h < 0 or left + w > width
                    or top + h > height):
                self.add3(C_ERROR_INVALID_BOUNDING_BOX, PK(akey), PN(N_ANNOTATIONS), PI(i))
            elif w * scale <= 1 or h * scale <= 1:
                self.add3(C_ERROR_BOUNDING_BOX_TOO_SMALL, PK(akey), PN(N_ANNOTATIONS), PI(i))
            elif ok:
                usable = True
                lab = &self.labels[lid]
                if lab.st_det != self.lineno:
                    lab.st_det = self.lineno
                    self.push_id(lid, L_DET)
                    self.ndet += 1
        return usable

    cdef int check_pair_format(self, Pair *pr) noexcept:
        """_check_pair_format: the first-tier format rules of one attribute and its metadata."""
        cdef Parser *p = &self.p
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
            self.add1(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey))
            return K_NONE
        gather_meta(p, meta, mf)
        kind = mf[M_TYPE]
        if not is_type(p, kind, T_STR):
            self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_TYPE))
            return K_NONE
        if str_is(p, kind, N_CLS_TYPE):
            if not is_integer(p, value):
                self.add1(C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey))
            if not is_confidence(p, mf[M_CONFIDENCE]):
                self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey),
                          PN(N_CONFIDENCE))
            if not is_type(p, mf[M_CLASS_NAME], T_STR):
                self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey),
                          PN(N_CLASS_NAME))
            self.check_common_metadata(mf, mkey)
            return K_CLS
        if not str_is(p, kind, N_DET_TYPE):
            return K_OTHER

        pr.boxes = -1
        ann = self.check_detection_value(value, akey, &pr.boxes)
        objects = mf[M_OBJECTS]
        objects_ok = is_type(p, objects, T_ARR)
        oc = self.bf  # unused unless objects_ok
        if not objects_ok:
            self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_OBJECTS))
        else:
            # Each item's confidence node (-1: none, -2: the item is not a dict), kept for the
            # missing-confidence rule below, in scratch space after the boxes in self.bf.
            nobj = p.nodes[objects].count
            while self.nbf + nobj > self.bcap:
                grown = grow(self.bf, &self.bcap, sizeof(int32_t))
                if grown == NULL:
                    self.nomem = True
                    return K_NONE
                self.bf = <int32_t *>grown
            oc = self.bf + self.nbf
            item = objects + 1
            for m in range(nobj):
                if p.nodes[item].type != T_OBJ:
                    oc[m] = -2
                    self.add3(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey),
                              PN(N_OBJECTS), PI(m))
                else:
                    conf = get_name(p, item, N_CONFIDENCE)
                    oc[m] = conf
                    if conf >= 0 and not is_confidence(p, conf):
                        self.add4(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey),
                                  PN(N_OBJECTS), PI(m), PN(N_CONFIDENCE))
                item = p.nodes[item].next
        cmap = mf[M_CLASS_MAP]
        map_ok = is_type(p, cmap, T_OBJ)
        if not map_ok:
            self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_CLASS_MAP))
        else:
            j = cmap + 1
            for m in range(p.nodes[cmap].count):
                if p.nodes[j + 1].type != T_STR:
                    self.add3(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey),
                              PN(N_CLASS_MAP), PK(j))
                j = p.nodes[j + 1].next
        self.check_common_metadata(mf, mkey)
        if ann >= 0 and objects_ok:
            cnt = p.nodes[ann].count
            nobj = p.nodes[objects].count
            for m in range(cnt):
                if m >= nobj or oc[m] == -1:
                    self.add3(C_ERROR_MISSING_BOUNDING_BOX_CONFIDENCE, PK(mkey), PN(N_OBJECTS),
                              PI(m))
        if ann >= 0 and map_ok:
            for m in range(p.nodes[ann].count):
                bf = self.bf + pr.boxes + m * BOX_SLOTS
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
                        self.add4(C_ERROR_MISSING_CLASS_MAP_ID, PK(akey), PN(N_ANNOTATIONS),
                                  PI(m), PN(N_CLASS_ID))
        return K_DET

    cdef void check_common_metadata(self, int32_t *mf, int32_t mkey) noexcept:
        cdef Parser *p = &self.p
        cdef int32_t v = mf[M_HUMAN]
        if not (str_is(p, v, N_YES) or str_is(p, v, N_NO)):
            self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_HUMAN))
        if not is_type(p, mf[M_CREATION], T_STR):
            self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_CREATION))
        v = mf[M_JOB]
        if v >= 0 and p.nodes[v].type != T_STR:
            self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, PK(mkey), PN(N_JOB))

    cdef int32_t check_detection_value(self, int32_t value, int32_t akey,
                                       Py_ssize_t *boxes) noexcept:
        """_check_detection_value: the detection attribute's shape; its annotations list node,
        or -1 (not a dict, no annotations, or annotations not a list). The boxes' fields are
        gathered into self.bf at ``boxes[0]``."""
        cdef Parser *p = &self.p
        cdef int32_t size, s0, ann, box, i, k, item, cnt
        cdef bint ok
        cdef int32_t *bf
        cdef void *grown
        if not is_type(p, value, T_OBJ):
            self.add1(C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey))
            return -1
        size = get_name(p, value, N_IMAGE_SIZE)
        if (not is_type(p, size, T_ARR) or p.nodes[size].count != 1
                or p.nodes[size + 1].type != T_OBJ):
            self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey), PN(N_IMAGE_SIZE))
        else:
            s0 = size + 1
            for k in range(N_WIDTH, N_DEPTH + 1):  # width, height, depth
                if not is_type(p, get_name(p, s0, k), T_NUM):
                    self.add4(C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey), PN(N_IMAGE_SIZE),
                              PI(0), PN(k))
        ann = get_name(p, value, N_ANNOTATIONS)
        if ann < 0:
            return -1
        if p.nodes[ann].type != T_ARR:
            self.add2(C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey), PN(N_ANNOTATIONS))
            return -1
        cnt = p.nodes[ann].count
        while self.nbf + cnt * BOX_SLOTS > self.bcap:
            grown = grow(self.bf, &self.bcap, sizeof(int32_t))
            if grown == NULL:
                self.nomem = True
                return -1
            self.bf = <int32_t *>grown
        boxes[0] = self.nbf
        self.nbf += cnt * BOX_SLOTS
        box = ann + 1
        for i in range(cnt):
            bf = self.bf + boxes[0] + i * BOX_SLOTS
            if p.nodes[box].type != T_OBJ:
                bf[0] = bf[1] = bf[2] = bf[3] = bf[4] = bf[5] = -1
                self.add3(C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey), PN(N_ANNOTATIONS),
                          PI(i))
            else:
                gather_box(p, box, bf)
                for k in range(5):
                    item = bf[k]
                    ok = is_integer(p, item) if k == 0 else is_type(p, item, T_NUM)
                    if not ok:
                        self.add4(C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, PK(akey),
                                  PN(N_ANNOTATIONS), PI(i), PN(BOX_LIT[k]))
            box = p.nodes[box].next
        return ann

    # --- Python results ----------------------------------------------------------------------

    cdef object key_str(self, int32_t idx):
        cdef Node *nd = &self.p.nodes[idx]
        return PyUnicode_DecodeUTF8(<const char *>sptr(&self.p, nd), nd.len, "surrogatepass")

    cdef object finding_tuple(self, Finding *fd):
        cdef list path = []
        cdef int k, kind
        cdef int64_t v
        for k in range(fd.n):
            v = fd.path[k]
            kind = v & 3
            if kind == P_KEY:
                path.append(self.key_str(<int32_t>(v >> 2)))
            elif kind == P_NAME:
                path.append(NAMES[v >> 2])
            else:
                path.append(v >> 2)
        return (fd.code, tuple(path), fd.arg if fd.arg else None)

    cdef list findings_list(self):
        """The line's findings; first-tier ones grouped in the guide's order, each group in
        the order met (the reference's stable sort on _TIER1_RANK)."""
        cdef list out = []
        cdef Py_ssize_t r
        cdef int t
        if self.tier1:
            for t in range(8):
                for r in range(self.nf):
                    if self.f[r].code == TIER1[t]:
                        out.append(self.finding_tuple(&self.f[r]))
        else:
            for r in range(self.nf):
                out.append(self.finding_tuple(&self.f[r]))
        return out

    cdef int record(self, int verdict, list findings) except -1:
        """scan()'s bookkeeping for a line with its verdict and findings (None: self.f)."""
        cdef Py_ssize_t r, blen
        cdef bint drop = False
        cdef int64_t first
        cdef Label *lab
        cdef Node *nd
        self.counts[verdict] += 1
        if findings is not None:
            self.problems.append((self.lineno, verdict, findings))
            self.dropped += 1  # only LINE_TOO_LONG and INVALID_JSON_LINE come this way
            return 0
        if self.nf:
            self.problems.append((self.lineno, verdict, self.findings_list()))
            for r in range(self.nf):
                if is_dropped(self.f[r].code):
                    drop = True
                    break
            if drop:
                self.dropped += 1
        blen = self.bucket_len
        if blen == 0:
            return 0
        nd = &self.p.nodes[self.sref]
        # buckets.setdefault(bucket, line), with a fast path for the previous line's bucket
        if blen != self.last_bucket_len or memcmp(self.last_bucket, sptr(&self.p, nd) + 5,
                                                   blen) != 0:
            memcpy(self.last_bucket, sptr(&self.p, nd) + 5, blen)
            self.last_bucket_len = blen
            self.buckets.setdefault(
                PyUnicode_DecodeUTF8(<const char *>self.last_bucket, blen, NULL), self.lineno)
        if self.other_table is not None:
            first = self.other_table.find(self.h[0], self.h[1])
            if first:
                self.overlaps.append((self.lineno, first))
        elif self.other is not None:
            ref = self.key_str(self.sref)
            if ref in self.other:
                self.overlaps.append((self.lineno, self.other[ref]))
        if verdict != VALID:
            return 0
        for r in range(self.nids):  # [classification images, detection images, images]
            self.labels[self.ids[r] >> 2].counts[self.ids[r] & 3] += 1
        if self.ncls:
            self.kind_lines[0] += 1
        if self.ndet:
            self.kind_lines[1] += 1
        return 0

    cdef int line(self, const unsigned char *s, Py_ssize_t n, bint too_long) except -1:
        """check_line and scan()'s bookkeeping for one line (without its ``\\n``)."""
        cdef Py_ssize_t i, chars
        cdef int verdict
        if self.lineno >= 0xFFFFFFFF:  # RefTable keeps lines as uint32
            raise OverflowError("customlabels._core reads at most 4,294,967,294 lines")
        if not too_long:
            if n and s[n - 1] == 13:  # one \r before the \n is part of the terminator
                n -= 1
            if n > MAX_LINE_BYTES:
                too_long = True
            elif n > MAX_LINE_CHARS:  # count characters: bytes that are not continuations
                chars = 0
                for i in range(n):
                    if (s[i] & 0xC0) != 0x80:
                        chars += 1
                too_long = chars > MAX_LINE_CHARS
        if too_long:
            return self.record(INVALID, [(C_ERROR_LINE_TOO_LONG, (), None)])
        if not parse_line(&self.p, s, n):
            if self.p.nomem:
                raise MemoryError()
            return self.record(INVALID, [(C_ERROR_INVALID_JSON_LINE, (), self.reason(s, n))])
        verdict = self.check()
        if self.nomem:
            raise MemoryError()
        return self.record(verdict, None)

    cdef str reason(self, const unsigned char *s, Py_ssize_t n):
        """The reference's reason text for a line the parser rejected."""
        raw = PyBytes_FromStringAndSize(<const char *>s, n)
        try:
            self.parse_line_py(raw)
        except ValueError as exc:
            return str(exc)
        raise RuntimeError(f"line {self.lineno}: the compiled parser rejects a line that "
                           f"_pyscan.parse_line accepts (please report): {raw!r}")

    # --- reading (customlabels.manifest.reader.iter_lines) ------------------------------------

    def run(self, stream, max_lines, other, Py_ssize_t chunk):
        cdef int64_t limit
        cdef Py_ssize_t cap, lo = 0, hi = 0, scanned = 0, got, k
        cdef bint first = True, eof = False, overflow = False
        cdef unsigned char *b
        cdef const unsigned char *nl
        cdef bytearray buf
        cdef Label *lab
        import os
        import sys
        from customlabels.validate._pyscan import ScanResult, parse_line

        self.parse_line_py = parse_line
        self.p.max_int_digits = sys.get_int_max_str_digits()
        limit = max(-1, min(int(max_lines), 1 << 62))
        expected = 0
        try:  # a file: about one line in 512 bytes (the table grows if there are more)
            expected = min(os.fstat(stream.fileno()).st_size // 512, limit + 1)
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
        # A partial line is kept only while it may still be short enough (MAX_LINE_BYTES, +1
        # for a \r), so the buffer never needs more than that plus one read.
        cap = chunk + MAX_LINE_BYTES + 64
        buf = bytearray(cap + 64)  # slack: 8-byte loads may run past a line's end
        b = <unsigned char *><char *>buf
        view = memoryview(buf)
        readinto = getattr(stream, "readinto", None)
        try:
            while True:
                if lo == hi:
                    lo = hi = scanned = 0
                elif cap - hi < chunk:
                    memmove(b, b + lo, hi - lo)
                    hi -= lo
                    scanned -= lo
                    lo = 0
                if readinto is not None:
                    got = readinto(view[hi:hi + chunk]) or 0
                else:
                    data = stream.read(chunk) or b""
                    got = len(data)
                    if got > chunk:
                        raise ValueError("read() returned more bytes than asked for")
                    memcpy(b + hi, <const char *>data, got)
                    del data
                if got == 0:
                    eof = True
                hi += got
                if first:
                    if hi < 3 and not eof:  # short reads: the BOM test needs 3 bytes
                        continue
                    first = False
                    if hi >= 3 and b[0] == 0xEF and b[1] == 0xBB and b[2] == 0xBF:
                        lo = scanned = 3  # a BOM only at the very start of the file
                while True:
                    nl = <const unsigned char *>memchr(b + scanned, 10, hi - scanned)
                    if nl == NULL:
                        scanned = hi
                        break
                    k = nl - b
                    if self.lineno >= limit:
                        return self.result(ScanResult, True)
                    self.lineno += 1
                    self.line(b + lo, k - lo, overflow)
                    overflow = False
                    lo = scanned = k + 1
                if eof:
                    if overflow or hi > lo:  # the final newline makes no line
                        if self.lineno >= limit:
                            return self.result(ScanResult, True)
                        self.lineno += 1
                        self.line(b + lo, hi - lo, overflow)
                    return self.result(ScanResult, False)
                if overflow or hi - lo > MAX_LINE_BYTES + 1:
                    overflow = True  # too long whatever follows: drop its bytes
                    lo = scanned = hi
        finally:
            view.release()

    cdef object result(self, ScanResult, bint exceeded):
        cdef dict labels = {}
        cdef Label *lab
        cdef Py_ssize_t k
        for k in range(self.nlabels):
            lab = &self.labels[k]
            labels[PyUnicode_DecodeUTF8(<const char *>self.larena + lab.off, lab.len,
                                        "surrogatepass")] = [lab.counts[0], lab.counts[1],
                                                             lab.counts[2]]
        return ScanResult(total=self.lineno, exceeded=exceeded,
                          counts=[self.counts[0], self.counts[1], self.counts[2]],
                          dropped=self.dropped, problems=self.problems, labels=labels,
                          kind_lines=[self.kind_lines[0], self.kind_lines[1]],
                          buckets=self.buckets, overlaps=self.overlaps, refs=self.refs)


_checked = False



def _reference():
    """Check once that the limits and code numbers compiled in agree with the reference."""
    global _checked
    if _checked:
        return
    from customlabels.codes import CODE_NAMES, TIER1_ORDER
    from customlabels.manifest import reader
    from customlabels.validate import _pyscan as ref

    expected = {
        "MAX_LINE_CHARS": (reader.MAX_LINE_CHARS, MAX_LINE_CHARS),
        "MAX_LINE_BYTES": (reader.MAX_LINE_BYTES, MAX_LINE_BYTES),
        "MAX_DEPTH": (ref.MAX_DEPTH, MAX_DEPTH),
        "MAX_BOXES": (ref.MAX_BOXES, MAX_BOXES),
        "MAX_LABELS_PER_IMAGE": (ref.MAX_LABELS_PER_IMAGE, MAX_LABELS_PER_IMAGE),
        "MAX_LABEL_NAME": (ref.MAX_LABEL_NAME, MAX_LABEL_NAME),
        "sides": ((ref.MIN_SIDE, ref.MAX_SIDE, ref.MAX_ASPECT), (MIN_SIDE, MAX_SIDE, MAX_ASPECT)),
        "SCALE_SIDE": (ref.SCALE_SIDE, SCALE_SIDE),
        "CLASSIFICATION": (ref.CLASSIFICATION, _LITS[N_CLS_TYPE]),
        "DETECTION": (ref.DETECTION, _LITS[N_DET_TYPE]),
        "RESERVED_KEYS": (ref.RESERVED_KEYS, frozenset(_LITS[k] for k in (N_SOURCE_REF, N_ERRORS,
                                                                          N_WARNINGS))),
        "_BOX_FIELDS": (ref._BOX_FIELDS, tuple(_LITS[k] for k in (N_CLASS_ID, N_TOP, N_LEFT,
                                                                  N_WIDTH, N_HEIGHT))),
        "_SIZE_FIELDS": (ref._SIZE_FIELDS, tuple(_LITS[k] for k in (N_WIDTH, N_HEIGHT,
                                                                    N_DEPTH))),
        "TIER1": (TIER1_ORDER, tuple(CODE_NAMES[TIER1[t]] for t in range(8))),
        "LINE_ERRORS": (ref.LINE_ERRORS, frozenset(c for c in range(len(CODE_NAMES))
                                                   if is_line_error(c))),
        "DROPPED": (ref.DROPPED, frozenset(c for c in range(len(CODE_NAMES)) if is_dropped(c))),
        "VERDICTS": ((ref.VALID, ref.INVALID, ref.IGNORED), (VALID, INVALID, IGNORED)),
    }
    for name, (theirs, ours) in expected.items():
        if theirs != ours:
            raise RuntimeError(f"customlabels._core is out of date: {name} is {theirs!r} in the "
                               f"reference, {ours!r} here; rebuild the extension")
    for code, name in (
            (C_ERROR_LINE_TOO_LONG, "ERROR_LINE_TOO_LONG"),
            (C_ERROR_DUPLICATE_SOURCE_REF, "ERROR_DUPLICATE_SOURCE_REF"),
            (C_ERROR_MISSING_SOURCE_REF, "ERROR_MISSING_SOURCE_REF"),
            (C_ERROR_INVALID_SOURCE_REF_FORMAT, "ERROR_INVALID_SOURCE_REF_FORMAT"),
            (C_ERROR_NO_LABEL_ATTRIBUTES, "ERROR_NO_LABEL_ATTRIBUTES"),
            (C_ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"),
            (C_ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
             "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"),
            (C_ERROR_MISSING_BOUNDING_BOX_CONFIDENCE, "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"),
            (C_ERROR_MISSING_CLASS_MAP_ID, "ERROR_MISSING_CLASS_MAP_ID"),
            (C_ERROR_INVALID_JSON_LINE, "ERROR_INVALID_JSON_LINE"),
            (C_ERROR_NO_VALID_LABEL_ATTRIBUTES, "ERROR_NO_VALID_LABEL_ATTRIBUTES"),
            (C_ERROR_INVALID_BOUNDING_BOX, "ERROR_INVALID_BOUNDING_BOX"),
            (C_ERROR_BOUNDING_BOX_TOO_SMALL, "ERROR_BOUNDING_BOX_TOO_SMALL"),
            (C_ERROR_NO_VALID_ANNOTATIONS, "ERROR_NO_VALID_ANNOTATIONS"),
            (C_ERROR_TOO_MANY_BOUNDING_BOXES, "ERROR_TOO_MANY_BOUNDING_BOXES"),
            (C_ERROR_INVALID_IMAGE_DIMENSION, "ERROR_INVALID_IMAGE_DIMENSION"),
            (C_ERROR_UNSUPPORTED_USE_CASE_TYPE, "ERROR_UNSUPPORTED_USE_CASE_TYPE"),
            (C_ERROR_INVALID_LABEL_NAME_LENGTH, "ERROR_INVALID_LABEL_NAME_LENGTH"),
            (C_ERROR_TOO_MANY_LABELS_PER_IMAGE, "ERROR_TOO_MANY_LABELS_PER_IMAGE"),
            (C_WARNING_UNANNOTATED_RECORD, "WARNING_UNANNOTATED_RECORD"),
            (C_WARNING_NO_ANNOTATIONS, "WARNING_NO_ANNOTATIONS"),
            (C_WARNING_NO_ATTRIBUTE_ANNOTATIONS, "WARNING_NO_ATTRIBUTE_ANNOTATIONS")):
        if CODE_NAMES[code] != name:
            raise RuntimeError("customlabels._core is out of date: ext/_codes.pxi does not "
                               "match customlabels.codes; regenerate it and rebuild")
    _checked = True


def scan(stream, max_lines, other=None, *, chunk_size=DEFAULT_CHUNK):
    """Scan ``stream`` line by line; ``other`` is the ``refs`` of an earlier scan, if any.

    The same contract and result as ``customlabels.validate._pyscan.scan``; ``refs`` in the
    result is a :class:`RefTable`. ``other`` may be a RefTable or any mapping of source-ref to
    line (the reference's dict). ``chunk_size`` is how many bytes each read asks for.
    """
    _reference()
    return _Scanner().run(stream, max_lines, other, chunk_size)
