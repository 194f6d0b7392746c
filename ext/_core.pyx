# cython: language_level=3
"""The compiled line scanner: :func:`scan` gives exactly what ``customlabels.validation._pyscan``
gives, several times faster, on several cores; :func:`records` gives every line's record as
``customlabels.manifest.records`` makes them on the pure-Python path.

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
  caller's ``reason``: the core computes no prose), or, for :func:`records`, each line's record
  (its bytes, its source-ref's text, its labels and box labels from the label events its
  context noted).

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

Files, one job each (included here in this order; the shared declarations are in
``_decls.pxd``, the C helpers in ``_hash.h``, ``_simd.h``, ``_sys.h``, ``_threads.h``):

* ``_codes.pxi``, ``_limits.pxi``: generated from ``customlabels.codes`` and
  ``customlabels.limits`` (``python -m customlabels.codes .``);
* ``_tables.pxi``: constant strings and byte tables; ``_hash.pxi``: the hashes;
* ``_tape.pxi``: the strict JSON parser; ``_lookup.pxi``: lookups and value tests on its tape;
* ``_refs.pxi``: the source-ref table; ``_labels.pxi``: label names interned in C;
* ``_rules.pxi``: the line rules, each named after the ``_pyscan`` function it mirrors;
* ``_pieces.pxi``: a line, a piece, a thread's context; ``_threads.pxi``: the worker threads;
* ``_reader.pxi``: reading (``customlabels.manifest.reader``'s rules) into pieces;
* ``_scanner.pxi``: the merge, the Python results of :func:`scan`, the records of
  :func:`records`;
* ``_export.pxi``: the numbers of a valid line's boxes (taken by the checking thread) and the
  COCO export's images and annotations written from them (:class:`CocoLines`).
"""

cimport cython
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, memmove, memset

from _decls cimport *

include "_codes.pxi"
include "_limits.pxi"
include "_tables.pxi"
include "_hash.pxi"
include "_tape.pxi"
include "_lookup.pxi"
include "_refs.pxi"
include "_labels.pxi"
include "_rules.pxi"
include "_pieces.pxi"
include "_threads.pxi"
include "_reader.pxi"
include "_scanner.pxi"
include "_export.pxi"


def records(stream, *, reason, numbers=False, declared=False, chunk_size=DEFAULT_CHUNK,
            _threads=None, _block=None, _piece=None, _static=False):
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

    With ``numbers``, the record of a line checked as valid without findings has an eighth
    field: the numbers the COCO export writes for it (int64s in native order: the first
    detection attribute's image width and height, 1 if its metadata has a plain
    creation-date, that date as 19 bytes ``YYYY-MM-DD HH:MM:SS`` padded to 24, then left,
    top, width, height and class id of every box of every detection attribute, in order), as
    bytes; ``b""`` when the line has no detection attribute; None when a number is not a
    whole one (or the date not plain). A record with numbers has no bytes (``raw`` None): what
    the export needs of them is in its numbers; one with ``b""`` has no source-ref either. Other records have seven fields.
    :class:`CocoLines` reads them.

    With ``declared`` (not with ``numbers``), every record has ``raw`` ``b""`` (the bytes are
    left out; None still where the reader did not keep them), ``box_labels`` ``()``, and an
    eighth field: for a checked line with a well-formed source-ref that is
    not a duplicate, the labels it declares as ``(name, bits)`` in the order declared, bits 1
    when the label is among its classification labels and 2 its detection labels; None for
    every other line. What :func:`scan` counts of a line, from its record (the split
    validates its two sides from them).

    Every line is read (no max_lines); memory stays bounded as in :func:`scan`. The options
    are :func:`scan`'s. Threads stop when the iterator is exhausted, fails or is dropped.
    """
    return _Scanner().run_records(stream, reason, chunk_size, _threads, _block, _piece, _static,
                                  numbers, declared)


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
