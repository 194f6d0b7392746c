"""The public API: ``__all__`` against the module, the exceptions, the version, the README's calls."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import customlabels
from customlabels import errors

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
INIT = Path(customlabels.__file__)
#: Names every module has that are not API (from __future__ import annotations, the guard).
NOT_API = {"annotations", "TYPE_CHECKING"}


def _public_names() -> set[str]:
    """Return the module's public attributes, every lazy one loaded, submodules left out."""
    for name in customlabels.__all__:
        getattr(customlabels, name)
    return {name for name, value in vars(customlabels).items()
            if not name.startswith("_") and name not in NOT_API
            and not (isinstance(value, ModuleType) and not callable(value))}


def test_all_is_sorted_and_unique() -> None:
    assert customlabels.__all__ == sorted(set(customlabels.__all__))


def test_all_matches_the_module() -> None:
    """Every name of ``__all__`` resolves; every public name is in ``__all__``."""
    for name in customlabels.__all__:
        assert getattr(customlabels, name) is not None, name
    assert _public_names() == set(customlabels.__all__) - {"__version__"}


def test_dir_lists_the_lazy_names() -> None:
    assert set(customlabels.__all__) <= set(dir(customlabels))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        customlabels.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """Return name -> (module, attribute) of the imports under ``if TYPE_CHECKING:``."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.level == 1, ast.dump(stmt)
                for alias in stmt.names:
                    found[alias.asname or alias.name] = (stmt.module or "", alias.name)
    return found


def test_type_checking_imports_mirror_the_lazy_table() -> None:
    """Type checkers see each lazy name as the very object ``__getattr__`` returns."""
    seen = _type_checking_imports()
    lazy = customlabels._LAZY
    assert set(seen) == set(lazy)
    for name, (module, attribute) in lazy.items():
        real = __import__(f"customlabels.{module}", fromlist=[attribute])
        via_checker = __import__(f"customlabels.{seen[name][0]}", fromlist=[seen[name][1]])
        assert getattr(customlabels, name) is getattr(real, attribute) \
            is getattr(via_checker, seen[name][1]), name


def test_every_public_name_is_typed_for_type_checkers() -> None:
    """No name of ``__all__`` is undefined (hence ``Any``) to a static reader of the module."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
    # a subpackage is a name type checkers resolve (customlabels.train, a callable package)
    bound.update(p.name for p in INIT.parent.iterdir() if (p / "__init__.py").is_file())
    assert set(customlabels.__all__) <= bound


@pytest.mark.slow
def test_mypy_sees_no_any_in_the_public_api(tmp_path: Path) -> None:
    mypy = pytest.importorskip("mypy.api")
    probe = tmp_path / "probe.py"
    probe.write_text("import customlabels\n" + "".join(
        f"reveal_type(customlabels.{name})\n" for name in customlabels.__all__))
    out, err, status = mypy.run([str(probe), "--python-version", "3.11", "--no-incremental",
                                 "--follow-imports", "silent", "--ignore-missing-imports"])
    revealed = [line for line in out.splitlines() if "Revealed type" in line]
    assert len(revealed) == len(customlabels.__all__), out + err
    # a name the TYPE_CHECKING imports miss falls to __getattr__: ``object`` to mypy
    untyped = ('Revealed type is "Any"', 'Revealed type is "builtins.object"')
    assert not [line for line in revealed if line.endswith(untyped)], out


# --- exceptions -------------------------------------------------------------------------------


def test_one_exception_tree() -> None:
    base = customlabels.CustomLabelsError
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, base) and getattr(customlabels, name) is cls
    assert issubclass(customlabels.UsageError, ValueError)
    assert issubclass(customlabels.DatasetError, ValueError)
    assert issubclass(customlabels.SplitError, ValueError)
    assert issubclass(customlabels.BackendNotBuiltError, RuntimeError)
    assert not issubclass(customlabels.ValidationFailed, ValueError)


def test_old_import_paths_still_work() -> None:
    from customlabels import dataset, split
    from customlabels.validation import report

    assert report.ValidationFailed is customlabels.ValidationFailed
    assert split.SplitError is customlabels.SplitError
    assert dataset.DatasetError is customlabels.DatasetError


def test_backend_errors() -> None:
    from customlabels._backend import resolve_backend

    with pytest.raises(customlabels.BackendNotBuiltError, match="not built") as exc:
        resolve_backend("compiled", None, "the thing is")
    assert isinstance(exc.value, RuntimeError)
    with pytest.raises(customlabels.UsageError) as exc2:
        resolve_backend("fast", None, "the thing is")
    assert isinstance(exc2.value, ValueError)
    with pytest.raises(customlabels.UsageError):
        customlabels.validate(str(EXAMPLES / "train.manifest"), backend="fast")


def test_backend_not_built_through_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    from customlabels.validation import scan

    monkeypatch.setattr(scan, "_core", None)
    with pytest.raises(customlabels.BackendNotBuiltError):
        customlabels.validate(str(EXAMPLES / "train.manifest"), backend="compiled")


def test_split_and_dataset_misuse_raise_the_public_errors(tmp_path: Path) -> None:
    with pytest.raises(customlabels.SplitError):
        customlabels.split_manifest(EXAMPLES / "train.manifest", tmp_path, test_fraction=1.5)
    with pytest.raises(customlabels.CustomLabelsError):
        customlabels.remove_label(EXAMPLES / "train.manifest", "no such label",
                                  output=tmp_path / "out.manifest")


# --- version ----------------------------------------------------------------------------------


def test_one_version_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, _, name = attr.rpartition(".")
    assert getattr(__import__(module, fromlist=[name]), name) == customlabels.__version__
    # the attribute is read without importing the package: its module holds only the string
    source = ast.parse((INIT.parent / "_version.py").read_text(encoding="utf-8"))
    assert [type(n) for n in source.body] == [ast.Expr, ast.Assign]


def test_installed_metadata_has_the_version() -> None:
    from importlib.metadata import version

    assert version("customlabels") == customlabels.__version__


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    from customlabels.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"customlabels {customlabels.__version__}\n"


# --- start-up ---------------------------------------------------------------------------------


def test_validate_starts_lean() -> None:
    """``customlabels validate`` (a pre-commit hook) imports none of the heavy dependencies."""
    code = ("import sys\n"
            "from customlabels.cli.main import main\n"
            f"status = main(['validate', {str(EXAMPLES / 'train.manifest')!r}])\n"
            "heavy = ('pydantic', 'numpy', 'orjson', 'tqdm')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)), status,"
            " file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "[] 1"


# --- the README's Python section --------------------------------------------------------------


def _readme_python() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Python\n"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.fixture
def in_checkout_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a directory with a copy of examples/, as the README's code runs from the root."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_python_runs_as_shown(in_checkout_copy: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _readme_python()
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "ERROR_DUPLICATE_SOURCE_REF examples/train.manifest 14" in out
    assert (in_checkout_copy / "validation-results" / "manifest_summary.json").exists()
    assert (in_checkout_copy / "split" / "test.manifest").exists()
    assert (in_checkout_copy / "instances.manifest").exists()
    assert (in_checkout_copy / "evaluation" / "EvaluationSummary-project-version.json").exists()
    assert (in_checkout_copy / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_readme_validate(in_checkout_copy: Path) -> None:
    report = customlabels.validate("examples/train.manifest", "examples/test.manifest",
                                   output_dir="validation-results")
    assert isinstance(report, customlabels.ValidationReport)
    assert not report.ok
    assert all(isinstance(i, customlabels.Issue) for i in report.issues)
    assert [(i.code, i.line) for i in report.errors][-2:] == [
        ("ERROR_DUPLICATE_SOURCE_REF", 14), ("ERROR_INVALID_IMAGE_DIMENSION", 2)]
    assert isinstance(report.summary, customlabels.ManifestSummary)
    assert report.summary.statistics.training.valid_json_lines == 11
    summary = json.loads(Path("validation-results", "manifest_summary.json").read_text())
    assert summary == report.summary.model_dump(mode="json", exclude_none=True)
    with pytest.raises(customlabels.ValidationFailed) as exc:
        report.raise_for_issues()
    assert exc.value.report is report and len(exc.value.report.errors) == 6


def test_readme_dataset_operations(in_checkout_copy: Path) -> None:
    labels = customlabels.list_labels("examples/train.manifest")
    assert all(isinstance(s, customlabels.LabelStats) for s in labels)
    assert [(s.name, s.images, s.boxes) for s in labels] == [("Echo", 8, 13),
                                                             ("Echo Dot", 8, 10)]
    stats = customlabels.describe_dataset("examples/train.manifest")
    assert isinstance(stats, customlabels.DatasetStats)
    assert (stats.LabeledEntries, stats.TotalEntries, stats.ErrorEntries) == (11, 13, 3)
    entries = list(customlabels.list_entries("examples/train.manifest", has_errors=True))
    assert all(isinstance(rec, customlabels.Record) and isinstance(line, bytes)
               for rec, line in entries)
    assert [rec.line for rec, _ in entries] == [4, 6, 8, 10, 14]


def test_readme_split_export_convert(in_checkout_copy: Path) -> None:
    split = customlabels.split_manifest("examples/train.manifest", "split", seed=1)
    assert isinstance(split, customlabels.SplitResult)
    assert split.labels == {"Echo": [6, 2], "Echo Dot": [6, 2]}
    assert not split.ok  # the example's faulty lines travel with it: the pair has errors
    coco = customlabels.export_manifest("coco", "examples/train.manifest", "instances.json")
    back = customlabels.convert_file("coco", "instances.json", "instances.manifest",
                                     s3_prefix="s3://my-echo-dataset/images/")
    assert isinstance(coco, customlabels.ConversionResult)
    assert isinstance(back, customlabels.ConversionResult)
    assert (coco.lines, back.lines, back.ok) == (12, 12, True)
    assert customlabels.detect_format("instances.json") == "coco"


def test_readme_evaluate(in_checkout_copy: Path) -> None:
    result = customlabels.evaluate("examples/test.manifest", "examples/predictions.jsonl",
                                   output_dir="evaluation")
    assert isinstance(result, customlabels.EvaluationResult)
    assert all(isinstance(r, customlabels.LabelResult) for r in result.per_label)
    assert [r.label for r in result.per_label] == ["Echo", "Echo Dot"]
    assert result.testing_images == 4 and round(result.f1, 4) == 0.8831
    assert not result.ok  # the example test manifest has an invalid line
    assert [Path(p).name for p in result.outputs] == [
        "EvaluationSummary-project-version.json",
        "EvaluationManifestSnapshot-project-version.manifest"]
    assert os.path.exists(result.outputs[0])
