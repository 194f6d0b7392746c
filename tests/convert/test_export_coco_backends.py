"""export coco: the compiled core's fast path writes the bytes the Python loop writes.

With the compiled core, the records of valid lines carry the numbers of their boxes and
``_core.CocoLines`` writes their images and annotations; every other line goes through the
Python loop. These tests hold the two to the same output byte for byte, on lines chosen to sit
on every edge between them: floats that are whole and floats that are not, dates in and out of
the plain form, escapes, several attributes, boxes with findings, conflicting class ids (the
ranked restart), a label orjson cannot write (the ASCII restart).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from customlabels.convert import export

from tests.helpers import COMPILED_AVAILABLE

pytestmark = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="needs the compiled core")

DET = "groundtruth/object-detection"


def _det(ref: str, boxes: list[dict[str, Any]], names: dict[str, str], *, date: Any = "x",
         attr: str = "bounding-box", size: tuple[Any, Any] = (640, 480),
         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"objects": [{"confidence": 1} for _ in boxes], "class-map": names,
                            "type": DET, "human-annotated": "yes", "job-name": "j"}
    if date == "x":
        meta["creation-date"] = "2019-04-19T00:51:04.188"
    elif date is not None:
        meta["creation-date"] = date
    line = {"source-ref": ref, attr: {"image_size": [{"width": size[0], "height": size[1],
                                                      "depth": 3}],
                                      "annotations": boxes},
            f"{attr}-metadata": meta}
    line.update(extra or {})
    return line


def _box(cid: Any, left: Any, top: Any, width: Any, height: Any) -> dict[str, Any]:
    return {"class_id": cid, "left": left, "top": top, "width": width, "height": height}


def _random_lines(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    names = {str(i): f"label {i}" for i in range(12)}
    out = []
    for k in range(n):
        boxes = [_box(c, rnd.randint(0, 300), rnd.randint(0, 200), rnd.randint(5, 300),
                      rnd.randint(5, 250)) for c in rnd.choices(range(12), k=rnd.randint(1, 9))]
        out.append(json.dumps(_det(f"s3://bucket/data/img-{k:05d}.jpg", boxes, names)))
    return out


def _edge_lines() -> list[str]:
    names = {"0": "cat", "1": "dog", "7": "caf\u00e9 \u732b"}
    ok = [_box(0, 10, 20, 30, 40), _box(1, 0, 0, 640, 480)]
    lines: list[Any] = [
        _det("s3://bucket/data/a.jpg", ok, names),
        # whole floats are written as integers; one with a fraction goes to Python
        _det("s3://bucket/data/b.jpg", [_box(0, 10.0, 2e1, 30.0, 4E1)], names),
        _det("s3://bucket/data/c.jpg", [_box(1, 10.5, 20, 30, 40)], names),
        _det("s3://bucket/data/d.jpg", [_box(0, -0.0, 0, 30, 40)], names),
        _det("s3://bucket/data/e.jpg", [_box(7, 1, 2, 3, 4)], names, size=(640.0, 480.0)),
        # dates: plain with and without a fraction, a space, a zone, impossible, odd, absent
        _det("s3://bucket/data/f1.jpg", ok, names, date="2020-02-29 23:59:59"),
        _det("s3://bucket/data/f2.jpg", ok, names, date="2020-02-29T23:59:59.123456"),
        _det("s3://bucket/data/f3.jpg", ok, names, date="2020-02-29T23:59:59.1234567"),
        _det("s3://bucket/data/f4.jpg", ok, names, date="2019-04-19T00:51:04+02:00"),
        _det("s3://bucket/data/f5.jpg", ok, names, date="2019-04-19T00:51:04Z"),
        _det("s3://bucket/data/f6.jpg", ok, names, date="2019-02-29T00:00:00"),
        _det("s3://bucket/data/f7.jpg", ok, names, date="2019-04-19"),
        _det("s3://bucket/data/f8.jpg", ok, names, date=" 2019-04-19T00:51:04"),
        _det("s3://bucket/data/f9.jpg", ok, names, date=20190419),
        _det("s3://bucket/data/f10.jpg", ok, names, date=None),
        _det("s3://bucket/data/f11.jpg", ok, names, date="0001-01-01T00:00:00"),
        _det("s3://bucket/data/f12.jpg", ok, names, date="2019-13-01T00:00:00"),
        # two detection attributes and a classification one on one line
        _det("s3://bucket/data/g.jpg", ok, names, extra={
            "second": {"image_size": [{"width": 100, "height": 100, "depth": 3}],
                       "annotations": [_box(1, 5, 5, 50, 50)]},
            "second-metadata": {"objects": [{"confidence": 1}], "class-map": {"1": "dog"},
                                "type": DET, "human-annotated": "yes",
                                "creation-date": "2001-01-01T00:00:00", "job-name": "j"},
            "kind": 0,
            "kind-metadata": {"confidence": 1, "class-name": "pet", "human-annotated": "yes",
                              "creation-date": "2001-01-01T00:00:00", "job-name": "j",
                              "type": "groundtruth/image-classification"}}),
        # a box off the frame (findings: the usable boxes only), and a box too small
        _det("s3://bucket/data/h.jpg", [*ok, _box(0, 600, 400, 100, 100)], names),
        _det("s3://bucket/data/i.jpg", [*ok, _box(1, 0, 0, 1, 1)], names),
        # a number only Python's strtod reads (the merge checks that line again)
        _det("s3://bucket/data/j.jpg", [_box(0, 10.000000000000000000000001, 1, 2, 3)],
             names),
        # a huge class id (past 18 digits) with its class-map entry
        _det("s3://bucket/data/k.jpg", [_box(10**20, 1, 1, 20, 20)], {str(10**20): "big"}),
        # source-refs that need escapes in JSON, non-ASCII ones
        _det('s3://bucket/data/quote"d.jpg', ok, names),
        _det("s3://bucket/data/\u00fcber.jpg", ok, names),
    ]
    text = [json.dumps(x) if isinstance(x, dict) else x for x in lines]
    # escapes in the line: a key spelled with one, a type with one
    text.append(text[0].replace('"bounding-box"', '"\\u0062ounding-box"', 1)
                .replace("a.jpg", "esc1.jpg"))
    text.append(text[0].replace("object-detection", "object\\u002ddetection", 1)
                .replace("a.jpg", "esc2.jpg"))
    text.append(text[0].replace("a.jpg", "a.jpg"))  # a duplicate source-ref: invalid
    text.append("{not json")
    text.append('{"source-ref": "s3://bucket/data/none.jpg"}')  # ignored
    text.append(json.dumps({"source-ref": "s3://bucket/data/cls.jpg", "kind": 0,
                            "kind-metadata": {"confidence": 1, "class-name": "pet",
                                              "human-annotated": "yes",
                                              "creation-date": "2001-01-01T00:00:00",
                                              "job-name": "groundtruth/object-detection",
                                              "type": "groundtruth/image-classification"}}))
    return text


def _export_both(tmp_path: Path, lines: list[str]) -> tuple[bytes, Any]:
    manifest = tmp_path / "in.manifest"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    outputs, results = [], []
    for backend in ("python", "compiled"):
        target = tmp_path / f"{backend}.json"
        result = export("coco", manifest, target, backend=backend)
        outputs.append(target.read_bytes())
        results.append([(i.code, i.line, i.context) for i in result.issues])
    assert outputs[0] == outputs[1]
    assert results[0] == results[1]
    return outputs[1], results[1]


def test_edges_give_the_same_bytes(tmp_path: Path) -> None:
    data, issues = _export_both(tmp_path, _random_lines(300, 1) + _edge_lines())
    doc = json.loads(data)
    by_name = {i["file_name"]: i for i in doc["images"]}
    assert by_name["f1.jpg"]["date_captured"] == "2020-02-29 23:59:59"
    assert by_name["f4.jpg"]["date_captured"] == "2019-04-18 22:51:04"  # to UTC
    assert by_name["f6.jpg"]["date_captured"] == ""  # no such day
    assert by_name["e.jpg"]["width"] == 640 and isinstance(by_name["e.jpg"]["width"], int)
    assert {"esc1.jpg", "esc2.jpg", 'quote"d.jpg', "\u00fcber.jpg"} <= set(by_name)
    # a creation-date that is not a string, or none: invalid lines; then the duplicate and
    # the line that is not JSON; the ignored and classification lines are not exported
    assert [(c, ctx.get("codes")) for c, _, ctx in issues] == [
        ("MANIFEST_LINE_INVALID", ["ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"]),
        ("MANIFEST_LINE_INVALID", ["ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"]),
        ("MANIFEST_LINE_INVALID", ["ERROR_DUPLICATE_SOURCE_REF"]),
        ("MANIFEST_LINE_INVALID", ["ERROR_INVALID_JSON_LINE"]),
        ("MANIFEST_LINE_NOT_EXPORTED", None)]
    assert issues[-1][2]["lines"] == 2


def test_the_fast_path_takes_the_plain_lines(tmp_path: Path) -> None:
    """Which lines carry numbers (written by the core) and which the Python loop writes."""
    from customlabels.manifest.records import iter_batches

    manifest = tmp_path / "in.manifest"
    manifest.write_text("\n".join(_edge_lines()) + "\n", encoding="utf-8")
    which, batches = iter_batches(manifest, numbers=True)
    assert which == "compiled"
    numbered = {row[4].rsplit("/", 1)[1]: row[7] is not None
                for rows in batches for row in rows if len(row) == 8 and row[4]}
    fast = {"a.jpg", "b.jpg", "d.jpg", "e.jpg", "f1.jpg", "f2.jpg", "f11.jpg", "g.jpg",
            "j.jpg", 'quote"d.jpg', "\u00fcber.jpg", "esc1.jpg", "esc2.jpg"}
    assert {name for name, has in numbered.items() if has} == fast
    assert {"c.jpg", "f3.jpg", "f4.jpg", "f6.jpg", "h.jpg", "i.jpg", "k.jpg"} <= set(numbered)


def test_conflicting_class_ids_restart_ranked(tmp_path: Path) -> None:
    lines = _random_lines(50, 2)
    lines.append(json.dumps(_det("s3://bucket/data/z.jpg", [_box(3, 1, 1, 20, 20)],
                                 {"3": "another name"})))
    data, _ = _export_both(tmp_path, lines + _random_lines(20, 3))
    doc = json.loads(data)
    assert [c["id"] for c in doc["categories"]] == list(range(1, len(doc["categories"]) + 1))


def test_a_label_orjson_cannot_write(tmp_path: Path) -> None:
    line = json.dumps(_det("s3://bucket/data/s.jpg", [_box(0, 1, 1, 20, 20)], {"0": "x"}))
    lines = _random_lines(20, 4) + [line.replace('"x"', '"\\ud800"')]
    data, _ = _export_both(tmp_path, lines)
    assert data.isascii()  # the whole file written by json, ASCII
