"""``customlabels validate``: check manifests as Rekognition Custom Labels would.

Exit status: 0 when no errors (warnings alone pass unless ``--strict``), 1 when errors, 2 on a
usage error or a manifest that cannot be read (:data:`customlabels.cli.main.EXIT_STATUS`, the same
in every command).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import BackendNotBuiltError
from ..limits import DEFAULT_MAX_LINES, MAX_LINES_WITH_QUOTA
from ..validation.pipeline import validate_files
from ._render import as_data, issue_message, issue_text, json_text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_parser(sub: Any, name: str) -> None:
    """Add the ``validate`` subcommand to ``sub``."""
    p = sub.add_parser(
        name, help="validate training and testing manifests",
        description="Validate manifests with the service's limits, rules and error codes. "
                    "Several manifests are each validated as a training manifest on its own.")
    p.add_argument("train", nargs="+", metavar="TRAIN", help="training manifest(s)")
    p.add_argument("--test", metavar="TEST", help="testing manifest (one TRAIN only)")
    p.add_argument("--output-dir", metavar="DIR",
                   help="write manifest_summary.json and the *_manifest_with_validation.json "
                        "files here (a sub-directory per manifest when there are several)")
    p.add_argument("--format", choices=("text", "json", "github"), default="text",
                   help="text: one problem a line (default); json: the whole report; "
                        "github: workflow annotations")
    p.add_argument("--max-lines", type=_positive, default=DEFAULT_MAX_LINES, metavar="N",
                   help=f"row limit (default {DEFAULT_MAX_LINES:,}; classification datasets "
                        f"may have a quota of up to {MAX_LINES_WITH_QUOTA:,})")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument("--backend", "--engine", choices=("auto", "compiled", "python"), default="auto",
                   help=argparse.SUPPRESS)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Validate, print the reports, and return the exit status."""
    if args.test is not None and len(args.train) > 1:
        parser.error("--test takes a single TRAIN manifest")
    reports = []
    for train in args.train:
        out = args.output_dir
        if out is not None and len(args.train) > 1:
            out = str(Path(out, _relative(train)))
        try:
            reports.append(validate_files(train, args.test, output_dir=out,
                                          max_lines=args.max_lines, backend=args.backend))
        except BackendNotBuiltError as exc:
            print(f"customlabels: {exc}", file=sys.stderr)
            return 2
    render = {"text": render_text, "json": render_json, "github": render_github}[args.format]
    stdout, stderr = render(reports)
    sys.stdout.write(stdout)
    sys.stdout.flush()
    if stderr:
        sys.stderr.write(stderr)
    failed = any(not r["ok"] for r in reports)
    warned = any(i["severity"] == "warning" for r in reports for i in r["issues"])
    return 1 if failed or (args.strict and warned) else 0


def _relative(path: str) -> Path:
    """Return ``path`` as a relative path (no root, no ``..``) to nest outputs under."""
    given = Path(path)
    parts = given.parts[1:] if given.anchor else given.parts
    return Path(*[part for part in parts if part not in ("..", ".")])


def render_text(reports: list[Any]) -> tuple[str, str]:
    """Return (stdout, stderr): one problem a line, then a summary; file errors on stderr.

    ``reports`` are report documents (plain data) or :class:`ValidationReport` objects.
    """
    out: list[str] = []
    err: list[str] = []
    for report in map(as_data, reports):
        for issue in report["issues"]:
            (err if issue["scope"] == "file" else out).append(issue_text(issue))
        summary = report["summary"]
        if summary is not None:
            for role, stats in summary["statistics"].items():
                out.append(
                    f"{role}: {report['files'][role]}: {stats['use_case']}, "
                    f"{stats['total_json_lines']} lines: {stats['valid_json_lines']} valid, "
                    f"{stats['invalid_json_lines']} invalid, "
                    f"{stats['ignored_json_lines']} ignored")
        errors = sum(i["severity"] == "error" for i in report["issues"])
        warnings = len(report["issues"]) - errors
        verdict = "passed" if report["ok"] else "failed"
        files = report["files"]["training"] + (
            f" + {report['files']['testing']}" if report["files"]["testing"] else "")
        out.append(f"{files}: {verdict}: {errors} error{'s' * (errors != 1)}, "
                   f"{warnings} warning{'s' * (warnings != 1)}")
        for path in report["outputs"]:
            out.append(f"wrote {path}")
    return "\n".join(out) + "\n", "\n".join(f"customlabels: {e}" for e in err) + (
        "\n" if err else "")


def render_json(reports: list[dict[str, Any]]) -> tuple[str, str]:
    """Return the report document (an object for one manifest, ``reports`` for several)."""
    reports = [as_data(r) for r in reports]
    doc: Any = reports[0] if len(reports) == 1 else {
        "ok": all(r["ok"] for r in reports), "reports": reports}
    try:  # orjson (a dependency) indents in C; json's indenting encoder is pure Python
        import orjson

        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n", ""
    except (ImportError, TypeError):  # TypeError: a lone surrogate, which orjson refuses
        return json_text(doc), ""


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def render_github(reports: list[dict[str, Any]]) -> tuple[str, str]:
    """Return GitHub Actions workflow commands, one annotation a problem."""
    out = []
    for report in map(as_data, reports):
        for issue in report["issues"]:
            props = [f"file={_escape(issue['file'], True)}"]
            if issue["line"] is not None:
                props.append(f"line={issue['line']}")
            props.append(f"title={_escape(issue['code'], True)}")
            out.append(f"::{issue['severity']} {','.join(props)}::"
                       f"{_escape(issue_message(issue))}")
    return "\n".join(out) + ("\n" if out else ""), ""
