"""``report --images s3``: the pictures' images read from a real S3 endpoint (moto's server on
127.0.0.1), through the source ``validate --images s3`` uses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from customlabels import write_report  # noqa: E402

from . import data  # noqa: E402


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_the_pictures_come_from_the_bucket(endpoint: str, written: dict[str, Path],
                                           mirror: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="report-bucket")
    for path in sorted((mirror / "images").iterdir()):
        if path.name != "chelsea.jpg":  # one image is missing from the bucket
            client.put_object(Bucket="report-bucket", Key=f"images/{path.name}",
                              Body=path.read_bytes())
    out = write_report(tmp_path / "r.html", written["evaluation"], images="s3")
    page = (tmp_path / "r.html").read_text()
    assert out.thumbnails == out.pictures - 1 == 3
    card = re.search(r'<div class="card g-card"(?:(?!<div class="card).)*chelsea\.jpg', page,
                     re.S).group(0)
    assert "not read:" in card and "<image" not in card
    assert data.BUCKET + "chelsea.jpg" in card
