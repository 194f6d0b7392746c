"""Typed stub of the split's compiled loops (``ext/_split.pyx``); the reference is in
:mod:`customlabels.split` (``_shuffle_members``, ``_stratify``, ``_group_lines``)."""

import random
from collections.abc import Iterable, Sequence
from typing import Any

def shuffle_members(images: list[Sequence[str]], rng: random.Random
                    ) -> tuple[list[int], list[int], list[Sequence[str]], dict[str, list[int]]]:
    """Return ``(order, rank, distinct, members)``: the seeded shuffle and each label's images."""

def stratify(labels: list[str], members: dict[str, list[int]], distinct: list[Sequence[str]],
             want: list[list[int]], total: list[int], test_fraction: float,
             rng: random.Random) -> list[bool]:
    """Run the iterative stratification; return ``is_test`` per image."""

def group_lines(batches: Iterable[list[Any]], keep: bool = False, duplicate: int = -1
                ) -> tuple[list[int], list[tuple[str, ...]], list[int], Any]:
    """Return ``(group_of_line, group_labels, too_long, lines)`` for batches of records."""

def side_scans(lines: tuple[Any, ...], sides: bytes, max_lines: int, dropped: frozenset[int],
               duplicate: int
               ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Return the ScanResult fields of the training and testing sides of a split."""

def line_sides(group_of_line: list[int], is_test: list[bool]) -> bytes:
    """Return each line's side (1 testing, 0 training) from its group's."""

def copy_sides(stream: Any, sides: bytes, train: Any, test: Any, chunk: int = ...) -> int:
    """Copy each line of ``stream`` to its side's file; return the number of lines."""

def label_counts(images: list[tuple[str, ...]], is_test: list[bool]) -> dict[str, list[int]]:
    """Return label -> [training images, testing images], by label."""
