"""Seeded, label-aware train/test distribution of a manifest (guide L2476-2548, L13843-14245).

Two commands mirror the service: ``split`` is the auto-split of a single-dataset project (80% for
training, 20% for testing, L2479-2481), written to a new pair of manifests; ``distribute`` is
``DistributeDatasetEntries`` (L13848-13860): 20% of the training manifest's entries move into an
empty testing manifest, both files edited in place, both or neither.

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
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, compress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .codes import CODE_NAMES, DROPPED_CODES
from .errors import SplitError
from .issues import make_issue, typed_issues, typed_report
from .limits import (DEFAULT_MAX_LINES, DEFAULT_TEST_FRACTION, MAX_LINE_BYTES, MAX_TEST_IMAGES_PER_LABEL,
                     MIN_IMAGES_PER_LABEL)
from .manifest.reader import iter_line_blocks
from .manifest.records import iter_batches, iter_rows
from .manifest.writer import edit_lock, recover, replace_all, same_file

if TYPE_CHECKING:
    from .validation.report import Issue, ValidationReport

#: The split's limits are in customlabels.limits: the test share, MIN_IMAGES_PER_LABEL (one image
#: for training and one for testing), and MAX_TEST_IMAGES_PER_LABEL (the validator's
#: ERROR_TOO_MANY_IMAGES_PER_LABEL), which makes large labels give less than ``test_fraction``.
AUTOSPLIT = "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT"
#: Code indexes the side scans need (duplicates renumbered, dropped lines counted).
_DUPLICATE_SOURCE_REF = CODE_NAMES.index("ERROR_DUPLICATE_SOURCE_REF")
_DROPPED = frozenset(CODE_NAMES.index(name) for name in DROPPED_CODES)
DISTRIBUTE = "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE"


@dataclass
class SplitResult:
    """What a split or a distribution did.

    Attributes:
        train, test: the manifests written (None when the split was refused).
        train_lines, test_lines: lines on each side.
        labels: label -> ``[training images, testing images]``.
        issues: the refusal, as :class:`customlabels.Issue` (plain data given to the
            constructor is typed); its ``context`` holds ``reason`` (``no_labeled_image``,
            ``too_few_images`` or ``not_separable``), ``labels`` (each label that cannot be on
            both sides -> its images) and ``min_images_per_label``.
        validation_doc: the validator's report on the written pair as plain data (what
            ``--format json`` prints); None when refused or not validated. :attr:`validation`
            is the same report typed.
    """

    source: str
    train: str | None = None
    test: str | None = None
    train_lines: int = 0
    test_lines: int = 0
    labels: dict[str, list[int]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    validation_doc: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.issues = typed_issues(self.issues)

    @cached_property
    def validation(self) -> ValidationReport | None:
        """Return the validator's report on the written pair, typed (None when refused).

        Typed on first use: the command line prints the plain data, without pydantic.
        """
        return typed_report(self.validation_doc)

    @property
    def ok(self) -> bool:
        """Tell whether the split was made and the pair validates."""
        return self.train is not None and not self.issues and (
            self.validation_doc is None or self.validation_doc["ok"])

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain data (what ``--format json`` prints)."""
        return {"ok": self.ok, "source": self.source, "train": self.train, "test": self.test,
                "train_lines": self.train_lines, "test_lines": self.test_lines,
                "labels": self.labels, "issues": [i.model_dump() for i in self.issues],
                "validation": self.validation_doc}


# --- the assignment ---------------------------------------------------------------------------


def assign(images: Sequence[Sequence[str]], test_fraction: float = DEFAULT_TEST_FRACTION,
           seed: int = 0, *, backend: str = "auto") -> tuple[list[bool], list[str]]:
    """Choose the testing images; return (is_test per image, labels that cannot be on both sides).

    ``images[i]`` is the labels of image ``i`` (empty for an image without a usable label). A
    label with fewer than :data:`MIN_IMAGES_PER_LABEL` images, or one the search could not
    place on both sides, is returned; the assignment is then not usable as a split.

    One pass per image and label: the counts are kept up to date rather than recounted, and the
    loops take the common single-label image by a short path. The result is a function of the
    input and the seed only (the shuffle and the tie-breaks draw on ``random.Random(seed)``).
    ``backend``: the shuffle and the stratification loop in the compiled ``_split`` (the same
    draws on the same generator, the same result) or here (``auto``, ``compiled``, ``python``).
    """
    if not 0 < test_fraction < 1:
        raise SplitError(f"test_fraction must be between 0 and 1, not {test_fraction}")
    rng = random.Random(seed)
    n = len(images)
    kernels = _kernels(backend)
    if kernels is not None:
        order, rank, distinct, members = kernels.shuffle_members(list(images), rng)
    else:
        order, rank, distinct, members = _shuffle_members(images, rng)
    labels = sorted(members, key=lambda x: (len(members[x]), x))
    short = [label for label in labels if len(members[label]) < MIN_IMAGES_PER_LABEL]
    if short:
        return [False] * n, short

    # desired testing images a label still wants, and training images (targets within 1..n-1)
    want: dict[str, list[int]] = {}
    for label in labels:
        count = len(members[label])
        test = min(count - 1, max(1, round(test_fraction * count)), MAX_TEST_IMAGES_PER_LABEL)
        want[label] = [test, count - test]
    labeled = sum(map(bool, images))
    total = [round(test_fraction * labeled), 0]
    total[1] = labeled - total[0]
    if kernels is not None:
        is_test = kernels.stratify(labels, members, distinct, [want[x] for x in labels], total,
                                   test_fraction, rng)
    else:
        is_test = _stratify(labels, members, distinct, want, total, test_fraction, rng)

    unlabeled = [i for i in order if not images[i]] if labeled < n else []
    for image in unlabeled[:round(test_fraction * len(unlabeled))]:
        is_test[image] = True

    tested = _tested(distinct, labels, is_test)
    failed = _repair(distinct, members, labels, is_test, rank, tested)
    _trim(distinct, members, labels, is_test, rank, tested)
    return is_test, failed


def _kernels(backend: str) -> Any:
    """Return the compiled ``_split`` module for ``backend``, or None for the Python loops."""
    from ._backend import resolve_backend

    compiled: Any
    try:
        from . import _split as compiled
    except ImportError:  # not built: the loops below give the same results
        compiled = None
    if resolve_backend(backend, compiled, "the compiled split customlabels._split is") == "python":
        return None
    return compiled


def _shuffle_members(images: Sequence[Sequence[str]], rng: random.Random
                     ) -> tuple[list[int], list[int], list[Sequence[str]], dict[str, list[int]]]:
    """Return (order, rank, distinct, members): the shuffle, each image's place in it, each
    image's labels once each, and each label's images in shuffled order (the reference of
    ``_split.shuffle_members``)."""
    n = len(images)
    order = list(range(n))
    rng.shuffle(order)
    rank = [0] * n  # each image's place in the shuffle
    for k, image in enumerate(order):
        rank[image] = k
    # each image's labels once each, in order
    distinct = [labels if len(labels) < 2 else tuple(dict.fromkeys(labels)) for labels in images]
    members: dict[str, list[int]] = defaultdict(list)  # label -> its images, in shuffled order
    for image in order:
        for label in distinct[image]:
            members[label].append(image)
    return order, rank, distinct, dict(members)


def _stratify(labels: list[str], members: dict[str, list[int]], distinct: list[Sequence[str]],
              want: dict[str, list[int]], total: list[int], test_fraction: float,
              rng: random.Random) -> list[bool]:
    """Iterative stratification: the label with the fewest unassigned images first (the
    reference of ``_split.stratify``); ``want`` and ``total`` are used up."""
    n = len(distinct)
    is_test = [False] * n
    assigned = [False] * n
    remaining = {label: len(members[label]) for label in labels}
    pending = dict.fromkeys(labels)
    while pending:
        label = min(pending, key=lambda x: (remaining[x], x))
        del pending[label]
        need = want[label]
        for image in members[label]:
            if assigned[image]:
                continue
            if need[0] != need[1]:
                side = 0 if need[0] > need[1] else 1
            elif total[0] != total[1]:
                side = 0 if total[0] > total[1] else 1
            else:
                side = 0 if rng.random() < test_fraction else 1
            assigned[image] = True
            is_test[image] = side == 0
            total[side] -= 1
            mine = distinct[image]
            if len(mine) == 1:  # the image's one label is this one
                need[side] -= 1
                remaining[label] -= 1
                continue
            for other in mine:
                want[other][side] -= 1
                remaining[other] -= 1
    return is_test


def _tested(distinct: list[Sequence[str]], labels: list[str],
            is_test: list[bool]) -> dict[str, int]:
    """Return label -> its testing images."""
    tested = dict.fromkeys(labels, 0)
    for mine in compress(distinct, is_test):
        for label in mine:
            tested[label] += 1
    return tested


def _trim(distinct: list[Sequence[str]], members: dict[str, list[int]], labels: list[str],
          is_test: list[bool], rank: list[int], tested: dict[str, int]) -> None:
    """Move testing images of labels over :data:`MAX_TEST_IMAGES_PER_LABEL` back to training.

    Multi-label images chosen for a rarer label can push a common one over the limit. An image
    moves only when each of its other labels keeps a testing image (fewest labels first, then
    the shuffle's order), so no label leaves the testing side. ``tested`` is kept up to date.
    """
    for label in labels:
        excess = tested[label] - MAX_TEST_IMAGES_PER_LABEL
        if excess <= 0:
            continue
        candidates = sorted((i for i in members[label] if is_test[i]),
                            key=lambda i: (len(distinct[i]), rank[i]))
        for image in candidates:
            if excess <= 0:
                break
            if all(tested[other] >= 2 for other in distinct[image] if other != label):
                is_test[image] = False
                for name in distinct[image]:
                    tested[name] -= 1
                excess -= 1


def _repair(distinct: list[Sequence[str]], members: dict[str, list[int]], labels: list[str],
            is_test: list[bool], rank: list[int], tested: dict[str, int]) -> list[str]:
    """Move single images until every label is on both sides; return the labels left over.

    A label all on one side takes one of its images to the other side, chosen among those whose
    other labels all keep an image on the side it leaves (fewest labels first, then the
    shuffle's order). Such moves only ever fix labels, so the loop ends. ``tested`` (label ->
    testing images) is kept up to date.
    """
    def left_on(label: str, side: bool) -> int:
        """Return the label's images on the side an image moving to ``side`` leaves."""
        return len(members[label]) - tested[label] if side else tested[label]

    failed: list[str] = []
    changed = True
    while changed:
        changed = False
        failed = []
        for label in labels:
            test = tested[label]
            if test and len(members[label]) - test:
                continue
            side = test == 0  # True: the label is all in training, move one to testing
            candidates = []
            for image in members[label]:
                if is_test[image] == side:
                    continue
                if all(label2 == label or left_on(label2, side) >= 2
                       for label2 in distinct[image]):
                    candidates.append((len(distinct[image]), rank[image], image))
            if not candidates:
                failed.append(label)
                continue
            image = min(candidates)[2]
            is_test[image] = side
            for name in distinct[image]:
                tested[name] += 1 if side else -1
            changed = True
    return failed


# --- files ------------------------------------------------------------------------------------


def _plan(source: str, test_fraction: float, seed: int, backend: str,
          progress: bool | None = False) -> _Plan:
    """Read ``source``; return the plan: group of each line, is_test per group, labels per
    group, failed. ``progress``: a bar counting the lines read (as in :func:`split`).

    A group is an image: the lines that name one source-ref (a line without one is its own
    group). Only the records are read (source-ref and labels); no line is parsed.
    """
    from .convert._common import counted, counted_batches

    kernels = _kernels(backend)
    lines = None
    if kernels is not None:
        which, batches = iter_batches(source, backend=backend, declared=True)
        batches = counted_batches(batches, Path(source).name, progress)
        keep = which == "compiled"
        # the validator's duplicate findings name each source-ref's first line: the groups
        group_of_line, group_labels, too_long, lines = kernels.group_lines(
            batches, keep, _DUPLICATE_SOURCE_REF)
    else:
        group_of_line, group_labels, too_long = _group_lines(
            counted(iter_rows(source, backend=backend), Path(source).name, progress))
    if too_long:
        raise SplitError(f"{source}:{too_long[0]}: the line is longer than "
                         f"{MAX_LINE_BYTES:,} bytes and cannot be copied "
                         "(ERROR_LINE_TOO_LONG); remove it first")
    is_test, failed = assign(group_labels, test_fraction, seed, backend=backend)
    return _Plan(group_of_line, is_test, group_labels, failed, lines)


@dataclass
class _Plan:
    """What :func:`_plan` read and chose: the group (image) of each line, is_test per group,
    labels per group, the labels that cannot be on both sides, and with the compiled loops the
    lines' verdicts, findings, source-refs and declared labels (``_split.side_scans``)."""

    group_of_line: list[int]
    is_test: list[bool]
    images: list[tuple[str, ...]]
    failed: list[str]
    lines: Any = None
    sides: bytes | None = None  # each line's side, once the compiled loops wrote them

    def side_scans(self) -> tuple[Any, Any] | None:
        """Return the scans of the training and testing sides (ScanResult), from the input's
        records, or None (the sides are then scanned from their files)."""
        if self.lines is None:
            return None
        from . import _split
        from .validation.scan import ScanResult

        if self.sides is None:
            self.sides = _split.line_sides(self.group_of_line, self.is_test)
        train, test = _split.side_scans(self.lines, self.sides, DEFAULT_MAX_LINES, _DROPPED,
                                        _DUPLICATE_SOURCE_REF)
        return ScanResult(*train), ScanResult(*test)


def _group_lines(rows: Any) -> tuple[list[int], list[tuple[str, ...]], list[int]]:
    """Return (group of each line, labels per group, lines too long to copy): the reference of
    ``_split.group_lines``."""
    group_of_line: list[int] = []
    group_labels: list[tuple[str, ...]] = []
    by_ref: dict[str, int] = {}
    too_long: list[int] = []
    for line, raw, _verdict, _findings, key, labels, _boxes in rows:
        if raw is None:
            too_long.append(line)
        group = by_ref.get(key) if key is not None else None
        if group is None:
            group = len(group_labels)
            group_labels.append(labels)
            if key is not None:
                by_ref[key] = group
        elif labels:
            group_labels[group] = tuple(dict.fromkeys(group_labels[group] + labels))
        group_of_line.append(group)
    return group_of_line, group_labels, too_long


#: Labels a refusal's detail names before it only counts the rest (the context has them all).
_SHOWN_LABELS = 20


def _refusal(code: str, source: str, images: list[tuple[str, ...]],
             failed: list[str]) -> dict[str, Any]:
    """Return the issue of a refused split: the labels that cannot be on both sides."""
    counts: dict[str, int] = {}
    for labels in images:
        for label in dict.fromkeys(labels):
            counts[label] = counts.get(label, 0) + 1
    placed = {label: counts.get(label, 0) for label in failed}
    if not counts:
        reason = "no_labeled_image"
        detail = "the manifest has no valid labeled image"
    else:
        reason = ("too_few_images" if any(n < MIN_IMAGES_PER_LABEL for n in placed.values())
                  else "not_separable")
        shown = ", ".join(f"{label!r} ({n} image{'s' * (n != 1)})"
                          for label, n in list(placed.items())[:_SHOWN_LABELS])
        more = (f" and {len(failed) - _SHOWN_LABELS} more"
                if len(failed) > _SHOWN_LABELS else "")
        detail = (f"these labels cannot be on both sides (each needs at least "
                  f"{MIN_IMAGES_PER_LABEL} images, not shared so that every label keeps one "
                  f"on each side): {shown}{more}")
    return make_issue(code, source, detail=detail,
                      context={"reason": reason, "labels": placed,
                               "min_images_per_label": MIN_IMAGES_PER_LABEL})


def _label_counts(images: list[tuple[str, ...]], is_test: list[bool]) -> dict[str, list[int]]:
    """Return label -> [training images, testing images], by label (each image's labels once)."""
    every = Counter(chain.from_iterable(images))
    tested = Counter(chain.from_iterable(compress(images, is_test)))
    return {label: [every[label] - tested[label], tested[label]] for label in sorted(every)}


def _write_sides(source: str, group_of_line: list[int], is_test: list[bool], train: Path,
                 test: Path, backend: str = "auto") -> tuple[int, int]:
    """Copy each line of ``source``, byte for byte, to its side; both files or neither.

    A block of lines at a time: each side's lines of the block are picked and joined in C (with
    the compiled loops, the lines are found and copied there too: ``_split.copy_sides``). The
    pair is replaced by :func:`replace_all`: a process killed between the two renames leaves a
    journal that the next write of either file completes. The new files are fsynced first
    (``durable``) only when one of them replaces ``source`` (``distribute``): outputs made from
    an input that stays can be made again, and the fsyncs cost a tenth of a split.
    """
    durable = same_file(train, Path(source)) or same_file(test, Path(source))
    kernels = _kernels(backend)
    if kernels is not None:
        sides = kernels.line_sides(group_of_line, is_test)
        with open(source, "rb") as stream, \
                replace_all([train, test], durable=durable) as (out_train, out_test):
            try:
                copied = kernels.copy_sides(stream, sides, out_train, out_test)
            except ValueError:
                copied = -1
            if copied != len(sides):
                raise SplitError(f"{source} changed while it was being split; run again")
        tested = sides.count(1)
        return len(sides) - tested, tested
    line_test = [is_test[group] for group in group_of_line]
    line_train = [not test for test in line_test]
    tested = sum(line_test)
    start = 0
    with open(source, "rb") as stream, \
            replace_all([train, test], durable=durable) as (out_train, out_test):
        for block in iter_line_blocks(stream):
            end = start + len(block)
            for out, keep in ((out_train, line_train), (out_test, line_test)):
                lines = list(compress(block, keep[start:end]))
                if lines:
                    out.write(b"\n".join(lines))  # type: ignore[arg-type]
                    out.write(b"\n")
            start = end
    return len(line_test) - tested, tested


def split(source: str | os.PathLike[str], output_dir: str | os.PathLike[str], *,
          test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0,
          validate: bool = True, backend: str = "auto",
          progress: bool | None = False) -> SplitResult:
    """Split a manifest into ``train.manifest`` and ``test.manifest`` in ``output_dir``.

    Refuses with ``ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT`` (in the result's
    issues, nothing written) when a label cannot be on both sides. ``OSError`` for an
    unreadable input or an unwritable directory; :class:`SplitError` for a bad fraction, an
    output that is the input, or a line too long to copy. ``backend`` reads the records and
    validates the pair (``auto``, ``compiled`` or ``python``). ``progress``: a bar counting
    the lines read, on stderr (None: when it is a terminal).
    """
    source = os.fspath(source)
    directory = Path(output_dir)
    train, test = directory / "train.manifest", directory / "test.manifest"
    for target in (train, test):
        if same_file(target, Path(source)):
            raise SplitError(f"{target} is the input manifest; it is never overwritten")
    return _split_into(source, train, test, AUTOSPLIT, test_fraction, seed, validate, backend,
                       make_dir=directory, progress=progress)


def distribute(train: str | os.PathLike[str], test: str | os.PathLike[str], *,
               test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0,
               validate: bool = True, backend: str = "auto",
               progress: bool | None = False) -> SplitResult:
    """Move ``test_fraction`` of the training manifest's entries into an empty testing one.

    Like ``DistributeDatasetEntries`` (L13843-13860): ``test`` must be missing or empty; both
    files are rewritten, both or neither (:func:`~customlabels.manifest.writer.replace_all`).
    An earlier write of the pair that was interrupted is completed or rolled back first, before
    either file is read (:func:`~customlabels.manifest.writer.recover` reports it). Refuses with
    ``ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE`` (nothing written) when a label
    cannot be on both sides. :class:`SplitError` when ``test`` holds entries. ``backend`` and
    ``progress`` as in :func:`split`.
    """
    train_path, test_path = Path(train), Path(test)
    if same_file(train_path, test_path):
        raise SplitError("the training and testing manifests are the same file")
    with edit_lock([train_path, test_path]):  # another edit of the pair waits its turn
        recover([train_path, test_path])  # the pair as one write left it, not half of it
        if _has_content(test_path):
            raise SplitError(f"{test_path} is not empty: distribute moves entries into an "
                             "empty testing manifest")
        return _split_into(os.fspath(train), train_path, test_path, DISTRIBUTE, test_fraction,
                           seed, validate, backend, progress=progress)


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
                seed: int, validate: bool, backend: str,
                make_dir: Path | None = None, progress: bool | None = False) -> SplitResult:
    """Plan the split of ``source``; refuse with ``refusal`` or write both sides and validate.

    The cyclic collector is paused: the plan keeps a few objects a line and makes a million
    short-lived ones, with no cycle among them; each collection would walk what it keeps.
    """
    from .convert._common import gc_paused

    with gc_paused():
        return _split_pair(source, train, test, refusal, test_fraction, seed, validate, backend,
                           make_dir, progress)


def _split_pair(source: str, train: Path, test: Path, refusal: str, test_fraction: float,
                seed: int, validate: bool, backend: str, make_dir: Path | None,
                progress: bool | None) -> SplitResult:
    plan = _plan(source, test_fraction, seed, backend, progress)
    group_of_line, is_test, images, failed = (plan.group_of_line, plan.is_test, plan.images,
                                              plan.failed)
    kernels = _kernels(backend)
    counts = (kernels.label_counts(images, is_test) if kernels is not None
              else _label_counts(images, is_test))
    result = SplitResult(source, labels=counts)
    if failed or not result.labels:
        return SplitResult(source, labels=result.labels,
                           issues=typed_issues([_refusal(refusal, source, images, failed)]))
    if make_dir is not None:
        make_dir.mkdir(parents=True, exist_ok=True)
    result.train_lines, result.test_lines = _write_sides(source, group_of_line, is_test, train,
                                                         test, backend)
    result.train, result.test = str(train), str(test)
    if validate:
        from .validation.pipeline import validate_files

        # the sides' scans come from the input's records where the compiled loops made the
        # plan (the files hold the same lines: the same findings); else the files are scanned
        scans = plan.side_scans()
        result.validation_doc = validate_files(
            result.train, result.test, backend=backend,
            scans=None if scans is None else {"training": scans[0], "testing": scans[1]})
    return result
