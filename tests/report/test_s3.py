"""``report --images s3``: the pictures' images read from a real S3 endpoint (moto's server on
127.0.0.1), through the source ``validate --images s3`` uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")  # the aws fixture's endpoint (tests/conftest.py)

from customlabels import write_report  # noqa: E402

from . import data  # noqa: E402


def test_the_pictures_come_from_the_bucket(aws: dict[str, str], written: dict[str, Path],
                                           mirror: Path, tmp_path: Path) -> None:
    client = boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"])
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
