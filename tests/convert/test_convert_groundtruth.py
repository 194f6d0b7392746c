"""Ground Truth multi-label <-> manifest: the contract, the guide's script, faults."""

from __future__ import annotations

import json
from pathlib import Path

from customlabels.convert import convert

from tests.convert_cases import guide_scripts
from .convert_contract import CASES, DATE, ConverterContract, manifest_lines

GT = CASES / "groundtruth"


def _labels(path: Path) -> list[tuple[str, list[tuple[str, float]]]]:
    """Return (source-ref, sorted (class name, confidence)) of each Ground Truth line."""
    out = []
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        attr = next(k for k in obj if k + "-metadata" in obj)
        meta = obj[attr + "-metadata"]
        out.append((obj["source-ref"], sorted((meta["class-map"][str(i)],
                                               meta["confidence-map"][str(i)])
                                              for i in obj[attr])))
    return out


class TestGroundTruthContract(ConverterContract):
    fmt = "groundtruth-multilabel"
    sample = GT / "output.manifest"
    bad_inputs = [(GT / "faulty.manifest", {}, {
        "SOURCE_REF_DUPLICATE", "GT_MISSING_KEY", "GT_BAD_VALUE", "GT_NO_MULTILABEL_ATTRIBUTE",
        "INPUT_INVALID_JSON_LINE", "SOURCE_REF_INVALID", "DATE_FALLBACK"})]

    def same_content(self, original: Path, exported: Path) -> None:
        assert _labels(exported) == _labels(original)

    def comparable(self, lines: list[dict]) -> list:
        # the attribute names come from the Ground Truth job's name, which a manifest does not
        # keep: compare each image's labels, confidences and flags instead
        out = []
        for line in lines:
            metas = sorted((m["class-name"], m["confidence"], m["human-annotated"],
                            m["creation-date"]) for k, m in line.items() if k.endswith("-metadata"))
            out.append((line["source-ref"], metas))
        return out


def test_lines_equal_the_guide_script(tmp_path: Path) -> None:
    """Issue 3.5: the script's keys and values, in the same order (creation-date copied too)."""
    ours = manifest_lines(convert("groundtruth-multilabel", GT / "output.manifest",
                                  tmp_path / "m.manifest").output)
    theirs = guide_scripts.groundtruth_script(str(GT / "output.manifest"))
    assert ours == theirs
    assert [list(x) for x in ours] == [list(x) for x in theirs]
    assert [list(x["sport0-metadata"]) for x in ours] == [list(x["sport0-metadata"])
                                                          for x in theirs]


def test_each_faulty_line_is_reported_by_number(tmp_path: Path) -> None:
    result = convert("groundtruth-multilabel", GT / "faulty.manifest", tmp_path / "m.manifest",
                     creation_date=DATE)
    by_line = {p.line: p.code for p in result.issues if p.line is not None}
    assert by_line == {2: "SOURCE_REF_DUPLICATE", 3: "GT_MISSING_KEY", 4: "GT_MISSING_KEY",
                       5: "GT_MISSING_KEY", 6: "GT_BAD_VALUE", 7: "GT_BAD_VALUE",
                       8: "GT_BAD_VALUE", 9: "GT_NO_MULTILABEL_ATTRIBUTE",
                       10: "INPUT_INVALID_JSON_LINE", 11: "SOURCE_REF_INVALID"}
    missing = next(p for p in result.issues if p.line == 4)
    assert missing.path == "$['sport-metadata']['class-map']['4']"
    assert missing.context == {"key": "class-map", "class_id": "4"}
    duplicate = next(p for p in result.issues if p.line == 2)
    assert duplicate.context["first_line"] == 1
    lines = manifest_lines(result.output)
    assert [x["source-ref"].rsplit("/", 1)[1] for x in lines] == ["img001.jpg", "img018.jpg"]
    assert lines[1]["sport0-metadata"]["creation-date"] == DATE  # the fallback
    assert result.stats["input_lines"] == 12
