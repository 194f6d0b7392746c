# The compiled core's constant strings and byte tables (filled once at import), and small
# helpers on words and arrays. Part of ext/_core.pyx (included); declarations in _decls.pxd.

# --- literals ---------------------------------------------------------------------------------

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


# The box field names differ in length: a key of length k can only be BOX_BY_LEN[k].
cdef int BOX_BY_LEN[9]
cdef int BOX_LIT[5]
BOX_BY_LEN[:] = [-1, -1, -1, B_TOP, B_LEFT, B_WIDTH, B_HEIGHT, -1, B_CLASS_ID]
BOX_LIT[:] = [N_CLASS_ID, N_TOP, N_LEFT, N_WIDTH, N_HEIGHT]


# --- memory -----------------------------------------------------------------------------------

cdef inline void* grow(void *ptr, Py_ssize_t *cap, Py_ssize_t item) noexcept nogil:
    """Double a malloc'ed array; NULL (ptr untouched) when memory is short."""
    cdef void *out = realloc(ptr, 2 * cap[0] * item)
    if out != NULL:
        cap[0] *= 2
    return out
