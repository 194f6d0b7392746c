"""Dataset operations on manifest files: entries, labels, update, describe, remove-label, merge.

They mirror the service's dataset API (ListDatasetEntries, ListDatasetLabels,
UpdateDatasetEntries, DescribeDataset) on local manifests. Exit status: 0 on success (for
``update``, ``remove-label`` and ``merge``: when the result validates), 1 when the result has
errors or nothing matched, 2 on a usage error or an input that cannot be used (``update`` and
``merge`` then print the issues that refused it, compiler style, and write nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = {
    "entries": "list a manifest's entries, filtered (like ListDatasetEntries)",
    "labels": "list a manifest's labels with image and box counts (like ListDatasetLabels)",
    "update": "replace or add entries from a JSON Lines file (like UpdateDatasetEntries)",
    "describe": "print DatasetStats: labeled, total, error entries and labels",
    "remove-label": "remove a label from every entry: attributes, boxes, objects, class-map",
    "merge": "join manifests into one",
}


def add_parser(sub: Any, name: str) -> None:
    """Add one of the dataset subcommands (``name`` says which)."""
    p = sub.add_parser(name, help=HELP[name], description=HELP[name] + ".")
    if name == "merge":
        p.add_argument("manifests", nargs="+", metavar="MANIFEST")
        p.add_argument("-o", "--output", required=True, metavar="OUT")
        p.add_argument("--on-duplicate", choices=("error", "first", "last"), default="error",
                       help="an image on several lines: refuse (default), keep the first or "
                            "the last line")
    else:
        p.add_argument("manifest", metavar="MANIFEST")
    if name == "entries":
        errors = p.add_mutually_exclusive_group()
        errors.add_argument("--has-errors", action="store_true", default=None,
                            help="only entries with errors")
        errors.add_argument("--no-errors", dest="has_errors", action="store_false",
                            help="only entries without errors")
        p.add_argument("--source-ref-contains", metavar="TEXT")
        p.add_argument("--label", action="append", metavar="LABEL",
                       help="only entries with this label (repeat for any of several)")
    if name == "update":
        p.add_argument("--changes", required=True, metavar="CHANGES.jsonl",
                       help="JSON Lines: each replaces the entry with its source-ref, or is added")
    if name == "remove-label":
        p.add_argument("label", metavar="LABEL")
    if name in ("update", "remove-label"):
        target = p.add_mutually_exclusive_group(required=True)
        target.add_argument("-o", "--output", metavar="OUT", help="write the result here")
        target.add_argument("--in-place", action="store_true",
                            help="rewrite MANIFEST itself (atomically); the old content is lost")
    if name in ("labels", "describe", "update", "remove-label", "merge"):
        p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the dataset operation named by ``args.command``; return the exit status."""
    from .. import dataset

    try:
        return _RUN[args.command](args, dataset)
    except dataset.DatasetError as exc:
        print(f"customlabels: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early: cli.main answers that for every command
        raise
    except OSError as exc:
        print(f"customlabels: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _entries(args: argparse.Namespace, dataset: Any) -> int:
    count = 0
    out = sys.stdout.buffer
    for _rec, line in dataset.list_entries(args.manifest, has_errors=args.has_errors,
                                           source_ref_contains=args.source_ref_contains,
                                           labels=args.label):
        out.write(line + b"\n")
        count += 1
    out.flush()
    print(f"{count} entries", file=sys.stderr)
    return 0


def _labels(args: argparse.Namespace, dataset: Any) -> int:
    labels = dataset.list_labels(args.manifest)
    if args.format == "json":
        print(json.dumps([{"Label": s.name, "LabelStats": {"EntryCount": s.images,
                                                            "BoundingBoxCount": s.boxes}}
                          for s in labels], indent=2, ensure_ascii=False))
        return 0
    width = max([len(s.name) for s in labels] + [5])
    print(f"{'LABEL'.ljust(width)}  IMAGES   BOXES")
    for s in labels:
        print(f"{s.name.ljust(width)}  {s.images:6d}  {s.boxes:6d}")
    print(f"{len(labels)} labels")
    return 0


def _describe(args: argparse.Namespace, dataset: Any) -> int:
    stats = dataset.describe(args.manifest).to_dict()
    if args.format == "json":
        print(json.dumps({"DatasetStats": stats}, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key}: {value}")
    return 0


def _changed(args: argparse.Namespace, result: Any, summary: str) -> int:
    """Print what an operation that changes a dataset did; 2 when it refused (nothing written)."""
    from .convert import problems_text
    from .validate import render_text

    refused = result.output is None
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif refused:
        lines = problems_text(result.issues) + ["nothing written"]
        sys.stderr.write("".join(f"customlabels: {line}\n" for line in lines))
    else:
        print(summary)
        if result.validation_doc is not None:
            stdout, stderr = render_text([result.validation_doc])
            sys.stdout.write(stdout)
            sys.stderr.write(stderr)
    if refused:
        return 2
    return 0 if result.ok else 1


def _update(args: argparse.Namespace, dataset: Any) -> int:
    r = dataset.update_entries(args.manifest, args.changes, output=args.output)
    return _changed(args, r, f"{r.output}: {r.replaced} entries replaced, {r.added} added")


def _remove_label(args: argparse.Namespace, dataset: Any) -> int:
    r = dataset.remove_label(args.manifest, args.label, output=args.output)
    d = r.details
    return _changed(args, r, f"{r.output}: {args.label!r} removed from {r.changed} entries "
                             f"({d['attributes_removed']} image-level labels, "
                             f"{d['boxes_removed']} boxes, {d['class_map_entries_removed']} "
                             "class-map entries)")


def _merge(args: argparse.Namespace, dataset: Any) -> int:
    r = dataset.merge(args.manifests, args.output, on_duplicate=args.on_duplicate)
    return _changed(args, r, f"{r.output}: {r.added} entries from {len(args.manifests)} "
                             f"manifests ({r.removed} repeated images left out, {r.replaced} "
                             "replaced by a later line)")


_RUN = {"entries": _entries, "labels": _labels, "describe": _describe, "update": _update,
        "remove-label": _remove_label, "merge": _merge}
