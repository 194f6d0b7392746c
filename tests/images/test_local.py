"""Local mirrors: keys never lead out, only headers are read, and the cache survives a kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from customlabels.errors import ImageSourceError
from customlabels.images.batch import check_keys
from customlabels.images.cache import CACHE_VERSION, ImageCache
from customlabels.images.check import ImageCheck
from customlabels.images.local import LocalImages, _compiled, key_refusal
from customlabels.limits import MAX_IMAGE_BYTES
from customlabels.validation.pipeline import validate_files

from tests.helpers import ROOT, classification_line
from tests.images.files import image_bytes, make_mirror
from tests.validation.test_cases import compact


def test_both_readers_give_the_same_checks_and_stamps(tmp_path: Path) -> None:
    """The compiled reader (customlabels._images) against the os module's calls: every file of
    every image case's mirror, and what is not a plain image file."""
    if _compiled is None:
        pytest.skip("customlabels._images is not built")
    files: dict[str, dict] = {}
    for case in sorted((ROOT / "tests" / "image_cases").iterdir()):
        recipes = json.loads((case / "images.json").read_text())
        files.update({f"{case.name}/{key}": recipe for key, recipe in recipes.items()})
    files.update({"pipe.png": {"fifo": True}, "folder.png": {"folder": True},
                  "empty.png": {"text": ""}, "link-in.png": {"link": "empty.png"},
                  "link-out.png": {"link": "../elsewhere.png"},
                  "exif.jpg": {"jpeg": [300, 200], "orientation": 6}})
    (tmp_path / "elsewhere.png").write_bytes(image_bytes({"png": [100, 100]}))
    mirror = make_mirror(tmp_path / "m", files)
    os.symlink("/dev/zero", mirror / "zero.png")
    locked = mirror / "locked.png"
    locked.write_bytes(image_bytes({"png": [100, 100]}))
    locked.chmod(0)
    keys = [*files, "zero.png", "locked.png", "absent.png", "no/such/folder.png",
            "empty.png/below.png"]
    python, compiled = LocalImages(str(mirror), backend="python"), LocalImages(
        str(mirror), backend="compiled")
    for key in keys:
        assert compiled.check(key) == python.check(key), key
    assert sum(python.check(k)[0].problem is None for k in keys) >= 20
    # the batched reads (a C thread reads a chunk while the last one is judged), whole and cut
    expected = [python.check(key) for key in keys]
    assert compiled.finish(keys, compiled.prefetch(keys)) == expected
    assert python.finish(keys, python.prefetch(keys)) == expected
    checks, _ = check_keys(compiled, keys * 3)
    assert checks == [check for check, _ in expected * 3]
    # the trainer's whole read refuses what the check could not read, by the same rules
    for key, (check, _) in zip(keys, expected):
        if key_refusal(key) is not None:  # refused before a check is asked for (source.key)
            continue
        if check.readable and check.size <= MAX_IMAGE_BYTES:
            assert len(python.read(key)) == check.size, key
        elif check.readable:
            with pytest.raises(OSError, match="over the 15,000,000 bytes"):
                python.read(key)
        else:
            with pytest.raises(OSError) as refused:
                python.read(key)
            assert refused.value.strerror == check.detail, key


def test_batched_reads_hold_the_same_answers_as_single_ones(tmp_path: Path) -> None:
    if _compiled is None:
        pytest.skip("customlabels._images is not built")
    (tmp_path / "a.bin").write_bytes(b"x" * 10_000)
    (tmp_path / "small").write_bytes(b"abc")
    paths = [os.fsencode(tmp_path / name) for name in ("a.bin", "small", "none", ".")]
    single = [_compiled.head(path, 4096) for path in paths]
    assert [a[0] for a in single] == [_compiled.HEAD_READ, _compiled.HEAD_READ,
                                      _compiled.STAT_FAILED, _compiled.NOT_REGULAR]
    assert _compiled.heads(paths, 4096) == single
    assert _compiled.heads([], 4096) == []
    assert _compiled.heads([b"a\x00b"], 16)[0][0] == _compiled.NUL_IN_PATH
    reads = _compiled.Reads(paths, 4096)
    assert reads.answers() == single and reads.answers() == single  # joined once
    _compiled.Reads(paths, 8)  # dropped before its answers are asked: the thread is joined
    with pytest.raises(TypeError):
        _compiled.Reads(["not bytes"], 16)  # type: ignore[list-item]


@pytest.mark.parametrize("key", ["../secret.png", "a/../../secret.png", "/etc/passwd",
                                 "a//b.png", "./a.png", "a/./b.png", "a/b/", "",
                                 "a/\x00.png", "..", "a/.."])
def test_keys_that_could_lead_out_are_refused(key: str) -> None:
    assert key_refusal(key) is not None


@pytest.mark.parametrize("key", ["a.png", "a/b/c.jpg", "%2E%2E/x.png", "a/%2e%2e%2fb.png",
                                 "..a/b.png", "a../b.png", "...", "a b/ü.png"])
def test_other_keys_are_kept_as_they_are(key: str) -> None:
    assert key_refusal(key) is None


def test_a_source_ref_never_resolves_outside_the_mirror(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(image_bytes({"png": [100, 100]}))
    mirror = make_mirror(tmp_path / "mirror", {
        "ok.png": {"png": [100, 100]},
        "%2E%2E/secret.png": {"png": [100, 100]},  # a literal folder named %2E%2E: inside
        "link.png": {"link": "../secret.png"},
        "sub/link.png": {"link": "../ok.png"},  # a link inside the mirror is fine
        "folder-link": {"link": ".."},
        "alias": {"link": "sub"},  # a folder link inside the mirror is fine, looked up once
    })
    source = LocalImages(str(mirror))
    refused = ["s3://bkt/../secret.png", "s3://bkt//" + str(secret).lstrip("/"),
               "s3://bkt/a/../../secret.png"]
    for ref in refused:
        key, why = source.key(ref)
        assert key is None and why, ref
    for ref, problem in [("s3://bkt/ok.png", None), ("s3://bkt/%2E%2E/secret.png", None),
                         ("s3://bkt/link.png", "outside"), ("s3://bkt/sub/link.png", None),
                         ("s3://bkt/folder-link/secret.png", "outside"),
                         ("s3://bkt/alias/link.png", None),
                         ("s3://bkt/folder-link/secret.png", "outside")]:
        key, why = source.key(ref)
        assert key is not None and why is None
        check, _ = source.check(key)
        assert check.problem == problem, (ref, check)


def test_the_prefix_is_stripped_and_checked(tmp_path: Path) -> None:
    mirror = make_mirror(tmp_path / "m", {"x.png": {"png": [100, 100]}})
    source = LocalImages(str(mirror), "s3://bkt/data/train")
    assert source.key("s3://bkt/data/train/x.png") == ("x.png", None)
    key, why = source.key("s3://bkt/data/trainee/x.png")
    assert key is None and "not under --images-prefix s3://bkt/data/train/" in why
    for bad in ["b/data/", "s3://", "s3:///x/", "s3://bkt/../x/"]:
        with pytest.raises(ImageSourceError, match="--images-prefix"):
            LocalImages(str(mirror), bad)
    with pytest.raises(ImageSourceError, match="not a folder"):
        LocalImages(str(tmp_path / "nowhere"))


def test_a_fifo_or_device_is_reported_not_read(tmp_path: Path) -> None:
    mirror = make_mirror(tmp_path / "m", {"pipe.png": {"fifo": True}})
    os.symlink("/dev/zero", mirror / "zero.png")
    source = LocalImages(str(mirror))
    started = time.perf_counter()
    pipe, _ = source.check("pipe.png")  # opening a FIFO for reading would block: it is not
    zero, _ = source.check("zero.png")
    assert time.perf_counter() - started < 5
    assert (pipe.problem, zero.problem) == ("not_a_file", "not_a_file")
    assert "FIFO" in pipe.detail and "device" in zero.detail


def test_a_huge_file_costs_only_its_header(tmp_path: Path) -> None:
    """A 10 GB file (sparse) and a decompression bomb's header: read in microseconds."""
    big = tmp_path / "m" / "big.png"
    big.parent.mkdir()
    big.write_bytes(image_bytes({"png": [800, 600]}))
    os.truncate(big, 10 * 1024 ** 3)
    bomb = tmp_path / "m" / "bomb.png"
    data = bytearray(image_bytes({"png": [64, 64]}))
    data[16:24] = (100_000).to_bytes(4, "big") * 2  # IHDR claims 100,000 x 100,000
    bomb.write_bytes(bytes(data))
    source = LocalImages(str(tmp_path / "m"))
    started = time.perf_counter()
    check, _ = source.check("big.png")
    bomb_check, _ = source.check("bomb.png")
    assert time.perf_counter() - started < 1
    assert (check.problem, check.size) == ("too_large", 10 * 1024 ** 3)
    assert (bomb_check.problem, bomb_check.width, bomb_check.height) == (
        "dimension", 100_000, 100_000)


def test_the_cache_skips_unchanged_files_and_rereads_changed_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMLABELS_CACHE_DIR", str(tmp_path / "cache"))
    mirror = make_mirror(tmp_path / "m", {f"{i}.png": {"png": [100, 100]} for i in range(20)})
    path = tmp_path / "train.manifest"
    path.write_text("".join(classification_line(f"s3://bkt/{i}.png", "ab"[i % 2]) + "\n"
                            for i in range(20)))
    first = validate_files(str(path), images=str(mirror))
    assert first["images"]["datasets"]["training"]["read"] == 20
    second = validate_files(str(path), images=str(mirror))
    assert second["images"]["datasets"]["training"]["cached"] == 20
    (mirror / "3.png").write_bytes(image_bytes({"gif": [100, 100]}))  # size changes
    os.utime(mirror / "5.png", ns=(1, 1))  # only the mtime changes
    third = validate_files(str(path), images=str(mirror))
    assert third["images"]["datasets"]["training"]["read"] == 2
    assert compact(third) == ["train.manifest:4 ERROR_INVALID_IMAGE $['source-ref']"]
    off = validate_files(str(path), images=str(mirror), image_cache=False)
    assert off["images"]["datasets"]["training"]["read"] == 20 and off["images"]["cache"] is None


def test_a_broken_cache_file_is_rebuilt(tmp_path: Path) -> None:
    cache = ImageCache("local:/somewhere", tmp_path)
    cache.put("a.png", (1, 2, 3), ImageCheck(10, "PNG", 64, 64, 1, None, None))
    assert cache.save()
    for garbage in [b"", b"{\"version\": ", b"\xff\xfe", json.dumps(
            {"version": CACHE_VERSION + 1, "identity": "local:/somewhere",
             "entries": {"a.png": [1, 2, 3, 10, "PNG", 64, 64, 1, None, None]}}).encode()]:
        cache.path.write_bytes(garbage)
        again = ImageCache("local:/somewhere", tmp_path)
        assert again.get("a.png", (1, 2, 3)) is None


def test_an_unwritable_cache_is_not_an_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("CUSTOMLABELS_CACHE_DIR", str(blocker / "cache"))
    mirror = make_mirror(tmp_path / "m", {"a.png": {"png": [100, 100]}})
    path = tmp_path / "train.manifest"
    path.write_text(classification_line("s3://bkt/a.png", "x") + "\n"
                    + classification_line("s3://bkt/b.png", "y") + "\n")
    report = validate_files(str(path), images=str(mirror))
    assert "the image cache was not written" in report["images"]["datasets"]["training"][
        "cache_error"]
    assert compact(report)[0] == "train.manifest:2 ERROR_INVALID_IMAGE $['source-ref']"


_KILLED_WRITER = """
import os, signal, sys
from customlabels.images.cache import ImageCache
from customlabels.images.check import ImageCheck
from customlabels.manifest import writer

real = writer.replace_all

class Dying:
    def __init__(self, stream):
        self.stream = stream
    def write(self, data):
        self.stream.write(data[: len(data) // 2])
        self.stream.flush()
        os.kill(os.getpid(), signal.SIGKILL)

from contextlib import contextmanager
@contextmanager
def dying_replace_all(paths, **options):
    with real(paths, **options) as streams:
        yield [Dying(s) for s in streams]

if sys.argv[2] == "mid-write":
    writer.replace_all = dying_replace_all
elif sys.argv[2] == "before-rename":
    os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
cache = ImageCache("local:/mirror", sys.argv[1])
for i in range(20000):
    cache.put(f"new/{i}.png", (i, 2, 3), ImageCheck(10, "PNG", 64, 64, 1, None, None))
cache.save()
"""


@pytest.mark.parametrize("point", ["mid-write", "before-rename"])
def test_a_killed_cache_write_leaves_the_old_cache(tmp_path: Path, point: str) -> None:
    old = ImageCache("local:/mirror", tmp_path)
    old.put("old.png", (1, 2, 3), ImageCheck(10, "JPEG", 640, 480, 6, None, None))
    assert old.save()
    before = old.path.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(tmp_path), point],
                          env=env, capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()
    assert old.path.read_bytes() == before  # the old cache, whole
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != old.path.name]
    assert leftovers, "the killed writer left its temporary file"
    reader = ImageCache("local:/mirror", tmp_path)
    assert reader.get("old.png", (1, 2, 3)) == ImageCheck(10, "JPEG", 640, 480, 6, None, None)
    assert reader.get("new/0.png", (0, 2, 3)) is None
    reader.put("next.png", (4, 5, 6), ImageCheck(10, "PNG", 64, 64, 1, None, None))
    assert reader.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == [old.path.name]  # leftover swept
    assert ImageCache("local:/mirror", tmp_path).get("next.png", (4, 5, 6)) is not None


def test_the_command_line_checks_a_mirror(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMLABELS_CACHE_DIR", str(tmp_path / "cache"))
    mirror = make_mirror(tmp_path / "m", {"a.png": {"png": [100, 100]},
                                          "b.jpg": {"png": [100, 100]}})
    path = tmp_path / "train.manifest"
    path.write_text("".join(classification_line(f"s3://bkt/{k}", label) + "\n"
                            for k, label in [("a.png", "x"), ("b.jpg", "y"), ("c.png", "y")]))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "customlabels", "validate", str(path),
                           "--images", str(mirror)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (f"{path}:2: WARNING_IMAGE_EXTENSION The image file's extension does not "
                        f"match its format. ({mirror}/b.jpg: a PNG image named .jpg) - at "
                        "$['source-ref']")
    assert lines[1].startswith(f"{path}:3: ERROR_INVALID_IMAGE ")
    assert f"images: {path}: 3 checked: 1 missing" in lines
    again = subprocess.run([sys.executable, "-m", "customlabels", "validate", str(path),
                            "--images", str(mirror)], env=env, capture_output=True, text=True,
                           timeout=120)
    assert f"images: {path}: 3 checked (2 unchanged since the last run): 1 missing" in \
        again.stdout.splitlines()
    bad = subprocess.run([sys.executable, "-m", "customlabels", "validate", str(path),
                          "--images", str(tmp_path / "nowhere")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "not a folder" in bad.stderr and "Traceback" not in bad.stderr
