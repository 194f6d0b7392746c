"""Images read from S3 itself, through boto3: only the first bytes of each object.

Each image costs one ranged GET (``Range: bytes=0-65535``): the header is in the body, the
object's size in ``Content-Range`` and its ETag in the response, and the rest of the object is
never sent. A JPEG whose frame header lies further on costs one more small ranged GET. Requests
run many at once (a thread pool; boto3 clients are thread-safe), and botocore's ``standard``
retry mode retries throttling and 5xx answers with exponential backoff and jitter.

Credentials, region and endpoint are boto3's own: its environment variables and files,
``AWS_ENDPOINT_URL`` included, or ``endpoint_url`` given here. boto3 is the optional ``[s3]``
extra; without it :class:`S3Images` says how to install it.

For a re-run, the cache needs each object's current ETag: ``ListObjectsV2`` under the keys'
common prefix gives a thousand a request, far fewer requests than a HEAD each
(:meth:`S3Images.stamps`).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from typing import Any

from ..errors import ImageSourceError
from ..limits import MAX_IMAGE_BYTES
from .batch import S3_WORKERS
from .check import ImageCheck, failed, judge
from .probe import HEAD_BYTES, probe

#: Attempts a request gets in botocore's ``standard`` retry mode (the first one included).
MAX_ATTEMPTS = 8
#: Objects listed at most, per object the manifest names, before the listing is given up and
#: the images are read one by one (a prefix may hold far more than the manifest uses).
LIST_FACTOR = 4
_MISSING = {"NoSuchKey", "NotFound", "404"}
_DENIED = {"AccessDenied", "403", "AllAccessDisabled", "InvalidObjectState"}
INSTALL_HINT = ("--images s3 reads the images through boto3, which is not installed: "
                "pip install 'customlabels[s3]'")


class S3Images:
    """Images in S3, read with ranged GETs (``workers`` requests in flight)."""

    kind = "s3"

    def __init__(self, endpoint_url: str | None = None, workers: int | None = None,
                 client: Any = None):
        workers = S3_WORKERS if workers is None else workers
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise ImageSourceError(INSTALL_HINT) from None
            config = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
                            max_pool_connections=max(10, workers), connect_timeout=10,
                            read_timeout=60)
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url,
                                                    config=config)
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors: tuple[type[BaseException], ...] = (ClientError, BotoCoreError)
        self.client = client
        self.workers = workers
        self.identity = "s3:" + str(client.meta.endpoint_url)

    def key(self, source_ref: str) -> tuple[str | None, str | None]:
        """Return ``BUCKET/KEY`` of a well-formed source-ref (S3 keys cannot lead anywhere)."""
        return source_ref[5:], None

    def name(self, key: str) -> str:
        """Return the object's location as users see it."""
        return "s3://" + key

    def check(self, key: str) -> tuple[ImageCheck, tuple[int, str] | None]:
        """Check the object ``BUCKET/KEY``; return the check and its stamp (size, ETag)."""
        bucket, _, name = key.partition("/")
        try:
            answer, head = self._get(bucket, name, 0, HEAD_BYTES)
        except self._errors as exc:
            code = _error_code(exc)
            if code == "InvalidRange":  # an empty object has no byte 0: its ETag from a HEAD
                try:
                    etag = str(self.client.head_object(Bucket=bucket, Key=name).get("ETag"))
                except self._errors:
                    etag = None
                return judge(probe(b"", 0), 0), None if etag is None else (0, etag)
            return self._failure(key, exc, code), None
        size = _total_size(answer, len(head))

        def read_at(offset: int, count: int) -> bytes:
            return self._get(bucket, name, offset, count)[1]

        try:
            check = judge(probe(head, size, read_at), size)
        except self._errors as exc:
            return self._failure(key, exc, _error_code(exc)), None
        return check, (size, str(answer.get("ETag", "")))

    def read(self, key: str, limit: int = MAX_IMAGE_BYTES) -> bytes:
        """Return the bytes of the object ``BUCKET/KEY`` (at most ``limit``), for decoding.

        ``OSError`` naming the object when it cannot be read or is larger than ``limit``.
        """
        bucket, _, name = key.partition("/")
        try:
            answer, body = self._get(bucket, name, 0, limit + 1)
        except self._errors as exc:
            raise OSError(errno.EIO, str(exc), self.name(key)) from None
        if _total_size(answer, len(body)) > limit:
            raise OSError(errno.EFBIG, f"over the {limit:,} bytes an image may have",
                          self.name(key))
        return body

    def _get(self, bucket: str, name: str, offset: int, count: int) -> tuple[Any, bytes]:
        """Return the answer to a ranged GET of ``count`` bytes from ``offset``, and its body."""
        answer = self.client.get_object(Bucket=bucket, Key=name,
                                        Range=f"bytes={offset}-{offset + count - 1}")
        try:
            return answer, answer["Body"].read()
        finally:
            answer["Body"].close()

    def _failure(self, key: str, exc: BaseException, code: str | None) -> ImageCheck:
        where = self.name(key)
        if code in _MISSING:
            return failed("missing", f"{where} does not exist")
        if code == "NoSuchBucket":
            return failed("missing", f"{where}: the bucket does not exist")
        if code in _DENIED:
            return failed("unreadable", f"{where}: access denied ({code})")
        return failed("unreadable", f"{where}: {code or type(exc).__name__}: {_message(exc)}")

    def stamps(self, keys: Iterable[str]) -> dict[str, tuple[int, str]]:
        """Return the (size, ETag) of as many of ``keys`` as listing their prefix gives.

        One listing a bucket, under the keys' longest common folder; it stops after
        :data:`LIST_FACTOR` objects a key (then the rest is read one by one), and a listing
        that is refused (no ``s3:ListBucket`` permission) gives nothing.
        """
        by_bucket: dict[str, set[str]] = {}
        for key in keys:
            bucket, _, name = key.partition("/")
            by_bucket.setdefault(bucket, set()).add(name)
        found: dict[str, tuple[int, str]] = {}
        for bucket, names in by_bucket.items():
            prefix = os.path.commonprefix(list(names))
            prefix = prefix[:prefix.rfind("/") + 1]
            budget = LIST_FACTOR * len(names) + 1000
            try:
                pages = self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix)
                for page in pages:
                    for item in page.get("Contents", ()):
                        if item["Key"] in names:
                            found[f"{bucket}/{item['Key']}"] = (int(item["Size"]),
                                                                str(item["ETag"]))
                    budget -= page.get("KeyCount", 1000)
                    if budget <= 0:
                        break
            except self._errors:
                continue  # listing refused or failed: each image is read instead
        return found


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    if code:
        return str(code)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None if status is None else str(status)


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Message"):
        return str(response["Error"]["Message"])
    return str(exc)


def _total_size(answer: dict[str, Any], received: int) -> int:
    """Return the object's size: the total of ``Content-Range``, else what was received."""
    content_range = answer.get("ContentRange") or ""
    total = content_range.rpartition("/")[2]
    if total.isdigit():
        return int(total)
    return int(answer.get("ContentLength", received))
