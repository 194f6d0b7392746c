"""The report page: one HTML file holding its styles, its script and its pictures.

Every string that comes from a manifest, a prediction or a file name is escaped where it is
written (``html.escape``, quotes included); none is ever written into the script, which is a
constant: the page's data lives in escaped ``data-`` attributes. The page's Content Security
Policy allows that one script (by its SHA-256), inline styles and ``data:`` images, and nothing
else: no request leaves the page, and an event handler that got in anyway would not run.

Bounded: at most ``max_images`` pictures in all, at most ``per_group`` for each error code (the
validation) and for each label and outcome (the gallery); the page says what it left out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from collections.abc import Iterator
from typing import Any

import orjson

from .._version import __version__
from ..codes import CODES, guide_titles
from ..limits import INVALID_SHARE
from ..manifest.schema import EVALUATION_PREFIX, number
from .pictures import Mark, Thumb, Thumbnails, frame_of, missing, picture
from .plots import precision_recall_svg
from .sources import EvaluationPart, Sources, ValidationPart, place

#: Defaults of the page's bounds (``customlabels report --max-images``, ``--per-group``).
MAX_IMAGES = 400
PER_GROUP = 12
#: Characters shown of a line that is not JSON (its start: where it breaks is usually there).
RAW_SHOWN = 300
#: Problem lines listed in text under each code, beyond those pictured.
LISTED_PER_CODE = 200
OUTCOMES = {"tp": "true positive", "fp": "false positive", "fn": "false negative"}
_CODE_ORDER = {name: n for n, name in enumerate(CODES)}
_DETAILS = "rekognition-custom-labels-evaluation-details"
_CLASS_ATTR = re.compile(re.escape(EVALUATION_PREFIX) + r"-\d+")


@dataclass(frozen=True)
class Bounds:
    """How much a page shows: pictures in all, and pictures a code or a label and outcome."""

    max_images: int = MAX_IMAGES
    per_group: int = PER_GROUP


@dataclass
class PageFacts:
    """What a page holds, for the command's summary line and for tests."""

    pictures: int = 0
    thumbnails: int = 0
    sampled: bool = False


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _fmt(value: Any, places: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{places}f}"


def anchor(code: str) -> str:
    """Return the anchor of a code, as ``docs/errors.md`` names it."""
    return code.lower()


class Page:
    """Builds the page of one report (see :func:`render`)."""

    def __init__(self, sources: Sources, thumbnails: Thumbnails | None, bounds: Bounds,
                 docs_url: str | None):
        self.thumbnails, self.bounds = thumbnails, bounds
        self.docs_url = docs_url
        self.facts = PageFacts()
        both = sources.validation is not None and sources.evaluation is not None
        self.budget = bounds.max_images // 2 if both else bounds.max_images

    def thumbs(self, refs: list[str]) -> dict[str, Thumb | str]:
        if self.thumbnails is None or not refs:
            return {}
        return self.thumbnails.make(refs)

    # --- validation ----------------------------------------------------------------------

    def validation(self, part: ValidationPart) -> str:
        out = ['<section id="validation"><h2>Validation</h2>',
               f'<p class="origin">from {_e(part.origin)}</p>', self._datasets(part)]
        if part.manifest_problems:
            out.append('<h3 id="manifest-problems">Problems of whole manifests</h3><ul '
                       'class="manifest-problems">')
            blocks = {i["code"] for i in part.line_problems}  # these codes have their block
            for issue in part.manifest_problems:
                code, row = issue["code"], CODES.get(issue["code"])
                here = code not in blocks  # the first of a code explains it here
                blocks.add(code)
                out.append(f'<li class="{_e(issue["severity"])}"'
                           + (f' id="{_e(anchor(code))}"' if here else "") + ">"
                           f'{self._code_link(code)} <span class="file">{_e(issue["file"])}'
                           f"</span>: {_said(issue)}"
                           + (f'<br><span class="fix">Fix: {_e(row.hint)}</span>'
                              if here and row is not None and row.hint else "") + "</li>")
            out.append("</ul>")
        out.append(self._problems(part))
        out.append("</section>")
        return "".join(out)

    def _datasets(self, part: ValidationPart) -> str:
        if not part.statistics:
            return ('<p class="terminal">Nothing was validated: a terminal manifest file error '
                    'stopped the validation (below).</p>')
        out = ['<div class="datasets">']
        for role, stats in part.statistics.items():
            total = stats["total_json_lines"] or 0
            invalid = stats["invalid_json_lines"] or 0
            share = invalid / total if total else 0.0
            used = share / INVALID_SHARE
            state = "over" if share > INVALID_SHARE else "near" if used >= 0.75 else "ok"
            out.append(
                f'<div class="dataset" data-role="{_e(role)}"><h3>{_e(role)}</h3>'
                f'<p class="file">{_e(part.files.get(role, ""))}</p>'
                f'<p>{_e(stats.get("use_case", ""))}</p><table class="counts">'
                f'<tr><th>lines</th><td>{total:,}</td></tr>'
                f'<tr><th>valid</th><td class="valid">{stats["valid_json_lines"]:,}</td></tr>'
                f'<tr><th>invalid</th><td class="invalid{" some" if invalid else ""}">'
                f'{invalid:,}</td></tr>'
                f'<tr><th>ignored</th><td>{stats.get("ignored_json_lines", 0):,}</td></tr>'
                '</table>'
                f'<div class="budget {state}" title="invalid lines may be at most '
                f'{INVALID_SHARE:.0%} of the lines"><div class="bar" style="width:'
                f'{min(used, 1.0) * 100:.1f}%"></div></div><p class="budget-text">'
                f'{share:.1%} of the lines invalid: {used:.0%} of the {INVALID_SHARE:.0%} '
                'allowed</p></div>')
        out.append("</div>")
        return "".join(out)

    def _code_link(self, code: str) -> str:
        return f'<a class="code" href="#{_e(anchor(code))}">{_e(code)}</a>'

    def _problems(self, part: ValidationPart) -> str:
        problems = part.line_problems
        if not problems:
            return '<p class="clean" id="problems">No line has a problem.</p>'
        by_code: dict[str, list[dict[str, Any]]] = defaultdict(list)
        by_line: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for issue in problems:
            by_code[issue["code"]].append(issue)
            by_line[(issue["file"], issue["line"])].append(issue)
        codes = sorted(by_code, key=lambda c: (_CODE_ORDER.get(c, len(_CODE_ORDER)), c))
        each = max(1, min(self.bounds.per_group, self.budget // max(1, len(codes))))
        pictured: dict[str, list[tuple[str, int]]] = {}
        for code in codes:
            places = list(dict.fromkeys((i["file"], i["line"]) for i in by_code[code]))
            pictured[code] = places[:each]
        wanted: dict[str, set[int]] = defaultdict(set)
        for places in pictured.values():
            for file, line in places:
                wanted[file].add(line)
        raws: dict[tuple[str, int], bytes | None] = {}
        for file, lines in wanted.items():
            try:
                raws.update(((file, n), raw) for n, raw in part.read_lines(file, lines).items())
            except OSError:
                pass  # the manifest has gone since: the problems are listed without pictures
        objects = {where: _load(raw) for where, raw in raws.items()}
        refs = [o["source-ref"] for o in objects.values()
                if isinstance(o, dict) and isinstance(o.get("source-ref"), str)]
        thumbs = self.thumbs(refs)
        out = ['<h3 id="problems">Problems by code</h3><table class="codes"><thead><tr>'
               '<th>code</th><th>severity</th><th>lines</th><th>problems</th><th>message</th>'
               '</tr></thead><tbody>']
        for code in codes:
            found = by_code[code]
            row = CODES.get(code)
            n_lines = len({(i["file"], i["line"]) for i in found})
            out.append(f'<tr class="{_e(found[0]["severity"])}"><td>{self._code_link(code)}</td>'
                       f'<td>{_e(found[0]["severity"])}</td><td>{n_lines:,}</td>'
                       f'<td>{len(found):,}</td><td>{_e(_template(row))}</td></tr>')
        out.append("</tbody></table>")
        for code in codes:
            out.append(self._code_block(code, by_code[code], pictured[code], by_line, objects,
                                        thumbs, raws))
        return "".join(out)

    def _code_block(self, code: str, found: list[dict[str, Any]],
                    pictured: list[tuple[str, int]],
                    by_line: dict[tuple[str, int], list[dict[str, Any]]],
                    objects: dict[tuple[str, int], Any], thumbs: dict[str, Thumb | str],
                    raws: dict[tuple[str, int], bytes | None]) -> str:
        row = CODES.get(code)
        places = list(dict.fromkeys((i["file"], i["line"]) for i in found))
        out = [f'<div class="code-block" id="{_e(anchor(code))}"><div class="about">'
               f'<h4>{_e(code)} <span class="count">{_count(len(places), "line")}</span></h4>']
        if row is not None:
            out.append(f'<p class="message">{_e(_template(row))}</p>')
            if row.hint:
                out.append(f'<p class="fix">Fix: {_e(row.hint)}</p>')
            if row.guide:
                out.append('<p class="guide">Guide: ' + ", ".join(
                    f"“{_e(title)}”" for title in guide_titles(row.guide)) + "</p>")
        if self.docs_url:
            out.append(f'<p><a href="{_e(self.docs_url)}#{_e(anchor(code))}">{_e(code)} in '
                       'the error reference</a></p>')
        out.append('</div><div class="lines"><div class="cards">')
        for where in pictured:
            out.append(self._line_card(code, where, by_line[where], objects.get(where), thumbs,
                                       raws.get(where)))
        out.append("</div>")
        if len(places) > len(pictured):
            self.facts.sampled = True
            out.append(f'<p class="sampled">Pictured: the first {len(pictured):,} of '
                       f'{len(places):,} lines with this code.</p>')
            rest = places[len(pictured):len(pictured) + LISTED_PER_CODE]
            out.append('<ul class="more-lines">')
            for where in rest:
                out += [f'<li><span class="place">{_e(where[0])}:{where[1]}</span> '
                        f'<code>{_e(i["path"] or "$")}</code> {_said(i)}</li>'
                        for i in by_line[where] if i["code"] == code][:1]
            out.append("</ul>")
            left = len(places) - len(pictured) - len(rest)
            if left > 0:
                out.append(f'<p class="sampled">… and {left:,} more lines, not listed here: '
                           '`customlabels validate` lists them all.</p>')
        out.append("</div></div>")
        return "".join(out)

    def _line_card(self, code: str, where: tuple[str, int], issues: list[dict[str, Any]],
                   obj: Any, thumbs: dict[str, Thumb | str], raw: bytes | None) -> str:
        file, line = where
        faulty: set[tuple[str, int]] = set()
        faulty_attributes: set[str] = set()
        for issue in issues:
            if issue["code"] != code:
                continue
            attribute, index = place(issue["path"])
            if attribute is not None and index is not None:
                faulty.add((attribute, index))
            elif attribute is not None:
                faulty_attributes.add(attribute)
        severity = CODES[code].severity if code in CODES else "error"
        out = [f'<div class="card line-card sev-{_e(severity)}" data-code="{_e(code)}">']
        if isinstance(obj, dict):
            ref = obj.get("source-ref")
            thumb = thumbs.get(ref) if isinstance(ref, str) else None
            frame, marks, labels = _line_marks(obj, faulty)
            frame = frame or frame_of(None, thumb)
            whole = bool(faulty_attributes & set(_detection_attributes(obj)))
            if marks or whole or self.thumbnails is not None:  # else a grey frame says nothing
                out.append(picture(frame, thumb, marks, classes="faulty-frame" if whole else "")
                           + missing(thumb))
            out.append(f'<p class="ref">{_e(ref if isinstance(ref, str) else "(no source-ref)")}'
                       "</p>")
            if labels:
                out.append('<p class="labels">' + " ".join(
                    f'<span class="chip">{_e(label)}</span>' for label in labels) + "</p>")
        else:
            out.append('<p class="unreadable">The line is not a JSON object: nothing to '
                       "draw.</p>")
            if raw and b'"errors"' not in raw[:12]:  # a validation manifest keeps only errors
                text = raw[:RAW_SHOWN].decode("utf-8", "replace")
                out.append(f'<pre class="raw">{_e(text)}'
                           + ("…" if len(raw) > RAW_SHOWN else "") + "</pre>")
        out.append(f'<p class="place">{_e(file)}:{line}</p><ul class="line-problems">')
        for issue in issues:
            mine = " this" if issue["code"] == code else ""
            out.append(f'<li class="{_e(issue["severity"])}{mine}">'
                       f'{self._code_link(issue["code"])} <code class="path">'
                       f'{_e(issue["path"] or "$")}</code> {_said(issue)}</li>')
        out.append("</ul></div>")
        return "".join(out)

    # --- evaluation ----------------------------------------------------------------------

    def evaluation(self, part: EvaluationPart) -> str:
        result = part.result
        detection = result.coco is not None
        out = ['<section id="evaluation"><h2>Evaluation</h2>',
               f'<p class="origin">from {_e(part.origin)}</p>', '<div class="metrics">']
        cards = [("F1", result.f1), ("precision", result.precision), ("recall", result.recall)]
        if detection:
            stats = result.coco.as_dict()
            cards += [("mAP", stats["AP"]), ("AP50", stats["AP50"]), ("AP75", stats["AP75"]),
                      ("mAR", stats["AR100"])]
        for name, value in cards:
            out.append(f'<div class="metric"><span class="value">{_fmt(value)}</span>'
                       f'<span class="name">{name}</span></div>')
        kind = "object detection" if detection else "classification" + (
            ", multi-label" if result.multi_label else "")
        out.append(f'</div><p>{kind}: {_count(result.testing_images, "testing image")}, '
                   f'{_count(len(result.labels), "label")}; precision, recall and F1 at each '
                   'label\'s assumed threshold, the means over the labels'
                   + ("; mAP and mAR as COCO computes them (IoU 0.50:0.95, mAR at 100 "
                      "detections)" if detection else "") + ".</p>")
        out.append(self._label_table(result, detection))
        out.append('<h3 id="curves">Precision-recall curves</h3><p>Each prediction\'s '
                   'confidence is a threshold; the dot marks the assumed threshold, the one '
                   'of best F1.</p><div class="curves">')
        for r in result.per_label:
            plot = precision_recall_svg(r.label, r.curve, r.threshold, r.precision, r.recall)
            out.append(f'<figure class="curve-card">{plot}<figcaption>{_e(r.label)}'
                       '</figcaption></figure>')
        out.append("</div>")
        if result.confusion_matrix is not None:
            out.append(self._confusion(result))
        out.append(self._gallery(part, detection))
        out.append("</section>")
        return "".join(out)

    def _label_table(self, result: Any, detection: bool) -> str:
        unit = "boxes" if detection else "images"
        out = ['<h3 id="labels">Per label</h3><table class="per-label"><thead><tr>'
               f'<th>label</th><th>images</th><th>ground truth {unit}</th><th>predictions</th>'
               '<th>assumed threshold</th><th>precision</th><th>recall</th><th>F1</th>'
               '<th>TP</th><th>FP</th><th>FN</th>'
               + ("<th>AP</th><th>AP50</th>" if detection else "") + "</tr></thead><tbody>"]
        for r in sorted(result.per_label, key=lambda r: (-_sortable(r.f1), r.label)):
            out.append(f'<tr><td class="label">{_e(r.label)}</td><td>{r.testing_images:,}</td>'
                       f'<td>{r.ground_truth:,}</td><td>{r.predictions:,}</td>'
                       f'<td>{_fmt(r.threshold)}</td><td>{_fmt(r.precision)}</td>'
                       f'<td>{_fmt(r.recall)}</td><td>{_fmt(r.f1)}</td>'
                       f'<td>{r.true_positives:,}</td><td>{r.false_positives:,}</td>'
                       f'<td>{r.false_negatives:,}</td>'
                       + (f"<td>{_fmt(r.average_precision)}</td>"
                          f"<td>{_fmt(r.average_precision_50)}</td>" if detection else "")
                       + "</tr>")
        out.append("</tbody></table>")
        return "".join(out)

    def _confusion(self, result: Any) -> str:
        labels, rows = result.labels, result.confusion_rows
        out = ['<h3 id="confusion">Confusion matrix</h3><p>Rows: the predicted label; columns: '
               'the ground-truth label; each cell the share of the column\'s testing images '
               '(at the assumed thresholds).</p><table class="confusion"><thead><tr><th></th>']
        out += [f'<th class="truth">{_e(label)}</th>' for label in labels]
        out.append("</tr></thead><tbody>")
        for name, values in zip(rows, result.confusion_matrix):
            out.append(f'<tr><th class="predicted">{_e(name)}</th>')
            for label, value in zip(labels, values):
                share = 0.0 if math.isnan(value) else float(value)
                kind = "diag" if label == name else "off"
                out.append(f'<td class="{kind}" style="--share:{share:.3f}">{share:.0%}</td>')
            out.append("</tr>")
        out.append("</tbody></table>")
        return "".join(out)

    def _gallery(self, part: EvaluationPart, detection: bool) -> str:
        result = part.result
        names = list(result.labels) + [n for n in result.confusion_rows
                                       if n not in set(result.labels)]
        index = {name: n for n, name in enumerate(names)}
        totals: Counter[str] = Counter()
        chosen: Counter[str] = Counter()
        entries: list[dict[str, Any]] = []
        images = 0
        for raw in part.snapshot:
            obj = _load(raw)
            if not isinstance(obj, dict):
                continue
            images += 1
            keys = _outcome_keys(obj, detection, index, names)  # cheap: no box is read
            totals.update(keys)
            if len(entries) < self.budget and any(chosen[k] < self.bounds.per_group
                                                  for k in keys):
                chosen.update(keys)
                entries.append(_gallery_entry(obj, detection, keys, index, names))
        thumbs = self.thumbs([e["ref"] for e in entries])
        out = ['<h3 id="gallery-title">Test images</h3>']
        out.append(f'<p class="sampled" id="g-sampling">{len(entries):,} of {images:,} test '
                   f'images are shown: at most {self.bounds.per_group} for each label and '
                   f'outcome, {self.budget:,} in all, in the order of the test manifest.</p>')
        if len(entries) < images:
            self.facts.sampled = True
        out.append('<div class="filters" id="g-filters"><label>label <select id="g-label">'
                   '<option value="">every label</option>')
        out += [f'<option value="{n}">{_e(name)} ({sum(totals[f"{n}:{o}"] for o in OUTCOMES):,})'
                '</option>' for n, name in enumerate(names)]
        out.append("</select></label>")
        for outcome, text in OUTCOMES.items():
            out.append(f'<label class="outcome {outcome}"><input type="checkbox" '
                       f'class="g-outcome" value="{outcome}" checked> {text}</label>')
        out.append('<span id="g-count"></span></div><div class="cards" id="gallery">')
        for entry in entries:
            thumb = thumbs.get(entry["ref"])
            out.append(f'<div class="card g-card" data-k="{_e(" ".join(sorted(entry["keys"])))}">')
            if detection:
                frame = frame_of(entry["size"], thumb)
                out.append(picture(frame, thumb, entry["marks"]) + missing(thumb))
            else:
                out.append(picture(frame_of(None, thumb), thumb, []) + missing(thumb))
            out.append(f'<p class="ref">{_e(entry["ref"])}</p><p class="labels">')
            out += [f'<span class="chip {c}" data-m="{_e(k)}" title="{_e(t)}">{_e(text)}</span>'
                    for c, k, t, text in entry["chips"]]
            out.append("</p></div>")
        out.append("</div>")
        return "".join(out)


def _template(row: Any) -> str:
    """Return a code's message with its blank shown (``first used on line …``)."""
    return "" if row is None else row.message.replace("{}", "…")


def _said(issue: dict[str, Any]) -> str:
    """Return an issue's message and detail, escaped: what it says of its line."""
    detail = issue.get("detail")
    return _e(issue["message"]) + (f' <span class="detail">({_e(detail)})</span>'
                                   if detail else "")


def _count(n: int, unit: str) -> str:
    return f"{n:,} {unit}" + ("" if n == 1 else "s")


def _sortable(value: float) -> float:
    return -1.0 if math.isnan(value) else value


def _load(raw: bytes | None) -> Any:
    """Return the object of a line (orjson, a dependency; json for what orjson refuses, as
    NaN), or None when it is not JSON."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _predictions(obj: dict[str, Any], detection: bool
                 ) -> Iterator[tuple[int, str, str, Any]]:
    """Yield ``(index, label, outcome, confidence)`` of a snapshot line's predictions, true
    negatives left out; ``index``: the box's in the evaluation attribute (detection), else -1."""
    if detection:
        predicted = obj.get(EVALUATION_PREFIX)
        meta = obj.get(f"{EVALUATION_PREFIX}-metadata")
        boxes = predicted.get("annotations") if isinstance(predicted, dict) else None
        objects = meta.get("objects") if isinstance(meta, dict) else None
        if not isinstance(boxes, list) or not isinstance(objects, list):
            return
        names = _class_map(obj, EVALUATION_PREFIX)
        for n, (box, item) in enumerate(zip(boxes, objects)):
            if isinstance(box, dict) and isinstance(item, dict):
                outcome = _outcome(item.get(_DETAILS))
                if outcome != "tn":
                    yield n, _label(names, box), outcome, item.get("confidence")
        return
    for attr, value in obj.items():
        meta = obj.get(f"{attr}-metadata")
        if _CLASS_ATTR.fullmatch(attr) and isinstance(meta, dict):
            outcome = _outcome(meta.get(_DETAILS))
            if outcome != "tn":
                yield -1, str(meta.get("class-name", value)), outcome, meta.get("confidence")


def _outcome_keys(obj: dict[str, Any], detection: bool, index: dict[str, int],
                  names: list[str]) -> set[str]:
    """Return the ``label:outcome`` keys of a snapshot line (what the filter matches)."""
    return {f"{_number_of(label, index, names)}:{outcome}"
            for _, label, outcome, _ in _predictions(obj, detection)}


def _number_of(label: str, index: dict[str, int], names: list[str]) -> int:
    """Return a label's number in the gallery's filter (a label only predicted is added)."""
    number = index.get(label)
    if number is None:
        number = index[label] = len(names)
        names.append(label)
    return number


def _detection_attributes(obj: dict[str, Any]) -> list[str]:
    """Return the attributes of a line that hold boxes (an ``annotations`` list)."""
    return [k for k, v in obj.items() if isinstance(v, dict)
            and isinstance(v.get("annotations"), list) and not k.startswith(EVALUATION_PREFIX)]


def _number(value: Any) -> float | None:
    """Return a finite JSON number as a float, else None."""
    found = number(value)
    return found if found is not None and math.isfinite(found) else None


def _label(names: dict[str, Any], box: dict[str, Any]) -> str:
    """Return a box's label by its class-map (``class N`` for an id the map lacks)."""
    return str(names.get(str(box.get("class_id")), f"class {box.get('class_id')}"))


def _declared_size(obj: dict[str, Any]) -> Any:
    """Return the ``image_size[0]`` of a line's first box attribute that has one (its boxes'
    frame), else None."""
    for attribute in _detection_attributes(obj):
        sizes = obj[attribute].get("image_size")
        if isinstance(sizes, list) and sizes:
            return sizes[0]
    return None


def _class_map(obj: dict[str, Any], attribute: str) -> dict[str, Any]:
    meta = obj.get(f"{attribute}-metadata")
    names = meta.get("class-map") if isinstance(meta, dict) else None
    return names if isinstance(names, dict) else {}


def _boxes(obj: dict[str, Any], attribute: str, frame: tuple[float, float]
           ) -> list[tuple[int, str, float, float, float, float]]:
    """Return the drawable boxes of one attribute: (index, label, left, top, width, height)
    in pixels of ``frame`` (an attribute's own image_size scaled into it)."""
    value = obj[attribute]
    sizes = value.get("image_size")
    own = frame_of(sizes[0] if isinstance(sizes, list) and sizes else None, None)
    sx, sy = frame[0] / own[0], frame[1] / own[1]
    names = _class_map(obj, attribute)
    out = []
    for n, box in enumerate(value["annotations"]):
        if not isinstance(box, dict):
            continue
        numbers = [_number(box.get(k)) for k in ("left", "top", "width", "height")]
        if None in numbers:
            continue
        left, top, width, height = (float(v or 0.0) for v in numbers)
        out.append((n, _label(names, box), left * sx, top * sy, width * sx, height * sy))
    return out


def _line_marks(obj: dict[str, Any], faulty: set[tuple[str, int]]
                ) -> tuple[tuple[float, float] | None, list[Mark], list[str]]:
    """Return a validation line's frame, its boxes (the faulty ones marked) and its
    image-level labels."""
    size = _declared_size(obj)
    drawn_in = frame_of(size, None)
    marks: list[Mark] = []
    for attribute in _detection_attributes(obj):
        for n, label, left, top, width, height in _boxes(obj, attribute, drawn_in):
            bad = (attribute, n) in faulty
            marks.append(Mark(left, top, width, height, "box faulty" if bad else "box",
                              f"{label}: {attribute} annotations[{n}]"))
    labels = []
    for key, meta in obj.items():
        if key.endswith("-metadata") and isinstance(meta, dict) and "class-name" in meta:
            labels.append(str(meta["class-name"]))
    return None if size is None else drawn_in, marks, labels


def _outcome(details: Any) -> str:
    if not isinstance(details, dict):
        return "tn"
    for outcome, flag in (("tp", "is-true-positive"), ("fp", "is-false-positive"),
                          ("fn", "is-false-negative")):
        if details.get(flag) is True:
            return outcome
    return "tn"


def _gallery_entry(obj: dict[str, Any], detection: bool, keys: set[str],
                   index: dict[str, int], names: list[str]) -> dict[str, Any]:
    """Return one snapshot line as a gallery card: its marks and chips (``keys``: its
    :func:`_outcome_keys`, which numbered its labels: ``index`` and ``names``)."""
    marks: list[Mark] = []
    chips: list[tuple[str, str, str, str]] = []
    size = _declared_size(obj) if detection else None
    frame = frame_of(size, None)
    if detection:
        for attribute in _detection_attributes(obj):
            for _, label, left, top, width, height in _boxes(obj, attribute, frame):
                marks.append(Mark(left, top, width, height, "gt", f"{label}: ground truth"))
        # keys: the evaluation attribute is there, with its annotations
        drawn = {box[0]: box for box in _boxes(obj, EVALUATION_PREFIX, frame)} if keys else {}
        for n, label, outcome, confidence in _predictions(obj, detection):
            key = f"{index[label]}:{outcome}"
            if n in drawn:
                _, _, left, top, width, height = drawn[n]
                score = _number(confidence)
                title = f"{label}: {OUTCOMES[outcome]}" + (
                    f", confidence {score:.3f}" if score else "")
                marks.append(Mark(left, top, width, height, f"pred {outcome}", title, key))
        boxes_of = Counter(mark.key for mark in marks if mark.key is not None)
        for key in sorted(keys, key=lambda k: (int(k.split(":")[0]), k)):
            label_number, outcome = key.split(":")
            chips.append((outcome, key, OUTCOMES[outcome], f"{names[int(label_number)]}: "
                          f"{_count(boxes_of[key], OUTCOMES[outcome])}"))
    else:
        for _, label, outcome, confidence in _predictions(obj, detection):
            score = _number(confidence)
            text = label + ("" if outcome == "fn" or score is None else f" {score:.2f}")
            chips.append((outcome, f"{index[label]}:{outcome}", OUTCOMES[outcome], text))
    ref = obj.get("source-ref")
    return {"ref": ref if isinstance(ref, str) else "", "size": size, "marks": marks,
            "chips": chips, "keys": keys}


# --- the page --------------------------------------------------------------------------------

STYLE = """
:root{--tp:#1a9641;--fp:#d7191c;--fn:#e08a00;--box:#00a6d6;--ink:#1d2329;--muted:#5b6670;
--line:#d5dbe0;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
margin:0;background:#fff}
header{background:var(--bg);border-bottom:1px solid var(--line);padding:16px 24px}
header h1{margin:0 0 4px;font-size:20px}
nav a{margin-right:14px}
section{padding:8px 24px 24px}
h2{border-bottom:2px solid var(--line);padding-bottom:4px}
.why-text{color:var(--fp);font-size:12px;word-break:break-all}
.origin,.file,.ref,.place,.sampled,.guide{color:var(--muted);font-size:12px;word-break:break-all}
.datasets,.metrics{display:flex;flex-wrap:wrap;gap:16px}
.dataset{border:1px solid var(--line);border-radius:6px;padding:10px 14px;min-width:240px;
flex:1 1 300px;max-width:480px}
.dataset h3{margin:0}
.counts th{text-align:left;font-weight:normal;color:var(--muted);padding-right:16px}
.counts td{text-align:right;font-variant-numeric:tabular-nums}
td.invalid.some{color:var(--fp)}
.budget{height:8px;background:var(--bg);border:1px solid var(--line);border-radius:4px;
overflow:hidden;margin-top:8px}
.budget .bar{height:100%;background:var(--tp)}
.budget.near .bar{background:var(--fn)}
.budget.over .bar{background:var(--fp)}
.budget-text{font-size:12px;margin:2px 0 0}
table{border-collapse:collapse;margin:8px 0}
.codes td,.codes th,.per-label td,.per-label th{border-bottom:1px solid var(--line);
padding:4px 10px;text-align:left}
.per-label td{font-variant-numeric:tabular-nums}
tr.error td:nth-child(2),li.error>.code{color:var(--fp)}
tr.warning td:nth-child(2),li.warning>.code{color:var(--fn)}
a.code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
code,.path{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;
word-break:break-all}
.code-block{border-top:1px solid var(--line);margin-top:18px;display:grid;
grid-template-columns:minmax(240px,320px) minmax(0,1fr);gap:0 24px}
@media (max-width:800px){.code-block{display:block}}
.more-lines{font-size:12px;padding-left:16px;max-height:24em;overflow:auto;
content-visibility:auto;contain-intrinsic-size:auto 24em}
.code-block h4{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;margin:12px 0 4px}
.code-block:target{background:#fffbe6}
.count{font-family:system-ui,sans-serif;font-weight:normal;color:var(--muted);font-size:12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px;width:258px;background:#fff;
content-visibility:auto;contain-intrinsic-size:auto 258px auto 360px}
.card p{margin:4px 0}
.card[hidden]{display:none}
pre.raw{white-space:pre-wrap;word-break:break-all;font-size:11px;background:var(--bg);
padding:4px;margin:4px 0;max-height:8em;overflow:auto}
.line-problems{margin:4px 0;padding-left:16px;font-size:12px}
.line-problems li.this>.code{font-weight:700}
svg.pic{display:block;background:#e9edf0;max-width:100%;height:auto;cursor:zoom-in}
.card.big{width:auto;max-width:100%}
.card.big svg.pic{width:min(960px,100%);height:auto;cursor:zoom-out}
svg.pic .frame{fill:#dfe4e8}
svg.pic .why{fill:var(--muted);text-anchor:middle;dominant-baseline:middle}
svg.pic rect.box,svg.pic rect.gt,svg.pic rect.pred{fill:none;vector-effect:non-scaling-stroke;
stroke-width:2}
svg.pic rect.box{stroke:var(--box)}
svg.pic rect.faulty{stroke:var(--fp);stroke-width:4;fill:rgba(215,25,28,.15)}
svg.faulty-frame{outline:4px solid var(--fp)}
.sev-warning svg.faulty-frame{outline-color:var(--fn)}
.sev-warning svg.pic rect.faulty{stroke:var(--fn);fill:rgba(224,138,0,.15)}
svg.pic rect.gt{stroke:#fff;stroke-dasharray:4 3;stroke-width:1.5}
svg.pic:not(:has(image)) rect.gt{stroke:#3d4650}
svg.pic rect.tp{stroke:var(--tp)}
svg.pic rect.fp{stroke:var(--fp);stroke-dasharray:7 3}
svg.pic rect.fn{stroke:var(--fn);stroke-dasharray:2 2}
svg.pic rect.dim,.chip.dim{opacity:.15}
.chip{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 7px;
margin:2px 2px 0 0;font-size:12px;background:var(--bg)}
.chip.tp{border-color:var(--tp);color:var(--tp)}
.chip.fp{border-color:var(--fp);color:var(--fp)}
.chip.fn{border-color:var(--fn);color:#9a5f00}
.metric{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:96px}
.metric .value{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.metric .name{color:var(--muted);font-size:12px}
.curves{display:flex;flex-wrap:wrap;gap:10px}
.curve-card{margin:0;border:1px solid var(--line);border-radius:6px;padding:6px}
.curve-card figcaption{text-align:center;font-size:12px;word-break:break-all}
svg.pr .axes{fill:#fff;stroke:var(--line)}
svg.pr .grid{stroke:#eef1f3}
svg.pr .tick,svg.pr .axis,svg.pr .none{font-size:10px;fill:var(--muted)}
svg.pr .curve{fill:none;stroke:var(--box);stroke-width:2}
svg.pr circle.assumed{fill:var(--fp)}
svg.pr text.assumed{font-size:10px;fill:var(--fp)}
.confusion th,.confusion td{border:1px solid var(--line);padding:4px 8px;text-align:right}
.confusion td{background:rgba(26,150,65,calc(var(--share)*.8))}
.confusion td.off{background:rgba(215,25,28,calc(var(--share)*.8))}
.filters{display:flex;flex-wrap:wrap;gap:14px;align-items:center;background:var(--bg);
border:1px solid var(--line);border-radius:6px;padding:8px 12px;position:sticky;top:0;z-index:1}
.outcome.tp{color:var(--tp)}.outcome.fp{color:var(--fp)}.outcome.fn{color:#9a5f00}
#g-count{color:var(--muted)}
.legend span{margin-right:12px}
"""

SCRIPT = """
(function () {
  document.querySelectorAll(".card svg.pic").forEach(function (picture) {
    picture.addEventListener("click", function () {
      picture.closest(".card").classList.toggle("big");
    });
  });
  var select = document.getElementById("g-label");
  if (!select) { return; }
  var outcomes = document.querySelectorAll(".g-outcome");
  var cards = document.querySelectorAll("#gallery .g-card");
  var count = document.getElementById("g-count");
  function wanted(key, label, on) {
    var parts = key.split(":");
    return (label === "" || parts[0] === label) && on[parts[1]] === true;
  }
  function apply() {
    var label = select.value, on = {}, shown = 0;
    outcomes.forEach(function (box) { on[box.value] = box.checked; });
    cards.forEach(function (card) {
      var keys = card.getAttribute("data-k").split(" ").filter(Boolean);
      var hit = keys.some(function (key) { return wanted(key, label, on); });
      card.hidden = !hit;
      if (hit) { shown += 1; }
      card.querySelectorAll("[data-m]").forEach(function (mark) {
        mark.classList.toggle("dim", !wanted(mark.getAttribute("data-m"), label, on));
      });
    });
    count.textContent = shown + " of " + cards.length + " images shown";
  }
  select.addEventListener("change", apply);
  outcomes.forEach(function (box) { box.addEventListener("change", apply); });
  apply();
})();
"""


def script_hash(script: str = SCRIPT) -> str:
    """Return the Content Security Policy source of the page's one script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def render(sources: Sources, thumbnails: Thumbnails | None = None, bounds: Bounds = Bounds(),
           docs_url: str | None = None) -> tuple[str, PageFacts]:
    """Return the page of ``sources`` and what it holds."""
    page = Page(sources, thumbnails, bounds, docs_url)
    body = []
    nav = []
    if sources.validation is not None:
        body.append(page.validation(sources.validation))
        nav.append('<a href="#validation">Validation</a><a href="#problems">Problems by '
                   'code</a>')
    if sources.evaluation is not None:
        body.append(page.evaluation(sources.evaluation))
        nav.append('<a href="#evaluation">Evaluation</a><a href="#curves">Curves</a>'
                   '<a href="#gallery-title">Test images</a>')
    page.facts.pictures = sum(b.count('<svg class="pic') for b in body)
    page.facts.thumbnails = sum(b.count('<image href="data:') for b in body)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    images = ("pictures from " + (sources.images or "") if page.thumbnails is not None
              else "no --images: boxes are drawn on grey frames of each image's size")
    legend = ('<p class="legend">Boxes: <span style="color:var(--box)">■ a box</span>'
              '<span style="color:var(--fp)">■ the faulty box</span>'
              '<span style="color:var(--tp)">■ true positive</span>'
              '<span style="color:var(--fp)">▪▪ false positive</span>'
              '<span style="color:var(--fn)">·· false negative</span>'
              '<span>┄ ground truth</span></p>')
    policy = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              f"script-src {script_hash()}")
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(sources.title[:200])} · customlabels report</title>"
            f"<style>{STYLE}</style></head><body>"
            f'<header><h1>{_e(sources.title)}</h1><p class="origin">customlabels '
            f"{_e(__version__)} report, made {made}; {_e(images)}.</p>"
            f'<nav>{"".join(nav)}</nav>{legend}</header>')
    return head + "".join(body) + f"<script>{SCRIPT}</script></body></html>\n", page.facts
