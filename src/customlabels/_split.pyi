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

def group_lines(batches: Iterable[list[Any]]
                ) -> tuple[list[int], list[tuple[str, ...]], list[int]]:
    """Return ``(group_of_line, group_labels, too_long)`` for batches of records."""
