"""The fate of each line with problems (dropped, invalid, ignored, kept without a part).

``validate``'s text says, for every error, what it does to its line; these fates are read back
from the report's issues (``customlabels.validation.fates``), so they are held here to the
scanners' own verdicts, line by line, and to the summary's counts, on both backends.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from hypothesis import given

try:
    from tests import strategies as S
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    import strategies as S

from customlabels.codes import CODE_NAMES, DROPPED_CODES
from customlabels.validation import _pyscan
from customlabels.validation.fates import (DROPPED, IGNORED, INVALID, KEPT, fate_counts,
                                           fate_note, line_fates)
from customlabels.validation.pipeline import validate_files

from .test_properties import BACKENDS, BIG, scan_bytes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("backend", BACKENDS)
@S.fixed_settings(150)
@given(manifest=S.manifests(fault_rate=0.6, min_lines=1, layout=False))
def test_fates_agree_with_the_scanner_line_by_line(backend: str, manifest: S.Manifest,
                                                   tmp_path_factory: pytest.TempPathFactory
                                                   ) -> None:
    """Every line's fate, read from the report's issues, is the scanner's verdict."""
    data = manifest.to_bytes()
    path = tmp_path_factory.mktemp("fates") / "train.manifest"
    path.write_bytes(data)
    report = validate_files(str(path), max_lines=BIG, backend=backend)
    if report["summary"] is None:  # a terminal file error: no line is judged
        return
    fates = line_fates(report["issues"])
    result = scan_bytes(backend, data)
    for line, verdict, findings in result.problems:
        fate = fates.get((str(path), line))
        codes = {CODE_NAMES[code] for code, _, _ in findings}
        if verdict == _pyscan.INVALID:
            assert fate == (DROPPED if codes & DROPPED_CODES else INVALID), (line, codes)
        elif verdict == _pyscan.IGNORED:
            assert fate == IGNORED, (line, codes)
        else:  # valid: kept without a part when it has an error, else not listed
            has_error = any(c.startswith("ERROR_") for c in codes)
            assert fate == (KEPT if has_error else None), (line, codes)
    stats = report["summary"]["statistics"]["training"]
    counted = fate_counts(fates, str(path))
    assert counted[DROPPED] + counted[INVALID] == stats["invalid_json_lines"]
    assert counted[IGNORED] == stats["ignored_json_lines"]
    assert counted[KEPT] <= stats["valid_json_lines"]


def test_the_examples_fates() -> None:
    """The bundled example: two lines lose a box, one is invalid, two are dropped."""
    train = str(EXAMPLES / "train.manifest")
    fates = line_fates(validate_files(train)["issues"])
    assert {line: fate for (_, line), fate in sorted(fates.items())} == {
        4: KEPT, 6: KEPT, 8: INVALID, 10: DROPPED, 14: DROPPED, 15: IGNORED}


def test_notes_name_the_part_left_out() -> None:
    """A kept line says which part is left out; warnings and file problems get no note."""
    def issue(code: str, scope: str, severity: str = "error", line: int | None = 3) -> dict:
        return {"code": code, "scope": scope, "severity": severity, "file": "m", "line": line}

    box = issue("ERROR_INVALID_BOUNDING_BOX", "annotation")
    attribute = issue("ERROR_UNSUPPORTED_USE_CASE_TYPE", "metadata")
    label = issue("ERROR_INVALID_LABEL_NAME_LENGTH", "metadata")
    fates = line_fates([box, attribute, label])
    assert fates == {("m", 3): KEPT}
    assert fate_note(box, fates) == "box left out, line kept"
    assert fate_note(attribute, fates) == "label attribute left out, line kept"
    assert fate_note(label, fates) == "label left out, line kept"
    warning = issue("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "attribute", "warning")
    assert fate_note(warning, line_fates([warning])) == ""
    whole = issue("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", "dataset", line=None)
    assert line_fates([whole]) == {} and fate_note(whole, {}) == ""
    # an error that costs the line outweighs the box error beside it
    missing = issue("ERROR_MISSING_CLASS_MAP_ID", "annotation")
    fates = line_fates([box, missing])
    assert fate_note(box, fates) == fate_note(missing, fates) == "line invalid: not used"
    assert collections.Counter(fates.values()) == {INVALID: 1}
