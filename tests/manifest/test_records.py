"""Records of manifest lines: the fields every command reads instead of parsing lines again.

The pure-Python records are the reference: their labels and box labels are what the line's own
object says (schema.usable_boxes, usable_classes); the compiled core's records, where it has
them, are the same tuples; load_object and may_contain agree with parse_line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customlabels.manifest.jsonline import parse_line
from customlabels.manifest.records import (Record, iter_records, iter_rows, load_object,
                                           may_contain, usable_boxes, usable_classes)
from customlabels.manifest.schema import IGNORED, INVALID, VALID
from customlabels.validation import scan

from tests.test_dataset_ops import sample
from tests.test_split import BUCKET, classification_line, detection_line, write

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted(p for folder in ("tests/cases", "tests/convert_cases", "examples")
                   for p in (ROOT / folder).rglob("*.manifest"))
COMPILED_RECORDS = getattr(scan, "records_compiled", None) is not None and \
    scan.COMPILED_AVAILABLE


def test_fields_of_a_mixed_manifest(tmp_path: Path) -> None:
    records = list(iter_records(sample(tmp_path), backend="python"))
    assert [r.line for r in records] == list(range(1, 9))
    assert [r.verdict for r in records] == [VALID, VALID, VALID, VALID, IGNORED, INVALID,
                                            INVALID, VALID]
    assert records[0].labels == ("cat", "indoor") and records[0].box_labels == ()
    # every usable box, in order, repeats kept; labels distinct
    assert records[2].labels == ("car", "bus") and records[2].box_labels == ("car", "bus", "car")
    # line 8: the box off the frame is not usable, the line is valid with an error
    assert records[7].box_labels == ("car",) and records[7].has_errors and records[7].valid
    assert records[4].box_labels == records[4].labels == () and not records[4].has_errors
    assert records[5].source_ref is None and records[5].dropped and records[5].raw == b"{not json"
    # a repeated source-ref is dropped, and keeps its source-ref so that splits group it
    assert records[6].source_ref == f"{BUCKET}00001.jpg" and records[6].duplicate_of == 2
    assert records[6].labels == () and records[6].dropped
    assert all(isinstance(r, Record) for r in records)
    assert [tuple(r) for r in records] == list(iter_rows(sample(tmp_path), backend="python"))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_labels_and_boxes_are_the_lines_own(path: Path) -> None:
    """Labels and box labels are what the line's object says, on every manifest of the suite."""
    for rec in iter_records(path, backend="python"):
        if rec.verdict != VALID:
            assert rec.labels == rec.box_labels == ()
            continue
        obj = parse_line(rec.raw)  # type: ignore[arg-type]
        boxes = tuple(label for _, _, _, label in usable_boxes(obj, rec.findings))
        classes = [label for _, label in usable_classes(obj, rec.findings)]
        assert rec.box_labels == boxes
        assert rec.labels == tuple(dict.fromkeys(classes + list(boxes)))
        assert rec.object() == obj


@pytest.mark.skipif(not COMPILED_RECORDS,
                    reason="the compiled core has no records entry point (records_compiled)")
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_compiled_records_equal_the_pure_ones(path: Path) -> None:
    assert list(iter_rows(path, backend="compiled")) == list(iter_rows(path, backend="python"))


def test_backend_is_checked(tmp_path: Path) -> None:
    path = write(tmp_path / "m.manifest", [classification_line(0, ["cat"])])
    with pytest.raises(ValueError):
        list(iter_records(path, backend="fast"))
    assert list(iter_rows(path, backend="auto")) == list(iter_rows(path, backend="python"))


def test_unreadable_manifest_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        list(iter_records(tmp_path / "missing.manifest"))


@pytest.mark.parametrize("raw", [
    b'{"a": 12345678901234567890123, "b": -98765432109876543210}',  # past 64 bits
    b'{"a": 18446744073709551615, "b": -9223372036854775808}',  # the 64-bit edges
    b'{"a": "\\ud800", "b": "x\\u00e9"}',  # a lone surrogate, an escape
    b'{"a": 0.1, "b": 1e-320, "c": 1E2, "d": -0.0, "e": -0, "f": 2.5e+300}',
    b' {"a": [1, {"b": null}], "c": true} \r',
    '{"é": "ü"}'.encode(),
])
def test_load_object_is_parse_line(raw: bytes) -> None:
    expected = parse_line(raw)
    got = load_object(raw)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # same types: ints stay ints


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.one_of(
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
    st.lists(st.integers(), max_size=3)), max_size=4))
def test_load_object_property(obj: dict) -> None:
    raw = json.dumps(obj).encode()
    assert json.dumps(load_object(raw)) == json.dumps(parse_line(raw))


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=6), st.text(max_size=6), st.booleans())
def test_may_contain_never_misses(text: str, other: str, ascii_only: bool) -> None:
    for value in (text, other + text, other):
        raw = json.dumps({"k": value}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
        if value == text or text in value:
            assert may_contain(raw, text)
    raw = json.dumps({text: 1}, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert may_contain(raw, text)


def test_may_contain_skips_plain_lines() -> None:
    line = detection_line(1, [(0, "car")]).encode()
    assert not may_contain(line, "zebra") and may_contain(line, "car")
    assert may_contain(b'{"k": "\\u007aebra"}', "zebra")  # escaped: cannot tell, say maybe
