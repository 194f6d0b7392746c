"""The error catalogue: generated files are current, codes are well formed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from customlabels.codes import CODES, render_codes_pxi, render_errors_md

ROOT = Path(__file__).resolve().parents[1]


def test_errors_md_is_current() -> None:
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == render_errors_md(), (
        "docs/errors.md is stale: run `python -m customlabels.codes .`")


def test_codes_pxi_is_current() -> None:
    assert (ROOT / "ext" / "_codes.pxi").read_text(encoding="utf-8") == render_codes_pxi(), (
        "ext/_codes.pxi is stale: run `python -m customlabels.codes .`")


def test_every_code_has_an_anchor() -> None:
    text = render_errors_md()
    for name in CODES:
        assert f'<a id="{name.lower()}"></a>' in text


def test_codes_are_well_formed() -> None:
    for name, code in CODES.items():
        assert code.message and code.hint
        if code.raised_by == "convert":  # a converter's problem: ours, no prefix, no line effect
            assert re.fullmatch(r"[A-Z][A-Z0-9_]+", name) and not name.startswith(
                ("ERROR_", "WARNING_")), name
            assert code.project and code.severity in ("error", "warning")
            assert code.scope in ("file", "item") and not code.tier and not code.effect
            continue
        assert re.fullmatch(r"(ERROR|WARNING)_[A-Z0-9_]+", name)
        assert code.severity == ("warning" if name.startswith("WARNING_") else "error")
        assert code.guide


GUIDE = ROOT.parent / "shared" / "seed" / "rekognition-custom-labels-guide.txt"


@pytest.mark.skipif(not GUIDE.exists(), reason=f"the guide is not beside the checkout ({GUIDE})")
def test_codes_are_spelled_as_the_guide_spells_them() -> None:
    guide_text = GUIDE.read_text(encoding="utf-8")
    for name, code in CODES.items():
        if code.raised_by != "convert" and not code.project:
            assert name in guide_text, name


def test_codes_are_appended_in_blocks() -> None:
    """Codes are append-only: the converters' rows joined the table at its end, in one block
    after the 55 codes before them, and the image checks' codes after the converters'."""
    from customlabels.codes import CODE_NAMES, CONVERTER_CODES

    assert CODE_NAMES.index("ERROR_EVALUATION_OUTPUT_NOT_WRITABLE") == 54
    assert CODE_NAMES[55:55 + len(CONVERTER_CODES)] == CONVERTER_CODES
    assert CODE_NAMES[55 + len(CONVERTER_CODES):] == (
        "WARNING_IMAGE_SIZE_MISMATCH", "WARNING_IMAGE_ORIENTATION", "WARNING_IMAGE_EXTENSION")


def test_convert_md_table_is_current() -> None:
    from customlabels.codes import generated_part, render_convert_md

    text = (ROOT / "docs" / "convert.md").read_text(encoding="utf-8")
    assert generated_part(text) == render_convert_md(), (
        "docs/convert.md is stale: run `python -m customlabels.codes .`")
