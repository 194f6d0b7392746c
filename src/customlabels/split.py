"""Seeded, label-aware train/test distribution of a manifest (guide L2476-2548, L13843-14245).

Two commands mirror the service: ``split`` is the auto-split of a single-dataset project (80% for
training, 20% for testing, L2479-2481), written to a new pair of manifests; ``distribute`` is
``DistributeDatasetEntries`` (L13848-13860): 20% of the training manifest's entries move into an
empty testing manifest, both files edited in place, atomically.

What an image and its labels are is the validator's notion (:mod:`customlabels.manifest.records`):
an image is a source-ref (every line naming it goes to the same side), its labels are the usable
labels of its valid line. The split guarantees, or refuses with the service's code
(``ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT`` / ``..._FOR_DISTRIBUTE``, L6913-6930,
L5390-5401) naming the labels:

* no image on both sides, and every line of the input on exactly one side;
* every label on both sides, which needs at least :data:`MIN_IMAGES_PER_LABEL` images a label;
* per label about ``test_fraction`` of its images on the testing side (multi-label data is
  stratified by iterative stratification, Sechidis et al., ECML PKDD 2011);
* the same seed and input give the same split (no hash-ordered iteration anywhere).

Lines without a usable label (invalid or ignored lines) are split in the same proportion, so
that neither side's share of invalid lines changes (the 20% rule, L3663-3672).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .codes import CODES
from .errors import SplitError
from .limits import DEFAULT_TEST_FRACTION, MAX_TEST_IMAGES_PER_LABEL, MIN_IMAGES_PER_LABEL
from .manifest.reader import iter_lines
from .manifest.records import iter_records
from .manifest.writer import atomic_write

#: The split's limits are in customlabels.limits: the test share, MIN_IMAGES_PER_LABEL (one image
#: for training and one for testing), and MAX_TEST_IMAGES_PER_LABEL (the validator's
#: ERROR_TOO_MANY_IMAGES_PER_LABEL), which makes large labels give less than ``test_fraction``.
AUTOSPLIT = "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT"
DISTRIBUTE = "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE"


@dataclass
class SplitResult:
    """What a split or a distribution did.

    Attributes:
        train, test: the manifests written (None when the split was refused).
        train_lines, test_lines: lines on each side.
        labels: label -> ``[training images, testing images]``.
        issues: problems, shaped like validation issues (the refusal, with the labels named).
        validation: the validator's report on the written pair (None when refused).
    """

    source: str
    train: str | None = None
    test: str | None = None
    train_lines: int = 0
    test_lines: int = 0
    labels: dict[str, list[int]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    validation: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the split was made and the pair validates."""
        return self.train is not None and not self.issues and (
            self.validation is None or self.validation["ok"])

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain data."""
        return {"ok": self.ok, "source": self.source, "train": self.train, "test": self.test,
                "train_lines": self.train_lines, "test_lines": self.test_lines,
                "labels": self.labels, "issues": self.issues, "validation": self.validation}


# --- the assignment ---------------------------------------------------------------------------


def assign(images: Sequence[Sequence[str]], test_fraction: float = DEFAULT_TEST_FRACTION,
           seed: int = 0) -> tuple[list[bool], list[str]]:
    """Choose the testing images; return (is_test per image, labels that cannot be on both sides).

    ``images[i]`` is the labels of image ``i`` (empty for an image without a usable label). A
    label with fewer than :data:`MIN_IMAGES_PER_LABEL` images, or one the search could not
    place on both sides, is returned; the assignment is then not usable as a split.
    """
    if not 0 < test_fraction < 1:
        raise SplitError(f"test_fraction must be between 0 and 1, not {test_fraction}")
    rng = random.Random(seed)
    n = len(images)
    order = list(range(n))
    rng.shuffle(order)
    rank = {image: k for k, image in enumerate(order)}  # each image's place in the shuffle

    members: dict[str, list[int]] = {}  # label -> its images, in shuffled order
    for image in order:
        for label in dict.fromkeys(images[image]):
            members.setdefault(label, []).append(image)
    labels = sorted(members, key=lambda x: (len(members[x]), x))
    short = [label for label in labels if len(members[label]) < MIN_IMAGES_PER_LABEL]
    if short:
        return [False] * n, short

    is_test = [False] * n
    assigned = [False] * n
    # desired testing images a label still wants, and training images (targets within 1..n-1)
    want = {label: [0, 0] for label in labels}
    for label in labels:
        count = len(members[label])
        test = min(count - 1, max(1, round(test_fraction * count)), MAX_TEST_IMAGES_PER_LABEL)
        want[label] = [test, count - test]
    labeled = [i for i in order if images[i]]
    total = [round(test_fraction * len(labeled)), 0]
    total[1] = len(labeled) - total[0]
    remaining = {label: len(members[label]) for label in labels}

    # iterative stratification: the label with the fewest unassigned images first
    pending = dict.fromkeys(labels)
    while pending:
        label = min(pending, key=lambda x: (remaining[x], x))
        del pending[label]
        for image in members[label]:
            if assigned[image]:
                continue
            need = want[label]
            if need[0] != need[1]:
                side = 0 if need[0] > need[1] else 1
            elif total[0] != total[1]:
                side = 0 if total[0] > total[1] else 1
            else:
                side = 0 if rng.random() < test_fraction else 1
            assigned[image] = True
            is_test[image] = side == 0
            total[side] -= 1
            for other in dict.fromkeys(images[image]):
                want[other][side] -= 1
                remaining[other] -= 1

    unlabeled = [i for i in order if not images[i]]
    for image in unlabeled[:round(test_fraction * len(unlabeled))]:
        is_test[image] = True

    failed = _repair(images, members, labels, is_test, rank)
    _trim(images, members, labels, is_test, rank)
    return is_test, failed


def _trim(images: Sequence[Sequence[str]], members: dict[str, list[int]], labels: list[str],
          is_test: list[bool], rank: dict[int, int]) -> None:
    """Move testing images of labels over :data:`MAX_TEST_IMAGES_PER_LABEL` back to training.

    Multi-label images chosen for a rarer label can push a common one over the limit. An image
    moves only when each of its other labels keeps a testing image (fewest labels first, then
    the shuffle's order), so no label leaves the testing side.
    """
    tested = {label: sum(is_test[i] for i in members[label]) for label in labels}
    for label in labels:
        excess = tested[label] - MAX_TEST_IMAGES_PER_LABEL
        if excess <= 0:
            continue
        candidates = sorted((i for i in members[label] if is_test[i]),
                            key=lambda i: (len(set(images[i])), rank[i]))
        for image in candidates:
            if excess <= 0:
                break
            others = set(images[image]) - {label}
            if all(tested[other] >= 2 for other in others):
                is_test[image] = False
                for name in set(images[image]):
                    tested[name] -= 1
                excess -= 1


def _repair(images: Sequence[Sequence[str]], members: dict[str, list[int]], labels: list[str],
            is_test: list[bool], rank: dict[int, int]) -> list[str]:
    """Move single images until every label is on both sides; return the labels left over.

    A label all on one side takes one of its images to the other side, chosen among those whose
    other labels all keep an image on the side it leaves (fewest labels first, then the
    shuffle's order). Such moves only ever fix labels, so the loop ends.
    """
    def counts(label: str) -> tuple[int, int]:
        """Return the label's (testing, training) image counts."""
        test = sum(is_test[i] for i in members[label])
        return test, len(members[label]) - test

    failed: list[str] = []
    changed = True
    while changed:
        changed = False
        failed = []
        for label in labels:
            test, train = counts(label)
            if test and train:
                continue
            side = bool(train)  # True: the label is all in training, move one to testing
            candidates = []
            for image in members[label]:
                if is_test[image] == side:
                    continue
                if all(label2 == label or (sum(is_test[j] != side for j in members[label2]) >= 2)
                       for label2 in images[image]):
                    candidates.append((len(set(images[image])), rank[image], image))
            if not candidates:
                failed.append(label)
                continue
            image = min(candidates)[2]
            is_test[image] = side
            changed = True
    return failed


# --- files ------------------------------------------------------------------------------------


def _plan(source: str, test_fraction: float, seed: int) -> tuple[list[int], list[bool],
                                                                 list[tuple[str, ...]], list[str]]:
    """Read ``source``; return (group of each line, is_test per group, labels per group, failed)."""
    group_of_line: list[int] = []
    group_labels: list[tuple[str, ...]] = []
    by_ref: dict[str, int] = {}
    too_long: list[int] = []
    for rec in iter_records(source):
        if rec.raw is None:
            too_long.append(rec.line)
        key = rec.source_ref
        group = by_ref.get(key) if key is not None else None
        if group is None:
            group = len(group_labels)
            group_labels.append(rec.labels)
            if key is not None:
                by_ref[key] = group
        elif rec.labels:
            group_labels[group] = tuple(dict.fromkeys(group_labels[group] + rec.labels))
        group_of_line.append(group)
    if too_long:
        raise SplitError(f"{source}:{too_long[0]}: the line is longer than 400,000 bytes and "
                         "cannot be copied (ERROR_LINE_TOO_LONG); remove it first")
    is_test, failed = assign(group_labels, test_fraction, seed)
    return group_of_line, is_test, group_labels, failed


def _refusal(code: str, source: str, images: list[tuple[str, ...]],
             failed: list[str]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for labels in images:
        for label in dict.fromkeys(labels):
            counts[label] = counts.get(label, 0) + 1
    if not counts:
        detail = "the manifest has no valid labeled image"
    else:
        shown = ", ".join(f"{label!r} ({counts.get(label, 0)} image"
                          f"{'s' * (counts.get(label, 0) != 1)})" for label in failed[:20])
        more = f" and {len(failed) - 20} more" if len(failed) > 20 else ""
        detail = (f"these labels cannot be on both sides (each needs at least "
                  f"{MIN_IMAGES_PER_LABEL} images, not shared so that every label keeps one "
                  f"on each side): {shown}{more}")
    return {"code": code, "severity": "error", "scope": "dataset", "file": source,
            "line": None, "path": None, "message": CODES[code].message, "detail": detail}


def _label_counts(images: list[tuple[str, ...]], is_test: list[bool]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for labels, test in zip(images, is_test):
        for label in dict.fromkeys(labels):
            out.setdefault(label, [0, 0])[1 if test else 0] += 1
    return dict(sorted(out.items()))


def _write_sides(source: str, group_of_line: list[int], is_test: list[bool], train: Path,
                 test: Path) -> tuple[int, int]:
    """Copy each line of ``source``, byte for byte, to its side; both files atomically."""
    counts = [0, 0]
    with open(source, "rb") as stream, atomic_write(train) as out_train, \
            atomic_write(test) as out_test:
        outs = (out_train, out_test)
        for lineno, raw in enumerate(iter_lines(stream)):
            side = int(is_test[group_of_line[lineno]])
            outs[side].write(raw + b"\n")  # type: ignore[operator]
            counts[side] += 1
        out_train.flush()  # both complete before either replaces its target
        out_test.flush()
    return counts[0], counts[1]


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def split(source: str | os.PathLike[str], output_dir: str | os.PathLike[str], *,
          test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0,
          validate: bool = True) -> SplitResult:
    """Split a manifest into ``train.manifest`` and ``test.manifest`` in ``output_dir``.

    Refuses with ``ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT`` (in the result's
    issues, nothing written) when a label cannot be on both sides. ``OSError`` for an
    unreadable input or an unwritable directory; :class:`SplitError` for a bad fraction, an
    output that is the input, or a line too long to copy.
    """
    source = os.fspath(source)
    directory = Path(output_dir)
    train, test = directory / "train.manifest", directory / "test.manifest"
    for target in (train, test):
        if _same(target, Path(source)):
            raise SplitError(f"{target} is the input manifest; it is never overwritten")
    return _split_into(source, train, test, AUTOSPLIT, test_fraction, seed, validate,
                       make_dir=directory)


def distribute(train: str | os.PathLike[str], test: str | os.PathLike[str], *,
               test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0,
               validate: bool = True) -> SplitResult:
    """Move ``test_fraction`` of the training manifest's entries into an empty testing one.

    Like ``DistributeDatasetEntries`` (L13843-13860): ``test`` must be missing or empty; both
    files are rewritten atomically. Refuses with
    ``ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE`` (nothing written) when a label
    cannot be on both sides. :class:`SplitError` when ``test`` holds entries.
    """
    train_path, test_path = Path(train), Path(test)
    if _same(train_path, test_path):
        raise SplitError("the training and testing manifests are the same file")
    if _has_content(test_path):
        raise SplitError(f"{test_path} is not empty: distribute moves entries into an empty "
                         "testing manifest")
    return _split_into(os.fspath(train), train_path, test_path, DISTRIBUTE, test_fraction, seed,
                       validate)


def _has_content(path: Path) -> bool:
    """Tell whether ``path`` exists and holds anything but whitespace (read in chunks)."""
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 16):
                if chunk.strip():
                    return True
    except FileNotFoundError:
        return False
    return False


def _split_into(source: str, train: Path, test: Path, refusal: str, test_fraction: float,
                seed: int, validate: bool, make_dir: Path | None = None) -> SplitResult:
    """Plan the split of ``source``; refuse with ``refusal`` or write both sides and validate."""
    result = SplitResult(source)
    group_of_line, is_test, images, failed = _plan(source, test_fraction, seed)
    result.labels = _label_counts(images, is_test)
    if failed or not result.labels:
        result.issues.append(_refusal(refusal, source, images, failed))
        return result
    if make_dir is not None:
        make_dir.mkdir(parents=True, exist_ok=True)
    result.train_lines, result.test_lines = _write_sides(source, group_of_line, is_test, train,
                                                         test)
    result.train, result.test = str(train), str(test)
    if validate:
        result.validation = _validate(result)
    return result


def _validate(result: SplitResult) -> dict[str, Any]:
    from .validation.pipeline import validate_files

    return validate_files(result.train, result.test)  # type: ignore[arg-type]
