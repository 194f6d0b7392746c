"""Exit statuses, the same in every command (``customlabels --help`` lists them).

0 clean, 1 problems found, 2 usage error or unusable input, 3 internal error. Each command is run
on clean input, on faulty input, with a usage error, on an input that does not exist and on one
that cannot be read as a file (a directory), and with a function it calls made to fail.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from customlabels.cli.main import (DEBUG_VARIABLE, EXIT_BROKEN_PIPE, EXIT_INTERNAL, EXIT_OK,
                                   EXIT_PROBLEMS, EXIT_STATUS, EXIT_UNUSABLE, SUBCOMMANDS,
                                   main)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FAULTY = str(EXAMPLES / "train.manifest")  # the bundled examples hold real problems
CSV = Path(__file__).parents[1] / "convert_cases" / "csv"
S3 = "s3://my-bucket/images/"
LABELS = ("cat", "dog", "bird")  # three: remove-label leaves a dataset of two


def _line(i: int, label: str) -> str:
    return json.dumps({
        "source-ref": f"{S3}{label}{i}.jpg", "animal": LABELS.index(label),
        "animal-metadata": {"confidence": 1, "job-name": "labeling-job/animal",
                            "class-name": label, "human-annotated": "yes",
                            "creation-date": "2024-01-02T03:04:05.000",
                            "type": "groundtruth/image-classification"}})


from .conftest import HAVE_TORCH, MODEL_COMMANDS  # noqa: E402  (model_store: a fixture there)


@pytest.fixture
def data(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """Write clean inputs: a training and a testing manifest, predictions, a changes file."""
    command = request.node.callspec.params.get("command") if hasattr(
        request.node, "callspec") else None
    models: dict[str, str] = {}
    if command in MODEL_COMMANDS:
        if not HAVE_TORCH:
            pytest.skip("needs the [train] extra (torch)")
        models = request.getfixturevalue("model_store")
    train = [_line(i, label) for i in range(6) for label in LABELS]
    test = [_line(i, label) for i in range(6, 8) for label in LABELS]
    files = {"train": "train.manifest", "test": "test.manifest", "predictions": "pred.jsonl",
             "changes": "changes.jsonl"}
    paths = {key: str(tmp_path / name) for key, name in files.items()}
    Path(paths["train"]).write_text("\n".join(train) + "\n")
    Path(paths["test"]).write_text("\n".join(test) + "\n")
    Path(paths["predictions"]).write_text("".join(
        json.dumps({"source-ref": json.loads(line)["source-ref"],
                    "CustomLabels": [{"Name": json.loads(line)["animal-metadata"]["class-name"],
                                      "Confidence": 90.0}]}) + "\n" for line in test))
    Path(paths["changes"]).write_text(_line(0, "dog").replace("dog0", "cat0") + "\n")
    paths["faulty"] = str(tmp_path / "faulty.manifest")  # a copy: distribute rewrites it
    shutil.copy(FAULTY, paths["faulty"])
    paths["out"] = str(tmp_path / "out")
    if command == "report":  # what validate --output-dir wrote, of clean and faulty input
        from customlabels.validation.pipeline import validate_files

        for name, manifest in (("validation", paths["train"]),
                               ("faulty_validation", paths["faulty"])):
            paths[name] = str(tmp_path / name)
            validate_files(manifest, output_dir=paths[name])
    paths["dir"] = str(tmp_path)  # a directory where a file is expected
    paths["missing"] = str(tmp_path / "missing.manifest")
    return {**paths, **models}


#: command -> argv on clean input, with {name} from the ``data`` fixture
CLEAN = {
    "validate": "validate {train} --test {test} --output-dir {out}",
    "evaluate": "evaluate --ground-truth {test} --predictions {predictions} --output-dir {out}",
    "convert": f"convert csv {CSV / 'flowers.csv'} --s3-path {S3} -o {{out}}.manifest "
               "--no-progress",
    "export": "export csv {train} -o {out}.csv",
    "split": "split {train} --output-dir {out} --seed 1",
    "distribute": "distribute {train} {out}.manifest --in-place",
    "entries": "entries {train}",
    "labels": "labels {train}",
    "update": "update {train} --changes {changes} -o {out}.manifest",
    "describe": "describe {train}",
    "remove-label": "remove-label {train} bird -o {out}.manifest",
    "merge": "merge {train} {test} -o {out}.manifest",
    "train": "train --train {train} --test {test} --images {mirror} --store {out} "
             "--project p --epochs 1 --image-size 32 --batch-size 16 --no-pretrained --device cpu --no-progress",
    "detect": "detect --project toy --version v --store {store} --images {mirror} {test} "
              "-o {out}.jsonl --no-progress",
    "models": "models --store {store}",
    "describe-model": "describe-model toy v --store {store}",
    "export-model": "export-model toy v --store {store} -o {out}.onnx",
    "report": "report {validation} -o {out}.html",
}
#: command -> argv on faulty input, and the status: listing commands report and do not judge
FAULTY_INPUT = {
    "validate": (f"validate {FAULTY}", EXIT_PROBLEMS),
    "evaluate": (f"evaluate --ground-truth {EXAMPLES / 'test.manifest'} "
                 f"--predictions {EXAMPLES / 'predictions.jsonl'}", EXIT_PROBLEMS),
    "convert": (f"convert csv {CSV / 'faulty.csv'} --s3-path {S3} -o {{out}}.manifest "
                "--no-progress", EXIT_PROBLEMS),
    "export": (f"export coco {FAULTY} -o {{out}}.json", EXIT_PROBLEMS),
    "split": (f"split {FAULTY} --output-dir {{out}}", EXIT_PROBLEMS),
    "distribute": ("distribute {faulty} {out}.manifest --in-place", EXIT_PROBLEMS),
    "entries": (f"entries {FAULTY}", EXIT_OK),
    "labels": (f"labels {FAULTY}", EXIT_OK),
    "update": (f"update {FAULTY} --changes {{changes}} -o {{out}}.manifest", EXIT_PROBLEMS),
    "describe": (f"describe {FAULTY}", EXIT_OK),
    "remove-label": (f"remove-label {FAULTY} Echo -o {{out}}.manifest", EXIT_PROBLEMS),
    "merge": (f"merge {{train}} {EXAMPLES / 'test.manifest'} -o {{out}}.manifest",
              EXIT_PROBLEMS),
    # no image where the manifests say: the dataset fails (ERROR_FAILED_IMAGES_S3_COPY)
    "train": ("train --train {train} --test {test} --images {dir} --store {out} "
              "--project p --epochs 1 --image-size 32 --batch-size 16 --no-pretrained --device cpu --no-progress", EXIT_PROBLEMS),
    "detect": ("detect --project toy --version v --store {store} --images {dir} {test} "
               "--no-progress", EXIT_PROBLEMS),
    "models": ("models --store {store} --project nosuch", EXIT_OK),
    "describe-model": ("describe-model toy nosuch --store {store}", EXIT_UNUSABLE),
    "export-model": ("export-model toy nosuch --store {store}", EXIT_UNUSABLE),
    # the page shows the problems; it is written, which is all the command judges
    "report": ("report {faulty_validation} -o {out}.html", EXIT_OK),
}
#: command -> an argv argparse refuses
USAGE = {
    "validate": "validate {train} --max-lines 0",
    "evaluate": "evaluate --predictions {predictions}",
    "convert": "convert nosuchformat {train}",
    "export": "export coco {train}",
    "split": "split {train} --output-dir {out} --test-fraction 2",
    "distribute": "distribute {train} {out}.manifest",
    "entries": "entries {train} --has-errors --no-errors",
    "labels": "labels",
    "update": "update {train} -o {out}.manifest",
    "describe": "describe {train} --format xml",
    "remove-label": "remove-label {train} dog",
    "merge": "merge {train}",
    "train": "train --train {train} --images {dir}",
    "detect": "detect {train}",
    "models": "models --format xml",
    "describe-model": "describe-model toy",
    "export-model": "export-model toy v --format pdf",
    "report": "report {validation}",
}
#: command -> argv with the input named {bad} (a file that does not exist, or a directory)
UNUSABLE = {
    "validate": "validate {bad}",
    "evaluate": "evaluate --ground-truth {bad} --predictions {predictions}",
    "convert": "convert csv {bad} --s3-path " + S3 + " -o {out}.manifest --no-progress",
    "export": "export coco {bad} -o {out}.json",
    "split": "split {bad} --output-dir {out}",
    "distribute": "distribute {bad} {out}.manifest --in-place",
    "entries": "entries {bad}",
    "labels": "labels {bad}",
    "update": "update {train} --changes {bad} -o {out}.manifest",
    "describe": "describe {bad}",
    "remove-label": "remove-label {bad} dog -o {out}.manifest",
    "merge": "merge {train} {bad} -o {out}.manifest",
    "train": "train --train {bad} --images {dir} --project p --store {out}",
    "detect": "detect --project toy --version v --store {store} {bad}",
    "models": "models --store {bad}/store",
    "describe-model": "describe-model toy v --store {bad}/store",
    "export-model": "export-model toy v --store {bad}/store",
    "report": "report {bad} -o {out}.html",
}
#: command -> (module, function) the command calls, made to fail for the internal error
CALLS = {
    "validate": ("customlabels.cli.validate", "validate_files"),
    "evaluate": ("customlabels.metrics.evaluation", "evaluate_files"),
    "convert": ("customlabels.convert", "get_format"),
    "export": ("customlabels.convert", "export"),
    "split": ("customlabels.split", "split"),
    "distribute": ("customlabels.split", "distribute"),
    "entries": ("customlabels.dataset", "list_entries"),
    "labels": ("customlabels.dataset", "list_labels"),
    "update": ("customlabels.dataset", "update_entries"),
    "describe": ("customlabels.dataset", "describe"),
    "remove-label": ("customlabels.dataset", "remove_label"),
    "merge": ("customlabels.dataset", "merge"),
    "train": ("customlabels.train.run", "train"),
    "detect": ("customlabels.train.predict", "load_model"),
    "models": ("customlabels.store.Store", "list"),
    "describe-model": ("customlabels.store.Store", "describe"),
    "export-model": ("customlabels.train.export", "export_model"),
    "report": ("customlabels.htmlreport", "write_report"),
}


def test_every_command_is_covered() -> None:
    for table in (CLEAN, FAULTY_INPUT, USAGE, UNUSABLE, CALLS):
        assert set(table) == set(SUBCOMMANDS)


def _run(template: str, data: dict[str, str], **extra: str) -> int:
    return main(template.format(**data, **extra).split())


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_clean_input_exits_0(command: str, data: dict[str, str],
                             capsys: pytest.CaptureFixture[str]) -> None:
    status = _run(CLEAN[command], data)
    assert status == EXIT_OK, capsys.readouterr()


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_faulty_input(command: str, data: dict[str, str],
                      capsys: pytest.CaptureFixture[str]) -> None:
    template, expected = FAULTY_INPUT[command]
    status = _run(template, data)
    assert status == expected, capsys.readouterr()


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_usage_error_exits_2(command: str, data: dict[str, str],
                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _run(USAGE[command], data)
    assert exc.value.code == EXIT_UNUSABLE
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["missing", "dir"])
@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_unusable_input_exits_2(command: str, bad: str, data: dict[str, str],
                                capsys: pytest.CaptureFixture[str]) -> None:
    status = _run(UNUSABLE[command], data, bad=data[bad])
    err = capsys.readouterr().err
    assert status == EXIT_UNUSABLE, err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["validate", "split", "convert", "update"])
def test_unwritable_output_exits_2(command: str, data: dict[str, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = os.path.join(data["train"], "below-a-file")  # a path under a regular file
    status = _run(CLEAN[command], {**data, "out": out})
    assert status == EXIT_UNUSABLE, capsys.readouterr()


def _failing(*args: object, **kwargs: object) -> None:
    raise ZeroDivisionError("simulated bug")


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_internal_error_exits_3(command: str, data: dict[str, str],
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    module, name = CALLS[command]
    monkeypatch.setattr(f"{module}.{name}", _failing)
    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    status = _run(CLEAN[command], data)
    err = capsys.readouterr().err
    assert status == EXIT_INTERNAL
    assert err.startswith("customlabels: internal error: ZeroDivisionError: simulated bug; "
                          "please report it")
    assert "Traceback" not in err


def test_internal_error_traceback_with_debug(data: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("customlabels.dataset.describe", _failing)
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    assert _run(CLEAN["describe"], data) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "_failing" in err


def test_misuse_error_of_the_api_exits_2(data: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A backend asked for but not built is a usage error, not an internal one."""
    from customlabels.validation import scan

    monkeypatch.setattr(scan, "_core", None)
    assert _run("validate {train} --backend compiled", data) == EXIT_UNUSABLE
    assert "not built" in capsys.readouterr().err


def test_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["validate", "--help"], ["convert", "coco", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert EXIT_STATUS in capsys.readouterr().out


def test_readme_documents_the_exit_status() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for line in EXIT_STATUS.splitlines()[1:]:
        code = line.split()[0]
        if code.isdigit():
            assert f"| {code} |" in readme, code


def _cli(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "customlabels.cli.main", *args],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, **env})


def test_statuses_reach_the_shell(data: dict[str, str]) -> None:
    assert _cli(["validate", data["train"]]).returncode == EXIT_OK
    assert _cli(["validate", FAULTY]).returncode == EXIT_PROBLEMS
    assert _cli(["validate", data["missing"]]).returncode == EXIT_UNUSABLE
    assert _cli(["validate"]).returncode == EXIT_UNUSABLE


class _ClosedPipe(io.TextIOBase):
    """A stdout whose reader has gone (text and bytes alike)."""

    def write(self, text: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    @property
    def buffer(self) -> _ClosedPipe:
        return self


@pytest.mark.parametrize("command", ["entries {train}", "validate {train} --format json",
                                     "labels {train} --format json"])
def test_broken_pipe_exits_141(command: str, data: dict[str, str],
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """Output piped into a reader that stops early (``| head``): no traceback, 141."""
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert _run(command, data) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err in ("", f"{len(LABELS) * 6} entries\n")


def test_a_value_error_inside_convert_is_a_bug_not_a_usage_error(
        data: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Only customlabels' UsageError (a bad option) is status 2; a ValueError that escapes a
    converter is a defect (status 3). Before, every ValueError was reported as misuse."""
    from customlabels.convert import csv_labels

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("simulated bug")

    monkeypatch.setattr(csv_labels, "read_rows", broken)
    assert _run(CLEAN["convert"], data) == EXIT_INTERNAL
    assert capsys.readouterr().err.startswith(
        "customlabels: internal error: ValueError: simulated bug")
    monkeypatch.undo()
    with pytest.raises(SystemExit) as usage:  # the parser's usage error: a bad label attribute
        _run(f"convert coco {CSV.parent / 'coco' / 'instances.json'} --s3-prefix {S3} "
             "-o {out}.manifest --label-attribute source-ref", data)
    assert usage.value.code == EXIT_UNUSABLE
    assert "'source-ref' cannot be a label attribute name" in capsys.readouterr().err
