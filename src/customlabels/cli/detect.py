"""``customlabels detect``: a model version of the store answers for images, as
DetectCustomLabels does, one JSON line an image.

Exit status: 0 when every image got labels, 1 when some got an error instead (its line says
which), 2 on a usage error, a version that is not completed, or an input that cannot be read
(:data:`customlabels.cli.main.EXIT_STATUS`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from ._options import (add_format, add_output_file, add_progress, number_in, positive,
                       progress_of)
from .train import add_images, add_store

#: The extensions a folder's images are found by (PNG and JPEG: the service's formats).
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif")
_MAGIC = (b"\x89PNG", b"\xff\xd8\xff")


#: MinConfidence: a percentage
_confidence = number_in(0, 100)


def add_parser(sub: Any, name: str) -> None:
    """Add the ``detect`` subcommand to ``sub``."""
    p = sub.add_parser(
        name, help="detect labels in images with a model version of the store",
        description="Run a completed model version on images, image folders or the images "
                    "of manifests, and write one JSON line an image, shaped like the "
                    "DetectCustomLabels response (CustomLabels[].Name, Confidence 0-100) "
                    "with the image's source-ref or path; it feeds `customlabels evaluate "
                    "--predictions` as it is. Needs the [train] extra.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE|DIR|MANIFEST",
                   help="PNG or JPEG files, folders (their PNG and JPEG files, recursively), "
                        "or manifests (each line's source-ref, resolved through --images)")
    p.add_argument("--project", required=True, metavar="NAME", help="the project")
    p.add_argument("--version", required=True, metavar="NAME", dest="model_version",
                   help="the model version")
    add_store(p)
    add_images(p, required=False)
    p.add_argument("--min-confidence", type=_confidence, metavar="N",
                   help="return the labels with a confidence of at least N (0-100; 0: every "
                        "label); default: each label's assumed threshold, as the service")
    p.add_argument("--max-results", type=positive, metavar="N",
                   help="return at most N labels an image, the most confident first")
    p.add_argument("--batch-size", type=positive, default=32, metavar="N",
                   help="images the network takes at once (default 32)")
    p.add_argument("--device", default="auto", metavar="auto|cpu|cuda",
                   help="where the network runs (default auto: CUDA when a GPU is there)")
    add_format(p, ("json", "text"), {
        "json": "one JSON line an image, the DetectCustomLabels response with the image's "
                "source-ref or path: what `customlabels evaluate --predictions` reads",
        "text": "a line an image: its name, then each label and its confidence"},
               default="json")
    p.add_argument("--draw", metavar="DIR",
                   help="also write each image to DIR as PNG with its boxes and "
                        "Name:Confidence%% captions drawn (a classifier's labels at the top "
                        "left); the file is named after the image")
    add_output_file(p, "write the lines to this file (atomically) instead of standard output")
    add_progress(p)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Detect, write the lines, and return the exit status."""
    from ..train._torch import import_torch

    import_torch()
    from ..manifest.writer import atomic_write, dumps_line
    from ..train.predict import load_model

    model = load_model(args.project, args.model_version, store=args.store, device=args.device)
    items = list(_items(args))
    from ..convert._common import Progress
    from ..train.predict import detect_items

    by_name = {(item.field, item.name): item for item in items}
    drawn = _Drawings(Path(args.draw), by_name) if args.draw else None
    bar = Progress(len(items), "detecting", progress_of(args), unit="image")
    started = time.perf_counter()
    errors = 0
    try:
        with atomic_write(args.output) if args.output else nullcontext(None) as stream:
            for doc in detect_items(model, items, min_confidence=args.min_confidence,
                                    max_results=args.max_results, batch_size=args.batch_size):
                errors += "Error" in doc
                if drawn is not None and "Error" not in doc:
                    drawn.draw(doc)
                line = (dumps_line(doc).decode("utf-8") + "\n" if args.format == "json"
                        else _text_line(doc))
                if stream is None:  # through the terminal guard: label names are user data
                    sys.stdout.write(line)
                else:
                    stream.write(line.encode("utf-8", "backslashreplace"))
                bar.update(1)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    rate = len(items) / seconds if seconds > 0 else 0.0
    print(f"customlabels: {len(items)} image(s) in {seconds:.2f} s ({rate:.1f} images/s), "
          f"{errors} with an error; model {args.project}/{args.model_version} on "
          f"{model.device}", file=sys.stderr)
    return 1 if errors else 0


class _Drawings:
    """``--draw DIR``: each image's picture, named after the image (``NAME.png``; ``NAME-2.png``
    and so on when two images share a name)."""

    def __init__(self, folder: Path, items: dict[tuple[str, str], Any]):
        self.folder, self.items = folder, items
        self.used: set[str] = set()
        self.inputs = {str(Path(i.name).resolve()) for i in items.values() if i.field == "path"}

    def draw(self, doc: dict[str, Any]) -> None:
        from ..train.predict import draw

        field = "source-ref" if "source-ref" in doc else "path"
        item = self.items[(field, doc[field])]
        stem = Path(doc[field].rstrip("/")).stem or "image"
        name, n = f"{stem}.png", 1
        while name in self.used or str((self.folder / name).resolve()) in self.inputs:
            n += 1  # never over another picture, nor over an input image
            name = f"{stem}-{n}.png"
        self.used.add(name)
        draw(item.read(), doc, self.folder / name)


def _text_line(doc: dict[str, Any]) -> str:
    name = doc.get("source-ref", doc.get("path"))
    if "Error" in doc:
        return f"{name}: {doc['Error']['Code']}: {doc['Error']['Message']}\n"
    shown = ", ".join(f"{label['Name']} {label['Confidence']:.1f}%"
                      for label in doc["CustomLabels"]) or "no label"
    return f"{name}: {shown}\n"


def _items(args: argparse.Namespace) -> Iterator[Any]:
    """Yield an :class:`~customlabels.train.predict.Item` for each image the inputs name."""
    from ..errors import ImageSourceError
    from ..train.predict import Item, read_file

    source = None
    for given in args.inputs:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise ImageSourceError(f"{given}: no PNG or JPEG file in this folder")
            for p in found:
                yield Item("path", str(p), partial(read_file, str(p)))
            continue
        if not path.exists():
            raise FileNotFoundError(2, "No such file or directory", given)
        if _is_manifest(path):
            if source is None:
                if args.images is None:
                    raise ImageSourceError(
                        f"{given} is a manifest: --images DIR|s3 says where its images are")
                from ..validation.pipeline import image_source

                source = image_source(args.images, args.images_prefix)
            yield from _manifest_items(given, source)
        else:
            yield Item("path", str(path), partial(read_file, str(path)))


def _is_manifest(path: Path) -> bool:
    """Tell a manifest from an image by its first bytes (an image's magic number, or JSON)."""
    with open(path, "rb") as stream:
        head = stream.read(64)
    if head.startswith(_MAGIC):
        return False
    return head.lstrip()[:1] == b"{" or path.suffix.lower() in (".manifest", ".jsonl", ".json")


def _manifest_items(path: str, source: Any) -> Iterator[Any]:
    from ..manifest.records import iter_rows
    from ..train.predict import Item

    for line, _raw, _verdict, _findings, source_ref, _labels, _boxes in iter_rows(path):
        if source_ref is None:
            print(f"{path}:{line}: no well-formed source-ref: the line is skipped",
                  file=sys.stderr)
            continue
        key, refusal = source.key(source_ref)
        if key is None:
            yield Item("source-ref", source_ref, None, f"{refusal}: not read")
        else:
            yield Item("source-ref", source_ref, _reader(source, key))


def _reader(source: Any, key: str) -> Any:
    return lambda: source.read(key)

