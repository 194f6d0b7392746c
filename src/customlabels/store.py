"""The local project store: projects, their model versions, and what each version holds.

The service keeps a project's model versions and describes them with DescribeProjectVersions
(guide: "Describing a model (SDK)"); this is the same on the user's disk. Standard library only
(``customlabels models`` and ``describe-model`` need no torch)::

    STORE/                             --store DIR, CUSTOMLABELS_STORE, or the user data folder
      PROJECT/
        VERSION/
          version.json                 the description: status, timestamps, results, settings
          settings.json                the resolved training settings
          labels.json                  label map, model kind, each label's assumed threshold
          model.pt                     the weights (best epoch), once training completed
          checkpoint.pt                the state to resume from (removed once completed)
          validation/                  manifest_summary.json and the validation manifests
          split/                       train.manifest, test.manifest (auto-split only)
          evaluation/                  EvaluationSummary, snapshot, the test predictions

Every file is written atomically (a temporary file, then a rename). ``version.json`` says
``TRAINING_COMPLETED`` only after everything else is in place; a run that is killed leaves it
at ``TRAINING_IN_PROGRESS`` with the process's id, which the store reports as
``TRAINING_FAILED`` (resumable when ``checkpoint.pt`` is there) once that process is gone.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ModelError
from .manifest.writer import atomic_write

#: The statuses of a version that the store gives (the service's ProjectVersionStatus values
#: for training; a local model has no hosting states: it runs when ``detect`` loads it).
TRAINING_IN_PROGRESS = "TRAINING_IN_PROGRESS"
TRAINING_COMPLETED = "TRAINING_COMPLETED"
TRAINING_FAILED = "TRAINING_FAILED"
STATUSES = (TRAINING_IN_PROGRESS, TRAINING_COMPLETED, TRAINING_FAILED)
VERSION_FILE = "version.json"
#: What a project or version name is made of; the names become parts of file names (the
#: evaluation files' too: ``customlabels.metrics.evaluation``).
NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
STORE_VARIABLE = "CUSTOMLABELS_STORE"


def default_store() -> Path:
    """Return the store's folder: ``CUSTOMLABELS_STORE``, else the user data folder.

    ``$XDG_DATA_HOME/customlabels/models`` or ``~/.local/share/customlabels/models`` (Linux),
    ``~/Library/Application Support/customlabels/models`` (macOS),
    ``%APPDATA%\\customlabels\\models`` (Windows).
    """
    explicit = os.environ.get(STORE_VARIABLE)
    if explicit:
        return Path(explicit)
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "customlabels" / "models"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "customlabels" / "models"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "customlabels" / "models"


def check_name(value: str, what: str) -> str:
    """Return ``value`` when it can name a project or a version, else raise ModelError.

    The service's names: 1 to 255 characters of letters, digits, ``_``, ``.`` and ``-``
    (CreateProject, CreateProjectVersion).
    """
    if not NAME_RE.fullmatch(value) or value in (".", ".."):
        raise ModelError(f"the {what} name {value!r} must be letters, digits, '_', '.' or '-'")
    if len(value) > 255:
        raise ModelError(f"the {what} name is {len(value)} characters; at most 255")
    return value


def now() -> str:
    """Return the time now as the service writes its timestamps (ISO 8601, UTC)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def write_json(path: Path, doc: Any) -> None:
    """Write ``doc`` to ``path`` as indented JSON, atomically."""
    with atomic_write(path) as stream:
        stream.write(json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")


def read_json(path: Path) -> Any:
    """Return the JSON document at ``path``; ModelError naming it when it does not load."""
    try:
        with open(path, "rb") as stream:
            return json.loads(stream.read())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot be read ({exc})") from None


class Store:
    """Projects and model versions under ``root`` (None: :func:`default_store`)."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root) if root is not None else default_store()

    def version_dir(self, project: str, version: str) -> Path:
        """Return the folder of ``project``'s ``version`` (the names are checked)."""
        return self.root / check_name(project, "project") / check_name(version, "version")

    def free_name(self, project: str, name: str) -> str:
        """Return ``name``, or ``name-2``, ``name-3``... the first no version of ``project``
        has (two runs started in the same second get two versions)."""
        taken, candidate, n = set(self.versions(project)), name, 1
        while candidate in taken or self.version_dir(project, candidate).exists():
            n += 1
            candidate = f"{name}-{n}"
        return candidate

    def create(self, project: str, version: str, description: dict[str, Any]) -> Path:
        """Make the folder of a new version and its ``version.json``; return the folder.

        ModelError when the version already exists (a version is never overwritten; resume
        it, or give another name).
        """
        folder = self.version_dir(project, version)
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()
        except FileExistsError:
            raise ModelError(
                f"model version {project}/{version} already exists in {self.root} "
                f"(status {self.status(project, version)}); give another --version, or "
                "--resume it") from None
        doc = {"ProjectName": project, "VersionName": version,
               "ProjectVersionArn": local_arn(project, version), "CreationTimestamp": now(),
               "Status": TRAINING_IN_PROGRESS, "StatusMessage": "The model is being trained.",
               "Feature": "CUSTOM_LABELS", **description, "Process": _process()}
        write_json(folder / VERSION_FILE, doc)
        return folder

    def update(self, project: str, version: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the version's ``version.json`` (atomically); return it."""
        path = self.version_dir(project, version) / VERSION_FILE
        doc = read_json(path)
        doc.update(fields)
        if fields.get("Status", TRAINING_IN_PROGRESS) != TRAINING_IN_PROGRESS:
            doc.pop("Process", None)
        elif "Status" in fields:
            doc["Process"] = _process()
        write_json(path, doc)
        return dict(doc)

    def describe(self, project: str, version: str) -> dict[str, Any]:
        """Return the version's description (DescribeProjectVersions' fields, and ours).

        A version still marked ``TRAINING_IN_PROGRESS`` whose process has ended is described
        as ``TRAINING_FAILED``: it was killed. ModelError when there is no such version.
        """
        folder = self.version_dir(project, version)
        try:
            doc = read_json(folder / VERSION_FILE)
        except FileNotFoundError:
            known = ", ".join(self.versions(project)) or "none"
            raise ModelError(f"no model version {project}/{version} in {self.root} (versions "
                             f"of {project}: {known})") from None
        if doc.get("Status") == TRAINING_IN_PROGRESS and not _alive(doc.get("Process")):
            resumable = (folder / "checkpoint.pt").exists()
            doc["Status"] = TRAINING_FAILED
            doc["StatusMessage"] = (
                "The training run was interrupted before it completed"
                + ("; resume it with customlabels train --project "
                   f"{project} --version {version} --resume." if resumable else "."))
            doc["Resumable"] = resumable
        doc.pop("Process", None)
        doc["Folder"] = str(folder)
        return dict(doc)

    def status(self, project: str, version: str) -> str:
        """Return the version's status (as :meth:`describe` gives it)."""
        try:
            return str(self.describe(project, version)["Status"])
        except ModelError:
            return "unreadable"

    def projects(self) -> list[str]:
        """Return the projects' names, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def versions(self, project: str) -> list[str]:
        """Return the names of ``project``'s versions, oldest first."""
        folder = self.root / check_name(project, "project")
        if not folder.is_dir():
            return []
        found = [p for p in folder.iterdir() if (p / VERSION_FILE).is_file()]
        return [p.name for p in sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))]

    def list(self, project: str | None = None) -> list[dict[str, Any]]:
        """Return the description of every version (of ``project``), project by project."""
        out = []
        for name in [project] if project is not None else self.projects():
            for version in self.versions(name):
                out.append(self.describe(name, version))
        return out


def local_arn(project: str, version: str) -> str:
    """Return the version's ARN-shaped identifier (no AWS account: a local model)."""
    return f"arn:customlabels:local:project/{project}/version/{version}"


def _process() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _alive(process: Any) -> bool:
    """Tell whether the training process ``process`` (pid, host) may still be running."""
    if not isinstance(process, dict) or not isinstance(process.get("pid"), int):
        return False
    if process.get("host") != socket.gethostname():
        return True  # another machine's run (a shared folder): cannot tell, so trust it
    try:
        os.kill(process["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
