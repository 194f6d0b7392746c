# cython: language_level=3
# Shared declarations of the compiled core (ext/_core.pyx and the files it includes): the C
# helpers it takes from ext/*.h, the enums that name node types, kinds, path steps and slots,
# and the structs that the parser, the rules, the label tables, the pieces of lines and the
# threads share. Declarations only: the code is in the .pxi files, one job each.
#
# Why not ``_core.pxd``: Cython finds a module's own .pxd by the module's full name, here
# ``customlabels/_core.pxd`` inside the package (or the deprecated dotted name
# ``ext/customlabels._core.pxd``), and the sources live in ext/, outside the package. So the
# core cimports this file by name (``from _decls cimport *`` in _core.pyx); it holds C-level
# declarations only, so the module imports nothing for it at run time.

from cpython.ref cimport PyObject
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t

cdef extern from "Python.h":
    # Python's own correctly rounded, locale-independent strtod (the one float() uses); with a
    # NULL overflow_exception it returns +-inf on overflow, like the reference's _number.
    double PyOS_string_to_double(const char *s, char **endptr,
                                 PyObject *overflow_exception) noexcept nogil

cdef extern from "_hash.h":
    const uint64_t CL_C1
    const uint64_t CL_C2
    const uint64_t CL_F1
    const uint64_t CL_F2
    const uint64_t CL_GOLD
    const uint64_t CL_SEED2

cdef extern from "_simd.h":
    const bint CL_SWAR
    const bint CL_SSE2
    Py_ssize_t cl_str_run16(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil
    int CL_CTZ(uint64_t x) noexcept nogil
    const uint64_t CL_ONES
    const uint64_t CL_HIGHS
    const uint64_t CL_LANES
    const uint64_t CL_MUL1
    const uint64_t CL_MUL2

cdef extern from "_sys.h":
    void CL_PREFETCH(const void *p) noexcept nogil
    void *cl_big_calloc(size_t size) noexcept nogil
    void cl_big_free(void *p, size_t size) noexcept nogil
    const unsigned char *cl_memrchr_nl(const unsigned char *s, Py_ssize_t n) noexcept nogil

cdef extern from "_threads.h":
    ctypedef struct cl_sync:
        pass
    ctypedef struct cl_thread:
        pass
    ctypedef void *(*cl_thread_fn)(void *) noexcept nogil
    const bint CL_THREADS
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


# --- names: verdicts, node types, kinds, path steps, literals ---------------------------------

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


# --- the tape (_tape.pxi) ---------------------------------------------------------------------

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


# --- source-refs (_refs.pxi) ------------------------------------------------------------------

cdef packed struct RefSlot:  # 20 bytes: a 1.4M-line manifest needs ~40 MB, not ~100
    uint64_t h1
    uint64_t h2
    uint32_t line  # 0: an empty slot


cdef enum:
    REF_MIN_SLOTS = 1024
    REF_MAX_PRESIZE = 1 << 20  # presized tables stay at most 20 MB; they grow past that


# --- findings, attribute pairs, gathered fields (_lookup.pxi, _rules.pxi) ---------------------

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


# --- label names (_labels.pxi) ----------------------------------------------------------------

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


# --- pieces of lines and their records (_pieces.pxi) ------------------------------------------

# What became of a line (LineRec.kind).
cdef enum:
    R_CHECKED = 0  # parsed and checked: verdict, findings, declared labels, source-ref
    R_LONG = 1     # too long: ERROR_LINE_TOO_LONG
    R_JSON = 2     # the parser rejected it: ERROR_INVALID_JSON_LINE (the merge gets the reason)
    R_DEFER = 3    # a rule needs a number only Python's strtod reads: the merge checks it


ctypedef struct LineRec:  # 64 bytes
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
    int32_t noff     # records with numbers: the line's numbers (line_numbers), the next nnum
    int32_t nnum     # in the piece's num; 0: no detection attribute; -1: none (Python's)


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
    int bufid            # its index in _Reader.bufs; -1: none (a piece of too-long lines)
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
    int64_t *num         # records with numbers: image sizes, dates, boxes (line_numbers)
    Py_ssize_t nnum, ncap


# --- a context: what one thread needs to check lines (_pieces.pxi) ----------------------------

ctypedef struct Ctx:
    Parser p
    LabelTab lt       # the names this context met; ids in Piece.decl are ids here
    cl_sync *sync     # held while lt grows, where the merge reads it from another thread
    int id
    bint nomem
    bint records      # note the label events of each line (records())
    bint numbers      # ... and the numbers of a valid line's boxes (records(numbers=True))
    Piece *out        # the piece being checked: records, findings, labels go there
    Py_ssize_t fbase  # the line's first finding in out.f
    int64_t seq       # lines checked (label stamps)
    bint tier1
    bint keys
    Pair *pairs
    Py_ssize_t npairs, pcap
    int32_t *bf       # the line's boxes: BOX_SLOTS value nodes each (gather_box)
    Py_ssize_t nbf, bcap
    int32_t mark      # per-line counter for the "reported" set of _check_boxes
    Py_ssize_t ncls, ndet, nany
    Py_ssize_t bucket_len  # 0: no well-formed source-ref
    int32_t sref
    uint64_t h[2]


# --- the queue of pieces, the worker threads (_threads.pxi) -----------------------------------

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
