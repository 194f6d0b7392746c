"""The HTML report in a real browser: headless Chromium loads the page from its file.

Each test checks what only a browser can tell: that the page runs its script under its own
Content Security Policy without a console error, that its filters work (driven through the
page's DOM), that it requests nothing, and that no label name runs as script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from customlabels import write_report

from . import data


def _open(browser: Any, page_file: Path) -> tuple[Any, list[str], list[str]]:
    """Open ``page_file``; return the page, what its console said (errors and warnings) and
    the requests it made other than for itself."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    said: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: said.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: said.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: (said.append(f"dialog: {d.message}"), d.dismiss()))
    url = page_file.resolve().as_uri()
    page.on("request", lambda r: requests.append(r.url) if r.url != url else None)
    page.goto(url)
    page.wait_for_load_state("load")
    return page, said, requests


def _visible_cards(page: Any) -> int:
    return int(page.eval_on_selector_all("#gallery .g-card", "cs => cs.filter(c => !c.hidden)"
                                         ".length"))


def test_the_page_renders_without_a_console_error(browser: Any, written: dict[str, Path],
                                                  mirror: Path, tmp_path: Path) -> None:
    write_report(tmp_path / "r.html", written["validation"], written["evaluation"],
                 images=str(mirror))
    page, said, requests = _open(browser, tmp_path / "r.html")
    assert said == [] and requests == []
    # the pictures were decoded and drawn, the boxes laid out over them
    drawn = page.eval_on_selector_all(
        "svg.pic", "ss => ss.map(s => s.getBoundingClientRect().width)")
    assert drawn and min(drawn) > 100
    assert page.locator("#g-count").inner_text().endswith("images shown")
    shot = page.locator("#validation").screenshot(path=str(tmp_path / "validation.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    shot = page.locator("#evaluation").screenshot(path=str(tmp_path / "evaluation.png"))
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000
    page.close()


def test_the_gallery_filters_by_label_and_outcome(browser: Any, written: dict[str, Path],
                                                  tmp_path: Path) -> None:
    write_report(tmp_path / "r.html", written["evaluation"])
    page, said, _ = _open(browser, tmp_path / "r.html")
    cards = page.eval_on_selector_all("#gallery .g-card", "cs => cs.map(c => "
                                      "c.getAttribute('data-k').split(' '))")
    assert _visible_cards(page) == len(cards) == 4
    options = page.eval_on_selector_all("#g-label option", "os => os.map(o => [o.value, "
                                        "o.textContent])")
    face = next(value for value, text in options if text.startswith("face "))
    page.select_option("#g-label", face)
    assert _visible_cards(page) == sum(any(k.split(":")[0] == face for k in c) for c in cards)
    page.uncheck(".g-outcome[value=tp]")
    page.uncheck(".g-outcome[value=fp]")
    only_missed = [c for c in cards if f"{face}:fn" in c]
    assert _visible_cards(page) == len(only_missed) == 1  # chelsea: its face was missed
    assert page.locator("#g-count").inner_text() == "1 of 4 images shown"
    # the marks of other labels and outcomes are dimmed on the cards still shown
    dim = page.eval_on_selector_all(
        "#gallery .g-card:not([hidden]) [data-m]",
        "ms => ms.map(m => [m.getAttribute('data-m'), m.classList.contains('dim')])")
    assert dim and all(is_dim == (key != f"{face}:fn") for key, is_dim in dim)
    page.select_option("#g-label", "")
    page.check(".g-outcome[value=tp]")
    assert _visible_cards(page) == sum(any(k.endswith((":tp", ":fn")) for k in c)
                                       for c in cards)
    page.click("#gallery .g-card:not([hidden]) svg.pic")  # a picture enlarges, and back
    assert page.eval_on_selector_all("#gallery .card.big", "cs => cs.length") == 1
    page.click("#gallery .card.big svg.pic")
    assert page.eval_on_selector_all("#gallery .card.big", "cs => cs.length") == 0
    assert said == []
    page.close()


@pytest.mark.parametrize("source", ["validation", "evaluation", "classification"])
def test_a_hostile_label_name_runs_no_script(browser: Any, written: dict[str, Path],
                                             tmp_path: Path, source: str) -> None:
    write_report(tmp_path / "r.html", written[source])
    page, said, requests = _open(browser, tmp_path / "r.html")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert said == [] and requests == []  # no dialog, no blocked script, no image fetched
    assert page.evaluate("document.scripts.length") == 1
    assert page.evaluate("document.getElementsByTagName('img').length") == 0
    assert data.HOSTILE in page.evaluate("document.body.textContent")  # shown as text
    page.close()


def test_where_chromium_cannot_be_installed_the_reason_is_said(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from .conftest import find_chromium

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert find_chromium() == (None, "no chromium on PATH and no apt-get to install Debian's "
                                     "package")
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/apt-get"
                        if name == "apt-get" else None)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert find_chromium() == (None, "no chromium on PATH; installing Debian's package needs "
                                     "root")
