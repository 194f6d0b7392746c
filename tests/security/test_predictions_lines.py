"""A predictions line that is too deep or repeats a key is that line's error; the run goes on."""

from __future__ import annotations

import json
from pathlib import Path

import customlabels

TEST = Path(__file__).parents[1] / "cases" / "valid_classification" / "test.manifest"


def _refs() -> list[str]:
    return [json.loads(line)["source-ref"] for line in TEST.read_text().splitlines()]


def _codes(result: customlabels.EvaluationResult) -> dict[int | None, list[str]]:
    out: dict[int | None, list[str]] = {}
    for issue in result.issues:
        if issue.file.endswith(".jsonl"):
            out.setdefault(issue.line, []).append(issue.code)
    return out


def test_a_deep_line_is_its_own_error(tmp_path: Path) -> None:
    refs = _refs()
    lines = [json.dumps({"source-ref": refs[0], "CustomLabels": [{"Name": "cat",
                                                                 "Confidence": 90.0}]}),
             '{"source-ref": "%s", "CustomLabels": %s%s}' % (refs[1], "[" * 2000, "]" * 2000)]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("\n".join(lines) + "\n")
    result = customlabels.evaluate(TEST, predictions)  # raised RecursionError
    assert _codes(result)[2] == ["ERROR_INVALID_PREDICTIONS_LINE"]
    assert any("nested more than" in (i.detail or "") for i in result.issues)
    assert 1 not in _codes(result)  # the good line was evaluated


def test_a_repeated_key_is_refused_as_in_manifests(tmp_path: Path) -> None:
    refs = _refs()
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(
        '{"source-ref": "%s", "CustomLabels": [{"Name": "cat", "Name": "dog", '
        '"Confidence": 90}]}\n'
        '{"source-ref": "%s", "source-ref": "%s", "CustomLabels": []}\n'
        '{"source-ref": "%s", "CustomLabels": [{"Name": "a:b", "Confidence": 90}]}\n'
        % (refs[0], refs[1], refs[1], refs[1]))
    result = customlabels.evaluate(TEST, predictions)
    details = {i.line: i.detail for i in result.issues if i.file.endswith(".jsonl")}
    assert details[1] == "duplicate key 'Name'"
    assert details[2] == "duplicate key 'source-ref'"
    # a colon inside a name is no duplicate (the line's other findings are warnings)
    assert "ERROR_INVALID_PREDICTIONS_LINE" not in _codes(result).get(3, [])
