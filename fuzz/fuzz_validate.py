"""Fuzz the manifest reader and validator: arbitrary bytes as a manifest, must never crash.

Run with atheris (libFuzzer options pass through)::

    python fuzz/fuzz_validate.py out/fuzz-corpus fuzz/corpus -max_total_time=60

Without atheris, ``python fuzz/fuzz_validate.py --replay FILE_OR_DIR...`` runs the same checks once
on each file (the seed corpus, or a crash file libFuzzer left behind).

Each input is read as a training manifest. The row limit is the default, or, for a quarter of the
inputs (chosen by a checksum, so the corpus stays plain manifests), a limit around the number of
lines; for a fifth, the lines after the middle one form a testing manifest. The invariants:

* validation never raises: bad data gives a report (none of the documented exceptions, which are
  for misuse, is expected);
* the scanner reads exactly the documented lines (:func:`expected_lines`), gives each a verdict
  (valid + invalid + ignored == total), reports problems on lines 1..total in increasing order, and
  sets ``exceeded`` only when the file has more lines than the row limit;
* reading in tiny chunks gives the same result as reading in one go;
* the compiled core, when built, gives the same scan, report and files as the Python scanner;
* the summary's counts add up, ``error_json_line_indices`` lists exactly the lines with an error,
  and the validation manifest has one JSON object per line, ``total_json_lines`` of them.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

try:
    import atheris
except ImportError:  # --replay still works
    atheris = None


_INSTRUMENT = (atheris.instrument_imports(include=["customlabels"])
               if atheris is not None and "--replay" not in sys.argv else contextlib.nullcontext())
with _INSTRUMENT:
    from customlabels.codes import CODE_NAMES, CODES
    from customlabels.validation import _pyscan, pipeline
    from customlabels.validation.scan import scan_compiled

    try:
        from customlabels import _core
    except ImportError:
        _core = None

BOM = b"\xef\xbb\xbf"
#: Whether the compiled scanner takes ``chunk_size`` (its reads are then that small).
_CORE_CHUNKS = False
if _core is not None:
    try:
        scan_compiled(io.BytesIO(b""), 1, chunk_size=1)
        _CORE_CHUNKS = True
    except TypeError:
        pass
LINE_SCOPES = ("line", "attribute", "annotation", "metadata")
#: Where each input is written; libFuzzer may end the process without running atexit handlers,
#: so a run under a temporary TMPDIR (as tests/validation/test_fuzz.py does) leaves nothing behind.
_TMP = tempfile.mkdtemp(prefix="fuzz-validate-")
atexit.register(shutil.rmtree, _TMP, True)


class FuzzFailure(AssertionError):
    """An invariant does not hold for the current input."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise FuzzFailure(message)


class Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes a read, to test the reader's chunking."""

    def __init__(self, data: bytes, step: int):
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._step, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


def expected_lines(data: bytes) -> list[bytes]:
    """Split ``data`` by the documented reading rules, independently of the reader."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    if not data:
        return []
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts]


def check_scan(result: Any, lines: list[bytes], max_lines: int) -> None:
    total = min(len(lines), max_lines)
    check(result.total == total, f"total {result.total}, expected {total}")
    check(result.exceeded == (len(lines) > max_lines),
          f"exceeded={result.exceeded} with {len(lines)} lines, limit {max_lines}")
    check(len(result.counts) == 3 and sum(result.counts) == total,
          f"counts {result.counts} do not add up to {total}")
    numbers = [line for line, _, _ in result.problems]
    check(all(1 <= n <= total for n in numbers), f"problem lines {numbers} outside 1..{total}")
    check(all(a < b for a, b in zip(numbers, numbers[1:])),
          f"problem lines not increasing: {numbers}")
    not_valid = [0, 0, 0]
    dropped = 0
    for line, verdict, findings in result.problems:
        check(verdict in (0, 1, 2), f"line {line}: verdict {verdict}")
        check(bool(findings), f"line {line}: a problem without findings")
        not_valid[verdict] += 1
        for code, path, _ in findings:
            check(0 <= code < len(CODE_NAMES), f"line {line}: code {code}")
            check(CODES[CODE_NAMES[code]].scope in LINE_SCOPES, f"line {line}: {CODE_NAMES[code]}")
            check(isinstance(path, (tuple, list)), f"line {line}: path {path!r}")
        if any(code in _pyscan.DROPPED for code, _, _ in findings):
            dropped += 1
        if verdict == _pyscan.IGNORED:
            check(all(CODES[CODE_NAMES[c]].severity == "warning" for c, _, _ in findings),
                  f"line {line}: ignored with an error")
    # A line without findings is valid, so the invalid and ignored lines are all in problems.
    check(result.counts[1:] == not_valid[1:], f"counts {result.counts}, problems {not_valid}")
    check(result.dropped == dropped, f"dropped {result.dropped}, expected {dropped}")


def comparable(result: Any) -> Any:
    """Return the fields of a scan result both scanners must agree on (``refs`` is opaque)."""
    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return [[plain(k), plain(v)] for k, v in value.items()]
        return [type(value).__name__, value]

    return plain([result.total, result.exceeded, result.counts, result.dropped, result.problems,
                  result.labels, result.kind_lines, result.buckets, result.overlaps])


def scan_file(scan: Any, path: str, max_lines: int, other: Any = None) -> Any:
    with open(path, "rb", buffering=0) as stream:
        return scan(stream, max_lines, other)


def run_validate(train: str, test: str | None, max_lines: int, kind: str) -> tuple[dict, dict]:
    out = os.path.join(_TMP, "out")
    shutil.rmtree(out, ignore_errors=True)
    report = pipeline.validate_files(train, test, output_dir=out, max_lines=max_lines, backend=kind)
    files = {}
    if os.path.isdir(out):
        files = {p.name: p.read_bytes() for p in Path(out).iterdir()}
    return report, files


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_report(report: dict, files: dict, inputs: dict[str, tuple[str, bytes]],
                 max_lines: int) -> None:
    codes = {issue["code"] for issue in report["issues"]}
    counts = {role: len(expected_lines(data)) for role, (_, data) in inputs.items()}
    if any(n == 0 for n in counts.values()):
        check("ERROR_MANIFEST_EMPTY" in codes, "an empty manifest without ERROR_MANIFEST_EMPTY")
        check(report["summary"] is None and not files, "an empty manifest gave results")
        return
    if any(n > max_lines for n in counts.values()):
        check("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM" in codes, "too many rows not reported")
        check(report["summary"] is None and not files, "results written past the row limit")
        return
    check(report["summary"] is not None, f"no summary: {sorted(codes)}")
    check(pipeline.SUMMARY_NAME in files, "no manifest_summary.json")
    check(json.loads(files[pipeline.SUMMARY_NAME]) == report["summary"],
          "manifest_summary.json differs from the report")
    for role, (path, data) in inputs.items():
        stats = report["summary"]["statistics"][role]
        total = stats["total_json_lines"]
        check(total == counts[role], f"{role}: total {total}, expected {counts[role]}")
        check(stats["valid_json_lines"] + stats["invalid_json_lines"]
              + stats["ignored_json_lines"] == total, f"{role}: counts do not add up")
        errors = sorted({i["line"] for i in report["issues"] if i["file"] == path
                         and i["line"] is not None and i["scope"] in LINE_SCOPES
                         and i["severity"] == "error"})
        check(stats["error_json_line_indices"] == errors,
              f"{role}: error_json_line_indices {stats['error_json_line_indices']} != {errors}")
        output = files[pipeline.RESULT_NAMES[role]]
        check(output.endswith(b"\n"), f"{role}: validation manifest without final newline")
        out_lines = output[:-1].split(b"\n")
        check(len(out_lines) == total, f"{role}: {len(out_lines)} lines in the validation "
              f"manifest, expected {total}")
        for n, line in enumerate(out_lines, start=1):
            try:
                obj = json.loads(line, parse_constant=_not_json)
            except ValueError as exc:
                raise FuzzFailure(f"{role}: line {n} of the validation manifest: {exc}") from None
            check(isinstance(obj, dict), f"{role}: line {n} of the validation manifest")


def test_one_input(data: bytes) -> None:
    crc = zlib.crc32(data)
    lines = expected_lines(data)
    max_lines = pipeline.DEFAULT_MAX_LINES
    if crc % 4 == 0:
        max_lines = 1 + (crc >> 8) % (len(lines) + 2)

    # The scanner on its own: from a file, from memory, and a few bytes at a time.
    train = os.path.join(_TMP, "train.manifest")
    Path(train).write_bytes(data)
    result = scan_file(_pyscan.scan, train, max_lines)
    check_scan(result, lines, max_lines)
    expected = comparable(result)
    check(comparable(_pyscan.scan(io.BytesIO(data), max_lines)) == expected, "BytesIO differs")
    step = 1 + (crc >> 4) % 7
    check(comparable(_pyscan.scan(Trickle(data, step), max_lines)) == expected,
          f"reading {step} bytes at a time differs")
    if _core is not None:
        check(comparable(scan_file(scan_compiled, train, max_lines)) == expected,
              "the compiled scanner differs from the Python one")
        check(comparable(scan_compiled(Trickle(data, step), max_lines)) == expected,
              f"the compiled scanner reading {step} bytes at a time differs")
        if _CORE_CHUNKS:
            check(comparable(scan_compiled(io.BytesIO(data), max_lines, chunk_size=step))
                  == expected, f"the compiled scanner with chunk_size={step} differs")

    if _core is not None:
        check_records_and_export(train)

    # The whole validation, sometimes with the second half as a testing manifest.
    inputs = {"training": (train, data)}
    test = None
    if crc % 5 == 0 and len(lines) >= 2:
        body = data[len(BOM):] if data.startswith(BOM) else data
        cut = 0
        for _ in range(len(lines) // 2):
            cut = body.index(b"\n", cut) + 1
        Path(train).write_bytes(body[:cut])
        test = os.path.join(_TMP, "test.manifest")
        Path(test).write_bytes(body[cut:])
        inputs = {"training": (train, body[:cut]), "testing": (test, body[cut:])}
    report, files = run_validate(train, test, max_lines, "python")
    check_report(report, files, inputs, max_lines)
    if _core is not None:
        c_report, c_files = run_validate(train, test, max_lines, "compiled")
        c_report["backend"] = report["backend"]
        check(c_report == report, "the compiled backend's report differs")
        check(c_files == files, "the compiled backend's files differ")


def check_records_and_export(path: str) -> None:
    """The compiled records equal the Python ones (with numbers too, their first seven
    fields but ``raw``), and export coco writes the same bytes and issues with either."""
    from customlabels.convert import export
    from customlabels.manifest.records import iter_batches, iter_rows

    rows = list(iter_rows(path, backend="python"))
    check(list(iter_rows(path, backend="compiled")) == rows,
          "the compiled records differ from the Python ones")
    _, batches = iter_batches(path, backend="compiled", numbers=True)
    numbered = [row for batch in batches for row in batch]
    check(len(numbered) == len(rows), "records with numbers: not one a line")
    for row, plain in zip(numbered, rows):
        if len(row) == 7 or row[7] is None:  # no numbers: the record as it is
            same = row[:7] == plain
        else:  # numbers: no bytes, no findings (a valid line), no source-ref without boxes
            same = (row[0] == plain[0] and row[1] is None and row[2] == plain[2] == 0
                    and row[3] == plain[3] == []
                    and row[4] == (None if row[7] == b"" else plain[4])
                    and row[5:7] == plain[5:7])
        check(same, f"line {plain[0]}: the record with numbers differs")
    outputs = []
    for backend in ("python", "compiled"):
        target = os.path.join(_TMP, f"export-{backend}.json")
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)
        try:
            result = export("coco", path, target, backend=backend)
        except Exception as exc:  # noqa: BLE001 - a crash is what the fuzzer looks for
            raise FuzzFailure(f"export coco ({backend}) raised {exc!r}") from exc
        body = Path(target).read_bytes() if os.path.exists(target) else None
        outputs.append((body, [(i.code, i.line, i.context) for i in result.issues]))
    check(outputs[0] == outputs[1], "export coco: the compiled path writes other bytes or issues")


def replay(paths: list[str]) -> int:
    """Run the checks once on each file (directories are walked); return 1 if any failed."""
    files = []
    for name in paths:
        path = Path(name)
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    failed = 0
    for path in files:
        try:
            test_one_input(path.read_bytes())
        except Exception as exc:  # report every failing input, not only the first
            failed += 1
            print(f"{path}: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"replayed {len(files)} inputs, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def main() -> int:
    if "--replay" in sys.argv:
        return replay([a for a in sys.argv[1:] if a != "--replay"])
    if atheris is None:
        print("atheris is not installed; use --replay FILE_OR_DIR...", file=sys.stderr)
        return 2
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
