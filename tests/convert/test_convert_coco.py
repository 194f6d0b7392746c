"""COCO <-> manifest: the contract, the guide's mapping and script, the box rule, faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from customlabels.convert import _common, coco, convert, export

from tests.convert_cases import guide_scripts
from .convert_contract import CASES, DATE, ConverterContract, codes, manifest_lines, without_dates

COCO = CASES / "coco"
PREFIX = "s3://custom-labels-bucket/images/"


def _by_file(doc: dict[str, Any]) -> dict[str, Any]:
    """Return file_name -> (width, height, sorted boxes with category names)."""
    names = {c["id"]: c["name"] for c in doc["categories"]}
    out: dict[str, Any] = {}
    for img in doc["images"]:
        out[img["file_name"]] = [img["width"], img["height"], []]
    ids = {img["id"]: img["file_name"] for img in doc["images"]}
    for ann in doc["annotations"]:
        if not ann.get("iscrowd"):
            out[ids[ann["image_id"]]][2].append((ann["category_id"], names[ann["category_id"]],
                                                 tuple(ann["bbox"])))
    return {k: (w, h, sorted(b)) for k, (w, h, b) in out.items()}


class TestCocoContract(ConverterContract):
    fmt = "coco"
    sample = COCO / "instances.json"
    options = {"s3_prefix": PREFIX}
    export_options = {"s3_prefix": PREFIX}
    bad_inputs = [
        (COCO / "faulty.json", {}, {
            "COCO_DUPLICATE_FILE_NAME", "COCO_DUPLICATE_IMAGE_ID", "COCO_BAD_IMAGE",
            "IMAGE_DIMENSION", "COCO_UNKNOWN_IMAGE", "COCO_UNKNOWN_CATEGORY",
            "COCO_BAD_ANNOTATION", "BOX_VANISHED", "BOX_TOO_SMALL", "LABEL_NAME_LENGTH",
            "COCO_DUPLICATE_CATEGORY_ID", "COCO_BAD_CATEGORY", "COCO_NO_ANNOTATIONS",
            "DATE_FALLBACK"}),
        (COCO / "too_many_boxes.json", {}, {"TOO_MANY_BOXES"}),
        (COCO / "truncated.json", {}, {"INPUT_NOT_JSON"}),
        (COCO / "no_annotations_list.json", {}, {"COCO_MISSING_SECTION"}),
        (COCO / "instances.json", {"s3_prefix": "s3://UPPER_case/"}, {"S3_PREFIX_INVALID"}),
        (COCO / "instances.json", {"s3_prefix": None}, {"COCO_NO_S3_LOCATION"}),
    ]

    def same_content(self, original: Path, exported: Path) -> None:
        before = _by_file(json.loads(original.read_text()))
        after = _by_file(json.loads(exported.read_text()))
        assert after == before  # same images, same boxes, same category ids and names
        dates = {i["file_name"]: i["date_captured"]
                 for i in json.loads(exported.read_text())["images"]}
        assert dates["000000245915.jpg"] == "2013-11-18 02:53:27"


def test_lines_equal_the_guide_script(tmp_path: Path) -> None:
    """Issue 3.5: the same keys and values, in the same order, as the guide's script."""
    result = convert("coco", COCO / "instances.json", tmp_path / "m.manifest",
                     s3_prefix=PREFIX, job_name="my job")
    ours = manifest_lines(result.output)
    theirs = guide_scripts.coco_script(str(COCO / "instances.json"), PREFIX, "my job")
    assert ours == theirs  # creation-date included: both come from date_captured
    assert [list(line) for line in ours] == [list(line) for line in theirs]
    assert [list(line["bounding-box-metadata"]) for line in ours] == [
        list(line["bounding-box-metadata"]) for line in theirs]


def test_guide_example_line(tmp_path: Path) -> None:
    """The guide's mapping example (L3887-3931): image 245915 with echo and echo dot."""
    result = convert("coco", COCO / "instances.json", tmp_path / "m.manifest", s3_prefix=PREFIX,
                     job_name="my job")
    line = manifest_lines(result.output)[1]
    assert line["source-ref"] == PREFIX + "000000245915.jpg"
    assert line["bounding-box"]["image_size"] == [{"width": 640, "depth": 3, "height": 480}]
    assert line["bounding-box"]["annotations"] == [
        {"left": 399, "top": 251, "width": 155, "height": 101, "class_id": 0},
        {"left": 86, "top": 65, "width": 220, "height": 334, "class_id": 1}]
    assert line["bounding-box-metadata"]["class-map"] == {"0": "echo", "1": "echo dot"}
    assert line["bounding-box-metadata"]["objects"] == [{"confidence": 1}] * 2
    assert line["bounding-box-metadata"]["creation-date"] == "2013-11-18T02:53:27"


@pytest.mark.parametrize("box, size, expected", [
    ((19.23, 383.18, 314.5, 244.46), (426, 640), (19, 383, 315, 245)),  # the guide's float box
    ((19.23, 383.18, 314.5, 244.46), (640, 480), (19, 383, 315, 97)),  # clipped at the bottom
    ((10, 20, 30, 40), (640, 480), (10, 20, 30, 40)),  # integers unchanged
    ((0.5, 0.49, 1.0, 1.0), (640, 480), (1, 0, 1, 1)),  # halves up
    ((-3.2, 470.0, 20.0, 30.0), (640, 480), (0, 470, 17, 10)),  # clipped left and bottom
    ((639.6, 10.0, 5.0, 5.0), (640, 480), (640, 10, 0, 5)),  # vanishes: right of the image
])
def test_pixel_box(box: tuple[float, ...], size: tuple[int, int],
                   expected: tuple[int, ...]) -> None:
    assert _common.pixel_box(*box, *size) == expected


def test_faulty_file_reports_each_problem_in_place(tmp_path: Path) -> None:
    result = convert("coco", COCO / "faulty.json", tmp_path / "m.manifest", s3_prefix=PREFIX,
                     creation_date=DATE)
    where = {(p.code, p.path) for p in result.issues}
    assert ("COCO_DUPLICATE_FILE_NAME", "$.images[5]") in where
    assert ("COCO_DUPLICATE_IMAGE_ID", "$.images[6].id") in where
    assert ("COCO_BAD_IMAGE", "$.images[7]") in where
    assert ("COCO_BAD_IMAGE", "$.images[11]") in where  # not an object
    assert ("IMAGE_DIMENSION", "$.images[8]") in where
    assert ("COCO_UNKNOWN_IMAGE", "$.annotations[7].image_id") in where
    assert ("COCO_UNKNOWN_CATEGORY", "$.annotations[8].category_id") in where
    assert ("COCO_BAD_ANNOTATION", "$.annotations[10].bbox") in where
    assert ("BOX_VANISHED", "$.annotations[11].bbox") in where
    assert ("BOX_TOO_SMALL", "$.annotations[12].bbox") in where
    assert ("LABEL_NAME_LENGTH", "$.categories[3].name") in where
    assert ("COCO_DUPLICATE_CATEGORY_ID", "$.categories[4]") in where
    assert ("COCO_BAD_CATEGORY", "$.categories[5]") in where
    assert result.stats["crowd_skipped"] == 1
    assert result.stats["boxes_clipped"] >= 1
    date = next(p for p in result.issues if p.code == "DATE_FALLBACK")
    assert date.context["images"] == 2 and date.context["creation_date"] == DATE
    context = {p.code: p.context for p in result.issues}
    assert context["COCO_DUPLICATE_FILE_NAME"]["first_index"] < 5
    assert context["LABEL_NAME_LENGTH"]["length"] > context["LABEL_NAME_LENGTH"]["maximum"]
    assert context["BOX_TOO_SMALL"]["index"] == 12 and context["BOX_TOO_SMALL"]["scale_side"]
    assert context["COCO_UNKNOWN_IMAGE"]["index"] == 7
    lines = {line["source-ref"]: line for line in manifest_lines(result.output)}
    # the clipped box of image 1: 600.4 + 80.3 -> right edge 680.7 clipped to 640
    boxes = lines[PREFIX + "000000000001.jpg"]["bounding-box"]["annotations"]
    assert {"left": 600, "top": 401, "width": 40, "height": 26, "class_id": 0} in boxes
    assert lines[PREFIX + "no-date.jpg"]["bounding-box-metadata"]["creation-date"] == DATE
    assert not result.ok and result.validation.ok  # input errors; the output validates
    assert result.errors and all(p.severity == "warning" for p in result.warnings)


def test_too_many_boxes_skip_or_keep_largest(tmp_path: Path) -> None:
    skip = convert("coco", COCO / "too_many_boxes.json", tmp_path / "a.manifest",
                   s3_prefix=PREFIX)
    assert [line["source-ref"] for line in manifest_lines(skip.output)] == [PREFIX + "calm.jpg"]
    assert skip.ok  # a warning: the input is fine, the service's limit is not
    largest = convert("coco", COCO / "too_many_boxes.json", tmp_path / "b.manifest",
                      s3_prefix=PREFIX, too_many_boxes="largest")
    first = manifest_lines(largest.output)[0]["bounding-box"]["annotations"]
    assert len(first) == 50 and min(b["height"] for b in first) == 11  # the 10x10 box went
    assert "TOO_MANY_BOXES" in codes(largest)


def test_crowd_included_on_request(tmp_path: Path) -> None:
    result = convert("coco", COCO / "faulty.json", tmp_path / "m.manifest", s3_prefix=PREFIX,
                     include_crowd=True)
    assert result.stats["crowd_skipped"] == 0


def test_coco_url_as_source_ref(tmp_path: Path) -> None:
    doc = json.loads((COCO / "instances.json").read_text())
    for img in doc["images"]:
        img["coco_url"] = "s3://my-coco-bucket/val2017/" + img["file_name"]
    source = tmp_path / "s3urls.json"
    source.write_text(json.dumps(doc))
    result = convert("coco", source, tmp_path / "m.manifest")
    assert result.ok
    assert manifest_lines(result.output)[0]["source-ref"] == \
        "s3://my-coco-bucket/val2017/000000242287.jpg"


def test_bad_options_raise() -> None:
    with pytest.raises(ValueError):
        coco.convert(COCO / "instances.json", too_many_boxes="drop")
    with pytest.raises(ValueError):
        coco.convert(COCO / "instances.json", label_attribute="x-metadata")


def test_export_reports_invalid_and_classification_lines(tmp_path: Path) -> None:
    manifest = tmp_path / "mixed.manifest"
    good = convert("coco", COCO / "instances.json", tmp_path / "g.manifest", s3_prefix=PREFIX)
    lines = Path(good.output).read_text().splitlines()
    lines.append('{"source-ref": "s3://custom-labels-bucket/images/c.jpg", "cat": 1, '
                 '"cat-metadata": {"confidence": 1, "class-name": "cat", "human-annotated": '
                 '"yes", "creation-date": "2020-01-01T00:00:00", "type": '
                 '"groundtruth/image-classification"}}')
    lines.append("{not json")
    manifest.write_text("\n".join(lines) + "\n")
    result = export("coco", manifest, tmp_path / "out.json")
    assert codes(result) == ["MANIFEST_LINE_INVALID", "MANIFEST_LINE_NOT_EXPORTED"]
    assert result.issues[0].line == 7 and not result.ok
    assert result.issues[0].context == {"codes": ["ERROR_INVALID_JSON_LINE"]}
    assert result.issues[1].context["lines"] >= 1
    doc = json.loads((tmp_path / "out.json").read_text())
    assert len(doc["images"]) == 5 and doc["categories"][0] == {
        "id": 0, "name": "echo", "supercategory": ""}


def test_export_renumbers_conflicting_class_ids(tmp_path: Path) -> None:
    line = ('{{"source-ref": "s3://bucket/x/{n}.jpg", "bb": {{"image_size": [{{"width": 100, '
            '"height": 100, "depth": 3}}], "annotations": [{{"class_id": {cid}, "left": 1, '
            '"top": 1, "width": 50, "height": 50}}]}}, "bb-metadata": {{"objects": '
            '[{{"confidence": 1}}], "class-map": {{"{cid}": "{name}"}}, "type": '
            '"groundtruth/object-detection", "human-annotated": "yes", "creation-date": '
            '"2020-01-01T00:00:00"}}}}')
    manifest = tmp_path / "m.manifest"
    manifest.write_text("\n".join([line.format(n=1, cid=0, name="cat"),
                                   line.format(n=2, cid=0, name="dog")]) + "\n")
    export("coco", manifest, tmp_path / "o.json")
    doc = json.loads((tmp_path / "o.json").read_text())
    assert [(c["id"], c["name"]) for c in doc["categories"]] == [(1, "cat"), (2, "dog")]
    assert [a["category_id"] for a in doc["annotations"]] == [1, 2]
    assert [i["file_name"] for i in doc["images"]] == ["1.jpg", "2.jpg"]


def test_float_boxes_round_trip_within_a_pixel(tmp_path: Path) -> None:
    doc = json.loads((COCO / "instances.json").read_text())
    doc["annotations"][0]["bbox"] = [19.23, 383.18, 314.5, 244.46]
    source = tmp_path / "floats.json"
    source.write_text(json.dumps(doc))
    first = convert("coco", source, tmp_path / "m.manifest", s3_prefix=PREFIX)
    export("coco", first.output, tmp_path / "back.json")
    back = json.loads((tmp_path / "back.json").read_text())
    box = next(a["bbox"] for a in back["annotations"] if a["image_id"] == 1)
    assert all(abs(a - b) <= 1 for a, b in zip(box, [19.23, 383.18, 314.5, 244.46]))
    assert without_dates(manifest_lines(first.output))[0]["bounding-box"]["annotations"][0] == {
        "left": 19, "top": 383, "width": 315, "height": 245, "class_id": 0}


def test_nothing_to_write(tmp_path: Path) -> None:
    source = tmp_path / "none.json"
    source.write_text(json.dumps({"images": [{"id": 1, "width": 20, "height": 20,
                                              "file_name": "tiny.jpg"}],
                                  "annotations": [], "categories": []}))
    target = tmp_path / "m.manifest"
    result = convert("coco", source, target, s3_prefix=PREFIX)
    assert codes(result) == ["IMAGE_DIMENSION", "NOTHING_TO_WRITE"]
    assert result.output is None and not target.exists()


def test_every_problem_kind_is_tested_and_documented() -> None:
    """Problem codes are API: each appears in a converter test and in docs/convert.md."""
    from customlabels.codes import CONVERTER_CODES, generated_part, render_convert_md

    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_convert_*.py"))
    tests += (Path(__file__).parent / "convert_contract.py").read_text()
    assert [k for k in CONVERTER_CODES if f'"{k}"' not in tests] == []
    docs = (Path(__file__).parents[2] / "docs" / "convert.md").read_text(encoding="utf-8")
    assert generated_part(docs) == render_convert_md(), (
        "docs/convert.md is stale: run `python -m customlabels.codes .`")
