"""The project store without torch: versions, statuses, a killed run, names, the listing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from customlabels.errors import ModelError
from customlabels.store import (STORE_VARIABLE, TRAINING_COMPLETED, TRAINING_FAILED,
                                TRAINING_IN_PROGRESS, Store, default_store)


def test_a_version_is_made_once(tmp_path: Path) -> None:
    store = Store(tmp_path)
    folder = store.create("cells", "v1", {"Settings": {"epochs": 3}})
    assert folder == tmp_path / "cells" / "v1"
    doc = json.loads((folder / "version.json").read_text())
    assert doc["Status"] == TRAINING_IN_PROGRESS and doc["Process"]["pid"] == os.getpid()
    assert doc["ProjectVersionArn"] == "arn:customlabels:local:project/cells/version/v1"
    with pytest.raises(ModelError, match="already exists"):
        store.create("cells", "v1", {})
    assert store.describe("cells", "v1")["Status"] == TRAINING_IN_PROGRESS  # we are alive


def test_statuses_move_and_the_process_is_forgotten(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create("cells", "v1", {})
    store.update("cells", "v1", Status=TRAINING_COMPLETED, StatusMessage="ready")
    doc = store.describe("cells", "v1")
    assert doc["Status"] == TRAINING_COMPLETED and "Process" not in doc
    assert doc["Folder"] == str(tmp_path / "cells" / "v1")


def test_a_killed_run_is_reported_failed(tmp_path: Path) -> None:
    """A version whose training process is gone (killed: it could not say so) has failed."""
    code = ("import sys; from customlabels.store import Store\n"
            "Store(sys.argv[1]).create('cells', 'v1', {})")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    folder = tmp_path / "cells" / "v1"
    assert json.loads((folder / "version.json").read_text())["Status"] == TRAINING_IN_PROGRESS
    doc = Store(tmp_path).describe("cells", "v1")
    assert doc["Status"] == TRAINING_FAILED and doc["Resumable"] is False
    (folder / "checkpoint.pt").write_bytes(b"")
    doc = Store(tmp_path).describe("cells", "v1")
    assert doc["Resumable"] and "--resume" in doc["StatusMessage"]


def test_names_are_checked(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for bad in ("../x", "a/b", "", ".", "x" * 256, "a b"):
        with pytest.raises(ModelError):
            store.version_dir("cells", bad)
    assert store.free_name("cells", "v") == "v"
    store.create("cells", "v", {})
    store.create("cells", store.free_name("cells", "v"), {})
    assert store.versions("cells") == ["v", "v-2"]
    assert store.free_name("cells", "v") == "v-3"


def test_unknown_versions_and_the_listing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.list() == [] and store.projects() == []
    store.create("b", "v1", {})
    store.create("a", "v1", {})
    with pytest.raises(ModelError, match=r"no model version a/v2 .*versions of a: v1"):
        store.describe("a", "v2")
    assert [(d["ProjectName"], d["VersionName"]) for d in store.list()] == [("a", "v1"),
                                                                            ("b", "v1")]
    (tmp_path / "a" / "v1" / "version.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot be read"):
        store.describe("a", "v1")


def test_the_default_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STORE_VARIABLE, str(tmp_path / "s"))
    assert default_store() == tmp_path / "s"
    monkeypatch.delenv(STORE_VARIABLE)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform.startswith("linux"):
        assert default_store() == tmp_path / "data" / "customlabels" / "models"


def test_models_and_describe_model_need_no_torch(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create("cells", "v1", {})
    store.update("cells", "v1", Status=TRAINING_COMPLETED, StatusMessage="ready",
                 EvaluationResult={"F1Score": 0.93})
    code = ("import sys; sys.modules['torch'] = None\n"
            "from customlabels.cli.main import main\n"
            "sys.exit(main(sys.argv[1:]))")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True)

    listed = run("models", "--store", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:4] == ["cells", "v1", TRAINING_COMPLETED,
                                                         "0.9300"]
    described = run("describe-model", "cells", "v1", "--store", str(tmp_path), "--format",
                    "json")
    assert json.loads(described.stdout)["Status"] == TRAINING_COMPLETED
    missing = run("describe-model", "cells", "v9", "--store", str(tmp_path))
    assert missing.returncode == 2 and "no model version cells/v9" in missing.stderr
    assert "Traceback" not in missing.stderr
