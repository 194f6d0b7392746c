"""One key rule for every converter: names joined to an S3 prefix (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import customlabels
from customlabels.convert._common import image_key

PREFIX = "s3://my-bucket/x/"


def _coco(tmp_path: Path, names: list[str], image_ids: list[object] | None = None,
          categories: list[object] | None = None) -> customlabels.ConversionResult:
    doc = {"images": [{"id": i + 1, "file_name": n, "width": 100, "height": 100}
                      for i, n in enumerate(names)],
           "annotations": [{"id": i + 1, "image_id": (image_ids or [])[i]
                            if image_ids and i < len(image_ids) else i + 1, "category_id": 1,
                            "bbox": [1, 1, 10, 10]} for i in range(len(names))],
           "categories": categories or [{"id": 1, "name": "cat"}]}
    source = tmp_path / "instances.json"
    source.write_text(json.dumps(doc))
    return customlabels.convert_file("coco", source, tmp_path / "out.manifest", s3_prefix=PREFIX)


def _csv(tmp_path: Path, names: list[str]) -> customlabels.ConversionResult:
    source = tmp_path / "labels.csv"
    source.write_text("".join(f"{n},cat\n" for n in names))
    return customlabels.convert_file("csv", source, tmp_path / "out.manifest", s3_path=PREFIX)


def _refs(tmp_path: Path) -> list[str]:
    out = tmp_path / "out.manifest"
    return [json.loads(line)["source-ref"] for line in out.read_text().splitlines()] \
        if out.exists() else []


@pytest.mark.parametrize("convert", [_coco, _csv])
def test_a_leading_slash_is_a_path_from_the_prefix(tmp_path: Path, convert: object) -> None:
    convert(tmp_path, ["/abs.jpg", "ok.jpg"])  # type: ignore[operator]
    assert _refs(tmp_path) == [PREFIX + "abs.jpg", PREFIX + "ok.jpg"]  # CSV gave x//abs.jpg


@pytest.mark.parametrize("bad", ["/", "folder/", "../up.jpg", "a/../b.jpg", "a//b.jpg",
                                 "./a.jpg", "a\x01.jpg"])
@pytest.mark.parametrize("convert", [_coco, _csv])
def test_bad_names_are_refused_alike(tmp_path: Path, convert: object, bad: str) -> None:
    result = convert(tmp_path, [bad, "ok.jpg"])  # type: ignore[operator]
    codes = [i.code for i in result.issues if i.severity == "error"]
    assert codes == (["COCO_BAD_IMAGE"] if convert is _coco else ["SOURCE_REF_INVALID"])
    assert _refs(tmp_path) == [PREFIX + "ok.jpg"]


def test_the_rule() -> None:
    assert image_key("//a/b.jpg") == ("a/b.jpg", "")
    assert image_key("a b/ü.jpg") == ("a b/ü.jpg", "")
    assert image_key("..")[0] is None and image_key("")[0] is None


def test_a_float_image_id_matches_no_image(tmp_path: Path) -> None:
    result = _coco(tmp_path, ["a.jpg"], image_ids=[1.0])
    assert "COCO_UNKNOWN_IMAGE" in [i.code for i in result.issues]


def test_a_category_that_is_not_an_object_says_so(tmp_path: Path) -> None:
    result = _coco(tmp_path, ["a.jpg"], categories=[{"id": 1, "name": "cat"}, "dog"])
    details = [i.detail for i in result.issues if i.code == "COCO_BAD_CATEGORY"]
    assert details == ["not an object"]
