"""Data-driven rule cases: each folder of tests/cases holds manifests and what must come out.

A folder has ``train.manifest``, optionally ``test.manifest`` and ``args.json`` (keyword arguments
for validate_files), and ``expected.json``: the issues as ``FILE:LINE CODE PATH`` strings, in report
order, and the whole manifest summary (null after a terminal manifest file error). Both backends
must give exactly this. After a deliberate rule change, rewrite the expectations with
``CUSTOMLABELS_REGEN_CASES=1 pytest tests/test_cases.py`` and review the diff line by line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from customlabels.validation.pipeline import validate_files

from .conftest import BACKENDS

CASES = Path(__file__).parent / "cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def run_case(name: str, backend: str, output_dir: Path | None = None) -> dict:
    folder = CASES / name
    test = folder / "test.manifest"
    args_file = folder / "args.json"
    args = json.loads(args_file.read_text()) if args_file.exists() else {}
    return validate_files(str(folder / "train.manifest"), str(test) if test.exists() else None,
                          output_dir=None if output_dir is None else str(output_dir),
                          backend=backend, **args)


def compact(report: dict) -> list[str]:
    """Return the issues as ``FILE:LINE CODE PATH`` strings (file name only)."""
    out = []
    for issue in report["issues"]:
        where = Path(issue["file"]).name + ("" if issue["line"] is None else f":{issue['line']}")
        out.append(f"{where} {issue['code']}" + (f" {issue['path']}" if issue["path"] else ""))
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_case(name: str, backend: str) -> None:
    report = run_case(name, backend)
    got = {"ok": report["ok"], "issues": compact(report), "summary": report["summary"]}
    expected_file = CASES / name / "expected.json"
    if os.environ.get("CUSTOMLABELS_REGEN_CASES") == "1":
        expected_file.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_file.read_text())


def test_every_code_has_a_case() -> None:
    """Each code the validator raises appears in some case (codes are API: each is tested)."""
    from customlabels.codes import CODES

    seen = set()
    for name in CASE_NAMES:
        expected = json.loads((CASES / name / "expected.json").read_text())
        seen.update(item.split()[1] for item in expected["issues"])
    file_level = {"ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                  "ERROR_MANIFEST_SIZE_TOO_LARGE", "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET",
                  "ERROR_OUTPUT_NOT_WRITABLE"}  # need a file system set-up: tests/test_files.py
    expected_codes = {c.name for c in CODES.values() if c.raised_by == "validate"} - file_level
    assert expected_codes - seen == set()
