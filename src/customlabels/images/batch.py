"""Check many images of one source: the cache first, then the rest, many at a time.

A source is :class:`~customlabels.images.local.LocalImages` or
:class:`~customlabels.images.s3.S3Images`; both give ``key(source_ref)``, ``name(key)``,
``check(key) -> (ImageCheck, stamp)`` and an ``identity`` that names their cache; a local one also
gives ``prefetch(keys)`` and ``finish(keys, fetched)``, the reads and the judging of a chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from .cache import ImageCache
from .check import ImageCheck

#: Images a task of the pool checks: a task an image would cost more than a local image does.
CHUNK = 256
#: S3 requests in flight by default (:func:`default_workers`).
S3_WORKERS = 32


class BatchStats(NamedTuple):
    """How a batch went: images checked, read, answered from the cache, and why the cache was
    not used or written (None: it was, or there is none)."""

    images: int
    read: int
    cached: int
    seconds: float
    cache_error: str | None


def default_workers(kind: str) -> int:
    """Return how many images are checked at once by default for a source ``kind``.

    A local header is read from the page cache in microseconds, and judging it holds the GIL:
    one worker, whose reads a C thread makes ahead of it (:func:`_pipelined`); more threads only
    help a mirror on a slow disk (``--image-workers``). An S3 request waits tens of milliseconds
    on the network, so many are kept in flight.
    """
    return S3_WORKERS if kind == "s3" else 1


def check_keys(source: Any, keys: Sequence[str], *, cache: ImageCache | None = None,
               workers: int | None = None,
               progress: Callable[[int], None] | None = None) -> tuple[list[ImageCheck],
                                                                      BatchStats]:
    """Check the images of ``keys`` (keys of ``source``); return their checks, in order.

    ``cache``: checks of unchanged images are taken from it and new ones added (it is saved
    here). ``workers``: images checked at once (:func:`default_workers`). ``progress`` is
    called with the number of images done since its last call.
    """
    started = time.perf_counter()
    if workers is None:
        workers = default_workers(source.kind)
    checks: list[ImageCheck | None] = [None] * len(keys)
    todo: list[int] = []
    stamps: list[Any] = [None] * len(keys)
    if cache is not None:
        if source.kind == "s3":
            listed = source.stamps(keys)
            stamps = [listed.get(key) for key in keys]
        else:
            stamp = source.stamp
            stamps = [stamp(key) for key in keys]
        get = cache.get
        for i, (key, found) in enumerate(zip(keys, stamps)):
            hit = None if found is None else get(key, found)
            if hit is None:
                todo.append(i)
            else:
                checks[i] = hit
        if progress is not None and len(keys) > len(todo):
            progress(len(keys) - len(todo))
    else:
        todo = list(range(len(keys)))

    check = source.check

    def run(chunk: list[int]) -> list[tuple[ImageCheck, Any]]:
        return [check(keys[i]) for i in chunk]

    chunk_size = CHUNK if source.kind == "local" else max(1, min(CHUNK, len(todo) // (
        4 * workers) or 1))
    chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]
    done: Iterator[list[tuple[ImageCheck, Any]]]
    pool = None
    if workers <= 1 and hasattr(source, "prefetch"):
        done = _pipelined(source, [[keys[i] for i in chunk] for chunk in chunks])
    elif workers <= 1 or len(chunks) <= 1:
        done = map(run, chunks)
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="customlabels-images")
        done = pool.map(run, chunks)
    try:
        for chunk, results in zip(chunks, done):
            for i, (result, stamp) in zip(chunk, results):
                checks[i] = result
                if cache is not None and stamp is not None:
                    cache.put(keys[i], stamp, result)
            if progress is not None:
                progress(len(chunk))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if cache is not None:
        cache.save()
    stats = BatchStats(len(keys), len(todo), len(keys) - len(todo),
                       time.perf_counter() - started, None if cache is None else cache.error)
    return checks, stats  # type: ignore[return-value]  # every slot is filled above


def _pipelined(source: Any, chunks: list[list[str]]) -> Iterator[list[tuple[ImageCheck, Any]]]:
    """Yield ``source.finish`` of each chunk of keys; the next chunk's files are read
    meanwhile (``source.prefetch`` starts their reads and returns): the reads of a local
    mirror and the judging of the headers they gave overlap on two cores."""
    ahead = source.prefetch(chunks[0]) if chunks else None
    for n, keys in enumerate(chunks):
        fetched = ahead
        if n + 1 < len(chunks):
            ahead = source.prefetch(chunks[n + 1])
        yield source.finish(keys, fetched)
