"""Write the HTML reports of the bundled examples and of the benchmark models, and screenshot
their sections in headless Chromium.

Pages (each made by the command users run):

* ``examples``: ``customlabels validate examples/train.manifest --test examples/test.manifest
  --output-dir V``, ``customlabels evaluate --test examples/test.manifest --predictions
  examples/predictions.jsonl --output-dir E``, then ``customlabels report V E`` (the examples
  have no images: boxes on their frames);
* ``elpv``: ``customlabels report --project elpv --version VERSION --store data/elpv/store``, a
  classifier trained on the ELPV solar cells (``bench_train.py`` makes the data; train it with
  ``customlabels train`` into that store), its pictures from the images it was trained on;
* ``deepforest``: the same for the tree-crown detector in ``data/deepforest/store``
  (project ``trees``; ``make_deepforest.py`` makes the data).

A model that is not there is skipped, saying so. The screenshots (PNG, 1280 px wide, each
section whole, at most ``--max-height`` pixels) go to ``data/report/shots/``; with ``--docs``,
the examples' also go to ``docs/images/report-{validation,evaluation}.png`` (the README shows
them). The ELPV and DeepForest pictures hold their datasets' images: they stay under the
git-ignored ``data/``.

Usage::

    python benchmarks/shoot_reports.py
    python benchmarks/shoot_reports.py --elpv-version report --trees-version report --docs
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _harness as H
from _harness import CLI

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "data" / "report" / "shots"


def _run(*argv: str, cwd: Path | None = None) -> None:
    done = subprocess.run([str(CLI), *argv], capture_output=True, text=True, cwd=cwd)
    if done.returncode not in (0, 1):
        sys.exit(f"customlabels {' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    print("   ", done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "")


def pages(tmp: Path, elpv: str | None, trees: str | None) -> dict[str, Path]:
    """Write each page there is a source for; return them by name."""
    examples = ROOT / "examples"
    out: dict[str, Path] = {}
    print("examples:")
    shutil.copytree(examples, tmp / "examples")  # run where the names are short, as users do
    _run("validate", "examples/train.manifest", "--test", "examples/test.manifest",
         "--output-dir", "validation", cwd=tmp)
    _run("evaluate", "--test", "examples/test.manifest", "--predictions",
         "examples/predictions.jsonl", "--output-dir", "evaluation", cwd=tmp)
    out["examples"] = OUT / "examples.html"
    _run("report", "validation", "evaluation", "-o", str(out["examples"]),
         "--title", "The bundled examples", cwd=tmp)
    for name, project, version, store in (("elpv", "elpv", elpv, HERE / "data" / "elpv" / "store"),
                                          ("deepforest", "trees", trees,
                                           HERE / "data" / "deepforest" / "store")):
        folder = store / project / (version or "")
        if version is None or not (folder / "version.json").is_file():
            print(f"{name}: no model version {project}/{version} in {store}: skipped")
            continue
        print(f"{name}:")
        out[name] = OUT / f"{name}.html"
        _run("report", "--project", project, "--version", version, "--store", str(store),
             "-o", str(out[name]))
    return out


def shoot(written: dict[str, Path], max_height: int, docs: bool) -> None:
    """Screenshot each page's sections."""
    from playwright.sync_api import sync_playwright  # the [test] extra

    chromium = H.chromium()
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=H.CHROMIUM_FLAGS)
        for name, page_file in written.items():
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            said: list[str] = []
            page.on("console", lambda m: said.append(m.text) if m.type == "error" else None)
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            # a tall window: cards off screen are laid out at a placeholder's size until seen
            page.set_viewport_size({"width": 1280, "height": max_height})
            for section in ("validation", "evaluation"):
                box = page.evaluate(
                    f"(() => {{ const s = document.getElementById('{section}'); if (!s) "
                    "return null; s.scrollIntoView(); const r = s.getBoundingClientRect(); "
                    "return {y: r.top + window.scrollY, height: r.height}; })()")
                if box is None:
                    continue
                shot = OUT / f"{name}-{section}.png"
                page.screenshot(path=str(shot), full_page=True, clip={  # page coordinates
                    "x": 0, "y": box["y"], "width": 1280,
                    "height": min(box["height"], max_height)})
                print(f"{shot} ({min(box['height'], max_height):.0f} of "
                      f"{box['height']:.0f} px)")
                if docs and name == "examples":
                    shutil.copy(shot, ROOT / "docs" / "images" / f"report-{section}.png")
            if said:
                sys.exit(f"{page_file}: console errors: {said}")
            page.close()
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elpv-version", default="report", metavar="NAME")
    parser.add_argument("--trees-version", default="report", metavar="NAME")
    parser.add_argument("--max-height", type=int, default=4000, metavar="PX")
    parser.add_argument("--docs", action="store_true",
                        help="also copy the examples' screenshots to docs/images/")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    (ROOT / "docs" / "images").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        written = pages(Path(tmp), args.elpv_version, args.trees_version)
    shoot(written, args.max_height, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
