"""Per-image and per-label statistics of a manifest as tables, for notebooks and spreadsheets.

``customlabels describe --format csv|parquet`` writes :func:`image_table` (one row a manifest
line) and ``customlabels labels --format csv|parquet`` writes :func:`label_table` (one row a
label). Both are built from the validator's records (:mod:`customlabels.manifest.records`),
so a "valid line" and "the labels of a line" mean what they mean to ``customlabels validate``.

CSV is written with the standard library; Parquet with polars, an optional dependency
(``pip install 'customlabels[tables]'``), which gives the columns their types: list columns
(``labels``, ``codes``) are lists of strings in Parquet and JSON arrays as text in CSV, so that
a label holding a comma or a semicolon reads back unchanged either way.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

from .codes import CODE_NAMES, CODES
from .errors import UsageError
from .manifest.records import iter_rows
from .manifest.schema import IGNORED, INVALID, VALID

__all__ = ["IMAGE_COLUMNS", "LABEL_COLUMNS", "TABLE_FORMATS", "image_table", "label_table",
           "table_bytes", "write_table"]

#: The formats a table is written in.
TABLE_FORMATS = ("csv", "parquet")
#: The per-image table's columns and what each holds (docs/cli.md and --help say it too).
IMAGE_COLUMNS: dict[str, str] = {
    "line": "the line's number in the manifest (1-based)",
    "source_ref": "its source-ref, empty when it has none that is well formed",
    "verdict": "valid, invalid or ignored, as the manifest summary counts lines",
    "dropped": "true when the service drops the line at import (a terminal content error)",
    "errors": "how many errors the line has",
    "warnings": "how many warnings",
    "labels": "its usable labels, distinct, in order (image-level labels and box labels)",
    "boxes": "how many usable bounding boxes",
    "codes": "the codes of its problems, distinct, in the order found",
}
#: The per-label table's columns.
LABEL_COLUMNS: dict[str, str] = {
    "label": "the label's name",
    "images": "valid lines that use it (ListDatasetLabels' EntryCount)",
    "boxes": "its usable bounding boxes (BoundingBoxCount)",
}
_LISTS = frozenset({"labels", "codes"})
#: Text columns taken from the dataset (escaped for spreadsheets in CSV).
_TEXT = frozenset({"source_ref", "label"})
_VERDICTS = {VALID: "valid", INVALID: "invalid", IGNORED: "ignored"}
_ERRORS = frozenset(i for i, name in enumerate(CODE_NAMES) if CODES[name].severity == "error")
_DROPS = frozenset(i for i, name in enumerate(CODE_NAMES) if CODES[name].effect == "dropped")


def image_table(manifest: str | os.PathLike[str], *, backend: str = "auto",
                progress: bool | None = False) -> dict[str, list[Any]]:
    """Return the per-image table of a manifest: column name -> values, a row a line.

    The columns are :data:`IMAGE_COLUMNS`; ``labels`` and ``codes`` hold tuples of strings.
    ``progress``: a bar counting the lines read, on stderr (None: when it is a terminal).
    """
    from .convert._common import counted

    table: dict[str, list[Any]] = {name: [] for name in IMAGE_COLUMNS}
    (lines, refs, verdicts, dropped, errors, warnings, labels, boxes, codes) = table.values()
    verdict_names = [_VERDICTS[v] for v in sorted(_VERDICTS)]
    rows = counted(iter_rows(manifest, backend=backend), Path(manifest).name, progress)
    for line, _raw, verdict, findings, ref, line_labels, box_labels in rows:
        lines.append(line)
        refs.append(ref)
        verdicts.append(verdict_names[verdict])
        labels.append(line_labels)  # a valid line's labels hold its boxes' labels already
        boxes.append(len(box_labels))
        if findings:
            found = [code for code, _, _ in findings]
            dropped.append(not _DROPS.isdisjoint(found))
            n = sum(1 for code in found if code in _ERRORS)
            errors.append(n)
            warnings.append(len(found) - n)
            codes.append(tuple([CODE_NAMES[code] for code in dict.fromkeys(found)]))
        else:
            dropped.append(False)
            errors.append(0)
            warnings.append(0)
            codes.append(())
    return table


def label_table(stats: list[Any]) -> dict[str, list[Any]]:
    """Return the per-label table of :func:`customlabels.dataset.list_labels`' result."""
    return {"label": [s.name for s in stats], "images": [s.images for s in stats],
            "boxes": [s.boxes for s in stats]}


def table_bytes(table: dict[str, list[Any]], fmt: str, *, keep_formulas: bool = False) -> bytes:
    """Return ``table`` (column name -> values) as a CSV or Parquet file's bytes.

    In CSV, a name or source-ref that a spreadsheet would run as a formula (``=``, ``+``,
    ``-``, ``@``...) gets a leading ``'``, unless ``keep_formulas``; Parquet holds the values
    as they are. Raises :class:`customlabels.errors.UsageError` for Parquet when polars is not
    installed.
    """
    if fmt == "csv":
        if not keep_formulas:
            from .convert._common import formula_safe

            table = {name: [formula_safe(v) if isinstance(v, str) else v for v in values]
                     if name in _TEXT else values for name, values in table.items()}
        return _csv_bytes(table)
    if fmt == "parquet":
        return _parquet_bytes(table)
    raise UsageError(f"unknown table format {fmt!r}; one of {', '.join(TABLE_FORMATS)}")


def write_table(table: dict[str, list[Any]], path: str | os.PathLike[str], fmt: str, *,
                keep_formulas: bool = False) -> None:
    """Write ``table`` to ``path`` atomically (temporary file, then rename)."""
    from .manifest.writer import atomic_write

    data = table_bytes(table, fmt, keep_formulas=keep_formulas)  # before the file is opened: a missing polars writes nothing
    with atomic_write(path) as out:
        out.write(data)


def _csv_bytes(table: dict[str, list[Any]]) -> bytes:
    """Return the table as CSV text in UTF-8, as ``csv.writer`` writes it (minimal quoting),
    but for a carriage return, which is quoted too (``csv.reader`` ends a row at a bare one).

    The cells are made here, column by column, then joined: the ``csv`` module takes 1.2 s
    for the 250,000 rows of the benchmark manifest's per-image table, this 0.4 s. A test holds
    the two to the same bytes.
    """
    columns = [_csv_column(values, name in _LISTS) for name, values in table.items()]
    text = ",".join(map(_quoted, table)) + "\n"
    text += "".join(f"{row}\n" for row in map(",".join, zip(*columns)))
    # a lone surrogate (only a \\ud800 escape in a manifest makes one) cannot be UTF-8: it is
    # written as that escape's text, as everywhere else
    return text.encode("utf-8", errors="backslashreplace")


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _quoted(text: str) -> str:
    """Return a CSV cell: quoted (quotes doubled) when it holds a comma, quote or line break."""
    if _NEEDS_QUOTES.search(text) is None:
        return text
    return '"' + text.replace('"', '""') + '"'


def _csv_column(values: list[Any], is_list: bool) -> list[str]:
    """Return a column's CSV cells: lists as JSON arrays, None empty, booleans in words."""
    if is_list:
        cache: dict[tuple[str, ...], str] = {}  # rows repeat the same few label sets
        out = []
        for value in values:
            cell = cache.get(value)
            if cell is None:
                cell = cache[value] = _quoted(json.dumps(list(value), ensure_ascii=False))
            out.append(cell)
        return out
    if values and type(values[0]) is bool:
        return ["true" if v else "false" for v in values]
    if values and type(values[0]) is int:
        return list(map(str, values))
    return ["" if v is None else _quoted(v) if isinstance(v, str) else str(v) for v in values]


def _parquet_bytes(table: dict[str, list[Any]]) -> bytes:
    try:
        import polars as pl
    except ImportError:
        raise UsageError("--format parquet needs polars: pip install 'customlabels[tables]' "
                         "(or pip install polars); --format csv needs nothing") from None
    types: dict[str, Any] = {"line": pl.Int64, "source_ref": pl.String, "verdict": pl.String,
                             "dropped": pl.Boolean, "errors": pl.Int64,
                             "warnings": pl.Int64, "boxes": pl.Int64, "label": pl.String,
                             "images": pl.Int64}
    frame = pl.DataFrame({name: pl.Series(name, _utf8(values) if types[name] == pl.String
                                          else values, dtype=types[name])
                          for name, values in table.items() if name not in _LISTS})
    for name in [n for n in table if n in _LISTS]:
        frame = frame.with_columns(_list_series(pl, name, table[name]))
    out = io.BytesIO()
    frame.select(list(table)).write_parquet(out)
    return out.getvalue()


def _list_series(pl: Any, name: str, values: list[tuple[str, ...]]) -> Any:
    """Return a column of string lists, built in polars from the flat strings.

    polars builds a list column from Python lists slowly and with much memory (2.8 s and
    1.1 GB for 250,000 rows); from the flat strings and their rows it takes 0.2 s.
    """
    rows: list[int] = []
    flat: list[str] = []
    for i, value in enumerate(values):
        if value:
            rows.extend([i] * len(value))
            flat.extend(value)
    grouped = pl.DataFrame({"row": pl.Series(rows, dtype=pl.UInt32),
                            name: pl.Series(_utf8(flat), dtype=pl.String)}
                           ).group_by("row", maintain_order=True).agg(pl.col(name))
    every = pl.DataFrame({"row": pl.arange(0, len(values), dtype=pl.UInt32, eager=True)})
    empty = pl.lit([], dtype=pl.List(pl.String))
    return every.join(grouped, on="row", how="left", maintain_order="left"
                      )[name].fill_null(empty).alias(name)


def _utf8(values: list[Any]) -> list[Any]:
    """Return the column with lone surrogates as their escapes' text (Arrow strings are UTF-8)."""
    def fix(text: Any) -> Any:
        if isinstance(text, str) and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return text.encode("utf-8", "backslashreplace").decode("utf-8")
        return text

    return [fix(v) for v in values]
