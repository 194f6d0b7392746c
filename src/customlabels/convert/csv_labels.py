"""CSV files of image-level labels to manifests and back (guide L4530-4850).

Each row is ``image,label[,label...]`` with no header (L4597-4612): one image, one JSON Line with
a classification attribute per label, as the guide's script writes it. ``image`` is an S3 path,
or a bare file name put after ``--s3-path``; a file mixing the two is refused (L4607-4609).

Duplicate images are handled as the guide's script does (L4661-4710): the first row of an image
is kept, ``NAME-deduplicated.csv`` (first rows) and ``NAME-duplicates.csv`` (the others) are
written, and no manifest is written while duplicates exist, unless ``keep_first``.

Where the script goes wrong, this converter does not (``docs/decisions.md``): it parses the file
with one real CSV dialect (the script's second pass reads ``|`` as the quote character, L4728,
so a quoted name with a comma is split), skips blank rows in both passes, drops a UTF-8 byte
order mark, puts a ``/`` between ``--s3-path`` and the name, names the attribute of a label that
cannot be a key (``source-ref``, ``errors``, ``warnings``, ``...-metadata``) differently, and
reports rows the service would reject (a label over 256 characters, over 50 labels).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..manifest.schema import CLASSIFICATION, IGNORED, RESERVED_KEYS, VALID, usable_classes
from . import _common as C
from ._common import ConversionResult, Job

NAME = "csv"
DESCRIPTION = "CSV rows image,label[,label...] (image-level labels, no header)"
#: The job-name the guide's script gives each label's metadata (L4753).
JOB_PREFIX = "labeling-job/"


def detect(head: bytes) -> bool:
    """Tell whether the start of a file looks like a CSV file (text, not JSON)."""
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not a character cut off at the end of ``head``
            return False
        text = head[:exc.start].decode("utf-8-sig")
    stripped = text.lstrip()
    return bool(stripped) and stripped[0] not in "{[" and "\x00" not in text


def default_output(source: str | os.PathLike[str]) -> Path:
    """Return the manifest written when none is named: NAME.manifest, as the script does."""
    return Path(source).with_suffix(".manifest")


def read_rows(job: Job) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first line, fields)`` for each non-blank row of the input CSV.

    Raises the job's abort when the file cannot be read or is not UTF-8.
    """
    try:
        with open(job.source, encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream, strict=True)
            start = 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:  # the reader goes on with the next line
                    job.add("CSV_BAD_ROW", line=start, detail=str(exc),
                            context={"error": str(exc)})
                    start = reader.line_num + 1
                    continue
                joined = "".join(row)
                if joined.strip():  # blank rows are skipped, as by the script (L4692)
                    if "'" in joined:  # a cell an export escaped for spreadsheets: '=x is =x
                        row = [C.formula_unescaped(cell) for cell in row]
                    if "\\u" in joined:  # a lone surrogate an export wrote as \ud800
                        row = [_SURROGATE_ESCAPE.sub(_surrogate, cell) for cell in row]
                    yield start, row
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        line, byte = _first_bad_byte(job.source)
        raise job.fatal("INPUT_UNREADABLE", f"not UTF-8 text (line {line}, byte {byte} of the "
                        "file); save it as UTF-8", line=line,
                        context={"error": "not UTF-8 text", "encoding": exc.encoding,
                                 "byte": byte}) from None
    except OSError as exc:
        raise job.fatal("INPUT_UNREADABLE", exc.strerror or str(exc),
                        context=C.os_error(exc)) from None


#: The escape an export writes for a lone surrogate, which UTF-8 cannot hold (``\\udfff``).
_SURROGATE_ESCAPE = re.compile(r"\\u(d[89a-f][0-9a-f]{2})", re.IGNORECASE)


def _surrogate(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def _first_bad_byte(source: str | os.PathLike[str]) -> tuple[int, int]:
    """Return the line and the 1-based byte of a file's first byte that is not UTF-8.

    The text reader tells only the byte within the block it decoded; the file is read again
    (only on this error) to name the place."""
    with open(source, "rb") as stream:
        data = stream.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, exc.start + 1
    return 1, 1


#: First cells of a header row: what people call the image column.
_IMAGE_HEADERS = frozenset({
    "image", "images", "img", "image_name", "image-name", "imagename", "image name",
    "image_path", "image-path", "image path", "image_file", "image_uri", "image_url", "file",
    "filename", "file_name", "file-name", "file name", "filepath", "file_path", "path", "name",
    "source-ref", "source_ref", "sourceref", "s3_uri", "s3uri", "s3 uri", "uri", "url", "key",
    "photo", "picture"})
#: Second cells of a header row: what people call the label column.
_LABEL_HEADERS = frozenset({
    "label", "labels", "class", "classes", "class_name", "class-name", "classname",
    "class name", "category", "categories", "tag", "tags", "label_name", "label-name"})


def is_header(row: list[str]) -> bool:
    """Tell whether ``row`` (the first) names columns rather than an image and its labels.

    The guide's format has no header, yet files exported from spreadsheets often have one
    (``image,label``): without this, ``image`` would become an image labelled ``label``. A
    header is a first cell that is not a file (no extension, no S3 URI) and a first or second
    cell that is a usual column name.
    """
    first = row[0].strip().lower() if row else ""
    second = row[1].strip().lower() if len(row) > 1 else ""
    if not first or "." in first.rsplit("/", 1)[-1] or first.startswith("s3://"):
        return False
    return first in _IMAGE_HEADERS or second in _LABEL_HEADERS


def image_source_ref(job: Job, line: int, image: str, folder: str) -> str | None:
    """Return the source-ref of a row's image (its S3 path, or ``folder`` + its name by the
    one key rule, :func:`~customlabels.convert._common.image_key`), or None, reported."""
    if folder:
        key, why = C.image_key(image)
        if key is None:
            job.add("SOURCE_REF_INVALID", line=line, path="field 1", detail=f"{why} ({image!r})",
                    context={"image": image, "reason": why})
            return None
        image = folder + key
    if not C.is_source_ref(image):
        job.add("SOURCE_REF_INVALID", line=line, path="field 1", detail=repr(image),
                context={"source_ref": image})
        return None
    return image


#: Separators people save CSV files with, by how the message names them.
_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def check_separator(job: Job, rows: list[tuple[int, list[str]]]) -> None:
    """Abort when the rows read as one field each that another separator splits.

    A semicolon- or tab-separated file (a spreadsheet's export in many locales) reads as one
    field a row: ``s3://bucket/a.jpg;cat`` would become an image with no label. When the
    first rows (up to 20) all are single fields holding the same other separator, the file is
    refused with ``CSV_WRONG_SEPARATOR``.
    """
    sample = [row for _, row in rows[:20]]
    if not sample or any(len(row) != 1 for row in sample):
        return
    for sep, name in _SEPARATORS.items():
        if all(sep in row[0] for row in sample):
            raise job.fatal("CSV_WRONG_SEPARATOR", f"the rows are separated by {name} "
                            f"(line {rows[0][0]}: {sample[0][0]!r})", line=rows[0][0],
                            context={"separator": sep, "first_row": sample[0][0]})


def image_locations(job: Job, rows: list[tuple[int, list[str]]], s3_path: str | None
                    ) -> str:
    """Check that rows give S3 paths, or bare names with ``s3_path``; return the prefix to add.

    Reports rows without an image (and removes them from ``rows``); aborts on a mix.
    """
    first_s3 = first_bare = None
    kept = []
    for line, row in rows:
        if not row[0]:
            job.add("CSV_EMPTY_IMAGE", line=line, path="field 1", context={"field": 1})
            continue
        kept.append((line, row))
        if row[0].startswith("s3://"):
            first_s3 = first_s3 or line
        else:
            first_bare = first_bare or line
    rows[:] = kept
    if first_s3 and first_bare:
        raise job.fatal("CSV_MIXED_PATHS", f"an S3 path on line {first_s3}, a bare name on "
                        f"line {first_bare}", line=max(first_s3, first_bare),
                        context={"first_s3_line": first_s3, "first_bare_line": first_bare})
    if s3_path is not None:
        if first_s3:
            raise job.fatal("CSV_S3_PATH_NOT_NEEDED", f"line {first_s3}: {rows_s3(rows)}",
                            line=first_s3, context={"s3_path": s3_path,
                                                    "first_s3_line": first_s3,
                                                    "image": rows_s3(rows)})
        folder = C.s3_folder(s3_path)
        if folder is None:
            raise job.fatal("S3_PREFIX_INVALID", repr(s3_path), context={"s3_prefix": s3_path})
        return folder
    if first_bare:
        raise job.fatal("CSV_NO_S3_PATH", f"line {first_bare}: {rows[0][1][0]!r}",
                        line=first_bare,
                        context={"first_bare_line": first_bare, "image": rows[0][1][0]})
    return ""


def rows_s3(rows: list[tuple[int, list[str]]]) -> str:
    """Return the first S3 path of the rows (for messages)."""
    return next((row[0] for _, row in rows if row[0].startswith("s3://")), "")


def write_duplicates(job: Job, rows: list[tuple[int, list[str]]],
                     duplicates: list[tuple[int, list[str]]]) -> None:
    """Write NAME-deduplicated.csv and NAME-duplicates.csv beside the output (L4661-4710)."""
    name = Path(job.source).stem
    folder = job.output.parent
    for target, content in ((folder / f"{name}-deduplicated.csv", rows),
                            (folder / f"{name}-duplicates.csv", duplicates)):
        with job.open_output(target) as out:
            out.write(_csv_bytes(row for _, row in content))


def _csv_bytes(rows: Any) -> bytes:
    import io

    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    # UTF-8 cannot hold a lone surrogate (only a \\ud800-style escape in a manifest makes one):
    # it is written as that escape's text rather than failing the whole file
    return text.getvalue().encode("utf-8", errors="backslashreplace")


def attribute_name(label: str, taken: dict[str, Any]) -> str:
    """Return the attribute key for ``label``: the label itself, as in the script, when it can be.

    A label that is a reserved key or ends in ``-metadata`` would break the line (the script
    writes ``"source-ref": 1`` over the image, L4750); its attribute gets a ``-label`` suffix
    (and a number if that is taken too).
    """
    if label not in RESERVED_KEYS and not label.endswith("-metadata") and label not in taken \
            and label + "-metadata" not in taken:
        return label
    base = f"{label}-label"
    name, n = base, 1
    while name in taken or name + "-metadata" in taken:
        n += 1
        name = f"{base}{n}"
    return name


def convert(source: str | os.PathLike[str], output: str | os.PathLike[str] | None = None, *,
            s3_path: str | None = None, keep_first: bool = False,
            creation_date: str | None = None, progress: bool | None = False,
            validate: bool = True) -> ConversionResult:
    """Convert a CSV file of image-level labels into a manifest; validate it.

    Args:
        source: the CSV file, rows ``image,label[,label...]``; a first row that is a header
            (``image,label``: :func:`is_header`) is skipped, with ``CSV_HEADER_SKIPPED``.
        output: the manifest (default: NAME.manifest beside the CSV, as the guide's script).
        s3_path: ``s3://bucket/folder/`` put before bare image names.
        keep_first: write the manifest from the first row of each image even when there are
            duplicates (the duplicate listings are written either way).
        creation_date: creation-date of every label (default: the time of the conversion).
        progress: accepted for a uniform interface; CSV files convert in one pass.
        validate: validate the manifest written.
    """
    date = C.fallback_date(creation_date)
    job = Job(NAME, source, output if output is not None else default_output(source))
    with job:
        job.check_input()
        rows = list(read_rows(job))
        if rows and is_header(rows[0][1]):
            line, row = rows.pop(0)
            job.add("CSV_HEADER_SKIPPED", line=line, detail=",".join(row),
                    context={"header": row})
        check_separator(job, rows)
        folder = image_locations(job, rows, s3_path)
        first: dict[str, int] = {}
        kept: list[tuple[int, list[str]]] = []
        duplicates: list[tuple[int, list[str]]] = []
        for line, row in rows:
            if row[0] in first:
                duplicates.append((line, row))
                job.add("CSV_DUPLICATE_IMAGE", line=line, path="field 1",
                        detail=f"{row[0]} is on line {first[row[0]]}",
                        severity="warning" if keep_first else None,
                        context={"image": row[0], "first_line": first[row[0]]})
            else:
                first[row[0]] = line
                kept.append((line, row))
        job.count("rows", len(rows))
        job.count("duplicate_rows", len(duplicates))
        if duplicates:
            write_duplicates(job, kept, duplicates)
            if not keep_first:
                raise job.fatal("CSV_DUPLICATES_FOUND", f"{len(duplicates)} rows repeat an "
                                f"image; see {job.extra_outputs[-1]}",
                                context={"duplicate_rows": len(duplicates),
                                         "files": job.extra_outputs[-2:]})
        with job.open_output(lines_needed=True) as out:
            labels = 0
            for line, row in kept:
                obj = _line(job, line, row, folder, date)
                if obj is not None:
                    labels += (len(obj) - 1) // 2
                    out.write(C.dump_line(obj))
                    job.lines += 1
            job.count("labels", labels)
    return job.result(validate)


def _line(job: Job, line: int, row: list[str], folder: str, date: str
          ) -> dict[str, Any] | None:
    sref = image_source_ref(job, line, row[0], folder)
    if sref is None:
        return None
    obj: dict[str, Any] = {"source-ref": sref}
    names: dict[str, None] = {}
    for field, label in enumerate(row[1:], start=2):
        if label == "" or label in names:  # empty columns skipped (L4744), repeats merged
            continue
        if label != label.strip():
            job.add("CSV_LABEL_WHITESPACE", line=line, path=f"field {field}", arg=repr(label),
                    context={"field": field, "label": label})
        if not C.label_name_ok(label):
            job.add("LABEL_NAME_LENGTH", line=line, path=f"field {field}", arg=len(label),
                    context={"field": field, **C.name_length(len(label))})
            continue
        names[label] = None
        attr = attribute_name(label, obj)
        if attr != label:
            job.add("LABEL_ATTRIBUTE_RENAMED", line=line, path=f"field {field}", arg=repr(label),
                    detail=f"attribute {attr!r}",
                    context={"field": field, "label": label, "attribute": attr})
        # keys in the order of the guide's script (L4748-4759)
        obj[attr] = 1
        obj[attr + "-metadata"] = {"confidence": 1, "job-name": JOB_PREFIX + label,
                                   "class-name": label, "human-annotated": "yes",
                                   "creation-date": date, "type": CLASSIFICATION}
    if len(names) > C.MAX_LABELS_PER_IMAGE:
        job.add("TOO_MANY_LABELS", line=line, detail=f"{len(names)} labels",
                context={"labels": len(names), "maximum": C.MAX_LABELS_PER_IMAGE})
        return None
    return obj


# --- export: manifest -> CSV ----------------------------------------------------------------


def export(manifest: str | os.PathLike[str], output: str | os.PathLike[str], *,
           s3_path: str | None = None, keep_formulas: bool = False,
           progress: bool | None = False) -> ConversionResult:
    """Write the image-level labels of a manifest as CSV rows ``image,label[,label...]``.

    ``s3_path`` is removed from the start of each source-ref (to convert back with the same
    ``--s3-path``). Lines without image-level labels and invalid lines are reported and left
    out; a line with no label at all (only ``source-ref``) gives a row with only the image.
    A cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...) gets a
    leading ``'`` (:func:`~customlabels.convert._common.formula_safe`), which ``convert csv``
    reads back off, unless ``keep_formulas``.
    """
    safe = (lambda cell: cell) if keep_formulas else C.formula_safe
    job = Job("csv-export", manifest, output)
    with job:
        folder = "" if s3_path is None else C.s3_folder(s3_path)
        if folder is None:
            raise job.fatal("S3_PREFIX_INVALID", repr(s3_path))
        rows, other = [], []
        for rec, obj in C.exportable_records(job, progress):
            labels = [name for _, name in usable_classes(obj, rec.findings)] \
                if rec.verdict == VALID else []
            if rec.verdict == VALID and not labels or (
                    rec.verdict == IGNORED and len(obj) > 1):
                other.append(rec.line)
                continue
            ref = rec.source_ref
            if folder and ref.startswith(folder):
                ref = ref[len(folder):]
            rows.append([safe(ref), *map(safe, dict.fromkeys(labels))])
        C.finish_export(job, other, "without image-level labels", _csv_bytes(rows), len(rows))
    return job.result(validate=False)
