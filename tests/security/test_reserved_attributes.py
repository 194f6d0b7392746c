"""--label-attribute never takes a key that means something else in a manifest line (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from customlabels.cli.main import main

CASES = Path(__file__).parents[1] / "cases"
RESERVED = ["source-ref", "errors", "warnings", "bounding-box-metadata", "x-metadata", ""]


def _commands(tmp_path: Path) -> dict[str, list[str]]:
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("s3://my-bucket/a.jpg,cat,1,1,10,10,100,100\n")
    coco = tmp_path / "instances.json"
    coco.write_text('{"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}], '
                    '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, '
                    '"bbox": [1, 1, 10, 10]}], "categories": [{"id": 1, "name": "cat"}]}')
    labels = str(CASES / "valid_classification" / "train.manifest")
    out = str(tmp_path / "out.manifest")
    return {
        "convert csv-boxes": ["convert", "csv-boxes", str(boxes), "-o", out],
        "convert coco": ["convert", "coco", str(coco), "--s3-prefix", "s3://my-bucket/", "-o",
                         out],
        "export groundtruth-multilabel": ["export", "groundtruth-multilabel", labels, "-o", out],
    }


@pytest.mark.parametrize("name", RESERVED)
@pytest.mark.parametrize("command", ["convert csv-boxes", "convert coco",
                                     "export groundtruth-multilabel"])
def test_a_reserved_label_attribute_is_refused(tmp_path: Path, command: str, name: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = _commands(tmp_path)[command] + ["--label-attribute", name]
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's usage error
        status = int(exc.code or 0)
    assert status == 2
    assert "cannot be a label attribute name" in capsys.readouterr().err
    assert not (tmp_path / "out.manifest").exists()


def test_an_ordinary_attribute_name_still_works(tmp_path: Path) -> None:
    argv = _commands(tmp_path)["convert csv-boxes"] + ["--label-attribute", "my-boxes"]
    assert main(argv) == 0
    assert '"my-boxes":' in (tmp_path / "out.manifest").read_text()
