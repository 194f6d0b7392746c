"""The contract every converter meets: detect, convert, round trip, bad input.

A format's test module subclasses :class:`ConverterContract` (as ``TestXxxContract``) and sets
the class attributes; pytest then runs every ``test_*`` below for that format. Format-specific
tests live beside the subclass.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from customlabels.codes import CODES
from customlabels.convert import FORMATS, _common, convert, detect, export, get_format
from customlabels.validation.report import Issue, ValidationReport

CASES = Path(__file__).parents[1] / "convert_cases"
#: One good sample of each format, for detection.
SAMPLES = {
    "coco": CASES / "coco" / "instances.json",
    "csv": CASES / "csv" / "flowers.csv",
    "csv-boxes": CASES / "csv_boxes" / "boxes.csv",
    "groundtruth-multilabel": CASES / "groundtruth" / "output.manifest",
}
DATE = "2024-01-02T03:04:05"


def manifest_lines(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Return the parsed lines of a manifest."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def without_dates(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the lines with every ``creation-date`` removed (issue 3.5 compares the rest)."""
    out = []
    for line in lines:
        copy = json.loads(json.dumps(line))
        for value in copy.values():
            if isinstance(value, dict):
                value.pop("creation-date", None)
        out.append(copy)
    return out


def codes(result: Any) -> list[str]:
    """Return the codes of a result's issues, in order."""
    return [p.code for p in result.issues]


class ConverterContract:
    """Shared tests; subclasses set the attributes below."""

    #: registry name
    fmt: str = ""
    #: a good input, converted with ``options``
    sample: Path = Path()
    options: dict[str, Any] = {}
    #: options of ``export`` that make the round trip come back to the sample
    export_options: dict[str, Any] = {}
    #: (input file, options, codes that must all be reported) for bad inputs
    bad_inputs: list[tuple[Path, dict[str, Any], set[str]]] = []

    def convert(self, source: Path, output: Path, **extra: Any) -> Any:
        return convert(self.fmt, source, output, creation_date=DATE, **{**self.options, **extra})

    def same_content(self, original: Path, exported: Path) -> None:
        """Assert that an export of the converted sample says what the sample says."""
        raise NotImplementedError

    # --- detect --------------------------------------------------------------------------------

    def test_detects_its_format(self) -> None:
        assert detect(self.sample) == self.fmt

    def test_other_formats_are_not_taken_for_this_one(self) -> None:
        module = get_format(self.fmt)
        for name, path in SAMPLES.items():
            if name != self.fmt:
                head = path.read_bytes()[:1 << 16]
                # only formats tried before this one may claim its files
                if list(FORMATS).index(name) > list(FORMATS).index(self.fmt):
                    assert not module.detect(head), f"{self.fmt} claims the {name} sample"

    # --- convert -------------------------------------------------------------------------------

    def test_converts_to_a_valid_manifest(self, tmp_path: Path) -> None:
        result = self.convert(self.sample, tmp_path / "out.manifest")
        assert result.ok, result.issues
        assert isinstance(result.validation, ValidationReport) and result.validation.ok
        assert result.output == str(tmp_path / "out.manifest")
        assert len(manifest_lines(result.output)) == result.lines > 0
        doc = result.to_dict()
        assert doc["ok"] is True and doc["validation"]["ok"] is True
        json.dumps(doc)  # plain data
        # the document types back: it holds the typed result's data
        assert ValidationReport.model_validate(doc["validation"]) == result.validation
        assert [Issue.model_validate(i) for i in doc["issues"]] == result.issues

    def test_output_is_deterministic(self, tmp_path: Path) -> None:
        a = self.convert(self.sample, tmp_path / "a.manifest")
        b = self.convert(self.sample, tmp_path / "b.manifest")
        assert Path(a.output).read_bytes() == Path(b.output).read_bytes()

    def test_round_trip(self, tmp_path: Path) -> None:
        first = self.convert(self.sample, tmp_path / "first.manifest")
        exported = export(self.fmt, first.output, tmp_path / f"exported{self.sample.suffix}",
                          **self.export_options)
        assert exported.ok, exported.issues
        self.same_content(self.sample, Path(exported.output))
        again = self.convert(Path(exported.output), tmp_path / "again.manifest")
        assert again.ok, again.issues
        assert self.comparable(manifest_lines(again.output)) == self.comparable(
            manifest_lines(first.output))

    def comparable(self, lines: list[dict[str, Any]]) -> Any:
        """Return what a round trip must keep of manifest lines (all but creation-date)."""
        return without_dates(lines)

    # --- bad input -----------------------------------------------------------------------------

    def test_bad_inputs_are_reported_not_raised(self, tmp_path: Path) -> None:
        for k, (source, opts, expected) in enumerate(self.bad_inputs):
            result = convert(self.fmt, source, tmp_path / f"bad{k}.manifest",
                             creation_date=DATE, **{**self.options, **opts})
            got = set(codes(result))
            assert expected <= got, f"{source.name}: missing {expected - got}, got {got}"
            for p in result.issues:
                row = CODES[p.code]  # a catalogued converter code, its severity the table's
                assert row.raised_by == "convert" and p.scope == row.scope
                assert p.severity == row.severity or p.code == "CSV_DUPLICATE_IMAGE"
                assert p.file and isinstance(p.context, dict)
                if p.scope == "item":  # a place in the input: a line, or a path
                    assert p.line is not None or p.path, p
            json.dumps(result.to_dict())  # contexts are JSON-ready
            if result.output is not None:
                assert result.validation is not None
                # lines the service would reject are never written
                assert not result.validation.errors, result.validation.issues

    def test_missing_input(self, tmp_path: Path) -> None:
        result = self.convert(tmp_path / f"nope{self.sample.suffix}", tmp_path / "o.manifest")
        assert codes(result) == ["INPUT_UNREADABLE"]
        assert result.output is None and not result.ok
        assert not (tmp_path / "o.manifest").exists()

    def test_empty_input(self, tmp_path: Path) -> None:
        empty = tmp_path / f"empty{self.sample.suffix}"
        empty.write_bytes(b"")
        result = self.convert(empty, tmp_path / "o.manifest")
        assert codes(result) == ["INPUT_EMPTY"]
        assert not result.ok and result.output is None
        assert not (tmp_path / "o.manifest").exists()

    def test_never_overwrites_its_input(self, tmp_path: Path) -> None:
        source = tmp_path / f"input{self.sample.suffix}"
        shutil.copy(self.sample, source)
        before = source.read_bytes()
        result = self.convert(source, source)
        assert "OUTPUT_IS_INPUT" in codes(result)
        assert source.read_bytes() == before and result.output is None

    def test_failed_write_leaves_the_old_output(self, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
        target = tmp_path / "out.manifest"
        target.write_bytes(b"old\n")

        def refuse(src: str, dst: str) -> None:
            raise OSError(28, "No space left on device", dst)

        monkeypatch.setattr(os, "replace", refuse)
        result = self.convert(self.sample, target)
        assert "OUTPUT_NOT_WRITABLE" in codes(result)
        assert target.read_bytes() == b"old\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.manifest"]  # no temp file

    def test_default_output_is_beside_the_input(self, tmp_path: Path) -> None:
        source = tmp_path / self.sample.name
        shutil.copy(self.sample, source)
        result = convert(self.fmt, source, creation_date=DATE, **self.options)
        assert result.ok, result.issues
        assert Path(result.output).parent == tmp_path
        assert Path(result.output) == get_format(self.fmt).default_output(source)

    def test_date_rule(self) -> None:
        assert _common.parse_date("2013-11-15 02:41:42") == "2013-11-15T02:41:42"
        assert _common.parse_date("2013-11-15T02:41:42.5+01:00") == "2013-11-15T01:41:42"
        assert _common.parse_date("15/11/2013") is None and _common.parse_date(7) is None
        with pytest.raises(ValueError):
            _common.fallback_date("yesterday")
