"""The split's compiled loops (``customlabels._split``) against the Python ones, draw for draw."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customlabels.split import _DUPLICATE_SOURCE_REF, _shuffle_members, assign

_split = pytest.importorskip("customlabels._split", reason="the compiled split is not built")


def _dataset(seed: int, n: int, labels: int, multi: float, unlabeled: float) -> list[tuple]:
    rnd = random.Random(seed)
    names = [f"label {k}" for k in range(labels)]
    images: list[tuple] = []
    for _ in range(n):
        if rnd.random() < unlabeled:
            images.append(())
        elif rnd.random() < multi:  # repeats included: the loops take each label once
            images.append(tuple(rnd.choices(names, k=rnd.randint(2, 5))))
        else:
            images.append((rnd.choice(names),))
    return images


@pytest.mark.parametrize("n", [0, 1, 2, 3, 257, 5000])
def test_shuffle_and_members_are_the_reference(n: int) -> None:
    images = _dataset(n, n, 7, 0.3, 0.1)
    mine, theirs = random.Random(11), random.Random(11)
    assert _split.shuffle_members(images, mine) == _shuffle_members(images, theirs)
    assert mine.getstate() == theirs.getstate()  # the same draws: the generator agrees after


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(2, 600), st.integers(1, 30),
       st.sampled_from([0.0, 0.2, 0.9]), st.sampled_from([0.0, 0.3]),
       st.sampled_from([0.1, 0.2, 0.5]))
def test_assign_is_the_same_on_both_backends(seed: int, n: int, labels: int, multi: float,
                                             unlabeled: float, fraction: float) -> None:
    images = _dataset(seed, n, labels, multi, unlabeled)
    assert assign(images, fraction, seed, backend="compiled") == \
        assign(images, fraction, seed, backend="python")


def test_ties_draw_in_the_same_order() -> None:
    """Balanced labels and totals: many sides are chosen by rng.random()."""
    images = [(f"l{k % 4}",) for k in range(4000)]
    for seed in range(5):
        assert assign(images, 0.5, seed, backend="compiled") == \
            assign(images, 0.5, seed, backend="python")


def test_group_lines_is_the_reference(tmp_path) -> None:
    """Duplicate source-refs (labels joined), lines without one, invalid and too-long lines."""
    from customlabels.manifest.records import iter_batches, iter_rows
    from customlabels.split import _group_lines

    from tests.test_split import classification_line

    lines = [classification_line(k % 40, [f"l{k % 3}", f"m{k % 5}"]) for k in range(120)]
    lines += ['{"no-source-ref": 1}', "{not json", '{"source-ref": "s3://b/x.jpg"}',
              '{"source-ref": "s3://split-bucket/images/00001.jpg", "a": ' + "1" * 400_001 + "}"]
    manifest = tmp_path / "m.manifest"
    manifest.write_text("\n".join(lines) + "\n")
    _, batches = iter_batches(manifest, backend="compiled")
    mine = _split.group_lines(batches)[:3]
    assert mine == _group_lines(iter_rows(manifest, backend="python"))
    _, batches = iter_batches(manifest, backend="compiled")  # by the duplicates' first lines
    assert _split.group_lines(batches, False, _DUPLICATE_SOURCE_REF)[:3] == mine
    assert mine[2] == [124] and len(mine[1]) == 40 + 4  # 40 images, four lines of their own


@pytest.mark.parametrize("data", [
    b"", b"a\n", b"a", b"a\r\n", b"\xef\xbb\xbfa\nb\n", b"\xef\xbb\xbf", b"a\n\nb\r\n\r\nc",
    b"a\r", b"x\ry\r\n\xef\xbb\xbfz\n", b"\n\n\n", b"line\r\r\n"])
@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1 << 20])
def test_copy_sides_reads_lines_as_the_reader(data: bytes, chunk: int) -> None:
    """BOM, CRLF, blank lines, a last line without a newline, chunks cutting anywhere."""
    import io

    from customlabels.manifest.reader import iter_lines

    lines = list(iter_lines(io.BytesIO(data)))
    sides = bytes(k % 2 for k in range(len(lines)))
    train, test = io.BytesIO(), io.BytesIO()
    assert _split.copy_sides(io.BytesIO(data), sides, train, test, chunk) == len(lines)
    want = [b"".join(line + b"\n" for line, side in zip(lines, sides) if side == k)
            for k in (0, 1)]
    assert [train.getvalue(), test.getvalue()] == want


def test_split_writes_the_same_files_on_both_backends(tmp_path) -> None:
    from customlabels.split import split

    from tests.test_split import classification_line

    lines = [classification_line(k % 90, [f"l{k % 4}"]) for k in range(300)]
    source = tmp_path / "in.manifest"
    source.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n\r\n")
    out = {}
    for backend in ("python", "compiled"):
        result = split(source, tmp_path / backend, seed=5, backend=backend, validate=False)
        out[backend] = (Path(result.train).read_bytes(), Path(result.test).read_bytes())
    assert out["python"] == out["compiled"]


@pytest.mark.parametrize("seed", range(4))
def test_label_counts_are_the_reference(seed: int) -> None:
    from customlabels.split import _label_counts

    images = _dataset(seed, 2000, 9, 0.4, 0.1)
    is_test = assign(images, 0.2, seed)[0]
    assert _split.label_counts(images, is_test) == _label_counts(images, is_test)
