"""Time ``validate --images`` against a Pillow loop, locally and on a moto S3 endpoint.

Local: 20,000 image files (PNG and JPEG of real sizes, 300x300 to 1280x720, some with EXIF
orientation; made with Pillow once into ``benchmarks/data/images-20k``) behind a 20,000-line
manifest, half classification and half bounding-box lines. Interleaved for ``--repeat`` rounds,
page cache warm:

* ``pil``: the baseline, ``PIL.Image.open(path).size`` for every file;
* ``cold``: ``validate_files(..., images=DIR, image_cache=False)``, the image stage's own time
  (the report's ``seconds``) and the whole call;
* ``warm``: the same with the cache, already filled by an earlier run;

S3: 2,000 of those objects in moto's server (a separate process), read by a sequential
``get_object`` loop (the baseline) and by the image stage with 32 requests in flight. Twice:
moto as it is, where on 127.0.0.1 a request costs only the server's CPU (moto spends about 5 ms
of it per GET, one request at a time under its GIL, so no client can go faster than that), and
moto with ``--s3-latency`` seconds (default 0.02) added to each answer, as a network adds them:
the latency that requests in flight are there to hide.
Memory: peak RSS (the kernel's VmHWM) of ``customlabels validate MANIFEST --images DIR --no-cache``
as its own process. Medians and per-round ratios are printed.

Usage::

    python benchmarks/bench_images.py --repeat 5
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "images-20k"
SIZES = [(300, 300), (640, 480), (800, 600), (1024, 768), (1280, 720), (480, 640)]


def make_pool(count: int = 300) -> list[tuple[bytes, str, tuple[int, int]]]:
    """Return ``count`` distinct real images: (bytes, extension, size)."""
    from PIL import Image

    rng = random.Random(7)
    pool = []
    for i in range(count):
        w, h = SIZES[i % len(SIZES)]
        small = Image.effect_noise((w // 8, h // 8), 40 + i % 50).convert("RGB")
        image = small.resize((w, h))
        buffer = io.BytesIO()
        if i % 2:
            options = {}
            if i % 7 == 1:
                exif = Image.Exif()
                exif[0x0112] = 1
                exif[0x010F] = "BenchCam"
                options["exif"] = exif
            image.save(buffer, "JPEG", quality=rng.choice([75, 85, 92]), **options)
            pool.append((buffer.getvalue(), ".jpg", (w, h)))
        else:
            image.save(buffer, "PNG", compress_level=1)
            pool.append((buffer.getvalue(), ".png", (w, h)))
    return pool


def line(key: str, size: tuple[int, int], i: int) -> str:
    ref = f"s3://bench-bucket/{key}"
    if i % 2:
        return json.dumps({"source-ref": ref, "animal": 0, "animal-metadata": {
            "confidence": 1, "job-name": "j", "class-name": "ab"[i % 4 // 2],
            "human-annotated": "yes", "creation-date": "2024-01-02T03:04:05",
            "type": "groundtruth/image-classification"}})
    return json.dumps({"source-ref": ref, "box": {
        "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
        "annotations": [{"class_id": 0, "left": 10, "top": 10, "width": 50, "height": 40}]},
        "box-metadata": {"objects": [{"confidence": 1}], "class-map": {"0": "thing"},
                         "type": "groundtruth/object-detection", "human-annotated": "yes",
                         "creation-date": "2024-01-02T03:04:05", "job-name": "j"}})


def make_data(count: int) -> tuple[Path, Path, list[tuple[bytes, str, tuple[int, int]]]]:
    pool = make_pool()
    mirror = DATA / "mirror"
    manifest = DATA / f"train-{count}.manifest"
    if not manifest.exists() or len(list((mirror / "img").glob("*"))) != count:
        shutil.rmtree(DATA, ignore_errors=True)
        (mirror / "img").mkdir(parents=True)
        rows = []
        for i in range(count):
            data, ext, size = pool[i % len(pool)]
            key = f"img/{i:06d}{ext}"
            (mirror / key).write_bytes(data)
            rows.append(line(key, size, i))
        manifest.write_text("\n".join(rows) + "\n")
    return mirror, manifest, pool


def pil_loop(paths: list[str]) -> float:
    from PIL import Image

    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.size
    return time.perf_counter() - started


def ours(manifest: Path, mirror: Path, cache: bool) -> tuple[float, float, dict]:
    from customlabels.validation.pipeline import validate_files

    started = time.perf_counter()
    report = validate_files(str(manifest), images=str(mirror), image_cache=cache)
    wall = time.perf_counter() - started
    stage = report["images"]["datasets"]["training"]
    return stage["seconds"], wall, stage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: moto's own server (as ``moto_server`` or ``ThreadedMotoServer`` runs it), each answer held
#: back by argv[2] seconds first.
_SERVER = """
import sys, time
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import make_server

latency = float(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)

def delayed(environ, start_response):
    time.sleep(latency)
    return app(environ, start_response)

make_server("127.0.0.1", int(sys.argv[1]), delayed if latency else app, True,
            request_handler=MotoRequestHandler).serve_forever()
"""


def s3_rounds(pool: list, count: int, repeat: int, latency: float) -> dict[str, list[float]]:
    import boto3

    from customlabels.images.batch import check_keys
    from customlabels.images.s3 import S3Images

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")  # moto takes any credentials; boto3 needs some
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port), str(latency)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x")
        client.create_bucket(Bucket="bench-bucket")
        keys = []
        for i in range(count):
            data, ext, _ = pool[i % len(pool)]
            key = f"img/{i:06d}{ext}"
            client.put_object(Bucket="bench-bucket", Key=key, Body=data)
            keys.append(key)
        source = S3Images(url, workers=32)
        out: dict[str, list[float]] = {"sequential get_object": [], "ours (32 in flight)": []}
        for _ in range(repeat):
            started = time.perf_counter()
            for key in keys:
                client.get_object(Bucket="bench-bucket", Key=key)["Body"].read()
            out["sequential get_object"].append(time.perf_counter() - started)
            started = time.perf_counter()
            checks, _ = check_keys(source, [f"bench-bucket/{k}" for k in keys], workers=32)
            out["ours (32 in flight)"].append(time.perf_counter() - started)
            bad = [c for c in checks if c.problem is not None]
            assert not bad, bad[:3]
        return out
    finally:
        server.terminate()
        server.wait()


#: Runs the command line and writes its peak RSS (VmHWM, in KiB) to the file named first: the
#: kernel's high-water mark of the program's own memory. ``ru_maxrss`` from ``os.wait4`` would
#: also count this benchmark's memory (its image pool and Pillow), which the child shares
#: between the fork and the exec.
_PEAK = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(out, "w") as stream:
        stream.write(kib)
atexit.register(peak)
runpy.run_module("customlabels", run_name="__main__", alter_sys=True)
"""


def peak_rss(manifest: Path, mirror: Path) -> tuple[int, int]:
    """Return (status, peak RSS in bytes) of the command line on the 20,000 images."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "peak")
        status = subprocess.call([sys.executable, "-c", _PEAK, out, "validate", str(manifest),
                                  "--images", str(mirror), "--no-cache", "--format", "json"],
                                 stdout=subprocess.DEVNULL)
        with open(out) as stream:
            return status, int(stream.read()) * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--s3-images", type=int, default=2_000)
    parser.add_argument("--s3-latency", type=float, default=0.02,
                        help="seconds added to each S3 answer in the second S3 run")
    args = parser.parse_args()
    mirror, manifest, pool = make_data(args.images)
    paths = sorted(str(p) for p in (mirror / "img").iterdir())
    cache_dir = tempfile.mkdtemp(prefix="bench-images-cache-")
    os.environ["CUSTOMLABELS_CACHE_DIR"] = cache_dir
    ours(manifest, mirror, True)  # fills the cache, and the page cache
    pil_loop(paths)
    times: dict[str, list[float]] = {"pil": [], "cold stage": [], "cold call": [],
                                     "warm stage": [], "warm call": []}
    for _ in range(args.repeat):
        times["pil"].append(pil_loop(paths))
        stage, wall, found = ours(manifest, mirror, False)
        assert not found["problems"], found
        times["cold stage"].append(stage)
        times["cold call"].append(wall)
        stage, wall, found = ours(manifest, mirror, True)
        assert found["cached"] == args.images, found
        times["warm stage"].append(stage)
        times["warm call"].append(wall)
    n = args.images
    print(f"{n:,} local images, {args.repeat} interleaved rounds (median s, images/s, "
          "ratio to the PIL loop: median of per-round ratios)")
    for name, values in times.items():
        ratio = statistics.median(p / v for p, v in zip(times["pil"], values))
        print(f"  {name:12s} {statistics.median(values):8.3f} s  {n / statistics.median(values):>10,.0f}"
              f" images/s  {ratio:6.2f}x")
    status, rss = peak_rss(manifest, mirror)
    print(f"peak RSS, customlabels validate --images DIR --no-cache on {n:,} images: "
          f"{rss / 2**20:.1f} MiB (exit {status})")
    for latency in (0.0, args.s3_latency):
        s3 = s3_rounds(pool, args.s3_images, max(1, args.repeat // 2), latency)
        base = s3["sequential get_object"]
        print(f"{args.s3_images:,} objects on moto's server, {latency * 1000:g} ms added to "
              f"each answer ({len(base)} rounds)")
        for name, values in s3.items():
            ratio = statistics.median(b / v for b, v in zip(base, values))
            print(f"  {name:22s} {statistics.median(values):8.3f} s  "
                  f"{args.s3_images / statistics.median(values):>8,.0f} images/s  {ratio:6.2f}x")
    shutil.rmtree(cache_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
