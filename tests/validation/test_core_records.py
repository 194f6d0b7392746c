"""The compiled core's records (``customlabels._core.records``) must equal the pure path's.

A record is ``(line, raw, verdict, findings, source_ref, labels, box_labels)``, the fields of
:class:`customlabels.manifest.records.Record`. The reference here is written from the contract
(:func:`reference_rows`): the reader's lines, ``_pyscan.check_line`` on each, the source-ref of a
duplicate from its parsed line, ``dict.fromkeys([*cls, *det])`` and
:func:`customlabels.manifest.schema.usable_boxes` on a valid line. Records are compared by
``repr`` (values, types and order), on the hand-written lines of ``test_core_equivalence``, its
reader cases, over-long lines, mutated lines and hypothesis manifests, in every threading mode of
the scan (:data:`MODES`) and with reads that end anywhere.
"""

from __future__ import annotations

import gc
import io

import pytest
from hypothesis import given

try:
    from tests import strategies as S
    from .test_core_equivalence import (MODES, READER_CASES, Failing, ReadOnly, Trickle,
                                        base_lines, big_manifest, cls, det, line, lines_to_bytes,
                                        long_line_cases, mutate, ref, tricky_lines, turns, box)
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    import strategies as S
    from test_core_equivalence import (MODES, READER_CASES, Failing, ReadOnly, Trickle,
                                       base_lines, big_manifest, cls, det, line, lines_to_bytes,
                                       long_line_cases, mutate, ref, tricky_lines, turns, box)

from customlabels.codes import CODE_NAMES
from customlabels.manifest.jsonline import parse_line
from customlabels.manifest.reader import iter_lines
from customlabels.manifest.schema import VALID, usable_boxes
from customlabels.validation import _pyscan

core = pytest.importorskip("customlabels._core")
from customlabels.validation.scan import records_compiled  # noqa: E402

DUPLICATE = CODE_NAMES.index("ERROR_DUPLICATE_SOURCE_REF")


def reference_rows(data: bytes) -> list[tuple]:
    """The records of ``data`` as the pure path makes them (the contract, written out)."""
    rows = []
    refs: dict[str, int] = {}
    for lineno, raw in enumerate(iter_lines(io.BytesIO(data)), start=1):
        verdict, findings, info = _pyscan.check_line(raw, lineno, refs)
        sref, labels, boxes = None, (), ()
        if info is not None:
            sref, _bucket, _declared, cls_, det_ = info
            if verdict == VALID:
                labels = tuple(dict.fromkeys([*cls_, *det_]))
                boxes = tuple(label for _, _, _, label in usable_boxes(parse_line(raw), findings))
        elif findings and findings[0][0] == DUPLICATE:
            sref = parse_line(raw)["source-ref"]
        rows.append((lineno, raw, verdict, findings, sref, labels, boxes))
    return rows


def compiled_rows(stream, **options) -> list[tuple]:
    rows = []
    for batch in records_compiled(stream, **options):
        assert isinstance(batch, list) and batch
        rows.extend(batch)
    return rows


def assert_same_rows(ours: list[tuple], expected: list[tuple]) -> None:
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        assert type(a) is tuple and len(a) == 7
        assert repr(a) == repr(b), f"line {b[0]} differs:\n core: {a!r}\n  ref: {b!r}"
        assert type(a[3]) is list and type(a[5]) is tuple and type(a[6]) is tuple


def same_records(data: bytes, modes=MODES, **kw) -> list[tuple]:
    """Records of ``data`` from the core in each of ``modes`` (and ``kw``) equal the reference."""
    expected = reference_rows(data)
    for mode in modes:
        assert_same_rows(compiled_rows(io.BytesIO(data), **kw, **mode), expected)
    return expected


# --- the hand-written lines ------------------------------------------------------------------


def test_tricky_lines_one_by_one():
    for ln in tricky_lines():
        same_records(lines_to_bytes([ln]), modes=MODES[:2])


def test_tricky_lines_together():
    rows = same_records(lines_to_bytes(tricky_lines()))
    verdicts = {row[2] for row in rows}
    assert verdicts == {0, 1, 2}
    assert any(len(row[5]) > 1 for row in rows) and any(len(row[6]) > 1 for row in rows)
    assert any(row[4] is not None and row[3] and row[3][0][0] == DUPLICATE for row in rows)


def test_tricky_lines_every_read_size():
    data = lines_to_bytes(tricky_lines())
    expected = reference_rows(data)
    for step in (1, 3, 64, 4096):
        for mode in MODES:
            assert_same_rows(compiled_rows(Trickle(data, step), **mode), expected)
        assert_same_rows(compiled_rows(ReadOnly(data, step)), expected)
    for chunk in (1, 5, 17, 1000):
        for mode in MODES:
            assert_same_rows(compiled_rows(io.BytesIO(data), chunk_size=chunk, **mode), expected)


@pytest.mark.parametrize("name", sorted(READER_CASES))
def test_reader_rules(name):
    data = READER_CASES[name]
    expected = same_records(data)
    for step in (1, 2, 5):
        assert_same_rows(compiled_rows(Trickle(data, step), _threads=2, _block=1, _piece=16,
                                       _static=True), expected)


def test_long_lines():
    """Over-long lines: ``raw`` is None where the reader drops the bytes, else the bytes."""
    cases = long_line_cases()
    data = b"\n".join(cases) + b"\n" + lines_to_bytes([line(cls())])
    rows = same_records(data)
    assert any(row[1] is None for row in rows) and any(
        row[1] is not None and row[3] and row[3][0][0] == CODE_NAMES.index("ERROR_LINE_TOO_LONG")
        for row in rows)
    expected = reference_rows(data)
    for kw in ({"_block": 1 << 16, "_piece": 1 << 16}, {"_block": 400_003, "_piece": 64}):
        assert_same_rows(compiled_rows(Trickle(data, 65536), _threads=2, **kw), expected)
    assert_same_rows(compiled_rows(io.BytesIO(data), chunk_size=999), expected)


def test_labels_order_and_boxes():
    """Labels: classification ones first, then detection ones not among them, each in the order
    they joined; box labels in attribute and annotation order, repeats included."""
    lines = [
        line(det(attr="b1", boxes=[box(left=-1), box(class_id=1), box(), box(class_id=1)],
                 class_map={"0": "x", "1": "y"}), cls("x", attr="c2"), cls("z", attr="c3")),
        line(det(attr="b1", boxes=[box(), box(class_id=1)], class_map={"0": "ok2", "1": "ok"}),
             det(attr="b2", boxes=[box(class_id=1), box(class_id=1, width=1)], class_map={"1": "ok"})),
        line(cls("same", attr="a1"), cls("same", attr="a2"), det(class_map={"0": "same"})),
        line(det(boxes=[box(class_id=i % 3) for i in range(7)],
                 class_map={"0": "p", "1": "q", "2": "r"})),
        line(det(boxes=[box()] * 51)),  # too many boxes: invalid, no labels
    ]
    rows = same_records(lines_to_bytes(lines))
    assert rows[0][5] == ("x", "z", "y") and rows[0][6] == ("y", "x", "y")
    assert rows[1][5] == ("ok2", "ok") and rows[1][6] == ("ok2", "ok", "ok")
    assert rows[2][5] == ("same",) and rows[2][6] == ("same",)
    assert rows[3][6] == ("p", "q", "r", "p", "q", "r", "p")
    assert rows[4][2] == 1 and rows[4][5] == rows[4][6] == ()


def test_labels_are_interned():
    """One str object a distinct label name, whichever thread met it first."""
    names = [f"label {i % 7}" for i in range(300)]
    data = lines_to_bytes([line(cls(n), det(attr="bb", class_map={"0": n + "!"})) for n in names])
    for mode in MODES:
        seen: dict[str, int] = {}
        for row in compiled_rows(io.BytesIO(data), **mode):
            for name in (*row[5], *row[6]):
                assert seen.setdefault(name, id(name)) == id(name)
        assert len(seen) == 14


# --- many more lines -------------------------------------------------------------------------


def test_mutated_lines():
    import random

    rng = random.Random(11)
    bases = base_lines()
    lines = []
    for i in range(3000):
        ident = str(i if rng.random() < 0.9 else rng.randrange(20)).encode()
        raw = rng.choice(bases).replace(b"ID", ident)
        lines.append(mutate(rng, raw) if rng.random() < 0.5 else raw)
    data = lines_to_bytes(lines)
    rows = same_records(data)
    assert sum(row[2] == 0 for row in rows) > 500
    expected = reference_rows(data)
    assert_same_rows(compiled_rows(Trickle(data, 777), **turns(3)), expected)


def test_deferred_numbers():
    """Lines a worker leaves to the merge (numbers only Python's strtod reads)."""
    lines = []
    for i, lit in enumerate(("1e400", "99999999999999999999", "4096.0000000000001")):
        s = ref()
        lines.append(line(cls(f"deferred {i}", confidence=0.5), sref=s).replace("0.5", lit))
        lines.append(line(det(width=4096, class_map={"0": f"det {i}"})).replace("4096", lit))
        lines.append(line(cls(f"dup {i}", confidence=0.5), sref=s).replace("0.5", lit))
        lines.append(line(cls(f"plain {i}")))
    data = lines_to_bytes(lines)
    same_records(data)
    for n in (2, 3):
        assert_same_rows(compiled_rows(io.BytesIO(data), **turns(n)), reference_rows(data))


def test_caps_of_a_piece():
    """A piece holds at most so many lines and findings; the main thread checks the rest, and
    the batch of the piece holds them all."""
    short = b"\n" * 9000 + b"{}\n" * 9000 + b"x\n" * 100 + lines_to_bytes([line(cls())] * 3)
    many = lines_to_bytes([line(det(boxes=[box(width=-1)] * 1500)) for _ in range(14)]
                          + [line(cls())])
    for data in (short, many, short + many + short):
        expected = reference_rows(data)
        for kw in ({"_threads": 2, "_block": 1 << 22, "_piece": 1 << 22},
                   {"_threads": 2, "_block": 1 << 22, "_piece": 1 << 16, "_static": True},
                   {"_threads": 1, "_block": 1 << 22, "_piece": 1 << 22}):
            assert_same_rows(compiled_rows(io.BytesIO(data), **kw), expected)


@pytest.fixture(scope="module")
def big():
    data = big_manifest()
    return data, reference_rows(data)


def test_big_input_batches_bounded(big):
    """Past 2 MiB the threads start by themselves; a batch holds the lines of one piece."""
    data, expected = big
    for kw in ({}, {"_threads": 1}, {"_threads": 3, "_block": 1 << 18, "_piece": 4096},
               turns(2, _block=1 << 16)):
        sizes = []
        rows = []
        for batch in records_compiled(io.BytesIO(data), **kw):
            sizes.append(sum(len(row[1]) + 1 for row in batch))
            rows.extend(batch)
        assert_same_rows(rows, expected)
        assert max(sizes) <= kw.get("_piece", 256 << 10) + 2 * max(len(r[1]) for r in rows)
        assert len(sizes) > 1


def test_abandoned_and_failing_iterators(big):
    """A records iterator dropped half-way, or whose stream fails, stops its threads; a scan
    after it works."""
    data, expected = big
    for kw in ({}, {"_threads": 2, "_piece": 4096}, turns(3, _block=1 << 16)):
        it = records_compiled(io.BytesIO(data), **kw)
        first = next(it)
        assert first[0][0] == 1
        del it
        gc.collect()
        with pytest.raises(OSError, match="on fire"):
            compiled_rows(Failing(data, len(data) // 2), **kw)
        with pytest.raises(ValueError):
            compiled_rows(io.BytesIO(data), chunk_size=0, **kw)
    it = records_compiled(io.BytesIO(b""))
    assert list(it) == [] and list(it) == []
    assert_same_rows(compiled_rows(io.BytesIO(data), _threads=2), expected)


def test_iter_records_compiled_equals_python(tmp_path):
    """The consumer, ``customlabels.manifest.records``, gives the same records from both."""
    from customlabels.manifest import records

    path = tmp_path / "m.manifest"
    path.write_bytes(lines_to_bytes(tricky_lines()))
    compiled = list(records.iter_records(path, backend="compiled"))
    python = list(records.iter_records(path, backend="python"))
    assert repr(compiled) == repr(python)
    assert [tuple(r) for r in python] == reference_rows(path.read_bytes())


# --- hypothesis ------------------------------------------------------------------------------


@S.fixed_settings(150)
@given(S.manifest_bytes(max_lines=30))
def test_hypothesis_manifests(data):
    expected = reference_rows(data)
    for mode in MODES:
        assert_same_rows(compiled_rows(io.BytesIO(data), **mode), expected)
    assert_same_rows(compiled_rows(Trickle(data, 7), chunk_size=3), expected)
