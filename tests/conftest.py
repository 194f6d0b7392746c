"""Shared test settings: fail early when the build is not the one CI expects.

Shared helpers (paths, the backends to run, a trickling stream) are in ``tests/helpers.py``.

CI sets CUSTOMLABELS_EXPECT_COMPILED=1 (or CUSTOMLABELS_EXPECT_PURE=1) so that a build that
silently lost (or kept) the extension fails instead of skipping tests.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from customlabels.validation.scan import COMPILED_AVAILABLE

from .helpers import BACKENDS  # noqa: F401  (kept importable here for older test modules)

_EXTENSIONS = ("customlabels._core", "customlabels._metrics", "customlabels._split",
               "customlabels._images")
_BUILT = [name for name in _EXTENSIONS if importlib.util.find_spec(name) is not None]
if os.environ.get("CUSTOMLABELS_EXPECT_COMPILED") == "1" and (
        not COMPILED_AVAILABLE or len(_BUILT) != len(_EXTENSIONS)):
    raise RuntimeError("CUSTOMLABELS_EXPECT_COMPILED=1 but not every extension is built "
                       f"(built: {_BUILT})")
if os.environ.get("CUSTOMLABELS_EXPECT_PURE") == "1" and (COMPILED_AVAILABLE or _BUILT):
    raise RuntimeError(f"CUSTOMLABELS_EXPECT_PURE=1 but extensions are importable: {_BUILT}")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 endpoint on 127.0.0.1: moto's ThreadedMotoServer, one for the session (each
    test makes buckets of its own names)."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, tmp_path: Path) -> dict[str, str]:
    """Point boto3 at :func:`moto_endpoint` with test credentials; return the variables set."""
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_endpoint,
           "CUSTOMLABELS_CACHE_DIR": str(tmp_path / "cache")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env
