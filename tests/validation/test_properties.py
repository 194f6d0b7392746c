"""Properties of the line scanners and of validate_files, on generated manifests.

Each property runs on the pure-Python scanner and, when it is built, on the compiled core
(``customlabels._core``); the compiled cases are skipped, with the reason, when it is not.
The examples are derandomized (see ``strategies.fixed_settings``), so CI is deterministic.
"""

from __future__ import annotations

import collections
import io
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

try:
    from tests import strategies as S
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    import strategies as S

from customlabels.validation.scan import scan_compiled
from customlabels.codes import CODE_NAMES, CODES
from customlabels.manifest.reader import MAX_LINE_BYTES, iter_lines
from customlabels.validation import _pyscan
from customlabels.validation.pipeline import RESULT_NAMES, SUMMARY_NAME, validate_files

try:
    from customlabels import _core
except ImportError:
    _core = None

NO_CORE = "the compiled core customlabels._core is not built (pure-Python install)"
BACKENDS = ["python", pytest.param("compiled", marks=pytest.mark.skipif(_core is None,
                                                                        reason=NO_CORE))]
BIG = 10**9  # a row limit no generated manifest reaches
LINE_SCOPES = ("line", "attribute", "annotation", "metadata")
FRESH_REF = f"s3://{S.BUCKET}/appended/fresh-image.jpg"


def scanner(backend: str) -> Any:
    return _pyscan.scan if backend == "python" else scan_compiled


def scan_bytes(backend: str, data: bytes, max_lines: int = BIG, other: Any = None) -> Any:
    """Scan ``data`` the way validate_files does: from an unbuffered file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "m.manifest")
        path.write_bytes(data)
        with open(path, "rb", buffering=0) as stream:
            return scanner(backend)(stream, max_lines, other)


def per_line(result: Any) -> dict[int, tuple[int, list[Any]]]:
    """Return line -> (verdict, findings) for every line scanned; silent lines are valid."""
    lines: dict[int, tuple[int, list[Any]]] = {n: (_pyscan.VALID, [])
                                               for n in range(1, result.total + 1)}
    for line, verdict, findings in result.problems:
        lines[line] = (verdict, [(code, tuple(path), arg) for code, path, arg in findings])
    return lines


def _strict_object(line: bytes) -> dict[str, Any]:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        assert len({k for k, _ in items}) == len(items), f"duplicate key in {line!r}"
        return dict(items)

    def constant(name: str) -> Any:
        raise AssertionError(f"{name} in {line[:200]!r}")

    obj = json.loads(line, object_pairs_hook=pairs, parse_constant=constant)
    assert isinstance(obj, dict), line[:200]
    return obj


def _error_entries(node: Any) -> int:
    """Count the findings attached as errors anywhere in a validation-manifest line."""
    found = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "errors" and isinstance(value, list):
                found += sum(1 for e in value if isinstance(e, dict) and e.get("code") in CODES
                             and CODES[e["code"]].severity == "error")
            found += _error_entries(value)
    elif isinstance(node, list):
        found += sum(_error_entries(v) for v in node)
    return found


# --- scanner properties -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@S.fixed_settings(120)
@given(manifest=S.manifests(fault_rate=0.4))
def test_every_line_gets_one_verdict(backend: str, manifest: S.Manifest) -> None:
    """valid + invalid + ignored == total; problems are in order; silent lines are valid."""
    data = manifest.to_bytes()
    result = scan_bytes(backend, data)
    assert result.total == S.count_lines(data)
    assert not result.exceeded
    assert sum(result.counts) == result.total
    lines = [line for line, _, _ in result.problems]
    assert lines == sorted(set(lines)) and all(1 <= n <= result.total for n in lines)
    verdicts = collections.Counter(v for v, _ in per_line(result).values())
    assert [verdicts[0], verdicts[1], verdicts[2]] == list(result.counts)
    dropped = sum(1 for _, _, f in result.problems if any(c in _pyscan.DROPPED for c, _, _ in f))
    assert result.dropped == dropped
    for _, verdict, findings in result.problems:
        assert findings
        severities = {CODES[CODE_NAMES[code]].severity for code, _, _ in findings}
        if verdict == _pyscan.IGNORED:
            assert severities == {"warning"}


def _order_free(view: tuple[int, list[Any]]) -> tuple[Any, ...]:
    """What must not depend on key order: verdict, codes, and paths/arguments but for the two
    findings whose place is where a count first crossed a limit or a message of the parser."""
    verdict, findings = view
    codes = collections.Counter(code for code, _, _ in findings)
    places = {(code, path, arg) for code, path, arg in findings
              if code not in (_pyscan.TOO_MANY_BOXES, _pyscan.INVALID_JSON_LINE)}
    return verdict, codes, frozenset(places)


@pytest.mark.parametrize("backend", BACKENDS)
@S.fixed_settings(120)
@given(manifest=S.manifests(fault_rate=0.5), seed=st.integers(0, 2**32 - 1))
def test_key_order_does_not_change_verdicts(backend: str, manifest: S.Manifest,
                                            seed: int) -> None:
    """Shuffling the keys of every object of every line changes no verdict and no code."""
    before = scan_bytes(backend, manifest.to_bytes())
    after = scan_bytes(backend, manifest.to_bytes(random.Random(seed)))
    assert before.total == after.total
    assert before.counts == after.counts
    assert before.dropped == after.dropped
    lines_before, lines_after = per_line(before), per_line(after)
    for n in lines_before:
        assert _order_free(lines_before[n]) == _order_free(lines_after[n]), n
    assert before.kind_lines == after.kind_lines
    assert set(before.buckets) == set(after.buckets)
    assert {k: v for k, v in before.labels.items()} == dict(after.labels)


@pytest.mark.parametrize("backend", BACKENDS)
@S.fixed_settings(120)
@given(manifest=S.manifests(fault_rate=0.5), new=S.valid_lines(FRESH_REF))
def test_appending_a_valid_line_changes_no_earlier_verdict(backend: str, manifest: S.Manifest,
                                                           new: dict[str, Any]) -> None:
    data = manifest.to_bytes()
    sep = b"\n" if S.split_lines(data) and not data.endswith(b"\n") else b""
    longer = data + sep + S.dumps(new).encode("utf-8") + b"\n"
    before, after = scan_bytes(backend, data), scan_bytes(backend, longer)
    assert after.total == before.total + 1
    lines_before, lines_after = per_line(before), per_line(after)
    for n, view in lines_before.items():
        assert lines_after[n] == view, n
    assert lines_after[after.total] == (_pyscan.VALID, [])
    assert after.counts == [before.counts[0] + 1, *before.counts[1:]]


@S.fixed_settings(60)
@given(manifest=S.manifests(fault_rate=0.5), chunk=st.integers(1, 64))
def test_reader_splits_lines_as_documented(manifest: S.Manifest, chunk: int) -> None:
    """iter_lines gives the documented lines whatever the chunk size (over-long ones as None)."""
    data = manifest.to_bytes()
    expected = [None if len(line) > MAX_LINE_BYTES else line for line in S.split_lines(data)]
    assert list(iter_lines(io.BytesIO(data), chunk_size=chunk)) == expected
    assert list(iter_lines(io.BytesIO(data))) == expected


# --- report properties ------------------------------------------------------------------------


def _validate(backend: str, train: bytes, test: bytes | None, tmp: str,
              max_lines: int = BIG) -> tuple[dict[str, Any], dict[str, bytes]]:
    paths = {"training": os.path.join(tmp, "train.manifest")}
    Path(paths["training"]).write_bytes(train)
    if test is not None:
        paths["testing"] = os.path.join(tmp, "test.manifest")
        Path(paths["testing"]).write_bytes(test)
    out = os.path.join(tmp, "out")
    report = validate_files(paths["training"], paths.get("testing"), output_dir=out,
                            max_lines=max_lines, backend=backend)
    files = {p.name: p.read_bytes() for p in Path(out).iterdir()} if os.path.isdir(out) else {}
    return report, files


@pytest.mark.parametrize("backend", BACKENDS)
@S.fixed_settings(80)
@given(pair=S.dataset_pairs(fault_rate=0.4))
def test_report_counts_indices_and_validation_manifests(
        backend: str, pair: tuple[bytes, bytes | None]) -> None:
    """Counts add up; error_json_line_indices lists exactly the lines with an error; every line
    of a validation manifest is a JSON object and there are exactly total_json_lines of them."""
    train, test = pair
    inputs = {"training": train} if test is None else {"training": train, "testing": test}
    with tempfile.TemporaryDirectory() as tmp:
        report, files = _validate(backend, train, test, tmp)
    if any(S.count_lines(data) == 0 for data in inputs.values()):
        assert report["summary"] is None and not files and not report["ok"]
        assert "ERROR_MANIFEST_EMPTY" in {i["code"] for i in report["issues"]}
        return
    assert set(files) == {SUMMARY_NAME} | {RESULT_NAMES[role] for role in inputs}
    summary = json.loads(files[SUMMARY_NAME])
    assert summary == report["summary"]
    for role, data in inputs.items():
        stats = summary["statistics"][role]
        total = stats["total_json_lines"]
        assert total == S.count_lines(data)
        assert (stats["valid_json_lines"] + stats["invalid_json_lines"]
                + stats["ignored_json_lines"]) == total

        file = report["files"][role]
        line_issues = [i for i in report["issues"] if i["file"] == file
                       and i["line"] is not None and i["scope"] in LINE_SCOPES]
        with_error = sorted({i["line"] for i in line_issues if i["severity"] == "error"})
        indices = stats["error_json_line_indices"]
        assert indices == with_error
        assert all(1 <= n <= total for n in indices)

        output = files[RESULT_NAMES[role]]
        assert output.endswith(b"\n")
        out_lines = output[:-1].split(b"\n")
        assert len(out_lines) == total
        in_lines = S.split_lines(data)
        flagged = {i["line"] for i in line_issues}
        for n, line in enumerate(out_lines, start=1):
            obj = _strict_object(line)
            assert (_error_entries(obj) > 0) == (n in indices), n
            if n not in flagged:  # untouched lines are copied byte for byte
                assert line == in_lines[n - 1], n
