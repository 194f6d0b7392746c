"""Every command, fed every kind of bad input users really have: a clear message, never a traceback.

The matrix is commands x inputs: each command (every format of ``convert`` and ``export``, both
inputs of ``evaluate``, the second input of ``merge``, the changes of ``update``) reads each input
below in the place of its input file. Whatever the command makes of it, the run must end with an
exit status of 0, 1 or 2 (never 3, an internal error), print no traceback, and, when it does not
pass, name the file it could not use.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from customlabels.cli.main import EXIT_INTERNAL, main

S3 = "s3://my-bucket/images/"


def _line(i: int, label: str) -> str:
    return json.dumps({
        "source-ref": f"{S3}{i}.jpg", "animal": 0,
        "animal-metadata": {"confidence": 1, "class-name": label, "human-annotated": "yes",
                            "creation-date": "2024-01-02T03:04:05",
                            "type": "groundtruth/image-classification"}})


def _surrogates() -> bytes:
    """A manifest whose label names are lone surrogates (valid JSON; UTF-8 cannot hold them)."""
    lines = [_line(i, "\ud800" if i % 2 else "\udfff") for i in range(10)]
    return ("\n".join(lines) + "\n").encode("ascii")  # json.dumps escapes them: \\ud800


#: name -> the bytes of the input (a directory and a missing file are made by the test)
INPUTS: dict[str, bytes | None] = {
    "empty": b"",
    "bom-only": b"\xef\xbb\xbf",
    "binary": bytes(range(256)) * 64,
    "invalid-utf8": b'{"source-ref": "s3://my-bucket/\xff\xfe.jpg"}\n\xc3\x28,\xa0\xa1\n',
    "surrogates": _surrogates(),
    "nul": b'{"source-ref": "s3://my-bucket/a.jpg"}\x00\n\x00\x00\x00\n',
    "10mb-line": b'{"source-ref": "s3://my-bucket/a.jpg", "x": "' + b"a" * (10 << 20) + b'"}\n',
    "deep-nesting": b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"\n",
    "huge-numbers": ('{"source-ref": "s3://my-bucket/a.jpg", "bb": {"image_size": [{"width": '
                     '1e999, "height": 1' + "0" * 400 + ', "depth": 3}], "annotations": []}}\n'
                     ).encode(),
    "nan": b'{"source-ref": "s3://my-bucket/a.jpg", "c": NaN, "c-metadata": {"confidence": '
           b'Infinity, "class-name": "cat"}}\n[1, -Infinity]\n',
    "wrong-types": b'[]\n"text"\n42\nnull\n{"source-ref": 7, "c": [], "c-metadata": "x"}\n'
                   b'{"images": {}, "annotations": 3, "categories": "x"}\n',
    "escape-sequences": ("\n".join(_line(i, "\u001b]0;pwned\u0007\u001b[31m" if i % 2 else "c")
                                   for i in range(10)) + "\n").encode(),
    "formula-prefixes": ("\n".join(_line(i, ("=HYPERLINK(\"x\")", "+1", "@SUM(A1)", "-2+3")[i % 4])
                                   for i in range(12)) + "\n").encode(),
    "private-0600": ("\n".join(_line(i, "cat") for i in range(3)) + "\n{broken\n").encode(),
    "directory": None,
    "missing": None,
    "fifo": None,
    "symlink": None,
}

#: command -> argv, with {bad} for the bad input, {train}/{test}/{pred} for good files, {out}
COMMANDS = {
    "validate": "validate {bad}",
    "validate --test": "validate {train} --test {bad}",
    "evaluate --test": "evaluate --test {bad} --predictions {pred} --output-dir {out}",
    "evaluate --predictions": "evaluate --test {test} --predictions {bad} --output-dir {out}",
    "convert coco": "convert coco {bad} --s3-prefix " + S3 + " -o {out}.manifest",
    "convert csv": "convert csv {bad} --s3-prefix " + S3 + " -o {out}.manifest",
    "convert csv-boxes": "convert csv-boxes {bad} --s3-prefix " + S3 + " -o {out}.manifest",
    "convert groundtruth-multilabel": "convert groundtruth-multilabel {bad} -o {out}.manifest",
    "export coco": "export coco {bad} -o {out}.json",
    "export csv": "export csv {bad} -o {out}.csv",
    "export groundtruth-multilabel": "export groundtruth-multilabel {bad} -o {out}.manifest",
    "split": "split {bad} --output-dir {out}",
    "distribute": "distribute {bad} {out}.manifest --in-place",
    "entries": "entries {bad}",
    "labels": "labels {bad}",
    "labels --format json": "labels {bad} --format json",
    "describe": "describe {bad}",
    "describe --format csv": "describe {bad} --format csv -o {out}.csv",
    "labels --format parquet": "labels {bad} --format parquet -o {out}.parquet",
    "update": "update {bad} --changes {train} -o {out}.manifest",
    "update --changes": "update {train} --changes {bad} -o {out}.manifest",
    "remove-label": "remove-label {bad} cat -o {out}.manifest",
    "merge": "merge {train} {bad} -o {out}.manifest",
}


#: commands that copy the input's lines into a result and validate it: the lines that came from
#: the bad input are named by their place in the result
WRITE_A_RESULT = {"update", "update --changes", "merge", "remove-label"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    paths: dict[str, Path] = {}
    for name, data in INPUTS.items():
        path = folder / f"{name}.manifest"
        if name == "directory":
            path.mkdir()
        elif name == "fifo":
            os.mkfifo(path)  # a reader that opens it blocks until a writer comes: none will
        elif name == "symlink":
            path.symlink_to(paths["nul"])
        elif data is not None:
            path.write_bytes(data)
            if name == "private-0600":
                path.chmod(0o600)
        paths[name] = path
    return paths


@pytest.fixture
def good(tmp_path: Path) -> dict[str, str]:
    lines = [_line(i, label) for i in range(12) for label in ("cat", "dog")[i % 2:i % 2 + 1]]
    train, test, pred = tmp_path / "train.manifest", tmp_path / "test.manifest", tmp_path / "p.jsonl"
    train.write_text("\n".join(lines) + "\n")
    test.write_text("\n".join(lines[:4]) + "\n")
    pred.write_text("".join(json.dumps({"source-ref": json.loads(x)["source-ref"],
                                        "CustomLabels": [{"Name": "cat", "Confidence": 90}]})
                            + "\n" for x in lines[:4]))
    return {"train": str(train), "test": str(test), "pred": str(pred), "out": str(tmp_path / "o")}


@pytest.mark.parametrize("bad", INPUTS)
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_input_gets_a_message_not_a_traceback(command: str, bad: str,
                                                   inputs: dict[str, Path], good: dict[str, str],
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    source = inputs[bad]
    if command == "distribute" and source.is_file():  # it rewrites its input: a copy
        source = tmp_path / source.name
        source.write_bytes(inputs[bad].read_bytes())
    before = source.read_bytes() if source.is_file() else None
    argv = COMMANDS[command].format(bad=source, **good).split()
    with _deadline(30):  # a command that opens the FIFO would block forever
        status = main(argv)
    out, err = capsys.readouterr()
    said = out + err
    assert status != EXIT_INTERNAL and status in (0, 1, 2), said
    assert "Traceback" not in said and "internal error" not in said, said
    if status:  # the message names the file it could not use, or the line it became
        assert source.name in said or (command in WRITE_A_RESULT and f"{good['out']}.manifest:"
                                       in said), said
    if before is not None and command != "distribute":
        assert source.read_bytes() == before  # an input is never changed


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail, instead of hanging, when the body runs longer than ``seconds``."""
    def expired(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s (blocked on a FIFO?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_labels_of_lone_surrogates_are_escaped_and_aligned(
        inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["labels", str(inputs["surrogates"])]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "LABEL   IMAGES   BOXES",
        "\\ud800       5       0",
        "\\udfff       5       0",
        "2 labels"]
