"""User-facing docs: every link resolves in a clone, and the guide is cited by section title.

A clone has only the repository: a link or a path to ``../shared/...`` (where the guide and the
spec live beside the checkout) is dead for every reader, and a guide line number means nothing
without that one text file, so docs cite the guide's section titles (code comments may keep
line numbers).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from customlabels.codes import CODES, GUIDE_SECTIONS, guide_titles

from .helpers import ROOT

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "benchmarks" / "README.md",
               ROOT / "fuzz" / "README.md"])

#: [text](target) and [text]: target, outside code blocks.
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|^\s*\[[^\]\n]+\]:\s*(\S+)", re.M)
#: A path in a code span that leaves the repository: ../x, or an absolute path to a file.
OUTSIDE = re.compile(r"`((?:\.\./|/work/|/home/)[^`\s]*)`")
#: L5403, L5403-5420, "line 5403", "lines 5403-5420", "guide line(s)".
LINE_CITATION = re.compile(r"\bL\d{3,5}(?:-\d{3,5})?\b|\blines? \d{3,5}(?:-\d{3,5})?\b(?!,\d)"
                           r"|\bguide lines?\b", re.I)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def problems(path: Path, root: Path = ROOT) -> list[str]:
    """Return each dead link, path outside ``root`` and guide line citation of a doc."""
    text = path.read_text(encoding="utf-8")
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    out = []
    for m in LINK.finditer(prose):
        target = (m.group(1) or m.group(2)).split("#", 1)[0]
        if not target or re.match(r"[a-z][a-z0-9+.-]*:", target):  # an anchor, a URL
            continue
        resolved = (path.parent / target).resolve()
        if not resolved.is_relative_to(root) or not resolved.exists():
            out.append(f"{path.name}:{prose.count(chr(10), 0, m.start()) + 1}: dead link {target}")
    for m in OUTSIDE.finditer(text):
        out.append(f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}: path outside the "
                   f"repository {m.group(1)}")
    for m in LINE_CITATION.finditer(text):
        out.append(f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}: guide line number "
                   f"{m.group(0)!r}")
    return out


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_link_inside_the_repository_and_cite_guide_sections(path: Path) -> None:
    assert problems(path) == []


def test_the_check_finds_each_kind_of_problem(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "api.md").write_text("# API\n")
    doc = tmp_path / "docs" / "_probe_for_test_docs.md"
    doc.write_text("See [the guide](../shared/seed/guide.txt) and [api](api.md#top),\n"
                   "[gone](missing.md), `../shared/spec/validation.md`, the rule (L5403-5420),\n"
                   "as guide line 5403 says; 250,000 lines 2000000 and line 12 are fine.\n"
                   "```\nL1234 in a code block is still a citation\n```\n",
                   encoding="utf-8")
    assert problems(doc, tmp_path) == [
        "_probe_for_test_docs.md:1: dead link ../shared/seed/guide.txt",
        "_probe_for_test_docs.md:2: dead link missing.md",
        "_probe_for_test_docs.md:2: path outside the repository ../shared/spec/validation.md",
        "_probe_for_test_docs.md:2: guide line number 'L5403-5420'",
        "_probe_for_test_docs.md:3: guide line number 'guide line'",
        "_probe_for_test_docs.md:5: guide line number 'L1234'",
    ]


def test_every_guide_range_of_the_catalogue_has_its_section() -> None:
    for code in CODES.values():
        if code.guide:
            assert guide_titles(code.guide), code.name
    assert all(titles and all(titles) for titles in GUIDE_SECTIONS.values())


GUIDE = ROOT.parent / "shared" / "seed" / "rekognition-custom-labels-guide.txt"


@pytest.mark.skipif(not GUIDE.exists(), reason=f"the guide is not beside the checkout ({GUIDE})")
def test_cited_section_titles_are_the_guides() -> None:
    """Each title the docs quote after ``guide:`` is a line of the guide (a subsection each)."""
    guide_lines = {line.strip() for line in GUIDE.read_text(encoding="utf-8").splitlines()}
    cited = set()
    for path in DOCS:
        for group in re.findall(r"guide: ((?:\"[^\"\n]+\"(?:, )?)+)", path.read_text("utf-8")):
            cited.update(re.findall(r"\"([^\"\n]+)\"", group))
    for titles in GUIDE_SECTIONS.values():
        cited.update(titles)
    missing = sorted(part for title in cited for part in title.split(" / ")
                     if part not in guide_lines)
    assert missing == []
