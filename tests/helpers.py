"""What several test modules share: paths, the backends to run, and a trickling stream."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from customlabels.validation.scan import COMPILED_AVAILABLE

#: The tests folder and the repository root.
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
#: Data-driven case folders: validation rules, converters, evaluation.
CASES = TESTS / "cases"
CONVERT_CASES = TESTS / "convert_cases"
METRICS_CASES = TESTS / "metrics_cases"

#: The backends to run: the compiled one only where it is built.
BACKENDS = ["python", "compiled"] if COMPILED_AVAILABLE else ["python"]


class Trickle(io.RawIOBase):
    """A raw stream whose reads return at most ``step`` bytes, to split lines anywhere.

    Both ``readinto`` (what the compiled core uses) and ``read`` (``read(-1)`` too) give at
    most ``step`` bytes, so every chunk boundary of a reader is crossed.
    """

    def __init__(self, data: bytes, step: int):
        self.data, self.pos, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.step, len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        chunk = self.data[self.pos:self.pos + min(self.step, size if size >= 0 else self.step)]
        self.pos += len(chunk)
        return chunk


def classification_line(source_ref: str, label: str, attribute: str = "animal") -> str:
    """Return one valid image-classification JSON Line (without its newline)."""
    import json

    return json.dumps({"source-ref": source_ref, attribute: 0, f"{attribute}-metadata": {
        "confidence": 1, "job-name": f"labeling-job/{attribute}", "class-name": label,
        "human-annotated": "yes", "creation-date": "2024-01-02T03:04:05.000",
        "type": "groundtruth/image-classification"}})
