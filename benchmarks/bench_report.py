"""Measure the HTML report of large inputs: its size, what writing it costs, and how fast
headless Chromium loads it.

Pages, each written by the command users run, in a process of its own:

* ``validate-250k``: ``customlabels validate data/bench-250k.manifest --report PAGE`` (250,000
  valid lines, from ``make_manifest.py``: the page holds the counts alone);
* ``validate-250k-faulty``: the same on ``data/bench-250k-faulty.manifest`` (``make_manifest.py
  --faulty 0.05``: 12,487 faulty lines of 19 kinds, 20 codes);
* ``evaluate-5k``: ``customlabels evaluate --test data/detections/test.manifest --predictions
  data/detections/predictions.jsonl --report PAGE`` (``make_detections.py``: 5,000 images, 80
  labels, about 100,000 predictions: the gallery is sampled).

The inputs are generated when missing. For each page: the command's wall time without and with
``--report`` (interleaved, ``--repeat`` rounds; medians: the report's cost is their
difference), the page's bytes and pictures, then ``--loads`` loads in headless Chromium
(Debian's ``chromium``, driven by Playwright; a fresh page each, from its ``file:`` URL): the
time to the load event (``PerformanceNavigationTiming.loadEventEnd``: parsed, styled, script
run), the first contentful paint, and the page's elements; medians. A screenshot of the first
screenful of each page's sections is written to ``data/report/``, with everything in
``data/report/results.json``.

Usage::

    python benchmarks/bench_report.py
    python benchmarks/bench_report.py --repeat 5 --loads 7
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import _harness as H
from _harness import CLI

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUT = DATA / "report"

LOAD_TIMING = """async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return {load_ms: nav.loadEventEnd, dom_content_loaded_ms: nav.domContentLoadedEventEnd,
          first_paint_ms: paint ? paint.startTime : null,
          elements: document.getElementsByTagName("*").length};
}"""


def inputs() -> dict[str, list[str]]:
    """Return each page's command (without --report), generating the inputs that are missing."""
    clean, faulty = DATA / "bench-250k.manifest", DATA / "bench-250k-faulty.manifest"
    detections = DATA / "detections"
    if not clean.exists():
        H.generate("make_manifest.py", clean)
    if not faulty.exists():
        H.generate("make_manifest.py", faulty, "--faulty", "0.05")
    if not (detections / "predictions.jsonl").exists():
        H.generate("make_detections.py", detections)
    return {
        "validate-250k": [str(CLI), "validate", str(clean), "--quiet"],
        "validate-250k-faulty": [str(CLI), "validate", str(faulty), "--quiet"],
        "evaluate-5k": [str(CLI), "evaluate", "--test", str(detections / "test.manifest"),
                        "--predictions", str(detections / "predictions.jsonl"), "--quiet"],
    }


def write_times(argv: list[str], page: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Return the command's wall times without and with ``--report page``, interleaved."""
    without: list[float] = []
    with_report: list[float] = []
    for round_ in range(repeat):
        order = [False, True] if round_ % 2 == 0 else [True, False]
        for report in order:
            run = H.run_process(argv + (["--report", str(page)] if report else []),
                                H.child_env())
            if run.status not in (0, 1):
                sys.exit(f"{' '.join(argv)} failed ({run.status}):\n{run.stderr}")
            (with_report if report else without).append(run.seconds)
    return without, with_report


def load_times(browser: object, page_file: Path, loads: int, shot: Path) -> dict[str, object]:
    """Load ``page_file`` ``loads`` times; return the medians and what the console said."""
    timings, said = [], []
    for n in range(loads):
        page = browser.new_page(  # type: ignore[attr-defined]
            viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: said.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.goto(page_file.resolve().as_uri(), wait_until="load")
        timings.append(page.evaluate(LOAD_TIMING))
        if n == 0:
            for section in ("validation", "evaluation"):
                if page.locator(f"#{section}").count():  # its first screenful
                    page.evaluate(f"document.getElementById('{section}').scrollIntoView()")
                    page.screenshot(path=str(shot.with_name(f"{shot.stem}-{section}.png")))
        page.close()
    medians = {key: statistics.median(found) if (found := [t[key] for t in timings
                                                           if t[key] is not None]) else None
               for key in ("load_ms", "dom_content_loaded_ms", "first_paint_ms")}
    return {**medians, "elements": timings[0]["elements"], "console": sorted(set(said)),
            "loads": [t["load_ms"] for t in timings]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each command")
    parser.add_argument("--loads", type=int, default=5, help="loads of each page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright  # the [test] extra

    chromium = H.chromium()
    OUT.mkdir(parents=True, exist_ok=True)
    commands = inputs()
    results: dict[str, dict[str, object]] = {}
    print(f"{os.cpu_count()} CPUs, {args.repeat} rounds a command, {args.loads} loads a page")
    with sync_playwright() as driver, tempfile.TemporaryDirectory() as tmp:
        browser = driver.chromium.launch(executable_path=chromium, args=H.CHROMIUM_FLAGS)
        for name, argv in commands.items():
            page = Path(tmp) / f"{name}.html"
            without, with_report = write_times(argv, page, args.repeat)
            shutil.copy(page, OUT / page.name)
            loaded = load_times(browser, page, args.loads, OUT / f"{name}.png")
            text = page.read_text(encoding="utf-8")
            results[name] = {
                "command": " ".join(argv[1:]) + f" --report {name}.html",
                "command_s": statistics.median(without),
                "command_with_report_s": statistics.median(with_report),
                "report_s": statistics.median(with_report) - statistics.median(without),
                "page_bytes": page.stat().st_size,
                "pictures": text.count('<svg class="pic'),
                "thumbnails": text.count('<image href="data:'), **loaded}
            r = results[name]
            print(f"{name:22} page {r['page_bytes'] / 1e6:6.2f} MB, {r['pictures']:4} pictures;"
                  f" command {r['command_s']:.2f} s, with --report "
                  f"{r['command_with_report_s']:.2f} s; load {r['load_ms']:.0f} ms (first "
                  f"paint {r['first_paint_ms'] or float('nan'):.0f} ms), "
                  f"{r['elements']:,} elements"
                  + (f"; console: {r['console']}" if r["console"] else ""), flush=True)
        browser.close()
    H.write_json(OUT / "results.json", {"machine": H.machine(), "pages": results})
    print(f"pages, screenshots and results.json in {OUT}")
    return 1 if any(r["console"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
