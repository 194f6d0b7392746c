"""The validate command: output formats, exit statuses, several manifests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from customlabels.cli.main import main

CASES = Path(__file__).parents[1] / "cases"
GOOD = str(CASES / "valid_classification" / "train.manifest")
GOOD_TEST = str(CASES / "valid_classification" / "test.manifest")
BOXES = str(CASES / "bounding_boxes" / "train.manifest")
IGNORED_ONLY = str(CASES / "pair_images_in_both" / "train.manifest")


def test_good_pair_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", GOOD, "--test", GOOD_TEST]) == 0
    out = capsys.readouterr().out
    assert "passed: 0 errors, 0 warnings" in out
    assert "training: " in out and "IMAGE_LEVEL_LABELS, 4 lines: 4 valid" in out


def test_errors_exit_one_with_compiler_style_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", BOXES]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"{BOXES}:4: ERROR_INVALID_BOUNDING_BOX The bounding box has off frame "
                      "values. - at $['bounding-box'].annotations[1] [box left out, line kept]")
    assert f"{BOXES}:11: WARNING_NO_ANNOTATIONS No annotations were found." in out


EXAMPLES = Path(__file__).parents[2] / "examples"


def test_text_says_which_lines_are_dropped_and_which_keep_their_boxes(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's example: five ERROR lines, three invalid: each error says why."""
    monkeypatch.chdir(EXAMPLES.parent)
    assert main(["validate", "examples/train.manifest"]) == 1
    notes = {line.split(":")[1]: line.rsplit(" [", 1)[1] for line in
             capsys.readouterr().out.splitlines() if " ERROR_" in line}
    assert notes == {"4": "box left out, line kept]", "6": "box left out, line kept]",
                     "8": "line invalid: not used]", "10": "line dropped from the dataset]",
                     "14": "line dropped from the dataset]"}
    assert main(["validate", "examples/train.manifest", "--quiet"]) == 1
    assert ("training: examples/train.manifest: OBJECT_LOCALIZATION, 15 lines: 11 valid (2 of "
            "them without a faulty box or label), 3 invalid (2 dropped), 1 ignored"
            ) in capsys.readouterr().out.splitlines()


def test_one_file_as_both_roles_counts_without_parentheses(
        capsys: pytest.CaptureFixture[str]) -> None:
    train = str(EXAMPLES / "train.manifest")
    main(["validate", train, "--test", train, "--quiet"])
    stats = [line for line in capsys.readouterr().out.splitlines() if ", 15 lines: " in line]
    assert len(stats) == 2 and all(line.endswith("11 valid, 3 invalid, 1 ignored")
                                   for line in stats)


def test_warnings_pass_unless_strict(capsys: pytest.CaptureFixture[str]) -> None:
    test = str(CASES / "pair_images_in_both" / "test.manifest")
    assert main(["validate", IGNORED_ONLY, "--test", test]) == 0
    assert main(["validate", IGNORED_ONLY, "--test", test, "--strict"]) == 1


def test_json_format_is_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    from customlabels import ValidationReport

    assert main(["validate", BOXES, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    report = ValidationReport.model_validate(doc)
    assert ValidationReport.model_validate(report.model_dump(mode="json")) == report
    assert report.summary is not None
    assert report.summary.statistics.training.invalid_json_lines == 4


def test_github_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", BOXES, "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"::error file={BOXES},line=4,title=ERROR_INVALID_BOUNDING_BOX::"
                        "The bounding box has off frame values. - at "
                        "$['bounding-box'].annotations[1] [box left out, line kept]")
    assert any(line.startswith("::warning ") for line in lines)


def test_several_manifests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", GOOD, BOXES, "--output-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{GOOD}: passed" in out and f"{BOXES}: failed" in out
    # both are named train.manifest: each gets its folder under the folder they share
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert written == [f"{case}/train.manifest/{name}" for case in
                       ("bounding_boxes", "valid_classification") for name in
                       ("manifest_summary.json", "training_manifest_with_validation.json")]


def test_several_manifests_of_one_name_never_share_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """x.manifest and ../x.manifest wrote both results into multi/x.manifest/ (issue 9)."""
    (tmp_path / "sub").mkdir()
    for place in (tmp_path, tmp_path / "sub"):
        (place / "x.manifest").write_bytes(Path(GOOD).read_bytes())
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["validate", "x.manifest", "../x.manifest", "--output-dir", "../multi"]) == 0
    written = sorted(p.relative_to(tmp_path / "multi").as_posix()
                     for p in (tmp_path / "multi").rglob("manifest_summary.json"))
    assert written == ["sub/x.manifest/manifest_summary.json", "x.manifest/manifest_summary.json"]
    # one file named twice is refused before anything is written
    assert main(["validate", "x.manifest", "./x.manifest", "--output-dir", "../twice"]) == 2
    assert "are the same manifest" in capsys.readouterr().err
    assert not (tmp_path / "twice").exists()


def test_usage_errors_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["validate", GOOD, BOXES, "--test", GOOD_TEST])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["validate", GOOD, "--max-lines", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["validate"])
    assert exc.value.code == 2


def test_file_errors_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.manifest")]) == 2  # unusable input
    captured = capsys.readouterr()
    assert "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT" in captured.err
    assert "Traceback" not in captured.err


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "customlabels"
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    done = subprocess.run([str(exe), "validate", BOXES, "--max-lines", "5"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from customlabels.cli.main import SUBCOMMANDS

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
