"""``validate --images s3`` against a real S3 endpoint: moto's ThreadedMotoServer on 127.0.0.1.

boto3 talks HTTP to the endpoint through a small recording proxy of ours, which also answers
``503 SlowDown`` where a test asks it to, so that the tests can see what crossed the wire: a
ranged GET an image and never a whole object, requests in flight at once, retries after
throttling, and a warm cache that lists instead of reading.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from customlabels.errors import ImageSourceError  # noqa: E402
from customlabels.validation.pipeline import validate_files  # noqa: E402

from tests.helpers import classification_line  # noqa: E402
from tests.images.files import image_bytes, make_mirror  # noqa: E402
from tests.validation.test_cases import compact  # noqa: E402

BUCKET = "images-bucket"


class Proxy:
    """An HTTP proxy in front of the moto server that records requests and injects 503s."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.log: list[dict[str, Any]] = []
        self.fail_every = 0  # answer 503 SlowDown to every n-th request (0: never)
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._count = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy._count += 1
                    count = proxy._count
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                entry = {"method": self.command, "path": self.path,
                         "range": self.headers.get("Range"), "status": None, "sent": 0}
                try:
                    if proxy.fail_every and count % proxy.fail_every == 0:
                        payload = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown'
                                   b'</Code><Message>Please reduce your request rate.</Message>'
                                   b'</Error>')
                        self.send_response(503)
                        self.send_header("Content-Type", "application/xml")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        entry["status"] = 503
                        return
                    connection = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("connection", "keep-alive")}
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection",
                                               "content-length", "server", "date"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                    entry["status"], entry["sent"] = answer.status, len(data)
                    connection.close()
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1
                        proxy.log.append(entry)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self.max_in_flight = 0
            self.fail_every = 0

    def object_gets(self) -> list[dict[str, Any]]:
        """Return the GETs of objects (not listings, which carry a query string)."""
        return [e for e in self.log if e["method"] == "GET" and "?" not in e["path"]]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Proxy]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    proxy = Proxy(server.get_host_and_port())
    yield proxy
    proxy.server.shutdown()
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CUSTOMLABELS_CACHE_DIR", str(tmp_path / "cache"))


def big_frame_offset_jpeg() -> bytes:
    """Return a real JPEG whose frame header lies beyond the first 64 KiB (two COM segments)."""
    data = image_bytes({"jpeg": [320, 240]})
    comment = b"\xff\xfe" + (65535).to_bytes(2, "big") + b"c" * 65533
    return data[:2] + comment + comment + data[2:]


#: What the bucket holds, and what each object is; keys absent here are missing.
OBJECTS = {
    "ok/a.png": {"png": [128, 96]},
    "ok/b.jpg": {"jpeg": [640, 480]},
    "ok/c.jpg": {"jpeg": [640, 480], "orientation": 6},
    "ok/photo.png": {"photo": "astronaut.png"},
    "bad/gif.png": {"gif": [100, 100]},
    "bad/cut.png": {"cut": 20, "of": {"png": [200, 200]}},
    "bad/tiny.jpg": {"jpeg": [32, 32]},
    "bad/empty.png": {"text": ""},
}
KEYS = [*OBJECTS, "bad/huge.png", "ok/far-frame.jpg", "bad/missing.jpg"]


@pytest.fixture(scope="module")
def bucket(endpoint: Proxy) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=endpoint.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    contents = {key: image_bytes(recipe) for key, recipe in OBJECTS.items()}
    huge = image_bytes({"png": [800, 600]})
    contents["bad/huge.png"] = huge + b"\0" * (16_000_000 - len(huge))
    contents["ok/far-frame.jpg"] = big_frame_offset_jpeg()
    for key, data in contents.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=data)
    return contents


def manifest(tmp_path: Path, keys: list[str], bucket_name: str = BUCKET) -> str:
    path = tmp_path / "train.manifest"
    path.write_text("".join(classification_line(f"s3://{bucket_name}/{key}",
                                                "cat" if i % 2 else "dog") + "\n"
                            for i, key in enumerate(keys)))
    return str(path)


def codes_by_line(report: dict) -> list[str]:
    return [" ".join(item.split()[:2]) for item in compact(report)]


def test_s3_finds_what_a_local_mirror_finds(endpoint: Proxy, bucket: dict[str, bytes],
                                            tmp_path: Path) -> None:
    path = manifest(tmp_path, KEYS)
    mirror = tmp_path / "mirror"
    for key, data in bucket.items():
        (mirror / key).parent.mkdir(parents=True, exist_ok=True)
        (mirror / key).write_bytes(data)
    endpoint.reset()
    remote = validate_files(path, images="s3", s3_endpoint_url=endpoint.url, image_cache=False)
    local = validate_files(path, images=str(mirror), image_cache=False)
    assert codes_by_line(remote) == codes_by_line(local)
    assert remote["summary"] == local["summary"]
    assert remote["images"]["datasets"]["training"]["problems"] == {
        "format": 2, "corrupt": 1, "too_large": 1, "dimension": 1, "missing": 1}
    details = {i["line"]: i["detail"] for i in remote["issues"] if i["line"]}
    assert "16,000,000 bytes" in details[KEYS.index("bad/huge.png") + 1]
    assert f"s3://{BUCKET}/bad/missing.jpg does not exist" in details[len(KEYS)]


def test_only_the_first_bytes_are_read(endpoint: Proxy, bucket: dict[str, bytes],
                                       tmp_path: Path) -> None:
    path = manifest(tmp_path, KEYS)
    endpoint.reset()
    validate_files(path, images="s3", s3_endpoint_url=endpoint.url, image_cache=False)
    gets = endpoint.object_gets()
    assert gets and all(g["range"] and g["range"].startswith("bytes=") for g in gets)
    assert max(g["sent"] for g in gets) <= 65536
    assert sum(g["sent"] for g in gets) < 16_000_000 / 20  # the 16 MB object was not sent
    far = [g for g in gets if g["path"].endswith("/ok/far-frame.jpg")]
    assert len(far) >= 2 and far[1]["range"] != "bytes=0-65535"  # the frame header, further on


def test_a_frame_header_beyond_the_first_range_is_followed(endpoint: Proxy,
                                                           bucket: dict[str, bytes],
                                                           tmp_path: Path) -> None:
    from customlabels.images.s3 import S3Images

    check, stamp = S3Images(endpoint.url).check(f"{BUCKET}/ok/far-frame.jpg")
    assert (check.format, check.width, check.height, check.problem) == ("JPEG", 320, 240, None)
    assert stamp is not None and stamp[0] == len(bucket["ok/far-frame.jpg"]) > 2 * 65535


def test_requests_are_in_flight_at_once(endpoint: Proxy, bucket: dict[str, bytes],
                                        tmp_path: Path) -> None:
    path = manifest(tmp_path, [k for k in KEYS for _ in range(1)] * 1)
    endpoint.reset()
    validate_files(path, images="s3", s3_endpoint_url=endpoint.url, image_cache=False,
                   image_workers=8)
    assert endpoint.max_in_flight > 1


def test_throttling_is_retried(endpoint: Proxy, bucket: dict[str, bytes],
                               tmp_path: Path) -> None:
    path = manifest(tmp_path, KEYS)
    clean = validate_files(path, images="s3", s3_endpoint_url=endpoint.url, image_cache=False)
    endpoint.reset()
    endpoint.fail_every = 3
    throttled = validate_files(path, images="s3", s3_endpoint_url=endpoint.url,
                               image_cache=False)
    failures = sum(1 for e in endpoint.log if e["status"] == 503)
    endpoint.fail_every = 0
    assert failures >= 3
    assert compact(throttled) == compact(clean)
    assert throttled["summary"] == clean["summary"]


def test_no_bucket_no_image_read(endpoint: Proxy, bucket: dict[str, bytes],
                                 tmp_path: Path) -> None:
    path = manifest(tmp_path, ["a.png", "b.png", "c.png"], bucket_name="no-such-bucket")
    report = validate_files(path, images="s3", s3_endpoint_url=endpoint.url)
    assert codes_by_line(report) == ["train.manifest:1 ERROR_INVALID_IMAGE",
                                     "train.manifest:2 ERROR_INVALID_IMAGE",
                                     "train.manifest:3 ERROR_INVALID_IMAGE",
                                     "train.manifest ERROR_FAILED_IMAGES_S3_COPY",
                                     "train.manifest ERROR_TOO_MANY_RECORDS_IN_ERROR",
                                     "train.manifest ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"]
    assert "the bucket does not exist" in report["issues"][0]["detail"]


def test_a_warm_cache_lists_instead_of_reading(endpoint: Proxy, bucket: dict[str, bytes],
                                               tmp_path: Path) -> None:
    path = manifest(tmp_path, KEYS)
    cold = validate_files(path, images="s3", s3_endpoint_url=endpoint.url)
    endpoint.reset()
    warm = validate_files(path, images="s3", s3_endpoint_url=endpoint.url)
    assert compact(warm) == compact(cold)
    # only the missing object is asked for again; the rest come from one listing
    assert [g["path"] for g in endpoint.object_gets()] == [f"/{BUCKET}/bad/missing.jpg"]
    assert warm["images"]["datasets"]["training"]["cached"] == len(KEYS) - 1
    # an object replaced by another has a new ETag: it alone is read again
    client = boto3.client("s3", endpoint_url=endpoint.url)
    client.put_object(Bucket=BUCKET, Key="ok/a.png", Body=image_bytes({"png": [32, 32]}))
    try:
        endpoint.reset()
        changed = validate_files(path, images="s3", s3_endpoint_url=endpoint.url)
        assert sorted(g["path"] for g in endpoint.object_gets()) == [
            f"/{BUCKET}/bad/missing.jpg", f"/{BUCKET}/ok/a.png"]
        assert "train.manifest:1 ERROR_INVALID_IMAGE" in codes_by_line(changed)
    finally:
        client.put_object(Bucket=BUCKET, Key="ok/a.png", Body=bucket["ok/a.png"])


def test_aws_endpoint_url_is_honoured(endpoint: Proxy, bucket: dict[str, bytes],
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    path = manifest(tmp_path, ["ok/a.png", "ok/b.jpg"])
    report = validate_files(path, images="s3", image_cache=False)
    assert report["ok"] and report["images"]["datasets"]["training"]["read"] == 2


def test_without_boto3_the_message_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "boto3", None)
    path = manifest(tmp_path, ["a.png"])
    with pytest.raises(ImageSourceError, match=r"pip install 'customlabels\[s3\]'"):
        validate_files(path, images="s3")


def test_the_command_line_reads_s3(endpoint: Proxy, bucket: dict[str, bytes], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from customlabels.cli.main import main

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    path = manifest(tmp_path, ["ok/a.png", "bad/gif.png", "ok/b.jpg", "ok/c.jpg",
                               "ok/photo.png", "ok/far-frame.jpg"])  # 1 of 6: under 20%
    status = main(["validate", path, "--images", "s3", "--no-cache", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert status == 1
    assert [i["code"] for i in doc["issues"]] == ["ERROR_INVALID_IMAGE"]
    assert "a GIF image" in doc["issues"][0]["detail"]


def test_mirror_and_s3_agree_on_the_case_recipes(endpoint: Proxy, tmp_path: Path) -> None:
    """The detection case's images, uploaded, give the same findings as its mirror."""
    from tests.helpers import TESTS

    folder = TESTS / "image_cases" / "images_detection"
    recipes = json.loads((folder / "images.json").read_text())
    mirror = make_mirror(tmp_path / "mirror", recipes)
    client = boto3.client("s3", endpoint_url=endpoint.url)
    client.create_bucket(Bucket="my-bucket")
    for key in recipes:
        client.upload_fileobj(io.BytesIO((mirror / key).read_bytes()), "my-bucket", key)
    train = str(folder / "train.manifest")
    local = validate_files(train, images=str(mirror), image_cache=False)
    remote = validate_files(train, images="s3", s3_endpoint_url=endpoint.url, image_cache=False)
    assert compact(remote) == compact(local)
    assert remote["summary"] == local["summary"]
