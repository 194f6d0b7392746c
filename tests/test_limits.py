"""Every limit is defined once, in ``customlabels.limits``; the core's copy is generated from it.

The test reads ``src/`` and ``ext/`` as text: a second definition of a limit (an assignment or
an enum member whose value is one of the limits') or a limit's number written into a catalogue
message fails it, naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from customlabels import limits
from customlabels.codes import CODES, GENERATED, render_limits_pxi

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "customlabels"
#: Files that may hold the numbers: the table itself and what is generated from it.
OWNERS = {SRC / "limits.py", ROOT / "ext" / "_limits.pxi", ROOT / "ext" / "_codes.pxi"}
#: ``NAME = 50`` / ``NAME: int = 50`` in Python, ``NAME = 50`` inside a Cython enum, ``DEF``.
ASSIGNMENT = re.compile(r"^\s*(?:DEF\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*[\w\[\], |]+)?=\s*"
                        r"([0-9][0-9_]*(?:\.[0-9]+)?|1\s*<<\s*30)\s*(?:#.*)?$")


#: Names that say "a limit": other constants (a batch size of 1000, 20 rows shown) may share a
#: limit's number without being one.
LIMIT_NAME = re.compile(r"^_*(MAX|MIN|DEFAULT)_[A-Z0-9_]+$|^_*[A-Z0-9_]+_(SHARE|SIDE|THRESHOLD|LIMIT)$")


def _value(text: str) -> float:
    text = text.replace("_", "").replace(" ", "")
    return 1 << 30 if text == "1<<30" else float(text)


def _limit_values() -> dict[float, list[str]]:
    """Return each value that only a limit has, with the names that have it."""
    by_value: dict[float, list[str]] = {}
    for name, value in limits.values().items():
        by_value.setdefault(float(value), []).append(name)
    # 1 and 2 are too common to mean a limit when assigned elsewhere (MIN_LABEL_NAME,
    # MIN_LABELS_*, MIN_IMAGES_PER_LABEL); their uses are covered by the names themselves.
    return {v: names for v, names in by_value.items() if v not in (1.0, 2.0)}


def _sources() -> list[Path]:
    files = [*SRC.rglob("*.py"), *ROOT.glob("ext/*.pyx"), *ROOT.glob("ext/*.pxi"),
             *ROOT.glob("ext/*.pxd"), *ROOT.glob("ext/*.h")]
    return sorted(f for f in files if f not in OWNERS)


def test_each_limit_is_defined_once() -> None:
    values = _limit_values()
    names = set(limits.values())
    second = []
    for path in _sources():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = ASSIGNMENT.match(line)
            if not match:
                continue
            name, value = match.group(1), _value(match.group(2))
            if name in names or (LIMIT_NAME.match(name) and value in values):
                second.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()} "
                              f"(customlabels.limits has {', '.join(values.get(value, [name]))})")
    assert not second, "limits defined outside customlabels.limits:\n" + "\n".join(second)


def test_the_scanners_and_converters_import_the_limits() -> None:
    """The modules that apply a limit take it from the table (no copy under another name)."""
    for module in ("validation/_pyscan.py", "validation/dataset.py", "validation/pipeline.py",
                   "manifest/reader.py", "manifest/schema.py", "manifest/jsonline.py",
                   "convert/_common.py", "split.py"):
        text = (SRC / module).read_text(encoding="utf-8")
        assert "from ..limits import" in text or "from .limits import" in text, module


def test_messages_name_limits_instead_of_numbers() -> None:
    """Catalogue texts are written with {NAME} fields: no limit's number in the templates."""
    source = (SRC / "codes.py").read_text(encoding="utf-8")
    numbers = {"50", "256", "1280", "4096", "1000", "250", "100,000", "250,000", "500,000",
               "1,073,741,824", "20%"}
    offending = [f"codes.py:{n}: {line.strip()}"
                 for n, line in enumerate(source.splitlines(), 1)
                 if line.lstrip().startswith('"') and any(
                     re.search(rf"(?<![\w.,-]){re.escape(num)}(?![\w,])", line.split("L")[0]
                               if '", "L' in line else line) for num in numbers)]
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize(("code", "expected"), [
    ("ERROR_TOO_MANY_LABELS_PER_IMAGE", "The image has more than 50 labels."),
    ("ERROR_LINE_TOO_LONG", "The JSON Line is longer than 100,000 characters."),
    ("ERROR_INVALID_LABEL_NAME_LENGTH",
     "The length of a label name is too long. The maximum length is 256 characters."),
])
def test_messages_render_the_limits(code: str, expected: str) -> None:
    assert CODES[code].format() == expected


def test_limits_pxi_is_current() -> None:
    assert (ROOT / "ext" / "_limits.pxi").read_text(encoding="utf-8") == render_limits_pxi(), (
        "ext/_limits.pxi is stale: run `python -m customlabels.codes .`")


def test_every_generated_file_is_current() -> None:
    for path, render in GENERATED.items():
        assert (ROOT / path).read_text(encoding="utf-8") == render(), (
            f"{path} is stale: run `python -m customlabels.codes .`")


def test_compiled_limits_are_integers_of_the_table() -> None:
    for name in limits.COMPILED:
        assert isinstance(getattr(limits, name), int), name
