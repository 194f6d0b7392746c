"""The words agree with the exit status, and with the numbers they count."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from customlabels.cli.main import main

from .test_exit_codes import (CLEAN, EXAMPLES, FAULTY_INPUT, LABELS, S3, _line,  # noqa: F401
                              data)

LISTINGS = {"entries", "labels", "describe", "detect", "models", "describe-model", "report",
            "export-model"}
GT_FAULTY = Path(__file__).parents[1] / "convert_cases" / "groundtruth" / "faulty.manifest"
IGNORED_ONLY = Path(__file__).parents[1] / "cases" / "pair_images_in_both"


def _last_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out.rstrip("\n").splitlines()[-1]


@pytest.mark.parametrize("command", sorted(set(CLEAN) - LISTINGS))
def test_closing_line_agrees_on_clean_input(command: str, data: dict[str, str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CLEAN[command].format(**data).split()) == 0
    last = _last_line(capsys)
    assert ": passed: " in last and "failed" not in last, last


@pytest.mark.parametrize("command", sorted(set(FAULTY_INPUT) - LISTINGS))
def test_closing_line_agrees_on_faulty_input(command: str, data: dict[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    template, status = FAULTY_INPUT[command]
    assert main(template.format(**data).split()) == status == 1
    last = _last_line(capsys)
    assert ": failed" in last and "passed" not in last, last


def test_validate_strict_warnings_say_failed(capsys: pytest.CaptureFixture[str]) -> None:
    train = IGNORED_ONLY / "train.manifest"
    test = IGNORED_ONLY / "test.manifest"
    assert main(["validate", str(train), "--test", str(test)]) == 0
    relaxed = _last_line(capsys)
    assert relaxed == f"{train} + {test}: passed: 0 errors, 1 warning"
    assert main(["validate", str(train), "--test", str(test), "--strict"]) == 1
    strict = _last_line(capsys)
    assert strict == f"{train} + {test}: failed (--strict: warnings fail): 0 errors, 1 warning"


def test_convert_groundtruth_with_errors_says_failed(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Lines dropped from the input fail the conversion though the manifest validates."""
    out = tmp_path / "gt.manifest"
    assert main(["convert", "groundtruth-multilabel", str(GT_FAULTY), "-o", str(out)]) == 1
    text = capsys.readouterr().out
    assert f"{out}: passed" not in text  # the validation's verdict is not the last word
    assert text.splitlines()[-1].startswith(f"{GT_FAULTY}: failed: converted, ")
    assert main(["convert", "groundtruth-multilabel", str(GT_FAULTY), "-o", str(out),
                 "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert not doc["ok"] and doc["validation"]["ok"]


def test_convert_strict_batch_says_failed(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    csv = Path(__file__).parents[1] / "convert_cases" / "csv" / "flowers.csv"
    argv = ["convert", "csv", str(csv), "--s3-prefix", S3, "--output-dir", str(tmp_path),
            "--no-progress"]
    status = main(argv)
    last = _last_line(capsys)
    assert last.startswith("passed: 1 of 1 file converted without errors") == (status == 0)


# --- grammar ------------------------------------------------------------------------------------


def test_one_entry_replaced(data: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    changes = Path(data["dir"], "one.jsonl")
    changes.write_text(_line(0, "cat") + "\n")  # an image of the manifest, relabelled
    out = data["out"] + ".manifest"
    assert main(["update", data["train"], "--changes", str(changes), "-o", out]) == 0
    assert f"{out}: 1 entry replaced, 0 added" in capsys.readouterr().out


def test_one_testing_image_without_predictions(data: dict[str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    preds = Path(data["predictions"])
    lines = preds.read_text().splitlines()
    preds.write_text("\n".join(lines[1:]) + "\n")  # the first testing image has no line
    assert main(["evaluate", "--test", data["test"], "--predictions", str(preds),
                 "--format", "json"]) == 0
    issue = next(i for i in json.loads(capsys.readouterr().out)["issues"]
                 if i["code"] == "WARNING_TEST_IMAGES_WITHOUT_PREDICTIONS")
    assert issue["context"]["images"] == 1
    assert issue["message"] == ("Testing images without a line in the predictions: 1; they "
                                "count as predicted nothing.")


def test_merge_hint_names_the_flag(data: dict[str, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = data["out"] + ".manifest"
    assert main(["merge", data["train"], data["train"], "-o", out, "--max-issues", "1"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == ("customlabels: nothing written; to keep one line of each "
                                    "image, give --on-duplicate first or last")
    assert "on_duplicate" not in err
    assert not Path(out).exists()


def test_merge_duplicate_names_the_other_file(data: dict[str, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    copy = Path(data["dir"], "copy.manifest")
    shutil.copy(data["train"], copy)
    out = data["out"] + ".manifest"
    assert main(["merge", data["train"], str(copy), "-o", out, "--format", "json"]) == 2
    issue = json.loads(capsys.readouterr().out)["issues"][0]
    assert issue["message"] == ("The source-ref value appears more than once; it was first "
                                f"used on line 1 of {data['train']}.")
    assert issue["context"] == {"source_ref": f"{S3}cat0.jpg", "first_file": data["train"],
                                "first_line": 1}


@pytest.mark.parametrize("backend", ["python", "compiled"])
def test_unterminated_string_column(backend: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from customlabels.validation.scan import COMPILED_AVAILABLE

    if backend == "compiled" and not COMPILED_AVAILABLE:
        pytest.skip("compiled core not built")
    good = _line(1, "cat")
    path = tmp_path / "cut.manifest"
    path.write_text("\n".join([_line(0, "dog"), good[:30], good]) + "\n")  # in a string
    assert main(["validate", str(path), "--backend", backend]) == 1
    out = capsys.readouterr().out
    assert (f"{path}:2: ERROR_INVALID_JSON_LINE The JSON Line has an invalid format. "
            "(Unterminated string starting at column ") in out
    assert "at at" not in out


def test_unterminated_string_in_predictions(data: dict[str, str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    preds = Path(data["predictions"])
    lines = preds.read_text().splitlines()
    preds.write_text("\n".join([lines[0][:30], *lines[1:]]) + "\n")
    main(["evaluate", "--test", data["test"], "--predictions", str(preds), "--format", "json"])
    issues = json.loads(capsys.readouterr().out)["issues"]
    detail = next(i["detail"] for i in issues if i["line"] == 1 and i["file"] == str(preds))
    assert "Unterminated string starting at column " in detail and "at at" not in detail


def test_singular_line_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.manifest"
    path.write_text(_line(0, "cat") + "\n")
    main(["validate", str(path)])
    assert f"training: {path}: IMAGE_LEVEL_LABELS, 1 line: " in capsys.readouterr().out
