"""Typed stub of the compiled line scanner (``ext/_core.pyx``).

:func:`scan` returns exactly what :func:`customlabels.validation._pyscan.scan` returns, except that
``ScanResult.refs`` is a :class:`RefTable` rather than a dict.
"""

from collections.abc import Mapping
from typing import BinaryIO, Protocol, TypeVar, overload

from .validation._pyscan import ScanResult

_T = TypeVar("_T")

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
         other: RefTable | Mapping[str, int] | None = None, *,
         chunk_size: int = ..., _threads: int | None = None, _block: int | None = None,
         _piece: int | None = None, _static: bool = False) -> ScanResult:
    """Scan ``stream`` line by line; ``other`` is the ``refs`` of an earlier scan, if any.

    ``chunk_size`` is how many bytes each read asks for (1 MiB by default). Inputs past 2 MiB
    are checked by min(2, CPUs) threads (``CUSTOMLABELS_THREADS`` sets the count; 1: one
    thread); the result does not depend on it. The underscored options are for tests:
    ``_threads`` forces that many threads whatever the input's size, ``_block`` and ``_piece``
    set the bytes a read buffer and a piece of lines hold, ``_static`` gives piece i to thread
    i % threads.
    """
