"""Data-driven rule cases: each folder of tests/cases holds manifests and what must come out.

A folder has ``train.manifest``, optionally ``test.manifest`` and ``args.json`` (keyword arguments
for validate_files), and ``expected.json``: the issues as ``FILE:LINE CODE PATH`` strings, in report
order, and the whole manifest summary (null after a terminal manifest file error). Both backends
must give exactly this. After a deliberate rule change, rewrite the expectations with
``CUSTOMLABELS_REGEN_CASES=1 pytest tests/validation/test_cases.py`` and review the diff line by line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from customlabels.validation.pipeline import validate_files

from tests.helpers import BACKENDS

CASES = Path(__file__).parents[1] / "cases"
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
    image_cases = CASES.parent / "image_cases"  # validate --images: tests/images/test_image_cases.py
    for folder in [*(CASES / name for name in CASE_NAMES), *image_cases.iterdir()]:
        expected = json.loads((folder / "expected.json").read_text())
        seen.update(item.split()[1] for item in expected["issues"])
    file_level = {"ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                  "ERROR_MANIFEST_SIZE_TOO_LARGE", "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET",
                  "ERROR_OUTPUT_NOT_WRITABLE"}  # need a file system set-up: tests/validation/test_files.py
    expected_codes = {c.name for c in CODES.values() if c.raised_by == "validate"} - file_level
    assert expected_codes - seen == set()


@pytest.mark.parametrize("backend", BACKENDS)
def test_issues_take_severity_scope_and_context_from_the_catalogue(backend: str) -> None:
    """Every issue's severity and scope are its code's; its context holds the message's value."""
    from customlabels.codes import CODES

    seen = set()
    for name in CASE_NAMES:
        report = run_case(name, backend)
        json.dumps(report, allow_nan=False)  # contexts are JSON-ready
        for issue in report["issues"]:
            row = CODES[issue["code"]]
            assert (issue["severity"], issue["scope"]) == (row.severity, row.scope), issue
            assert isinstance(issue["context"], dict)
            if issue["code"] == "ERROR_DUPLICATE_SOURCE_REF":
                first = issue["context"]["first_line"]
                assert 0 < first < issue["line"] and row.format(first) == issue["message"]
            elif issue["code"] == "WARNING_IMAGE_IN_BOTH_DATASETS":
                assert issue["context"]["training_line"] >= 1
            elif issue["code"] == "ERROR_INVALID_JSON_LINE":
                assert issue["context"]["reason"] == issue["detail"]
            elif issue["code"] in ("ERROR_INSUFFICIENT_LABEL_OVERLAP",
                                   "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP"):
                ctx = issue["context"]
                assert ctx["shared"] < ctx["minimum"] * ctx["training_labels"]
                assert ctx["missing"] and ctx["shared"] + len(ctx["missing"]) == ctx[
                    "training_labels"]
            elif issue["code"] == "ERROR_TOO_MANY_IMAGES_PER_LABEL":
                assert issue["context"]["images"] > issue["context"]["maximum"]
            elif issue["code"] in ("ERROR_MANIFEST_TOO_FEW_LABELS",
                                   "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS"):
                assert len(issue["context"]["labels"]) < issue["context"]["minimum"]
            seen.add(issue["code"])
    assert {"ERROR_DUPLICATE_SOURCE_REF", "ERROR_INVALID_JSON_LINE",
            "ERROR_INSUFFICIENT_LABEL_OVERLAP"} <= seen


def test_the_line_builder_makes_the_general_builder_s_issue() -> None:
    """``make_line_issue`` (the validator's fast path) equals ``make_issue`` for every code."""
    from customlabels.codes import CODE_NAMES, CODES
    from customlabels.issues import make_issue, make_line_issue

    where = ("bounding-box", "annotations", 3)
    for index, name in enumerate(CODE_NAMES):
        has_value = "{}" in CODES[name].message
        for arg in (None, 7):
            got = make_line_issue("f.manifest", 9, index, where, arg)
            value = where[0] if arg is None else arg
            want = make_issue(name, "f.manifest", 9, where, arg=value if has_value else None,
                              detail=None if has_value or arg is None else str(arg),
                              context=got["context"])
            assert got == want, name
            assert list(got) == list(want)
            expected_values = [] if arg is None and not has_value else [value]
            assert list(got["context"].values()) == expected_values, name
