"""What a report is made from: a validation, an evaluation, or a model version of the store.

Each is read into plain parts the page renders (:class:`ValidationPart`,
:class:`EvaluationPart`):

* a validation output folder (``validate --output-dir``): ``manifest_summary.json`` and the
  ``*_manifest_with_validation.json`` files, whose lines carry their errors and warnings where
  they occur (guide: "Understanding the manifest summary", "Understanding training and testing
  validation result manifests"); the place of each is the JSON path of the object that holds it;
* a validation report document (``validate --format json``, what ``validate --report`` has in
  hand): its issues, with their exact paths, and the manifests themselves for the lines;
* an evaluation output folder (``evaluate --output-dir``): the ``EvaluationSummary`` file and the
  evaluation manifest snapshot, which is evaluated again (it holds the ground truth and every
  prediction: the curves and thresholds come out as they were);
* a model version folder of the store: its ``validation/`` and ``evaluation/`` folders.

Standard library and numpy only; nothing here reads an image.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codes import CODES
from ..errors import ReportError
from ..issues import make_issue, render_path
from ..manifest.reader import iter_lines
from ..validation.pipeline import RESULT_NAMES, SUMMARY_NAME

#: The scopes of problems about a whole manifest or a pair of them, not one of its lines.
MANIFEST_SCOPES = frozenset({"file", "dataset", "pair"})
SUMMARY_PREFIX, SNAPSHOT_PREFIX = "EvaluationSummary-", "EvaluationManifestSnapshot-"


@dataclass
class ValidationPart:
    """One validation, as the page shows it.

    Attributes:
        origin: where it was read from (a folder, or the command that ran it).
        files: the manifest of each dataset, by role (``training``, ``testing``).
        statistics: each dataset's block of ``manifest_summary.json``, by role (empty after a
            terminal manifest file error: nothing was validated).
        manifest_problems: the issues about a whole manifest or the pair (file, dataset and
            pair scopes), every one.
        line_problems: the issues of lines, in file and line order.
        line_files: the file to read each issue file's lines from (the manifest itself, or its
            validation manifest, which has the same lines).
    """

    origin: str
    files: dict[str, str]
    statistics: dict[str, dict[str, Any]]
    manifest_problems: list[dict[str, Any]]
    line_problems: list[dict[str, Any]]
    line_files: dict[str, str] = field(default_factory=dict)

    def read_lines(self, file: str, wanted: set[int]) -> dict[int, bytes | None]:
        """Return the raw lines numbered ``wanted`` of ``file`` (None: a line too long to
        keep), reading the file once and stopping after the last one."""
        if not wanted:
            return {}
        out: dict[int, bytes | None] = {}
        last = max(wanted)
        with open(self.line_files.get(file, file), "rb") as stream:
            for number, raw in enumerate(iter_lines(stream), 1):
                if number in wanted:
                    out[number] = raw
                if number >= last:
                    break
        return out


@dataclass
class EvaluationPart:
    """One evaluation, as the page shows it.

    Attributes:
        origin: where it was read from.
        result: the :class:`~customlabels.metrics.result.EvaluationResult`, curves included.
        snapshot: the evaluation manifest snapshot's lines (the gallery's images).
    """

    origin: str
    result: Any
    snapshot: Iterable[bytes]


@dataclass
class Sources:
    """What one report shows: any of a validation and an evaluation, and a title."""

    title: str
    validation: ValidationPart | None = None
    evaluation: EvaluationPart | None = None
    #: the images' folder (or ``s3``) the source names itself (a model version's settings)
    images: str | None = None
    images_prefix: str | None = None


# --- validation ------------------------------------------------------------------------------


def validation_from_document(doc: dict[str, Any], origin: str = "customlabels validate"
                             ) -> ValidationPart:
    """Return the part of a validation report document (``validate --format json``)."""
    files = {role: path for role, path in doc["files"].items() if path is not None}
    summary = doc.get("summary") or {}
    issues = doc["issues"]
    manifest = [i for i in issues if i["scope"] in MANIFEST_SCOPES]
    lines = [i for i in issues if i["scope"] not in MANIFEST_SCOPES and i["line"] is not None]
    return ValidationPart(origin, files, dict(summary.get("statistics") or {}), manifest,
                          lines)


def validation_from_folder(folder: str | os.PathLike[str]) -> ValidationPart:
    """Return the part of a validation output folder (``validate --output-dir``).

    The problems of each line are those its validation manifest carries, each placed at the
    object that holds it; the dataset and pair errors are those of the summary.
    :class:`ReportError` naming the file when the folder holds no readable summary.
    """
    folder = Path(folder)
    summary_path = folder / SUMMARY_NAME
    summary = _read_document(summary_path, "a manifest summary")
    try:
        statistics = dict(summary["statistics"])
        pair_errors = list(summary.get("errors") or [])
        for role, stats in statistics.items():
            _ = stats["total_json_lines"], stats["valid_json_lines"], stats["errors"]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ReportError(f"{summary_path}: not a manifest summary (no {exc} in it)") from None
    files: dict[str, str] = {}
    manifest: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for role in statistics:
        path = folder / RESULT_NAMES.get(role, f"{role}_manifest_with_validation.json")
        files[role] = str(path)
        for entry in statistics[role]["errors"]:
            manifest.append(_summary_issue(entry, str(path), "dataset"))
        if not path.is_file():
            raise ReportError(f"{folder}: {path.name} is missing (the summary has a "
                              f"{role} dataset)")
        lines.extend(annotated_problems(str(path)))
    for entry in pair_errors:
        manifest.append(_summary_issue(entry, files.get("testing", str(summary_path)), "pair"))
    return ValidationPart(str(folder), files, statistics, manifest, lines)


def _summary_issue(entry: Any, file: str, scope: str) -> dict[str, Any]:
    """Return the issue of one ``errors`` entry of a summary ({code, message}); an entry of
    another tool's code, or of none, is shown as it is."""
    if not isinstance(entry, dict):
        entry = {"message": entry}
    code, message = str(entry.get("code") or "(no code)"), str(entry.get("message") or "")
    if code in CODES:
        return make_issue(code, file, message=message or CODES[code].message)
    return {"code": code, "severity": "error", "scope": scope, "file": file, "line": None,
            "path": None, "message": message, "detail": None, "context": {}}


def annotated_problems(path: str) -> Iterator[dict[str, Any]]:
    """Yield the issues a validation manifest's lines carry, in line order.

    Each ``errors`` or ``warnings`` entry with a catalogued code becomes an issue at the
    JSON path of the object that holds it (the line, an attribute, a box).
    """
    with open(path, "rb") as stream:
        for number, raw in enumerate(iter_lines(stream), 1):
            if raw is None or b'"code"' not in raw:  # most lines carry nothing
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            found: list[tuple[tuple[str | int, ...], dict[str, Any]]] = []
            _entries(obj, (), found)
            for where, entry in found:
                row = CODES[entry["code"]]
                message = str(entry.get("message") or row.message)
                yield make_issue(row.name, path, number, render_path(where) if where else "$",
                                 message=message)


def _entries(node: Any, where: tuple[str | int, ...],
             out: list[tuple[tuple[str | int, ...], dict[str, Any]]]) -> None:
    if isinstance(node, dict):
        for key in ("errors", "warnings"):
            listed = node.get(key)
            if isinstance(listed, list):
                out.extend((where, e) for e in listed
                           if isinstance(e, dict) and e.get("code") in CODES)
        for key, value in node.items():
            if key not in ("errors", "warnings") and isinstance(value, (dict, list)):
                _entries(value, (*where, key), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, (dict, list)):
                _entries(value, (*where, index), out)


#: ``$['bounding-box'].annotations[3]...`` or ``$.bb.image_size[0]``: the attribute and box.
_PLACE = re.compile(r"^\$(?:\['((?:[^'\\]|\\.)*)'\]|\.([A-Za-z_][A-Za-z0-9_]*))"
                    r"(?:\.annotations\[(\d+)\])?")


def place(path: str | None) -> tuple[str | None, int | None]:
    """Return the attribute and the box index a problem's JSON path points at (None: not)."""
    if not path:
        return None, None
    match = _PLACE.match(path)
    if match is None:
        return None, None
    quoted, plain, index = match.groups()
    attribute = plain if plain is not None else re.sub(r"\\(.)", r"\1", quoted)
    return attribute, None if index is None else int(index)


# --- evaluation ------------------------------------------------------------------------------


def evaluation_from_result(result: Any, origin: str = "customlabels evaluate"
                           ) -> EvaluationPart:
    """Return the part of an evaluation already made (``evaluate --report``)."""
    return EvaluationPart(origin, result, result.snapshot_lines)


def evaluation_files(folder: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Return the summary file and the snapshot of the one evaluation in ``folder``.

    :class:`ReportError` when there is none, or several (name one summary file then).
    """
    folder = Path(folder)
    if folder.is_file():
        summary = folder
        if not summary.name.startswith(SUMMARY_PREFIX):
            raise ReportError(f"{summary}: not an EvaluationSummary file")
    else:
        found = sorted(folder.glob(f"{SUMMARY_PREFIX}*.json"))
        if not found:
            raise ReportError(f"{folder}: no {SUMMARY_PREFIX}PROJECT-VERSION.json in it")
        if len(found) > 1:
            raise ReportError(f"{folder}: holds {len(found)} evaluations ("
                              + ", ".join(p.name for p in found)
                              + "); name the summary file of the one to show")
        summary = found[0]
    snapshot = summary.with_name(SNAPSHOT_PREFIX + summary.name[len(SUMMARY_PREFIX):-5]
                                 + ".manifest")
    if not snapshot.is_file():
        raise ReportError(f"{summary}: its snapshot {snapshot.name} is missing beside it")
    return summary, snapshot


def evaluation_from_folder(folder: str | os.PathLike[str], backend: str = "auto"
                           ) -> EvaluationPart:
    """Return the part of an evaluation output folder (or of its summary file).

    The snapshot's predictions are evaluated again against its ground truth (each line
    without its evaluation attributes, in a temporary file: a snapshot line of an image with
    more than 50 predicted boxes is not a valid manifest line, while its ground truth is): the
    metrics are those of the summary file (a test checks it), and the curves behind the
    thresholds are there too.
    """
    import tempfile

    from ..metrics.evaluation import evaluate_files

    summary, snapshot = evaluation_files(folder)
    _read_document(summary, "an EvaluationSummary")
    with tempfile.TemporaryDirectory(prefix="customlabels-report-") as scratch:
        truth = Path(scratch) / "ground-truth.manifest"
        try:
            _ground_truth_of(snapshot, truth)
        except OSError as exc:
            raise ReportError(f"{snapshot}: cannot be read ({exc.strerror or exc})") from None
        result = evaluate_files(str(truth), str(snapshot), backend=backend)
        if result.summary is None:
            problem = next((str(i) for i in result.issues if i.severity == "error"), "")
            raise ReportError(f"{snapshot}: cannot be evaluated again: "
                              + problem.replace(str(truth), f"{snapshot} (its ground truth)"))
    result.files = {"ground_truth": str(snapshot), "predictions": str(snapshot), "train": None}
    return EvaluationPart(str(summary), result, FileLines(snapshot))


class FileLines:
    """The lines of a file, read again each time they are iterated (not held in memory)."""

    def __init__(self, path: Path):
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as stream:
            for raw in iter_lines(stream):
                if raw is not None:
                    yield raw


def _ground_truth_of(snapshot: Path, out: Path) -> None:
    """Write the snapshot's lines without their evaluation attributes, line for line."""
    from ..manifest.writer import dumps_line
    from ..manifest.schema import EVALUATION_PREFIX

    with open(snapshot, "rb") as stream, open(out, "wb") as sink:
        for raw in iter_lines(stream):
            line = raw or b""
            if EVALUATION_PREFIX.encode() in line:
                try:
                    obj = json.loads(line)
                except ValueError:
                    obj = None
                if isinstance(obj, dict):
                    line = dumps_line({k: v for k, v in obj.items()
                                       if not k.startswith(EVALUATION_PREFIX)})
            sink.write(line.rstrip(b"\n") + b"\n")


# --- a model version -------------------------------------------------------------------------


def version_sources(folder: str | os.PathLike[str], backend: str = "auto") -> Sources:
    """Return what a model version folder holds: its validation, its evaluation, its images."""
    from ..store import VERSION_FILE

    folder = Path(folder)
    doc = _read_document(folder / VERSION_FILE, "a model version's description")
    name = f"{doc.get('ProjectName', folder.parent.name)}/{doc.get('VersionName', folder.name)}"
    sources = Sources(f"model version {name}")
    if (folder / "validation" / SUMMARY_NAME).is_file():
        sources.validation = validation_from_folder(folder / "validation")
    if any((folder / "evaluation").glob(f"{SUMMARY_PREFIX}*.json")):
        sources.evaluation = evaluation_from_folder(folder / "evaluation", backend)
    if sources.validation is None and sources.evaluation is None:
        raise ReportError(f"{folder}: model version {name} holds no validation and no "
                          f"evaluation yet (status {doc.get('Status', 'unknown')})")
    settings_path = folder / "settings.json"
    if settings_path.is_file():
        settings = _read_document(settings_path, "training settings")
        sources.images = settings.get("images") or None
        sources.images_prefix = settings.get("images_prefix") or None
    return sources


def folder_sources(path: str | os.PathLike[str], backend: str = "auto") -> Sources:
    """Return what ``path`` holds: a validation or evaluation output folder, an
    EvaluationSummary file, or a model version folder; :class:`ReportError` otherwise."""
    from ..store import VERSION_FILE

    path = Path(path)
    if not path.exists():
        raise ReportError(f"{path}: no such file or folder")
    if path.is_file():
        return Sources(f"evaluation {path.name}",
                       evaluation=evaluation_from_folder(path, backend))
    if (path / VERSION_FILE).is_file():
        return version_sources(path, backend)
    if (path / SUMMARY_NAME).is_file():
        sources = Sources(f"validation {path}", validation=validation_from_folder(path))
        if any(path.glob(f"{SUMMARY_PREFIX}*.json")):  # both written to one folder
            sources.evaluation = evaluation_from_folder(path, backend)
        return sources
    if any(path.glob(f"{SUMMARY_PREFIX}*.json")):
        return Sources(f"evaluation {path}", evaluation=evaluation_from_folder(path, backend))
    raise ReportError(f"{path}: holds no {SUMMARY_NAME} (validate --output-dir), no "
                      f"{SUMMARY_PREFIX}*.json (evaluate --output-dir) and no {VERSION_FILE} "
                      "(a model version)")


def _read_document(path: Path, what: str) -> dict[str, Any]:
    """Return the JSON object at ``path``; :class:`ReportError` naming it otherwise."""
    try:
        with open(path, "rb") as stream:
            doc = json.loads(stream.read())
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ReportError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ReportError(f"{path}: not {what} (not a JSON object)")
    return doc
