"""Decode and resize the trainer's images: Pillow against pillow-simd laid over it.

The trainer (``customlabels.train.data.decode``) decodes each image once and resizes it to the
network's input; on 2 cores that is a cost paid before the first epoch, and by ``detect`` on
every image. pillow-simd installs the same ``PIL`` package with SIMD resampling and colour
conversion; this script times ``decode`` over real images under two interpreters, interleaved:
the project's venv (plain Pillow) and a venv where pillow-simd is laid over Pillow the way the
project's notes say (``pip install pillow==12.1.1``, then ``pip install --no-deps
--force-reinstall --no-cache-dir pillow-simd==12.1.1.post0``, built with ``CC="cc -mavx2"``).
The second venv is made under ``benchmarks/data/venv-simd`` when missing (about 30 s).

Images: the ELPV solar cells (300x300 grayscale PNG, ``bench_train.py`` installs the package)
and scikit-image's photographs saved as JPEG at 1024 px (three colour photographs).

Usage::

    python benchmarks/bench_decode.py --repeat 5
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIMD = HERE / "data" / "venv-simd"
PILLOW = "pillow==12.1.1"
PILLOW_SIMD = "pillow-simd==12.1.1.post0"


def images() -> dict[str, list[bytes]]:
    """Return the benchmark's images by kind, as file bytes."""
    import importlib.util

    import numpy as np
    from PIL import Image

    out: dict[str, list[bytes]] = {}
    spec = importlib.util.find_spec("elpv_dataset")
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "data" / "images"
        out["elpv png 300"] = [p.read_bytes() for p in sorted(folder.glob("*.png"))[:600]]
    from skimage import data as photos

    jpegs = []
    for name in ("astronaut", "coffee", "chelsea"):
        picture = Image.fromarray(np.asarray(getattr(photos, name)())).convert("RGB")
        picture = picture.resize((1024, round(1024 * picture.height / picture.width)))
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=90)
        jpegs.append(buffer.getvalue())
    out["photo jpeg 1024"] = jpegs * 60
    return out


def measure(size: int) -> dict[str, object]:
    """Time ``decode`` over the images in this interpreter; return seconds by kind."""
    sys.path.insert(0, str(ROOT / "src"))
    import PIL

    from customlabels.train.data import decode

    found = images()
    seconds = {}
    for kind, blobs in found.items():
        decode(blobs[0], size)  # warm
        started = time.perf_counter()
        for blob in blobs:
            decode(blob, size)
        seconds[kind] = (time.perf_counter() - started, len(blobs))
    return {"pillow": PIL.__version__, "seconds": seconds}


def make_simd_venv() -> Path:
    python = SIMD / "bin" / "python"
    if python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", str(SIMD)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", PILLOW, "numpy",
                    "scikit-image", "elpv-dataset", "orjson", "tqdm", "pydantic"], check=True)
    env = {**os.environ, "CC": "cc -mavx2"}
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                    "--force-reinstall", "--no-cache-dir", PILLOW_SIMD], check=True, env=env)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.size)))
        return 0
    contenders = {"pillow": Path(sys.executable), "pillow-simd": make_simd_venv()}
    runs: dict[str, list[dict]] = {name: [] for name in contenders}
    for _ in range(args.repeat):
        for name, python in contenders.items():
            done = subprocess.run([str(python), __file__, "--measure", "--size", str(args.size)],
                                  capture_output=True, text=True, check=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
            runs[name].append(json.loads(done.stdout))
    print(f"decode() to {args.size} px, {args.repeat} interleaved rounds (median images/s)")
    for name, found in runs.items():
        print(f"  {name:12s} PIL {found[0]['pillow']}")
    kinds = list(runs["pillow"][0]["seconds"])
    for kind in kinds:
        rates = {}
        for name, found in runs.items():
            rates[name] = statistics.median(r["seconds"][kind][1] / r["seconds"][kind][0]
                                            for r in found)
        ratio = statistics.median(
            b["seconds"][kind][0] / a["seconds"][kind][0]
            for a, b in zip(runs["pillow-simd"], runs["pillow"]))
        print(f"  {kind:16s} pillow {rates['pillow']:8.1f}/s   pillow-simd "
              f"{rates['pillow-simd']:8.1f}/s   simd speed-up {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
