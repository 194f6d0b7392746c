"""What every converter shares: the job (issues, atomic output, validation), box and date rules.

A converter builds a :class:`Job`, reads its input, reports problems through it, writes the
manifest through :meth:`Job.open_output` (atomic: readers see the old file or the whole new one)
and returns :meth:`Job.result`, which validates what was written with the validator. Data
problems never raise: they become the result's issues. Only misuse (a bad option value)
raises ``ValueError``.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

from ..errors import UsageError
from ..issues import IssueViews, make_issue
from ..limits import (MAX_ASPECT, MAX_BOXES, MAX_LABEL_NAME, MAX_LABELS_PER_IMAGE, MAX_SIDE,
                      MIN_LABEL_NAME, MIN_SIDE, SCALE_SIDE)
from ..manifest.records import iter_records
from ..manifest.schema import (IGNORED, VALID, box_scale, dimension_ok, label_name_ok,
                               source_ref_bucket)
from ..manifest.writer import atomic_write, os_error_text, same_file

if TYPE_CHECKING:
    from ..validation.report import Issue, ValidationReport

#: The limits and line semantics the converters apply, re-exported for them (one definition
#: each, in customlabels.limits and customlabels.manifest.schema).
__all__ = ["MAX_BOXES", "MAX_LABELS_PER_IMAGE", "box_scale", "dimension_ok", "label_name_ok",
           "source_ref_bucket"]
#: ``image_size`` needs a depth; the service does not use it and the guide's scripts write 3
#: (L3951, L4230).
DEPTH = 3
#: Problems of one kind printed in text before the rest are only counted.
SHOWN_PER_CODE = 10


class Abort(Exception):
    """Stop a conversion after a problem that leaves nothing to write (already reported)."""


@dataclass
class ConversionResult(IssueViews):
    """What converting (or exporting) one file did.

    Attributes:
        format: the format's registry name (``coco``, ``csv``...).
        input: the input file.
        output: the file written, or None when nothing was written.
        lines: lines (manifest) or images (COCO export) written.
        stats: counts particular to the format (images read, boxes dropped...).
        issues: every problem found in the input, as :class:`customlabels.Issue` (code,
            severity, scope, file, line, path, message, detail, context), the codes those of
            the catalogue's converter rows; ``line`` is 1-based where the input has lines, else
            None and ``path`` names the record (``$.annotations[12]``). Plain dicts given to
            the constructor are typed.
        validation: the validator's report on the written manifest (None for exports and when
            nothing was written); plain data given to the constructor is typed.
        extra_outputs: other files written (the CSV converter's duplicate listings).
    """

    format: str
    input: str
    output: str | None
    lines: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    validation: ValidationReport | None = None
    extra_outputs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from ..validation.report import Issue, ValidationReport

        self.issues = [i if isinstance(i, Issue) else Issue.model_validate(i)
                       for i in self.issues]
        if self.validation is not None and not isinstance(self.validation, ValidationReport):
            self.validation = ValidationReport.model_validate(self.validation)

    @property
    def problems(self) -> list[Issue]:
        """Deprecated name of :attr:`issues` (read-only)."""
        return self.issues

    @property
    def ok(self) -> bool:
        """Tell whether the output was written, the input had no error and the output validates."""
        return (self.output is not None and not self.errors
                and (self.validation is None or self.validation.ok))

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain data (what ``--format json`` prints)."""
        from ..issues import as_data

        return {"ok": self.ok, "format": self.format, "input": self.input,
                "output": self.output, "lines": self.lines, "stats": self.stats,
                "issues": [i.model_dump() for i in self.issues],
                "validation": None if self.validation is None else as_data(self.validation),
                "extra_outputs": self.extra_outputs}


class Job:
    """One conversion: collects issues, guards the output, validates what was written.

    ``issues`` holds plain data (:func:`customlabels.issues.make_issue`) until :meth:`result`
    types it.
    """

    def __init__(self, fmt: str, source: str | os.PathLike[str],
                 output: str | os.PathLike[str], *, inputs: tuple[str, ...] = ()):
        self.format = fmt
        self.source = os.fspath(source)
        self.output = Path(output)
        self.inputs = (self.source, *inputs)
        self.issues: list[dict[str, Any]] = []
        self.stats: dict[str, int] = {}
        self.lines = 0
        self.written = False
        self.extra_outputs: list[str] = []

    # --- issues --------------------------------------------------------------------------------

    @property
    def problems(self) -> list[dict[str, Any]]:
        """Deprecated name of :attr:`issues` (the same list)."""
        return self.issues

    def add(self, code: str, line: int | None = None, path: str | None = None,
            detail: str | None = None, arg: Any = None, severity: str | None = None,
            file: str | None = None, context: dict[str, Any] | None = None) -> None:
        """Report a problem of the input (``file`` defaults to the input).

        ``arg`` fills the message's ``{}``; ``context`` holds the values behind the message and
        the detail (see :func:`customlabels.issues.make_issue`).
        """
        self.issues.append(make_issue(code, file or self.source, line, path, arg=arg,
                                        detail=detail, severity=severity, context=context))

    def fatal(self, code: str, detail: str | None = None, arg: Any = None,
              file: str | None = None, line: int | None = None,
              context: dict[str, Any] | None = None) -> Abort:
        """Report a problem that leaves nothing to write; return the exception to raise."""
        self.add(code, line=line, detail=detail, arg=arg, file=file, context=context)
        return Abort(code)

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to the statistic ``key``."""
        self.stats[key] = self.stats.get(key, 0) + n

    # --- input and output ----------------------------------------------------------------------

    def read_bytes(self) -> bytes:
        """Return the whole input; an unreadable or empty input is fatal."""
        try:
            data = Path(self.source).read_bytes()
        except OSError as exc:
            raise self.fatal("INPUT_UNREADABLE", exc.strerror or str(exc),
                             context=os_error(exc)) from None
        if not data.strip():
            raise self.fatal("INPUT_EMPTY")
        return data

    def check_output(self, target: Path) -> None:
        """Refuse a target that is one of the inputs (never overwrite an input)."""
        for item in self.inputs:
            if same_file(target, Path(item)):
                raise self.fatal("OUTPUT_IS_INPUT", f"{target} is the input {item}",
                                 file=str(target),
                                 context={"output": str(target), "input": item})

    def check_input(self) -> None:
        """Abort when the input cannot be read or holds no byte."""
        from ..manifest.reader import special_kind

        try:
            size = os.stat(self.source).st_size
        except OSError as exc:
            raise self.fatal("INPUT_UNREADABLE", exc.strerror or str(exc),
                             context=os_error(exc)) from None
        kind = special_kind(self.source)
        if kind is not None:  # a pipe would block the reader, or read as empty
            raise self.fatal("INPUT_UNREADABLE", f"not a regular file: {kind}",
                             context={"error": "not a regular file", "kind": kind})
        if size == 0:
            raise self.fatal("INPUT_EMPTY")

    @contextmanager
    def open_output(self, target: Path | None = None,
                    lines_needed: bool = False) -> Iterator[BinaryIO]:
        """Open the output (or ``target``) for an atomic write; parents are created.

        With ``lines_needed``, a body that wrote no line (``self.lines`` still 0) aborts
        instead: an empty manifest is never written (the validator would refuse it, L6078).
        """
        target = self.output if target is None else target
        self.check_output(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(target) as stream:
                yield stream
                if lines_needed and not self.lines:
                    raise self.fatal("NOTHING_TO_WRITE")
        except OSError as exc:
            if exc.filename is not None and any(
                    same_file(Path(exc.filename), Path(i)) for i in self.inputs):
                raise self.fatal("INPUT_UNREADABLE", exc.strerror or str(exc),
                                 context=os_error(exc)) from None
            raise self.fatal("OUTPUT_NOT_WRITABLE", os_error_text(exc, target),
                             file=str(target),
                             context={"output": str(target), **os_error(exc)}) from None
        if target == self.output:
            self.written = True
        else:
            self.extra_outputs.append(str(target))

    def __enter__(self) -> "Job":
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        return isinstance(exc, Abort)  # already reported; anything else propagates

    def result(self, validate: bool = True, backend: str = "auto") -> ConversionResult:
        """Return the result, validating the manifest written (when ``validate``)."""
        from ..validation.report import Issue, ValidationReport

        report = None
        if self.written and validate:
            from ..validation.pipeline import validate_files

            report = ValidationReport.model_validate(
                validate_files(str(self.output), backend=backend))
        return ConversionResult(self.format, self.source,
                                str(self.output) if self.written else None, self.lines,
                                dict(sorted(self.stats.items())),
                                [Issue.model_validate(i) for i in self.issues], report,
                                self.extra_outputs)


def error_codes(rec: Any) -> str:
    """Return the error codes of a record, for a problem's detail."""
    return ", ".join(error_code_list(rec))


def error_code_list(rec: Any) -> list[str]:
    """Return the error codes of a record, sorted (a problem's context)."""
    from ..codes import CODE_NAMES

    return sorted({CODE_NAMES[code] for code, _, _ in rec.findings
                   if CODE_NAMES[code].startswith("ERROR_")})


def json_type(value: Any) -> str | None:
    """Return the JSON type of a parsed value (``object``, ``array``...); None for None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    for kind, name in ((dict, "object"), (list, "array"), (str, "string"),
                       ((int, float), "number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def os_error(exc: OSError) -> dict[str, Any]:
    """Return the context of a problem caused by ``exc``: the system's error text and number."""
    return {"error": exc.strerror or str(exc), "errno": exc.errno}


def name_length(length: int) -> dict[str, Any]:
    """Return the context of a LABEL_NAME_LENGTH problem: the length and the limits passed."""
    return {"length": length, "minimum": MIN_LABEL_NAME, "maximum": MAX_LABEL_NAME}


def dimension(width: Any, height: Any) -> dict[str, Any]:
    """Return the context of an IMAGE_DIMENSION problem: the size and the limits passed."""
    return {"width": width, "height": height, "min_side": MIN_SIDE, "max_side": MAX_SIDE,
            "max_aspect": MAX_ASPECT}


def too_small(width: int, height: int, image_width: int, image_height: int) -> dict[str, Any]:
    """Return the context of a BOX_TOO_SMALL problem."""
    return {"width": width, "height": height, "image_width": image_width,
            "image_height": image_height, "scale_side": SCALE_SIDE}


def exportable_records(job: Job, progress: bool | None = False
                       ) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Yield ``(record, object)`` for each valid or ignored line of the manifest to export.

    Invalid lines are reported (``MANIFEST_LINE_INVALID``, their error codes as the detail) and
    skipped; a manifest that cannot be read is fatal (``INPUT_UNREADABLE``). ``progress``: a
    bar counting the lines read (None: when stderr is a terminal).
    """
    try:
        for rec in counted(iter_records(job.source), Path(job.source).name, progress):
            if rec.verdict not in (VALID, IGNORED):
                codes = error_code_list(rec)
                job.add("MANIFEST_LINE_INVALID", line=rec.line, detail=", ".join(codes),
                        context={"codes": codes})
                continue
            yield rec, cast(dict[str, Any], rec.object())  # valid and ignored lines parse
    except OSError as exc:
        raise job.fatal("INPUT_UNREADABLE", exc.strerror or str(exc),
                        context=os_error(exc)) from None


def finish_export(job: Job, other: list[int], without: str, data: bytes, lines: int) -> None:
    """End an export: report the lines left out, write ``data``, record ``lines`` written.

    ``other`` holds the numbers of the lines left out for lacking what the format exports;
    ``without`` says what they lack (``"without image-level labels"``).
    """
    if not lines:
        raise nothing_to_export(job, other, without)
    if other:
        job.add("MANIFEST_LINE_NOT_EXPORTED", line=other[0],
                detail=f"{len(other)} lines {without}, the first line {other[0]}",
                context={"lines": len(other), "first_line": other[0], "without": without})
    with job.open_output() as out:
        out.write(data)
    job.lines = lines


def nothing_to_export(job: Job, other: list[int], without: str) -> Abort:
    """Refuse an export that would write no entry: a manifest of the other kind (boxes given
    to a format of image-level labels, or the reverse), or one without a valid line."""
    if other:
        detail = (f"all {len(other)} usable line{'s' * (len(other) != 1)} are {without}, "
                  f"the first line {other[0]}")
    else:
        detail = "the manifest has no valid line"
    return job.fatal("NOTHING_TO_EXPORT", detail=detail,
                     context={"lines": len(other), "first_line": other[0] if other else None,
                              "without": without})


# --- the rules shared by converters ---------------------------------------------------------


def pixel_box(x: float, y: float, w: float, h: float, width: int,
              height: int) -> tuple[int, int, int, int]:
    """Round a box to whole pixels and clip it to the image; return (left, top, width, height).

    Each edge rounds to the nearest pixel boundary, halves up (``floor(v + 0.5)``), then is
    clipped to ``0..width`` or ``0..height``: a box keeps its place within half a pixel, two
    boxes that share an edge still share it, and integers come out unchanged. A width or height
    of 0 means the box vanished. The numbers must be finite (the caller checks).
    """
    left = min(max(math.floor(x + 0.5), 0), width)
    top = min(max(math.floor(y + 0.5), 0), height)
    right = min(max(math.floor(x + w + 0.5), 0), width)
    bottom = min(max(math.floor(y + h + 0.5), 0), height)
    return left, top, right - left, bottom - top


def is_number(value: Any) -> bool:
    """Tell whether ``value`` is a finite JSON number (not a boolean)."""
    kind = type(value)
    if kind is int:
        return True
    return kind is float and math.isfinite(value)


#: creation-date as the guide's COCO script writes it: Y-M-DTH:M:S (L4004, L4249).
def parse_date(value: Any) -> str | None:
    """Return ``value`` (an ISO 8601 date and time) as ``YYYY-MM-DDTHH:MM:SS`` in UTC, else None.

    Accepts what the guide's COCO script accepts (``2013-11-15 02:41:42``) and the other ISO
    forms (``T`` separator, fractions, a time zone, a date alone); fractions are dropped, as the
    script's ``strftime`` drops them, and a time zone is converted to UTC (L3468, L3649). A
    time whose UTC is outside years 1-9999 (``9999-12-31T23:59:59-05:00``) is not a date.
    """
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.strip())
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return stamp.isoformat(timespec="seconds")


def now_date() -> str:
    """Return the current UTC time as a creation-date (the fallback for missing dates)."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def fallback_date(creation_date: str | None) -> str:
    """Return the creation-date to use where the input has none; ``ValueError`` if malformed."""
    if creation_date is None:
        return now_date()
    parsed = parse_date(creation_date)
    if parsed is None:
        raise UsageError(f"creation_date must be an ISO 8601 date and time, not "
                         f"{creation_date!r}")
    return parsed


def s3_folder(prefix: str) -> str | None:
    """Return ``prefix`` ending in ``/`` if it is a valid ``s3://bucket[/path]`` URL, else None."""
    folder = prefix if prefix.endswith("/") else prefix + "/"
    return folder if source_ref_bucket(folder + "x") is not None else None


def is_source_ref(value: str) -> bool:
    """Tell whether ``value`` is a well-formed ``s3://bucket/key`` source-ref."""
    return source_ref_bucket(value) is not None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk load.

    Parsing a COCO file creates millions of lists and dicts; each allocation batch triggers a
    collection that walks the whole growing document, which doubles ``orjson.loads``' time on a
    train2017-sized file. The converters create no reference cycles, so reference counting
    frees everything they drop; the collector resumes afterwards.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Progress:
    """A progress bar on stderr (tqdm), shown only on a terminal unless forced.

    Counts are whole numbers of ``unit`` (files, lines): no unit scaling, which tqdm prints
    with decimals (``0.00/2.00``) below a thousand.
    """

    def __init__(self, total: int, desc: str, enabled: bool | None, unit: str = "it"):
        self.bar: Any = None
        if enabled is False:
            return
        from tqdm import tqdm  # only when converting: keeps `validate` start-up short

        from ..cli._terminal import escape_controls, raw

        # the bar draws with escapes of its own: it writes beneath the terminal guard, and
        # its text (a file name) is escaped here
        self.bar = tqdm(total=total or None, desc=escape_controls(desc), unit=f" {unit}s",
                        leave=False, disable=None if enabled is None else False,
                        mininterval=0.25, file=raw(sys.stderr))

    def update(self, n: int) -> None:
        """Advance by ``n``."""
        if self.bar is not None:
            self.bar.update(n)

    def note(self, text: str) -> None:
        """Show ``text`` after the count (a training loss, images a second)."""
        if self.bar is not None:
            from ..cli._terminal import escape_controls

            self.bar.set_postfix_str(escape_controls(text), refresh=False)

    def close(self) -> None:
        """Remove the bar."""
        if self.bar is not None:
            self.bar.close()


T = TypeVar("T")
#: Rows counted between two updates of a bar: a tqdm update per line would cost more than the line.
_PROGRESS_STEP = 4096


def counted(rows: Iterable[T], desc: str, enabled: bool | None, unit: str = "line"
            ) -> Iterator[T]:
    """Return ``rows``, counted on a :class:`Progress` bar when one shows (``enabled`` as there).

    Without a bar (``enabled`` False, or None and stderr not a terminal) the rows are returned
    as they are: the compiled core's rows keep their C-chained loop.
    """
    if not _shows(enabled):
        return iter(rows)
    return _counting(rows, Progress(0, desc, enabled, unit=unit))


def counted_batches(batches: Iterable[list[T]], desc: str, enabled: bool | None,
                    unit: str = "line") -> Iterator[list[T]]:
    """Return ``batches`` (lists of rows), their rows counted as :func:`counted` counts them."""
    if not _shows(enabled):
        return iter(batches)
    return _counting_batches(batches, Progress(0, desc, enabled, unit=unit))


def _counting_batches(batches: Iterable[list[T]], bar: Progress) -> Iterator[list[T]]:
    try:
        for batch in batches:
            yield batch
            bar.update(len(batch))
    finally:
        bar.close()


def _shows(enabled: bool | None) -> bool:
    """Tell whether a bar shows: asked for (True), or None and stderr is a terminal."""
    return enabled is not False and (enabled is not None or _is_terminal(sys.stderr))


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


def _counting(rows: Iterable[T], bar: Progress) -> Iterator[T]:
    n = 0
    try:
        for row in rows:
            yield row
            n += 1
            if n == _PROGRESS_STEP:
                bar.update(n)
                n = 0
    finally:
        bar.update(n)
        bar.close()


def dump_line(obj: dict[str, Any]) -> bytes:
    """Serialise one manifest line with orjson (keys in insertion order, UTF-8, no spaces)."""
    return dump_json(obj) + b"\n"


def dump_json(obj: Any) -> bytes:
    """Serialise ``obj`` with orjson; a lone surrogate (from a ``\\ud800`` escape) is escaped."""
    import orjson

    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson refuses strings that are not valid UTF-8
        import json

        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii")


def check_label_attribute(name: str) -> str:
    """Return ``name`` when it can be a label attribute's key; else raise :class:`UsageError`.

    ``source-ref``, ``errors``, ``warnings`` and any ``...-metadata`` key mean something else
    in a manifest line: an attribute so named would replace the image location or the
    findings. Every converter and exporter that takes ``--label-attribute`` checks it here.
    """
    from ..errors import UsageError
    from ..manifest.schema import METADATA_SUFFIX, RESERVED_KEYS

    if not name or name in RESERVED_KEYS or name.endswith(METADATA_SUFFIX):
        reserved = ", ".join(sorted(RESERVED_KEYS))
        raise UsageError(f"{name!r} cannot be a label attribute name: {reserved} and names "
                         f"ending in {METADATA_SUFFIX} are keys of their own in a manifest line")
    return name


#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def formula_safe(cell: str) -> str:
    """Return a CSV cell a spreadsheet shows as text: ``'`` before a formula's first character.

    A label such as ``=HYPERLINK(...)`` or ``@SUM(...)`` would run when the exported file is
    opened in a spreadsheet; with the quote the spreadsheet shows the text (and hides the
    quote). A plain number (``-5``, ``+1.5e3``) is not a formula and stays as it is. The
    CSV converters read the quote back off (:func:`formula_unescaped`).
    """
    if cell and cell[0] in FORMULA_STARTS and _PLAIN_NUMBER.fullmatch(cell) is None:
        return "'" + cell
    return cell


def formula_unescaped(cell: str) -> str:
    """Return a cell as it was before :func:`formula_safe`: ``'=x`` is ``=x``."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def image_key(name: str) -> tuple[str | None, str]:
    """Return ``(key, "")`` for an image name joined to an S3 prefix, or ``(None, why)``.

    One rule for every converter (``docs/decisions.md``, "One key rule"): leading slashes are
    removed (``/a.jpg`` is ``a.jpg`` under the prefix, as a path from the root of a mirror);
    a name that is empty, ends in ``/`` (a folder), has an empty, ``.`` or ``..`` segment
    (which would climb out of the prefix once a mirror resolves it), or holds a control
    character, is refused.
    """
    key = name.lstrip("/")
    if not key:
        return None, "the name is empty (or only slashes)"
    if key.endswith("/"):
        return None, "the name ends in / (a folder, not an image)"
    if any(part in ("", ".", "..") for part in key.split("/")):
        return None, "the name has an empty, . or .. path segment"
    if any(ord(c) < 0x20 or c == "\x7f" for c in key):
        return None, "the name holds a control character"
    return key, ""
