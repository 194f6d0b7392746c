"""Dataset operations on manifests: entries, labels, update, describe, remove-label, merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from customlabels import dataset
from customlabels.cli.main import main

from .test_split import BUCKET, classification_line, detection_line, write

GUIDE = Path(__file__).parent / "cases" / "guide_examples" / "train.manifest"


def sample(tmp_path: Path) -> Path:
    """A realistic mixed manifest: labels, boxes, one bad box, one invalid line, one ignored."""
    lines = [
        classification_line(0, ["cat", "indoor"]),
        classification_line(1, ["dog"]),
        detection_line(2, [(0, "car"), (1, "bus"), (0, "car")]),
        detection_line(3, [(1, "bus")]),
        '{"source-ref": "' + BUCKET + '00004.jpg"}',  # ignored: unannotated
        "{not json",  # invalid, dropped at import
        classification_line(1, ["dog"]),  # duplicate source-ref, dropped
    ]
    # line 8: a box off the frame next to a good one: the line is valid, it has an error
    bad = json.loads(detection_line(7, [(0, "car"), (0, "car")]))
    bad["bb"]["annotations"][1]["left"] = 630
    lines.append(json.dumps(bad))
    return write(tmp_path / "data.manifest", lines)


def test_list_entries_filters(tmp_path: Path) -> None:
    path = sample(tmp_path)
    every = list(dataset.list_entries(path))
    assert [r.line for r, _ in every] == list(range(1, 9))
    errors = [r.line for r, _ in dataset.list_entries(path, has_errors=True)]
    assert errors == [6, 7, 8]
    assert [r.line for r, _ in dataset.list_entries(path, has_errors=False)] == [1, 2, 3, 4, 5]
    assert [r.line for r, _ in dataset.list_entries(path, labels=["bus"])] == [3, 4]
    assert [r.line for r, _ in dataset.list_entries(path, source_ref_contains="00001")] == [2, 7]
    # entries with errors carry them, as a validation manifest line does
    _, line = next(x for x in dataset.list_entries(path, has_errors=True) if x[0].line == 8)
    obj = json.loads(line)
    assert obj["bb"]["annotations"][1]["errors"][0]["code"] == "ERROR_INVALID_BOUNDING_BOX"


def test_list_labels_counts_images_and_boxes(tmp_path: Path) -> None:
    stats = {s.name: (s.images, s.boxes) for s in dataset.list_labels(sample(tmp_path))}
    # car: lines 3 (2 boxes) and 8 (1 usable box of 2)
    assert stats == {"bus": (2, 2), "car": (2, 3), "cat": (1, 0), "dog": (1, 0),
                     "indoor": (1, 0)}


def test_describe(tmp_path: Path) -> None:
    stats = dataset.describe(sample(tmp_path)).to_dict()
    assert stats == {"LabeledEntries": 5, "TotalEntries": 6, "TotalLabels": 5,
                     "ErrorEntries": 1, "DroppedLines": 2}


def test_update_replaces_then_appends(tmp_path: Path) -> None:
    path = write(tmp_path / "m.manifest", [classification_line(i, ["cat"]) for i in range(3)])
    changes = write(tmp_path / "changes.jsonl", [classification_line(1, ["dog"]),
                                                 classification_line(9, ["dog"])])
    result = dataset.update_entries(path, changes)
    assert (result.replaced, result.added) == (1, 1) and result.ok
    lines = path.read_text().splitlines()
    assert lines[1] == classification_line(1, ["dog"]) and lines[3] == \
        classification_line(9, ["dog"])
    assert lines[0] == classification_line(0, ["cat"])  # untouched lines byte for byte


def test_update_refuses_bad_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "m.manifest", [classification_line(0, ["cat"])])
    before = path.read_bytes()
    ref = f"{BUCKET}00001.jpg"
    for body, expected in (
            (['{"cat": 1}'], [("ERROR_MISSING_SOURCE_REF", 1, None, {"source_ref": None})]),
            (['{"source-ref": "x"}'], [("ERROR_INVALID_SOURCE_REF_FORMAT", 1,
                                        "$['source-ref']", {"source_ref": "x"})]),
            ([classification_line(1, ["a"]), "{bad"],
             [("ERROR_INVALID_JSON_LINE", 2, None, None)]),
            ([classification_line(1, ["a"]), classification_line(1, ["b"])],
             [("ERROR_DUPLICATE_SOURCE_REF", 2, "$['source-ref']",
               {"source_ref": ref, "first_line": 1})]),
            # every unusable line is named, not only the first
            (['{"cat": 1}', classification_line(1, ["a"]), "{bad"],
             [("ERROR_MISSING_SOURCE_REF", 1, None, {"source_ref": None}),
              ("ERROR_INVALID_JSON_LINE", 3, None, None)])):
        changes = write(tmp_path / "changes.jsonl", body)
        result = dataset.update_entries(path, changes)
        assert result.output is None and not result.ok and result.validation is None
        assert [(i.code, i.line, i.path, None if i.code == "ERROR_INVALID_JSON_LINE"
                 else i.context) for i in result.issues] == expected
        assert all(i.file == str(changes) for i in result.issues)
        assert path.read_bytes() == before
    assert "reason" in result.issues[1].context
    with pytest.raises(dataset.DatasetError, match="never overwritten"):
        dataset.update_entries(path, path)


def test_remove_label_consistently(tmp_path: Path) -> None:
    path = sample(tmp_path)
    out = tmp_path / "out.manifest"
    result = dataset.remove_label(path, "car", output=out)
    assert result.details == {"boxes_removed": 4, "attributes_removed": 0,
                              "class_map_entries_removed": 2}
    lines = out.read_text().splitlines()
    third = json.loads(lines[2])
    assert third["bb"]["annotations"] == [{"class_id": 1, "left": 10, "top": 10, "width": 50,
                                           "height": 50}]
    assert third["bb-metadata"]["objects"] == [{"confidence": 1}]
    assert third["bb-metadata"]["class-map"] == {"1": "bus"}
    assert lines[5] == "{not json"  # lines it cannot read are copied as they are
    assert {s.name for s in dataset.list_labels(out)} == {"bus", "cat", "dog", "indoor"}
    cls = dataset.remove_label(out, "indoor")
    assert cls.details["attributes_removed"] == 1 and cls.output == str(out)
    assert "indoor" not in out.read_text()
    with pytest.raises(dataset.DatasetError, match="no line has the label 'zebra'"):
        dataset.remove_label(out, "zebra")


def test_merge(tmp_path: Path) -> None:
    a = write(tmp_path / "a.manifest", [classification_line(0, ["cat"]),
                                        classification_line(1, ["dog"])])
    b = write(tmp_path / "b.manifest", [classification_line(1, ["wolf"]),
                                        classification_line(2, ["cat"])])
    refused = dataset.merge([a, b], tmp_path / "m.manifest")
    assert refused.output is None and not (tmp_path / "m.manifest").exists()
    assert [(i.code, i.file, i.line) for i in refused.issues] == [
        ("ERROR_DUPLICATE_SOURCE_REF", str(b), 1)]
    assert refused.issues[0].context == {"source_ref": f"{BUCKET}00001.jpg",
                                         "first_file": str(a), "first_line": 2}
    first = dataset.merge([a, b], tmp_path / "first.manifest", on_duplicate="first")
    assert "wolf" not in Path(first.output).read_text() and first.removed == 1
    last = dataset.merge([a, b], tmp_path / "last.manifest", on_duplicate="last")
    lines = Path(last.output).read_text().splitlines()
    assert lines[1] == classification_line(1, ["wolf"]) and len(lines) == 3
    assert last.validation is not None and last.validation.ok and last.issues == []
    with pytest.raises(dataset.DatasetError, match="never overwritten"):
        dataset.merge([a, b], a)


def test_over_long_lines_are_refused_not_lost(tmp_path: Path) -> None:
    path = write(tmp_path / "m.manifest", [classification_line(0, ["cat"]),
                                           '{"x": "' + "a" * 500_000 + '"}'])
    with pytest.raises(dataset.DatasetError, match="m.manifest:2: the line is longer"):
        dataset.remove_label(path, "cat")


def test_guide_example_manifest(tmp_path: Path) -> None:
    """The guide's own example lines (tests/cases/guide_examples) describe without surprise."""
    stats = dataset.describe(GUIDE)
    assert stats.TotalEntries >= stats.LabeledEntries > 0


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sample(tmp_path)
    assert main(["entries", str(path), "--has-errors"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3 and "3 entries" in captured.err
    assert main(["entries", str(path), "--label", "dog", "--label", "cat"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["labels", str(path)]) == 0
    assert "car          2       3" in capsys.readouterr().out
    assert main(["labels", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0] == {
        "Label": "bus", "LabelStats": {"EntryCount": 2, "BoundingBoxCount": 2}}
    assert main(["describe", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["DatasetStats"]["ErrorEntries"] == 1
    changes = write(tmp_path / "c.jsonl", [classification_line(50, ["cat"])])
    assert main(["update", str(path), "--changes", str(changes), "-o",
                 str(tmp_path / "u.manifest")]) == 1  # the dataset has errors: validated
    assert "0 entries replaced, 1 added" in capsys.readouterr().out
    assert main(["remove-label", str(path), "zebra", "--in-place"]) == 2
    assert "no line has the label" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # rewriting an input takes an explicit --in-place
        main(["remove-label", str(path), "cat"])
    assert exc.value.code == 2
    good = write(tmp_path / "g.manifest", [classification_line(0, ["cat"]),
                                           classification_line(1, ["dog", "bird"]),
                                           classification_line(2, ["bird"])])
    assert main(["remove-label", str(good), "dog", "-o", str(tmp_path / "r.manifest")]) == 0
    assert main(["merge", str(good), str(good), "-o", str(tmp_path / "mm.manifest")]) == 2
    assert "ERROR_DUPLICATE_SOURCE_REF" in capsys.readouterr().err
    assert main(["merge", str(good), str(good), "-o", str(tmp_path / "mm.manifest"),
                 "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["output"] is None and [i["context"]["first_line"] for i in doc["issues"]] == [
        1, 2, 3]
    assert main(["merge", str(good), str(good), "-o", str(tmp_path / "mm.manifest"),
                 "--on-duplicate", "first"]) == 0
    assert main(["describe", str(tmp_path / "missing.manifest")]) == 2
