"""The HTML report's content, read from the page (the browser tests are in test_browser.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
from html import escape, unescape
from pathlib import Path

import pytest

from customlabels import ReportError, write_report
from customlabels.cli.main import main
from customlabels.codes import CODES
from customlabels.htmlreport.sources import (evaluation_from_folder, place,
                                             validation_from_document, validation_from_folder)
from customlabels.validation.pipeline import validate_files

from ..helpers import ROOT, classification_line
from . import data


def _page(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _block(page: str, code: str) -> str:
    """Return the code's block of the validation section."""
    start = page.index(f'<div class="code-block" id="{code.lower()}">')
    end = page.find('<div class="code-block"', start + 1)
    return page[start:end if end != -1 else page.index("</section>", start)]


def test_place_reads_the_attribute_and_the_box_of_a_path() -> None:
    assert place("$['bounding-box'].annotations[3].width") == ("bounding-box", 3)
    assert place("$.bb.image_size[0]") == ("bb", None)
    assert place("$['it\\'s'].annotations[0]") == ("it's", 0)
    assert place("$") == (None, None)
    assert place(None) == (None, None)


def test_a_folder_and_the_report_document_give_the_same_problem_lines(
        written: dict[str, Path], mirror: Path) -> None:
    doc = validate_files(str(written["train"]), str(written["test"]), images=str(mirror),
                         image_cache=False)
    in_hand = validation_from_document(doc)
    folder = validation_from_folder(written["validation"])
    roles = {str(written["train"]): "training", str(written["test"]): "testing"}
    names = {path: role for role, path in folder.files.items()}
    assert ({(roles[i["file"]], i["line"], i["code"]) for i in in_hand.line_problems}
            == {(names[i["file"]], i["line"], i["code"]) for i in folder.line_problems})
    # the folder knows the object that holds each problem: a prefix of its exact path
    exact = {(roles[i["file"]], i["line"], i["code"]): i["path"] for i in in_hand.line_problems}
    for issue in folder.line_problems:
        full = exact[(names[issue["file"]], issue["line"], issue["code"])]
        assert full.startswith(issue["path"]), (issue, full)
    assert folder.statistics == doc["summary"]["statistics"]


def test_the_validation_section_counts_each_dataset_and_lists_every_code(
        written: dict[str, Path], tmp_path: Path) -> None:
    out = write_report(tmp_path / "r.html", written["validation"])
    page = _page(tmp_path / "r.html")
    summary = json.loads((written["validation"] / "manifest_summary.json").read_text())
    for role, stats in summary["statistics"].items():
        card = page[page.index(f'data-role="{role}"'):]
        card = card[:card.index("</p></div>", card.index('class="budget-text"'))]
        assert f'class="valid">{stats["valid_json_lines"]:,}<' in card
        assert re.search(f'class="invalid( some)?">{stats["invalid_json_lines"]:,}<', card)
        share = stats["invalid_json_lines"] / stats["total_json_lines"]
        assert f"{share:.1%} of the lines invalid: {share / 0.2:.0%} of the 20% allowed" in card
    codes = {"ERROR_INVALID_BOUNDING_BOX", "ERROR_MISSING_CLASS_MAP_ID",
             "ERROR_INVALID_JSON_LINE", "ERROR_DUPLICATE_SOURCE_REF", "ERROR_INVALID_IMAGE"}
    anchors = set(re.findall(r'<a id="([a-z0-9_]+)"></a>',
                             (ROOT / "docs" / "errors.md").read_text()))
    for code in codes:
        assert f'<a class="code" href="#{code.lower()}">{code}</a>' in page
        assert code.lower() in anchors  # the same anchor as docs/errors.md
        block = _block(page, code)
        assert escape(CODES[code].hint) in block
    assert out.pictures == len(re.findall(r'<svg class="pic', page))


def test_the_faulty_box_is_highlighted_and_its_path_shown(written: dict[str, Path],
                                                          tmp_path: Path) -> None:
    write_report(tmp_path / "r.html", validation=validate_files(
        str(written["train"]), str(written["test"])))
    block = _block(_page(tmp_path / "r.html"), "ERROR_INVALID_BOUNDING_BOX")
    faulty = re.findall(r'<rect class="box faulty"[^>]*><title>([^<]*)</title>', block)
    fine = re.findall(r'<rect class="box"[^>]*><title>([^<]*)</title>', block)
    assert faulty == ["flag: bounding-box annotations[1]"]
    assert fine == ["face: bounding-box annotations[0]"]
    assert "$[&#x27;bounding-box&#x27;].annotations[1]" in block  # the JSON path, escaped
    assert "train.manifest:2" in block
    block = _block(_page(tmp_path / "r.html"), "ERROR_INVALID_JSON_LINE")
    assert "not a JSON object" in block and "train.manifest:4" in block
    # the line as it is in the manifest, where it breaks (the report document's manifests)
    assert f'<pre class="raw">{escape(data.BROKEN)}</pre>' in block


def test_pictures_embed_small_jpeg_thumbnails_and_say_why_one_is_missing(
        written: dict[str, Path], mirror: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = write_report(tmp_path / "r.html", written["validation"], images=str(mirror))
    page = _page(tmp_path / "r.html")
    uris = re.findall(r'<image href="data:image/jpeg;base64,([^"]+)"', page)
    assert out.thumbnails == len(uris) > 0
    for uri in uris:
        with Image.open(io.BytesIO(base64.b64decode(uri))) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= 240
    block = _block(page, "ERROR_INVALID_IMAGE")
    assert "not-there.jpg" in block and "not read:" in block


def test_the_evaluation_is_the_one_of_its_summary_file(written: dict[str, Path]) -> None:
    part = evaluation_from_folder(written["evaluation"])
    summary = json.loads((written["evaluation"] /
                          "EvaluationSummary-photos-v1.json").read_text())
    assert part.result.f1 == pytest.approx(
        summary["AggregatedEvaluationResults"]["Metrics"]["F1Score"])
    by_label = {r["Label"]: r["Metrics"] for r in summary["LabelEvaluationResults"]}
    assert set(by_label) == set(part.result.labels)
    for r in part.result.per_label:
        assert r.threshold == pytest.approx(by_label[r.label]["Threshold"])
        assert r.f1 == pytest.approx(by_label[r.label]["F1Score"])


def test_the_evaluation_section_has_metrics_curves_and_a_gallery(
        written: dict[str, Path], mirror: Path, tmp_path: Path) -> None:
    write_report(tmp_path / "r.html", written["evaluation"], images=str(mirror))
    page = _page(tmp_path / "r.html")
    part = evaluation_from_folder(written["evaluation"])
    assert page.count('<svg class="pr"') == len(part.result.labels)
    assert page.count('<circle class="assumed"') == sum(
        r.predictions > 0 for r in part.result.per_label)
    stats = part.result.coco.as_dict()
    for name, value in (("mAP", stats["AP"]), ("mAR", stats["AR100"]), ("F1", part.result.f1)):
        assert (f'<span class="value">{value:.3f}</span><span class="name">{name}</span>'
                in page)
    cards = dict(re.findall(r'<div class="card g-card" data-k="([^"]*)">.*?<p class="ref">'
                            r'([^<]*)</p>', page))
    keys = {ref.rsplit("/", 1)[1]: set(k.split()) for k, ref in cards.items()}
    options = {unescape(name): number for number, name in
               re.findall(r'<option value="(\d+)">(.*?) \(\d+\)</option>', page)}
    assert set(part.result.labels) < set(options)  # and cup, only predicted
    face, flag, cup = (options[n] for n in ("face", "flag", "cup"))
    assert keys["astronaut.jpg"] == {f"{face}:tp", f"{flag}:tp", f"{cup}:fp"}
    assert f"{face}:fn" in keys["chelsea.jpg"]  # its face was missed
    assert "tp" in " ".join(keys["motorcycle_left.jpg"])
    # boxes in one colour for each outcome: a class a box
    assert re.search(r'<rect class="pred fp" data-m="' + cup + ':fp"', page)


def test_a_classification_shows_the_confusion_matrix(written: dict[str, Path],
                                                     tmp_path: Path) -> None:
    write_report(tmp_path / "r.html", written["classification"])
    page = _page(tmp_path / "r.html")
    part = evaluation_from_folder(written["classification"])
    table = page[page.index('<table class="confusion">'):]
    table = table[:table.index("</table>")]
    cells = re.findall(r"<td class=\"(diag|off)\"[^>]*>(\d+)%</td>", table)
    expected = [round(100 * v) for row in part.result.confusion_matrix for v in row]
    assert [int(v) for _, v in cells] == expected
    assert table.count('<th class="truth">') == len(part.result.labels)
    assert '<svg class="pr"' in page and 'class="card g-card"' in page


def test_every_string_of_the_data_is_escaped(written: dict[str, Path], tmp_path: Path) -> None:
    write_report(tmp_path / "r.html", written["validation"], written["evaluation"])
    write_report(tmp_path / "c.html", written["classification"])
    for name in ("r.html", "c.html"):
        page = _page(tmp_path / name)
        assert data.HOSTILE not in page
        assert "<img" not in page and "window.__pwned" not in page.replace(
            escape(data.HOSTILE), "")
        assert escape(data.HOSTILE) in page  # shown, as text
        assert page.count("<script") == 1


def test_the_one_script_is_allowed_by_its_hash_and_nothing_is_fetched(
        written: dict[str, Path], tmp_path: Path) -> None:
    write_report(tmp_path / "r.html", written["validation"], written["evaluation"])
    page = _page(tmp_path / "r.html")
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"',
                                page).group(1))
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)  # nothing external


def _many_faults(folder: Path, lines: int) -> tuple[Path, Path]:
    """Write a training manifest whose every line has a box off its frame, and a testing
    manifest with ``lines`` images for predictions that miss every box."""
    train = [data.detection_line(f"photo-{n}", [("face", 10, 10, 50, 50),
                                                ("face", 600, 10, 90, 50)]) for n in range(lines)]
    test = [data.detection_line(f"test-{n}", [("face", 10, 10, 50, 50)]) for n in range(lines)]
    preds = [{"source-ref": line["source-ref"], "CustomLabels": [
        {"Name": "face", "Confidence": 90.0, "Geometry": {"BoundingBox": {
            "Left": 0.5, "Top": 0.5, "Width": 0.1, "Height": 0.1}}}]} for line in test]
    data.write_lines(folder / "t.manifest", test)
    data.write_lines(folder / "p.jsonl", preds)
    return data.write_lines(folder / "many.manifest", train), folder / "t.manifest"


def test_a_large_dataset_is_sampled_and_the_page_says_so(tmp_path: Path) -> None:
    from customlabels.metrics.evaluation import evaluate_files

    train, test = _many_faults(tmp_path, 300)
    validate_files(str(train), output_dir=str(tmp_path / "v"))
    evaluate_files(str(test), str(tmp_path / "p.jsonl"), output_dir=str(tmp_path / "e"))
    out = write_report(tmp_path / "r.html", tmp_path / "v", tmp_path / "e", max_images=40,
                       per_group=5)
    page = _page(tmp_path / "r.html")
    assert out.sampled and out.pictures <= 40
    block = _block(page, "ERROR_INVALID_BOUNDING_BOX")
    assert block.count('<svg class="pic') == 5
    assert "Pictured: the first 5 of 300 lines with this code." in block
    assert block.count("<li><span class=\"place\">") == 200  # then a count of the rest
    assert "… and 95 more lines" in block
    assert page.count('class="card g-card"') == 5  # 5 for face:fp, which are face:fn too
    assert "5 of 300 test images are shown: at most 5 for each label and outcome" in page


def test_the_report_never_writes_over_an_input(written: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "validation"
    shutil.copytree(written["validation"], copy)
    before = (copy / "manifest_summary.json").read_bytes()
    with pytest.raises(ReportError, match="not a customlabels report"):
        write_report(copy / "manifest_summary.json", copy)
    assert (copy / "manifest_summary.json").read_bytes() == before
    with pytest.raises(ReportError, match="is a folder"):
        write_report(copy, copy)
    write_report(tmp_path / "r.html", copy)
    write_report(tmp_path / "r.html", copy)  # an earlier report is replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "validation"]


def test_inputs_that_cannot_be_reported_are_named(tmp_path: Path,
                                                  written: dict[str, Path]) -> None:
    with pytest.raises(ReportError, match="holds no manifest_summary.json"):
        write_report(tmp_path / "r.html", tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(written["validation"], broken)
    (broken / "manifest_summary.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"manifest_summary.json: not JSON"):
        write_report(tmp_path / "r.html", broken)
    summary = json.loads((written["validation"] / "manifest_summary.json").read_text())
    summary["errors"] = ["not an object", {"code": "OTHER_TOOL", "message": "theirs"}]
    (broken / "manifest_summary.json").write_text(json.dumps(summary))
    page = _page(Path(write_report(tmp_path / "s.html", broken).path))  # shown as they are
    assert "not an object" in page and "OTHER_TOOL" in page and "theirs" in page
    (broken / "manifest_summary.json").write_text('{"statistics": {"training": {}}}')
    with pytest.raises(ReportError, match="not a manifest summary"):
        write_report(tmp_path / "r.html", broken)
    evaluation = tmp_path / "evaluation"
    shutil.copytree(written["evaluation"], evaluation)
    (evaluation / "EvaluationManifestSnapshot-photos-v1.manifest").unlink()
    with pytest.raises(ReportError, match="snapshot .* is missing"):
        write_report(tmp_path / "r.html", evaluation)
    assert not (tmp_path / "r.html").exists()


def _version(store: Path, written: dict[str, Path], mirror: Path) -> Path:
    """Lay out a completed model version as ``train`` leaves it (no model: not needed)."""
    folder = store / "photos" / "v1"
    folder.mkdir(parents=True)
    shutil.copytree(written["validation"], folder / "validation")
    shutil.copytree(written["evaluation"], folder / "evaluation")
    (folder / "version.json").write_text(json.dumps({
        "ProjectName": "photos", "VersionName": "v1", "Status": "TRAINING_COMPLETED"}))
    (folder / "settings.json").write_text(json.dumps({"images": str(mirror),
                                                      "images_prefix": None}))
    return folder


def test_the_command_reports_a_model_version_with_its_images(
        written: dict[str, Path], mirror: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _version(tmp_path / "store", written, mirror)
    status = main(["report", "--project", "photos", "--version", "v1", "--store",
                   str(tmp_path / "store"), "-o", str(tmp_path / "r.html")])
    said = capsys.readouterr()
    assert status == 0, said.err
    assert re.fullmatch(r"wrote \S+r\.html: [\d.]+ [kM]B, \d+ pictures \(\d+ of them with the "
                        r"image\)\n", said.out)
    page = _page(tmp_path / "r.html")
    assert 'id="validation"' in page and 'id="evaluation"' in page
    assert "<title>model version photos/v1 · customlabels report</title>" in page
    status = main(["report", "--project", "photos", "--version", "v9", "--store",
                   str(tmp_path / "store"), "-o", str(tmp_path / "r.html")])
    assert status == 2 and "no model version photos/v9" in capsys.readouterr().err


def test_validate_and_evaluate_write_the_report_at_the_end(
        written: dict[str, Path], mirror: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["validate", str(written["train"]), "--test", str(written["test"]),
                   "--images", str(mirror), "--no-cache", "--report", str(tmp_path / "v.html")])
    out = capsys.readouterr().out
    assert status == 1 and f"wrote {tmp_path / 'v.html'}: " in out
    assert "of them with the image" in out
    assert 'id="validation"' in _page(tmp_path / "v.html")
    status = main(["evaluate", "--test", str(written["test"]), "--predictions",
                   str(written["predictions"]), "--report", str(tmp_path / "e.html"),
                   "--format", "json"])
    doc = json.loads(capsys.readouterr().out)  # standard output stays one JSON document
    assert status == 0 and doc["ok"]
    assert 'id="evaluation"' in _page(tmp_path / "e.html")
    status = main(["evaluate", "--test", str(tmp_path / "none.manifest"), "--predictions",
                   str(written["predictions"]), "--report", str(tmp_path / "n.html")])
    assert status == 2 and "--report: nothing to report" in capsys.readouterr().err
    assert not (tmp_path / "n.html").exists()


def test_the_command_refuses_what_it_cannot_use(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "holds no manifest_summary.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["report", "-o", str(tmp_path / "r.html")])
    assert exited.value.code == 2
    assert "give a SOURCE folder, or --project and --version" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--project", "p", "-o", str(tmp_path / "r.html")])
    assert "--project and --version go together" in capsys.readouterr().err


def test_the_bundled_examples_report_without_pillow(tmp_path: Path) -> None:
    """The base install has no Pillow: a report without --images needs none."""
    code = ("import sys; sys.modules['PIL'] = None\n"
            "from customlabels.cli.main import main\n"
            f"sys.exit(main(['validate', 'examples/train.manifest', '--test', "
            f"'examples/test.manifest', '--report', {str(tmp_path / 'r.html')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 1, done.stderr  # the examples hold errors
    assert "wrote" in done.stdout and (tmp_path / "r.html").stat().st_size > 5000
    code = code.replace("'--report'", "'--images', '.', '--report'")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert "pictures need Pillow: pip install 'customlabels[report]'" in done.stderr


def test_standard_input_is_named_as_the_command_names_it(tmp_path: Path) -> None:
    lines = (ROOT / "examples" / "train.manifest").read_text().splitlines()
    done = subprocess.run([sys.executable, "-m", "customlabels", "validate", "-", "--report",
                           str(tmp_path / "r.html")], input="\n".join(lines[:2] + lines[9:10]),
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    page = _page(tmp_path / "r.html")
    assert 'class="place">&lt;stdin&gt;:3</p>' in page
    assert "customlabels-stdin-" not in page  # the temporary copy's name is not shown


def test_every_link_of_the_page_leads_to_a_place_on_it(written: dict[str, Path],
                                                       tmp_path: Path) -> None:
    pages = {"folders": write_report(tmp_path / "a.html", written["validation"],
                                     written["evaluation"]),
             "in hand": write_report(tmp_path / "b.html", validation=validate_files(
                 str(written["train"]), str(written["test"]))),
             "too few labels": write_report(tmp_path / "c.html", validation=validate_files(
                 str(data.write_lines(tmp_path / "one.manifest", [
                     classification_line(f"{data.BUCKET}{n}.jpg", "cat") for n in range(3)]))))}
    for name, out in pages.items():
        page = _page(Path(out.path))
        ids = re.findall(r' id="([^"]+)"', page)
        assert len(ids) == len(set(ids)), name
        assert set(re.findall(r'href="#([^"]+)"', page)) <= set(ids), name
    assert "Fix: " + escape(CODES["ERROR_MANIFEST_TOO_FEW_LABELS"].hint) in _page(
        tmp_path / "c.html")


def test_a_terminal_manifest_error_is_the_page(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.manifest"
    empty.write_bytes(b"")
    assert main(["validate", str(empty), "--report", str(tmp_path / "r.html")]) == 1
    assert "wrote" in capsys.readouterr().out
    page = _page(tmp_path / "r.html")
    assert "Nothing was validated: a terminal manifest file error" in page
    assert 'id="error_manifest_empty"' in page and escape(str(empty)) in page
