"""Typed stub of the compiled line scanner (``ext/_core.pyx``).

:func:`scan` returns the fields of :class:`customlabels.validation.scan.ScanResult` as a tuple
(``ScanResult(*tuple)`` is what :func:`customlabels.validation._pyscan.scan` returns, except that
``refs`` is a :class:`RefTable` rather than a dict). :func:`records` yields, in batches, the
records of :func:`customlabels.manifest.records.iter_records` as plain tuples.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, Protocol, TypeVar, overload

_T = TypeVar("_T")

#: A finding: (code index, JSON path inside the line, argument of the message).
_Finding = tuple[int, tuple[str | int, ...], Any]
#: (line, raw, verdict, findings, source_ref, labels, box_labels)
_Record = tuple[int, bytes | None, int, list[_Finding], str | None, tuple[str, ...],
                tuple[str, ...]]
#: (total, exceeded, counts, dropped, problems, labels, kind_lines, buckets, overlaps, refs)
_ScanFields = tuple[int, bool, list[int], int, list[tuple[int, int, list[_Finding]]],
                    dict[str, list[int]], list[int], dict[str, int], list[tuple[int, int]],
                    "RefTable"]

#: Path steps the findings name literally, in the order the core numbers them.
NAMES: tuple[str, ...]

class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...

class RefTable:
    """Source-ref -> first line, kept as 128-bit hashes of the source-refs.

    Supports ``ref in table``, ``table[ref]``, :meth:`get` and ``len(table)``; not iteration.
    """

    def __init__(self, expected: int = 0) -> None: ...
    def __contains__(self, key: object) -> bool: ...
    def __getitem__(self, key: str) -> int: ...
    @overload
    def get(self, key: str) -> int | None: ...
    @overload
    def get(self, key: str, default: _T) -> int | _T: ...
    def __len__(self) -> int: ...

def scan(stream: BinaryIO | _Readable, max_lines: int,
         other: RefTable | Mapping[str, int] | None = None, *, reason: Callable[[bytes], str],
         chunk_size: int = ..., _threads: int | None = None, _block: int | None = None,
         _piece: int | None = None, _static: bool = False) -> _ScanFields:
    """Scan ``stream`` line by line; ``other`` is the ``refs`` of an earlier scan, if any.

    ``reason(raw)`` gives the detail of a line that is not a strict JSON object.
    ``chunk_size`` is how many bytes each read asks for (1 MiB by default). Inputs past 2 MiB
    are checked by min(2, CPUs) threads (``CUSTOMLABELS_THREADS`` sets the count; 1: one
    thread); the result does not depend on it. The underscored options are for tests:
    ``_threads`` forces that many threads whatever the input's size, ``_block`` and ``_piece``
    set the bytes a read buffer and a piece of lines hold, ``_static`` gives piece i to thread
    i % threads.
    """

def records(stream: BinaryIO | _Readable, *, reason: Callable[[bytes], str],
            numbers: bool = False, chunk_size: int = ..., _threads: int | None = None,
            _block: int | None = None, _piece: int | None = None,
            _static: bool = False) -> Iterator[list[_Record]]:
    """Check every line of ``stream`` as :func:`scan` does; yield their records in batches.

    Each batch is a non-empty list of ``(line, raw, verdict, findings, source_ref, labels,
    box_labels)`` in line order, the lines of one piece of the input; options as :func:`scan`.
    With ``numbers``, the records of lines checked as valid have an eighth field, the numbers
    of their boxes as bytes for :class:`CocoLines` (``b""``: no detection attribute; None:
    not all whole numbers or a date not plain); a record with numbers has ``raw`` None.
    """

class CocoLines:
    """A COCO export's images and annotations for the records that need no Python."""

    images: list[tuple[str, int, int, str]]
    other_lines: list[int]
    annotations: int
    conflict: bool

    def __init__(self, ids: dict[str, Any], labels: dict[Any, str]) -> None: ...
    def feed(self, batch: list[Any], start: int = 0) -> int:
        """Export ``batch[start:]``; return the index of the first record left to the caller."""
    def take(self) -> bytes:
        """Return the annotations written since the last call."""
    def write_to(self, stream: Any) -> int:
        """Write the annotations made since the last call to ``stream``; return their size."""

def coco_images(images: list[tuple[str, Any, Any, str]], folder: str) -> bytes | None:
    """Return the COCO images as JSON array items, orjson's bytes; None to leave it to orjson."""
