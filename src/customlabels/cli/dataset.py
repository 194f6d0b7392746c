"""Dataset operations on manifest files: entries, labels, update, describe, remove-label, merge.

They mirror the service's dataset API (ListDatasetEntries, ListDatasetLabels,
UpdateDatasetEntries, DescribeDataset) on local manifests. Exit status: 0 on success (for
``update``, ``remove-label`` and ``merge``: when the result validates), 1 when the result has
errors or nothing matched, 2 on a usage error or an input that cannot be used (``update`` and
``merge`` then print the issues that refused it, compiler style, and write nothing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._options import (add_format, add_keep_formulas, add_output_file, add_progress, add_report,
                       progress_of)
from ._render import (Shown, as_data, closing, counts, github_lines, json_text, plural,
                      problem_lines)

HELP = {
    "entries": "list a manifest's entries, filtered (like ListDatasetEntries)",
    "labels": "list a manifest's labels with image and box counts (like ListDatasetLabels)",
    "update": "replace or add entries from a JSON Lines file (like UpdateDatasetEntries)",
    "describe": "print DatasetStats: labeled, total, error entries and labels",
    "remove-label": "remove a label from every entry: attributes, boxes, objects, class-map",
    "merge": "join manifests into one",
}
#: The --format choices of the listing commands, and what each one writes. A choice added
#: here (and to FORMAT_MEANING when new) is offered and documented at once.
LISTING_FORMATS: dict[str, tuple[str, ...]] = {
    "entries": ("text", "json"), "labels": ("text", "json", "csv", "parquet"),
    "describe": ("text", "json", "csv", "parquet")}
LISTING_MEANING = {
    "entries": {"text": "the entries' JSON Lines as they are in MANIFEST (a manifest), and "
                        "their count on standard error",
                "json": 'one document {"DatasetEntries": [...]}, each entry a JSON Line as a '
                        "string, as ListDatasetEntries answers"},
    "labels": {"text": "a table of the labels with their image and box counts",
               "json": "a list of {Label, LabelStats}, as ListDatasetLabels answers",
               "csv": "the per-label table (label, images, boxes) as CSV with a header",
               "parquet": "the per-label table as a Parquet file (needs polars: "
                          "pip install 'customlabels[tables]')"},
    "describe": {"text": "one statistic a line", "json": '{"DatasetStats": {...}}, as '
                                                          "DescribeDataset answers",
                 "csv": "the per-image table, a row a line (line, source_ref, verdict, "
                        "dropped, errors, warnings, labels, boxes, codes) as CSV; list "
                        "columns are JSON arrays",
                 "parquet": "the per-image table as a Parquet file, list columns as lists "
                            "(needs polars: pip install 'customlabels[tables]')"},
}
#: MANIFEST may be standard input, except where --in-place would rewrite it.
_STDIN_HELP = "; - reads it from standard input"


def add_parser(sub: Any, name: str) -> None:
    """Add one of the dataset subcommands (``name`` says which)."""
    p = sub.add_parser(name, help=HELP[name], description=HELP[name] + ".")
    if name == "merge":
        p.add_argument("manifests", nargs="+", metavar="MANIFEST",
                       help="the manifests to join, in order (- reads one from standard input)")
        add_output_file(p, "the manifest to write", required=True)
        p.add_argument("--on-duplicate", choices=("error", "first", "last"), default="error",
                       help="an image on several lines: refuse (default), keep the first or "
                            "the last line")
    else:
        p.add_argument("manifest", metavar="MANIFEST", help="the manifest" + _STDIN_HELP)
    if name == "entries":
        errors = p.add_mutually_exclusive_group()
        errors.add_argument("--has-errors", action="store_true", default=None,
                            help="only entries with errors")
        errors.add_argument("--no-errors", dest="has_errors", action="store_false",
                            help="only entries without errors")
        p.add_argument("--source-ref-contains", metavar="TEXT",
                       help="only entries whose source-ref contains TEXT")
        p.add_argument("--label", action="append", metavar="LABEL",
                       help="only entries with this label (repeat for any of several)")
    if name == "update":
        p.add_argument("--changes", required=True, metavar="CHANGES.jsonl",
                       help="JSON Lines: each replaces the entry with its source-ref, or is added")
    if name == "remove-label":
        p.add_argument("label", metavar="LABEL", help="the label to remove")
    if name in ("update", "remove-label"):
        target = p.add_mutually_exclusive_group(required=True)
        add_output_file(target, "write the result here")
        target.add_argument("--in-place", action="store_true",
                            help="rewrite MANIFEST itself (atomically); the old content is lost")
    if name in LISTING_FORMATS:
        add_format(p, LISTING_FORMATS[name], LISTING_MEANING[name])
    else:
        add_report(p)
    if name in ("labels", "describe"):
        add_progress(p)
        add_output_file(p, "write the output to OUT (atomically) instead of standard output; "
                           "a Parquet file needs it unless standard output is redirected")
        add_keep_formulas(p)


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
        from ..manifest.writer import os_error_text

        print(f"customlabels: {os_error_text(exc)}", file=sys.stderr)
        return 2


def _entries(args: argparse.Namespace, dataset: Any) -> int:
    count = 0
    found = dataset.list_entries(args.manifest, has_errors=args.has_errors,
                                 source_ref_contains=args.source_ref_contains, labels=args.label)
    if args.format == "json":
        entries = [line.decode("utf-8", "surrogateescape") for _rec, line in found]
        sys.stdout.write(json_text({"DatasetEntries": entries}))
        count = len(entries)
    else:
        out = sys.stdout.buffer
        for _rec, line in found:
            out.write(line + b"\n")
            count += 1
        out.flush()
    print(plural(count, "entry", "entries"), file=sys.stderr)
    if not count and args.label:
        return _unknown_labels(args, dataset)
    return 0


def _unknown_labels(args: argparse.Namespace, dataset: Any) -> int:
    """No entry has the labels asked for: when the dataset has none of them at all (a typo, the
    wrong file), say so and which labels it has, with status 2; else 0 (the other filters)."""
    known = [s.name for s in dataset.list_labels(args.manifest)]
    has = set(known)
    missing = [name for name in dict.fromkeys(args.label) if name not in has]
    if len(missing) < len(set(args.label)):
        return 0
    shown = ", ".join(repr(name) for name in known[:20])
    more = f" and {len(known) - 20} more" if len(known) > 20 else ""
    labels = f"its labels are {shown}{more}" if known else "it has no labeled image"
    print(f"customlabels: {args.manifest}: no image has the label "
          f"{' or '.join(repr(name) for name in missing)}; {labels} (customlabels labels "
          "counts them)", file=sys.stderr)
    return 2


def _emit(args: argparse.Namespace, data: bytes | str, what: str) -> int:
    """Write a listing to ``-o`` (atomically, never over the manifest) or standard output.

    ``what`` says, on stderr, what a file received (``15 rows``).
    """
    from ..manifest.writer import atomic_write

    binary = args.format == "parquet"
    payload = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    if args.output is None:
        if binary and sys.stdout.isatty():
            print("customlabels: a Parquet file is not for a terminal: give -o FILE (or "
                  "redirect standard output)", file=sys.stderr)
            return 2
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
        return 0
    if _is_manifest(args.output, args.manifest):
        print(f"customlabels: {args.output}: is the manifest read; choose another output",
              file=sys.stderr)
        return 2
    with atomic_write(args.output) as out:
        out.write(payload)
    print(f"wrote {args.output}: {what}", file=sys.stderr)
    return 0


def _is_manifest(output: str, manifest: str) -> bool:
    from ..manifest.writer import same_file

    return manifest != "-" and same_file(Path(output), Path(manifest))


def _table(args: argparse.Namespace, table: dict[str, list[Any]], what: str) -> int:
    from ..tables import table_bytes

    return _emit(args, table_bytes(table, args.format, keep_formulas=args.keep_formulas), what)


def _labels(args: argparse.Namespace, dataset: Any) -> int:
    labels = dataset.list_labels(args.manifest, progress=progress_of(args))
    if args.format in ("csv", "parquet"):
        from ..tables import label_table

        return _table(args, label_table(labels), plural(len(labels), "label"))
    if args.format == "json":
        return _emit(args, json_text([{"Label": s.name,
                                       "LabelStats": {"EntryCount": s.images,
                                                      "BoundingBoxCount": s.boxes}}
                                      for s in labels]), plural(len(labels), "label"))
    # names as printed: a lone surrogate is written as its 6-character escape (cli.main)
    names = [s.name.encode("utf-8", "backslashreplace").decode("utf-8") for s in labels]
    width = max([len(name) for name in names] + [5])
    lines = [f"{'LABEL'.ljust(width)}  IMAGES   BOXES"]
    lines += [f"{name.ljust(width)}  {s.images:6d}  {s.boxes:6d}" for s, name in zip(labels, names)]
    lines.append(plural(len(labels), "label"))
    return _emit(args, "".join(f"{line}\n" for line in lines), plural(len(labels), "label"))


def _describe(args: argparse.Namespace, dataset: Any) -> int:
    if args.format in ("csv", "parquet"):
        from collections import Counter

        from ..tables import image_table

        table = image_table(args.manifest, progress=progress_of(args))
        verdicts = Counter(table["verdict"])
        return _table(args, table, f"{plural(len(table['line']), 'row')} ("
                      + ", ".join(f"{verdicts[v]:,} {v}" for v in ("valid", "invalid", "ignored"))
                      + ")")
    stats = dataset.describe(args.manifest, progress=progress_of(args)).to_dict()
    if args.format == "json":
        return _emit(args, json_text({"DatasetStats": stats}), "DatasetStats")
    return _emit(args, "".join(f"{key}: {value}\n" for key, value in stats.items()),
                 "DatasetStats")


def _changed(args: argparse.Namespace, result: Any, summary: str, hint: str = "") -> int:
    """Print what an operation that changes a dataset did; 2 when it refused (nothing written).

    ``hint`` says, after a refusal, which option would have let it through.
    """
    from .validate import render_text

    refused = result.output is None
    status = 2 if refused else 0 if result.ok else 1
    shown = Shown.of(args)
    doc = as_data(result.validation_doc) if result.validation_doc is not None else None
    issues = [*result.issues, *(doc["issues"] if doc is not None else [])]
    if args.format == "json":
        sys.stdout.write(json_text(result.to_dict()))
    elif args.format == "github":
        sys.stdout.write("".join(f"{line}\n" for line in github_lines(issues, shown)))
    elif refused:
        lines = problem_lines(result.issues, shown) + [f"nothing written{hint}"]
        sys.stderr.write("".join(f"customlabels: {line}\n" for line in lines))
    else:
        print(summary)
        if doc is not None:
            stdout, stderr = render_text([doc], shown, closing_line=False)
            sys.stdout.write(stdout)
            sys.stderr.write(stderr)
        errors, warnings = counts(issues)
        print(closing(result.output, errors, warnings, status, what="written"))
    return status


def _update(args: argparse.Namespace, dataset: Any) -> int:
    r = dataset.update_entries(args.manifest, args.changes, output=args.output)
    return _changed(args, r, f"{r.output}: {plural(r.replaced, 'entry', 'entries')} replaced, "
                             f"{r.added:,} added")


def _remove_label(args: argparse.Namespace, dataset: Any) -> int:
    r = dataset.remove_label(args.manifest, args.label, output=args.output)
    d = r.details
    return _changed(args, r, f"{r.output}: {args.label!r} removed from "
                             f"{plural(r.changed, 'entry', 'entries')} "
                             f"({plural(d['attributes_removed'], 'image-level label')}, "
                             f"{plural(d['boxes_removed'], 'box', 'boxes')}, "
                             f"{plural(d['class_map_entries_removed'], 'class-map entry', 'class-map entries')})")


def _merge(args: argparse.Namespace, dataset: Any) -> int:
    r = dataset.merge(args.manifests, args.output, on_duplicate=args.on_duplicate)
    return _changed(args, r, f"{r.output}: {plural(r.added, 'entry', 'entries')} from "
                             f"{plural(len(args.manifests), 'manifest')} "
                             f"({plural(r.removed, 'repeated image')} left out, "
                             f"{r.replaced:,} replaced by a later line)",
                    hint="; to keep one line of each image, give --on-duplicate first or last")


_RUN = {"entries": _entries, "labels": _labels, "describe": _describe, "update": _update,
        "remove-label": _remove_label, "merge": _merge}
