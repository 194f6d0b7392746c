"""What a scan of one manifest returns, from either backend, and the switch between them.

The compiled core (``customlabels._core``) returns its result as a plain tuple in the order of
:attr:`ScanResult.__slots__`; the pure-Python scanner (:mod:`._pyscan`) builds the object itself.
Both give equal objects for the same input (``tests/validation/test_core_equivalence.py``). The core also
gives every line's record (:func:`records_compiled`), equal to what
:mod:`customlabels.manifest.records` makes on the pure-Python path (``tests/validation/test_core_records.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from ..manifest.schema import Finding

try:
    from .. import _core
except ImportError:  # the extension is not built: the pure-Python path gives the same results
    _core = None  # type: ignore[assignment]

COMPILED_AVAILABLE = _core is not None


class ScanResult:
    """What a scan of one manifest found; plain data, the same from both scanners.

    Attributes:
        total: lines read and validated (at most ``max_lines``).
        exceeded: the file has more lines than ``max_lines``; reading stopped there.
        counts: ``[valid, invalid, ignored]``.
        dropped: lines with a terminal content error (also counted as invalid).
        problems: ``(line, verdict, findings)`` for every line with at least one finding.
        labels: label -> ``[classification images, detection images, images]`` over valid lines;
            a label referenced on a line that passed the first tier but has no valid image has
            zeros. Insertion order is first reference.
        kind_lines: ``[classification, detection]``: valid lines with a usable label of that kind.
        buckets: bucket -> first line it appears on, for every well-formed source-ref.
        overlaps: ``(line, line in the other manifest)`` for each image also in ``other``.
        refs: source-ref -> first line; pass it as ``other`` when scanning the testing manifest.
    """

    # A plain class rather than a dataclass: the command line imports this module at start-up.
    __slots__ = ("total", "exceeded", "counts", "dropped", "problems", "labels", "kind_lines",
                 "buckets", "overlaps", "refs")

    def __init__(self, total: int = 0, exceeded: bool = False, counts: list[int] | None = None,
                 dropped: int = 0, problems: list[tuple[int, int, list[Finding]]] | None = None,
                 labels: dict[str, list[int]] | None = None, kind_lines: list[int] | None = None,
                 buckets: dict[str, int] | None = None,
                 overlaps: list[tuple[int, int]] | None = None, refs: Any = None):
        self.total, self.exceeded, self.dropped, self.refs = total, exceeded, dropped, refs
        self.counts = [0, 0, 0] if counts is None else counts
        self.problems = [] if problems is None else problems
        self.labels = {} if labels is None else labels
        self.kind_lines = [0, 0] if kind_lines is None else kind_lines
        self.buckets = {} if buckets is None else buckets
        self.overlaps = [] if overlaps is None else overlaps

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"ScanResult({fields})"



def choose_backend(backend: str = "auto") -> str:
    """Resolve ``auto`` to ``compiled`` or ``python``; CUSTOMLABELS_PURE=1 forces Python."""
    from .._backend import resolve_backend

    return resolve_backend(backend, _core, "the compiled core customlabels._core is")


def scan(stream: BinaryIO, max_lines: int, other: Any = None, backend: str = "compiled"
         ) -> ScanResult:
    """Scan ``stream`` with a resolved ``backend``; ``other`` is the ``refs`` of an earlier scan."""
    if backend == "compiled":
        return scan_compiled(stream, max_lines, other)
    from . import _pyscan

    return _pyscan.scan(stream, max_lines, other)


def scan_compiled(stream: Any, max_lines: int, other: Any = None, **options: Any) -> ScanResult:
    """Scan with the compiled core; ``options`` are its keyword options (``chunk_size``, ...)."""
    from ..manifest.jsonline import invalid_reason

    return ScanResult(*_core.scan(stream, max_lines, other, reason=invalid_reason, **options))


#: A record as the compiled core yields it: the fields of
#: :class:`customlabels.manifest.records.Record`, in order.
RecordRow = tuple[int, "bytes | None", int, "list[Finding]", "str | None", "tuple[str, ...]",
                  "tuple[str, ...]"]


def records_compiled(stream: Any, **options: Any) -> Iterator[list[RecordRow]]:
    """Yield the record of every line of ``stream``, checked by the compiled core, in batches.

    Each batch is a list of ``(line, raw, verdict, findings, source_ref, labels, box_labels)``
    tuples in line order (at most a piece of the input, a few hundred KiB of lines): exactly
    what :func:`customlabels.manifest.records.iter_records` gives on the pure-Python path.
    ``stream`` is a binary stream (``readinto`` or ``read``); ``options`` are the core's keyword
    options (``chunk_size``, and for tests ``_threads``, ``_block``, ``_piece``, ``_static``).
    Memory stays bounded; the core's threads stop when the iterator ends, fails or is dropped.
    """
    from ..manifest.jsonline import invalid_reason

    return _core.records(stream, reason=invalid_reason, **options)
