"""Differential tests: the compiled core and the pure-Python scanner must agree exactly.

On generated training (and, half of the time, testing) manifests, valid and faulty, both backends
must return the same scan results, the same report (all of it but the ``backend`` field) and
byte-identical ``manifest_summary.json`` and validation manifests. The pure-Python scanner is the
oracle (``validation/_pyscan.py``). The examples are derandomized, so CI sees the same ones.
"""

from __future__ import annotations

import io
import os
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
from customlabels.validation import _pyscan
from customlabels.validation.pipeline import validate_files

from tests.helpers import Trickle

try:
    from customlabels import _core
except ImportError:
    _core = None

pytestmark = pytest.mark.skipif(
    _core is None, reason="the compiled core customlabels._core is not built (pure-Python "
    "install, CUSTOMLABELS_NO_EXT=1): nothing to compare the Python scanner with")

BIG = 10**9


def canonical(value: Any) -> Any:
    """Return ``value`` as nested lists with each scalar tagged by its type.

    Tuples and lists compare equal (a path may be either), but ``1``, ``1.0`` and ``True`` do
    not, nor do ``"1"`` and ``1``.
    """
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return [[canonical(k), canonical(v)] for k, v in value.items()]
    return [type(value).__name__, value]


SCAN_FIELDS = ("total", "exceeded", "counts", "dropped", "problems", "labels", "kind_lines",
               "buckets", "overlaps")


def assert_same_scan(expected: Any, actual: Any) -> None:
    """Compare two scan results field by field (``refs`` is opaque; ``overlaps`` uses it)."""
    for name in SCAN_FIELDS:
        assert canonical(getattr(actual, name)) == canonical(getattr(expected, name)), name


def scan_file(scan: Any, path: str, max_lines: int, other: Any = None) -> Any:
    with open(path, "rb", buffering=0) as stream:
        return scan(stream, max_lines, other)


def run_both(train: bytes, test: bytes | None, max_lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        train_path = os.path.join(tmp, "train.manifest")
        Path(train_path).write_bytes(train)
        test_path = None
        if test is not None:
            test_path = os.path.join(tmp, "test.manifest")
            Path(test_path).write_bytes(test)

        # The scanners themselves, training then testing with the training refs.
        py_train = scan_file(_pyscan.scan, train_path, max_lines)
        c_train = scan_file(scan_compiled, train_path, max_lines)
        assert_same_scan(py_train, c_train)
        if test_path is not None:
            py_test = scan_file(_pyscan.scan, test_path, max_lines, py_train.refs)
            assert_same_scan(py_test, scan_file(scan_compiled, test_path, max_lines, c_train.refs))
            # The compiled scanner also takes the reference's refs (a dict) as ``other``.
            assert_same_scan(py_test, scan_file(scan_compiled, test_path, max_lines, py_train.refs))

        # The whole report and the files, into the same output folder one after the other, so
        # that the paths in the report are the same too.
        out = os.path.join(tmp, "out")
        results = {}
        for backend in ("python", "compiled"):
            report = validate_files(train_path, test_path, output_dir=out, max_lines=max_lines,
                                    backend=backend)
            assert report.pop("backend") == backend
            files = {}
            if os.path.isdir(out):
                for item in sorted(Path(out).iterdir()):
                    files[item.name] = item.read_bytes()
                    item.unlink()
            results[backend] = report, files
        (py_report, py_files), (c_report, c_files) = results["python"], results["compiled"]
        assert c_report == py_report
        assert canonical(c_report) == canonical(py_report)
        assert sorted(c_files) == sorted(py_files)
        for name in py_files:
            assert c_files[name] == py_files[name], name


@S.fixed_settings(250)
@given(pair=S.dataset_pairs(fault_rate=0.35))
def test_backend_agree(pair: tuple[bytes, bytes | None]) -> None:
    train, test = pair
    run_both(train, test, BIG)


@S.fixed_settings(100)
@given(pair=S.dataset_pairs(fault_rate=0.9))
def test_backend_agree_on_mostly_faulty_manifests(pair: tuple[bytes, bytes | None]) -> None:
    train, test = pair
    run_both(train, test, BIG)


@S.fixed_settings(60)
@given(pair=S.dataset_pairs(fault_rate=0.3), data=st.data())
def test_backend_agree_at_the_row_limit(pair: tuple[bytes, bytes | None], data: Any) -> None:
    """A row limit around the number of lines: reading stops, terminal error, nothing written."""
    train, test = pair
    lines = S.count_lines(train)
    run_both(train, test, data.draw(st.integers(1, lines + 1), label="max_lines"))


@S.fixed_settings(150)
@given(manifest=S.manifests(min_lines=1, max_lines=8, fault_rate=0.3), data=st.data())
def test_backend_agree_on_raw_mutations(manifest: S.Manifest, data: Any) -> None:
    """Mutate the bytes of a whole file: line breaks, BOMs and UTF-8 get broken too."""
    train = data.draw(S.raw_mutations(manifest.to_bytes()), label="mutated")
    run_both(train, None, BIG)




@S.fixed_settings(100)
@given(manifest=S.manifests(min_lines=1, max_lines=10, fault_rate=0.4),
       step=st.integers(1, 70), mutate=st.booleans(), data=st.data())
def test_compiled_reader_agrees_on_short_reads(manifest: S.Manifest, step: int, mutate: bool,
                                               data: Any) -> None:
    """Lines, CRLF and the BOM split across reads: small ``chunk_size`` and a trickling stream."""
    raw = manifest.to_bytes()
    if mutate:
        raw = data.draw(S.raw_mutations(raw), label="mutated")
    expected = _pyscan.scan(io.BytesIO(raw), BIG)
    assert_same_scan(expected, scan_compiled(Trickle(raw, step), BIG))
    try:
        chunked = scan_compiled(io.BytesIO(raw), BIG, chunk_size=step)
    except TypeError:  # pragma: no cover - a core without the chunk_size option
        return
    assert_same_scan(expected, chunked)
