"""``train --images s3`` and ``detect --images s3`` against a real S3 endpoint (moto's server on
127.0.0.1): the trainer reads the objects the image stage checked, through the same source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")  # the aws fixture's endpoint (tests/conftest.py)

import customlabels  # noqa: E402

from tests.train.toy import make_set  # noqa: E402


def test_train_and_detect_read_the_objects(aws: dict[str, str], tmp_path: Path) -> None:
    train, mirror = make_set(tmp_path, 24, seed=8, name="train.manifest")
    test, _ = make_set(tmp_path, 8, seed=9, name="test.manifest")
    client = boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"])
    client.create_bucket(Bucket="toy")
    for path in sorted((mirror / "img").iterdir()):
        if not path.name.startswith("9-007"):  # one testing image is missing from the bucket
            client.put_object(Bucket="toy", Key=f"img/{path.name}", Body=path.read_bytes())
    result = customlabels.train(str(train), str(test), images="s3", project="s3",
                                version="v", store=tmp_path / "store", epochs=1,
                                image_size=32, batch_size=8, pretrained=False, device="cpu")
    assert result.ok, result.message
    assert result.description["Model"]["TrainingImages"] == 24
    assert result.description["Model"]["TestingImages"] == 7  # the validator left one out
    codes = [(i["code"], i["line"]) for i in result.validation["issues"]]
    assert ("ERROR_INVALID_IMAGE", 8) in codes
    status = subprocess.run(
        [sys.executable, "-m", "customlabels", "detect", "--project", "s3", "--version", "v",
         "--store", str(tmp_path / "store"), "--images", "s3", str(test), "--no-progress"],
        capture_output=True, text=True, env={**os.environ, **aws})
    assert status.returncode == 1, status.stderr  # the missing object is an error line
    docs = [json.loads(line) for line in status.stdout.splitlines()]
    assert [d["source-ref"] for d in docs] == [f"s3://toy/img/9-{i:03d}.png" for i in range(8)]
    assert all("CustomLabels" in d for d in docs[:7])
    assert docs[7]["Error"]["Code"] == "InvalidS3ObjectException"
