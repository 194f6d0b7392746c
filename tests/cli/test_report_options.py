"""--max-issues N (per code, then an "N more" line) and --quiet, on every report command."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from customlabels.cli.main import main

from .test_exit_codes import FAULTY, FAULTY_INPUT, data  # noqa: F401 - data is a fixture

#: A problem line, compiler style (``customlabels: `` before it on standard error).
PROBLEM = re.compile(r"^(?:customlabels: )?\S+?(?::\d+)?: ([A-Z][A-Z0-9]*_[A-Z0-9_]+) ")
#: The listing commands print data, not problems.
LISTINGS = {"entries", "labels", "describe", "detect", "models", "describe-model", "report",
            "export-model"}
REPORTS = sorted(c for c in FAULTY_INPUT if c not in LISTINGS)
OFF_FRAME = 30  # lines with a box off the image


def _box_line(i: int, left: int) -> str:
    return json.dumps({
        "source-ref": f"s3://my-echo-dataset/images/IMG_{i:04d}.jpg",
        "bounding-box": {"image_size": [{"width": 640, "height": 480, "depth": 3}],
                         "annotations": [{"class_id": 0, "top": 52, "left": left,
                                          "width": 114, "height": 147}]},
        "bounding-box-metadata": {"objects": [{"confidence": 1}], "class-map": {"0": "Echo"},
                                  "type": "groundtruth/object-detection",
                                  "human-annotated": "yes",
                                  "creation-date": "2024-03-11T09:12:36.315",
                                  "job-name": "labeling-job/echo-devices"}})


@pytest.fixture
def many(tmp_path: Path) -> str:
    """A detection manifest: 200 good lines, 30 with a box off the right edge."""
    lines = [_box_line(i, 600 if i % 8 == 0 else 297) for i in range(8 * OFF_FRAME)]
    path = tmp_path / "many.manifest"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _codes(text: str) -> Counter[str]:
    return Counter(m.group(1) for line in text.splitlines() if (m := PROBLEM.match(line)))


def _out(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_validate_caps_each_code(many: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", many, "--max-issues", "5"]) == 1
    out = _out(capsys)
    assert _codes(out)["ERROR_INVALID_BOUNDING_BOX"] == 5
    assert (f"... ERROR_INVALID_BOUNDING_BOX: {OFF_FRAME} in all, {OFF_FRAME - 5} more not "
            "shown (--max-issues 0 shows all, --format json has all)") in out.splitlines()
    assert out.splitlines()[-1] == f"{many}: failed: {3 * OFF_FRAME} errors, 0 warnings"  # 3 a line


def test_validate_default_cap_and_all(many: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", many]) == 1
    assert _codes(_out(capsys))["ERROR_INVALID_BOUNDING_BOX"] == 10
    assert main(["validate", many, "--max-issues", "0"]) == 1
    out = _out(capsys)
    assert _codes(out)["ERROR_INVALID_BOUNDING_BOX"] == OFF_FRAME
    assert "more not shown" not in out


def test_validate_quiet(many: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", many, "--quiet"]) == 1
    lines = _out(capsys).splitlines()
    assert _codes("\n".join(lines)) == Counter()
    assert lines == [f"training: {many}: OBJECT_LOCALIZATION, 240 lines: 210 valid, "
                     "30 invalid, 0 ignored", f"{many}: failed: 90 errors, 0 warnings"]


def test_json_is_never_capped(many: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", many, "--format", "json", "--max-issues", "1", "--quiet"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert sum(i["code"] == "ERROR_INVALID_BOUNDING_BOX" for i in doc["issues"]) == OFF_FRAME


def test_github_is_capped_with_a_notice(many: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", many, "--format", "github", "--max-issues", "3"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("::error ") for line in lines) == 3 * 3  # three codes
    assert sum("title=ERROR_INVALID_BOUNDING_BOX::" in line for line in lines) == 3 + 1
    assert lines[-3] == ("::notice title=ERROR_INVALID_BOUNDING_BOX::"
                         f"ERROR_INVALID_BOUNDING_BOX: {OFF_FRAME} in all, {OFF_FRAME - 3} more "
                         "not shown (--max-issues 0 shows all, --format json has all)")
    assert main(["validate", many, "--format", "github", "--quiet"]) == 1
    assert capsys.readouterr().out == ""


def test_convert_caps_each_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV with 30 rows that lost their image name: one code, 30 times."""
    csv = tmp_path / "rows.csv"
    csv.write_text("".join(f"img{i}.jpg,{('cat', 'dog')[i % 2]}\n,dog\n" for i in range(30)))
    out_manifest = str(tmp_path / "rows.manifest")
    argv = ["convert", "csv", str(csv), "--s3-prefix", "s3://my-bucket/images/", "-o",
            out_manifest]
    assert main([*argv, "--max-issues", "2"]) == 1
    first = _out(capsys)
    assert _codes(first)["CSV_EMPTY_IMAGE"] == 2
    assert "... CSV_EMPTY_IMAGE: 30 in all, 28 more not shown" in first
    assert main([*argv, "--quiet"]) == 1
    assert _codes(_out(capsys)) == Counter()


@pytest.mark.parametrize("command", REPORTS)
def test_every_report_command_caps_and_quiets(command: str, data: dict[str, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    template, expected = FAULTY_INPUT[command]
    argv = template.format(**data).split()

    def run(*extra: str) -> str:
        if command == "distribute":  # it rewrites its inputs: fresh ones for each run
            shutil.copy(FAULTY, data["faulty"])
            Path(data["out"] + ".manifest").unlink(missing_ok=True)
        assert main([*argv, *extra]) == expected
        return _out(capsys)

    everything = _codes(run("--max-issues", "0"))
    assert everything, "the faulty input reports problems"
    capped = run("--max-issues", "1")
    assert _codes(capped) == Counter(dict.fromkeys(everything, 1))
    for code, n in everything.items():
        if n > 1:
            assert f"... {code}: {n} in all, {n - 1} more not shown" in capped
    quiet = run("--quiet")
    assert _codes(quiet) == Counter()
    assert "more not shown" not in quiet
