"""``customlabels models``, ``describe-model`` and ``export-model``: the project store.

``models`` and ``describe-model`` read the store's JSON files only (no torch); they list and
describe versions with DescribeProjectVersions' field names (guide: "Describing a model
(SDK)"). ``export-model`` writes a completed version as ONNX or TorchScript (the ``[train]``
extra). Exit status: 0, or 2 for a project or version that is not there
(:data:`customlabels.cli.main.EXIT_STATUS`).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ._options import add_format, add_output_file
from ._render import json_text
from .train import add_store


def add_parser(sub: Any, name: str) -> None:
    """Add the ``models``, ``describe-model`` or ``export-model`` subcommand to ``sub``."""
    if name == "models":
        p = sub.add_parser(name, help="list the model versions in the project store",
                           description="List every model version of the store (or of one "
                                       "project): status, F1 score, when it was made.")
        p.add_argument("--project", metavar="NAME", help="only this project's versions")
        add_store(p)
        add_format(p, ("text", "json"), {"text": "a table, a version a line",
                                         "json": "the versions' descriptions, as a list"})
    elif name == "describe-model":
        p = sub.add_parser(name, help="describe one model version of the project store",
                           description="Print a model version's description, with "
                                       "DescribeProjectVersions' field names: status and "
                                       "message, timestamps, the evaluation's F1 score and "
                                       "summary file, the manifests, the labels and their "
                                       "assumed thresholds.")
        p.add_argument("project", metavar="PROJECT", help="the project")
        p.add_argument("version_name", metavar="VERSION", help="the model version")
        add_store(p)
        add_format(p, ("text", "json"), {"text": "a field a line",
                                         "json": "the description as one JSON document"})
    else:
        p = sub.add_parser(name, help="export a model version as ONNX or TorchScript",
                           description="Write a completed model version as an ONNX or a "
                                       "TorchScript file (input: float32 RGB 0..1, N x 3 x S x "
                                       "S; output: the labels' probabilities), with the "
                                       "labels and their assumed thresholds in a JSON file "
                                       "beside it. Needs the [train] extra.")
        p.add_argument("project", metavar="PROJECT", help="the project")
        p.add_argument("version_name", metavar="VERSION", help="the model version")
        p.add_argument("--format", dest="export_format", choices=("onnx", "torchscript"),
                       default="onnx",
                       help="onnx: an ONNX file (opset 17) for onnxruntime and other runtimes "
                            "(default); torchscript: a TorchScript file for torch.jit.load")
        add_output_file(p, "the file to write (default: export/model.onnx or "
                           "export/model.pt in the version's folder)")
        add_store(p)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """List, describe or export; return the exit status."""
    from ..store import Store

    if args.store is not None and not os.path.isdir(args.store):
        from ..errors import ModelError

        raise ModelError(f"--store {args.store}: no such folder")
    store = Store(args.store)
    if args.command == "models":
        found = store.list(args.project)
        if args.format == "json":
            sys.stdout.write(json_text(found))
        else:
            sys.stdout.write(_table(found, str(store.root)))
        return 0
    if args.command == "describe-model":
        doc = store.describe(args.project, args.version_name)
        if args.format == "json":
            sys.stdout.write(json_text(doc))
        else:
            sys.stdout.write(_fields(doc))
        return 0
    from ..train._torch import import_torch

    import_torch()
    from ..train.export import export_model

    written = export_model(args.project, args.version_name, args.export_format,
                           output=args.output, store=args.store)
    print(f"wrote {written['file']}")
    print(f"wrote {written['labels']}")
    return 0


def _table(found: list[dict[str, Any]], root: str) -> str:
    if not found:
        return f"no model version in {root}\n"
    rows = [("PROJECT", "VERSION", "STATUS", "F1", "CREATED")]
    for doc in found:
        f1 = (doc.get("EvaluationResult") or {}).get("F1Score")
        rows.append((doc.get("ProjectName", ""), doc.get("VersionName", ""),
                     doc.get("Status", ""), "-" if f1 is None else f"{f1:.4f}",
                     str(doc.get("CreationTimestamp", ""))[:19]))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() + "\n"
                   for r in rows)


def _fields(doc: dict[str, Any], indent: str = "") -> str:
    out = []
    for key, value in doc.items():
        if isinstance(value, dict):
            out.append(f"{indent}{key}:\n{_fields(value, indent + '  ')}")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            out.append(f"{indent}{key}:\n" + "".join(
                f"{indent}  - " + ", ".join(f"{k}: {v}" for k, v in item.items()) + "\n"
                for item in value))
        else:
            out.append(f"{indent}{key}: {value}\n")
    return "".join(out)
