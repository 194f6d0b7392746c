"""The trainer end to end on CPU: it learns a separable task, stores versions, resumes, detects.

Small and seeded: 64 px images of discs and squares on noise (``tests/train/toy.py``), a few
epochs of efficientnet_lite0 from its ImageNet weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import customlabels  # noqa: E402
from customlabels.errors import ModelError  # noqa: E402
from customlabels.store import (TRAINING_COMPLETED, TRAINING_FAILED,  # noqa: E402
                                Store)
from customlabels.train import engine  # noqa: E402

from tests.train.toy import classification_line, make_set  # noqa: E402

#: What every toy run shares: small images, small batches, few epochs, the CPU.
FAST = {"image_size": 64, "batch_size": 8, "epochs": 3, "device": "cpu", "patience": 0}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A training and a testing manifest of 48 + 16 images, and their mirror."""
    root = tmp_path_factory.mktemp("toy")
    train, mirror = make_set(root, 48, seed=1, name="train.manifest")
    test, _ = make_set(root, 16, seed=2, name="test.manifest")
    return train, test, mirror


@pytest.fixture(scope="module")
def trained(toy: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[customlabels.train.run.TrainResult, Path]:
    train, test, mirror = toy
    store = tmp_path_factory.mktemp("store")
    result = customlabels.train(str(train), str(test), images=str(mirror), project="toy",
                                version="v1", store=store, **FAST)
    return result, store


def test_the_loop_learns_a_separable_task(trained: tuple) -> None:
    result, _ = trained
    assert result.ok and result.status == TRAINING_COMPLETED, result.message
    assert len(result.epochs) == 3
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss
    assert max(e.test_macro_f1 for e in result.epochs) == 1.0
    assert result.evaluation is not None and result.evaluation["f1"] == 1.0
    assert all(e.images_per_second > 0 and e.seconds > 0 for e in result.epochs)


def test_a_completed_version_holds_everything(trained: tuple) -> None:
    result, store = trained
    folder = Path(result.version_dir)
    assert folder == store / "toy" / "v1"
    names = {p.name for p in folder.iterdir()}
    assert {"version.json", "settings.json", "labels.json", "model.pt", "validation",
            "evaluation"} <= names
    assert "checkpoint.pt" not in names and "best.pt" not in names
    assert {p.name for p in (folder / "validation").iterdir()} == {
        "manifest_summary.json", "training_manifest_with_validation.json",
        "testing_manifest_with_validation.json"}
    assert {p.name for p in (folder / "evaluation").iterdir()} == {
        "EvaluationSummary-toy-v1.json", "EvaluationManifestSnapshot-toy-v1.manifest",
        "test-predictions.jsonl"}
    described = Store(store).describe("toy", "v1")
    assert described["Status"] == TRAINING_COMPLETED
    assert described["EvaluationResult"]["F1Score"] == 1.0
    labels = described["Model"]["Labels"]
    assert [label["Name"] for label in labels] == ["disc", "square"]
    summary = json.loads((folder / "evaluation" / "EvaluationSummary-toy-v1.json").read_text())
    by_name = {label["Name"]: label for label in labels}
    for label in summary["LabelEvaluationResults"]:
        # the version's thresholds are the summary's, as the service picks them
        assert by_name[label["Label"]]["AssumedThreshold"] == pytest.approx(
            label["Metrics"]["Threshold"])
    listed = Store(store).list()
    assert [(d["ProjectName"], d["VersionName"]) for d in listed] == [("toy", "v1")]


def test_detect_answers_as_the_service(trained: tuple, toy: tuple, tmp_path: Path) -> None:
    result, store = trained
    _, test, mirror = toy
    model = customlabels.load_model("toy", "v1", store=store, device="cpu")
    image = next((mirror / "img").glob("2-*.png"))
    every = model.detect(str(image), min_confidence=0)
    names = [label["Name"] for label in every["CustomLabels"]]
    assert sorted(names) == ["disc", "square"]
    confidences = [label["Confidence"] for label in every["CustomLabels"]]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(100, abs=1e-3)  # one label an image: softmax
    assert len(model.detect(str(image), min_confidence=0, max_results=1)["CustomLabels"]) == 1
    assert model.detect(str(image), min_confidence=100.0)["CustomLabels"] in (
        [], every["CustomLabels"][:1])
    # the default: each label's assumed threshold
    default = model.detect(image.read_bytes())["CustomLabels"]
    for label in default:
        assert label["Confidence"] >= round(model.thresholds[label["Name"]], 4)
    out = tmp_path / "pred.jsonl"
    status = _cli("detect", "--project", "toy", "--version", "v1", "--store", str(store),
                  "--images", str(mirror), str(test), "-o", str(out), "--no-progress")
    assert status.returncode == 0, status.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 16 and all(set(doc) == {"source-ref", "CustomLabels"}
                                    for doc in lines)
    # the output feeds evaluate unchanged
    evaluated = customlabels.evaluate(str(test), str(out))
    assert evaluated.ok and evaluated.f1 == 1.0


def test_min_confidence_rules() -> None:
    from customlabels.train.predict import Model

    model = Model.__new__(Model)
    model.labels = ["a", "b", "c"]
    model.thresholds = {"a": 60.0, "b": 20.0, "c": None}
    row = [0.5, 0.3, 0.55]
    # default: a needs 60 (no), b needs 20 (yes), c has no threshold: 50 (yes)
    assert model.answer(row) == {"CustomLabels": [{"Name": "c", "Confidence": 55.0},
                                                  {"Name": "b", "Confidence": 30.0}]}
    assert [x["Name"] for x in model.answer(row, 0)["CustomLabels"]] == ["c", "a", "b"]
    assert [x["Name"] for x in model.answer(row, 50)["CustomLabels"]] == ["c", "a"]
    assert model.answer(row, 55)["CustomLabels"] == [{"Name": "c", "Confidence": 55.0}]
    assert model.answer(row, 0, max_results=2)["CustomLabels"][1]["Name"] == "a"


def test_detect_reports_images_outside_the_limits(trained: tuple, tmp_path: Path) -> None:
    from PIL import Image

    _, store = trained
    Image.new("RGB", (40, 40)).save(tmp_path / "small.png")
    Image.new("RGB", (100, 100)).save(tmp_path / "fine.jpg")
    Image.new("RGB", (100, 100)).save(tmp_path / "a.gif")
    (tmp_path / "notes.txt").write_text("not an image")
    status = _cli("detect", "--project", "toy", "--version", "v1", "--store", str(store),
                  str(tmp_path / "small.png"), str(tmp_path / "fine.jpg"),
                  str(tmp_path / "a.gif"), "--no-progress")
    assert status.returncode == 1
    docs = [json.loads(line) for line in status.stdout.splitlines()]
    assert [d.get("Error", {}).get("Code") for d in docs] == [
        "InvalidParameterException", None, "InvalidImageFormatException"]
    assert docs[1]["path"].endswith("fine.jpg") and "CustomLabels" in docs[1]
    model = customlabels.load_model("toy", "v1", store=store, device="cpu")
    with pytest.raises(ModelError, match="ImageTooLargeException"):
        model.detect(b"\x89PNG" + b"\0" * 4_000_001)


def test_exports_match_pytorch(trained: tuple, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    from customlabels.train.export import export_model

    _, store = trained
    model = customlabels.load_model("toy", "v1", store=store, device="cpu")
    images = torch.rand(5, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits = model.network(((images - torch.tensor(model.mean).view(1, 3, 1, 1))
                                / torch.tensor(model.std).view(1, 3, 1, 1)).contiguous(
            memory_format=torch.channels_last))
        expected = torch.softmax(logits, dim=1).numpy()
    onnx = export_model("toy", "v1", "onnx", output=str(tmp_path / "m.onnx"), store=store)
    session = ort.InferenceSession(onnx["file"], providers=["CPUExecutionProvider"])
    got = session.run(["probabilities"], {"images": images.numpy()})[0]
    # float32 through two runtimes: within 1e-5 of a probability
    np.testing.assert_allclose(got, expected, atol=1e-5)
    script = export_model("toy", "v1", "torchscript", output=str(tmp_path / "m.pt"),
                          store=store)
    loaded = torch.jit.load(script["file"])
    np.testing.assert_allclose(loaded(images).detach().numpy(), expected, atol=1e-5)
    sidecar = json.loads(Path(onnx["labels"]).read_text())
    assert [x["Name"] for x in sidecar["labels"]] == model.labels


def test_resume_gives_the_weights_of_an_uninterrupted_run(toy: tuple, tmp_path: Path) -> None:
    train, test, mirror = toy
    common = ["--train", str(train), "--test", str(test), "--images", str(mirror),
              "--project", "toy", "--store", str(tmp_path), "--image-size", "48",
              "--batch-size", "8", "--epochs", "2", "--patience", "0", "--device", "cpu",
              "--no-progress", "--seed", "5"]
    whole = _cli("train", *common, "--version", "whole", "--report",
                 str(tmp_path / "whole.html"))
    assert whole.returncode == 0, whole.stderr
    assert f"wrote {tmp_path / 'whole.html'}: " in whole.stdout
    page = (tmp_path / "whole.html").read_text()
    assert 'id="validation"' in page and 'id="evaluation"' in page
    assert '<image href="data:image/jpeg;base64,' in page  # the test images, from --images
    killed = _cli("train", *common, "--version", "cut",
                  env={"CUSTOMLABELS_TEST_KILL_AT": "after-epoch"})
    assert killed.returncode == -9
    described = Store(tmp_path).describe("toy", "cut")
    assert described["Status"] == TRAINING_FAILED and described["Resumable"]
    assert "--resume" in described["StatusMessage"]
    resumed = _cli("train", "--project", "toy", "--version", "cut", "--store", str(tmp_path),
                   "--resume", "--no-progress", "--report", str(tmp_path / "cut.html"))
    assert resumed.returncode == 0, resumed.stderr
    # resumed without --images: the pictures come from the images the version was trained on
    assert '<image href="data:image/jpeg;base64,' in (tmp_path / "cut.html").read_text()
    a = torch.load(tmp_path / "toy" / "whole" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "toy" / "cut" / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _cli("train", "--project", "toy", "--version", "cut", "--store", str(tmp_path),
                "--resume").returncode == 2  # completed: nothing to resume


def test_a_new_version_never_overwrites_one(trained: tuple, toy: tuple) -> None:
    _, store = trained
    train, test, mirror = toy
    with pytest.raises(ModelError, match="already exists"):
        customlabels.train(str(train), str(test), images=str(mirror), project="toy",
                           version="v1", store=store, **FAST)


def test_manifests_that_do_not_validate_fail_the_version(tmp_path: Path) -> None:
    train, mirror = make_set(tmp_path, 6, seed=4)
    one_label = tmp_path / "one.manifest"
    one_label.write_text("".join(json.dumps(classification_line(
        f"img/4-{i:03d}.png", "shape", "disc")) + "\n" for i in range(6)))
    result = customlabels.train(str(one_label), images=str(mirror), project="bad",
                                store=tmp_path / "store", **FAST)
    assert not result.ok and result.status == TRAINING_FAILED
    assert Store(tmp_path / "store").describe("bad", result.version)["Status"] == TRAINING_FAILED
    status = _cli("train", "--train", str(one_label), "--test", str(train), "--images",
                  str(mirror), "--project", "bad", "--store", str(tmp_path / "store"),
                  "--no-progress", "--report", str(tmp_path / "bad.html"))
    assert status.returncode == 1
    assert "ERROR_MANIFEST_TOO_FEW_LABELS" in status.stdout + status.stderr
    page = (tmp_path / "bad.html").read_text()  # the validation, which is why it failed
    assert page.count('id="error_manifest_too_few_labels"') == 1  # explained where listed
    assert "ERROR_MANIFEST_TOO_FEW_LABELS" in page and 'id="evaluation"' not in page


def test_a_loss_that_is_not_finite_stops_training(toy: tuple, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    train, test, mirror = toy

    def broken(multi_label: bool):  # a loss that turns into NaN
        return lambda logits, target: logits.sum() * float("nan")

    monkeypatch.setattr(engine, "loss_function", broken)
    with pytest.raises(engine.LossNotFinite, match="loss became nan at epoch 1, batch 1"):
        customlabels.train(str(train), str(test), images=str(mirror), project="nan",
                           version="v", store=tmp_path, **FAST)
    described = Store(tmp_path).describe("nan", "v")
    assert described["Status"] == TRAINING_FAILED
    assert "loss became nan" in described["StatusMessage"]


def test_several_labels_an_image(tmp_path: Path) -> None:
    train, mirror = make_set(tmp_path / "a", 48, seed=6, multi_label=True)
    test, mirror_b = make_set(tmp_path / "a", 16, seed=7, multi_label=True, name="t.manifest")
    result = customlabels.train(str(train), str(test), images=str(mirror), project="multi",
                                store=tmp_path / "store", **{**FAST, "epochs": 4})
    assert result.ok, result.message
    model = customlabels.load_model("multi", result.version, store=tmp_path / "store",
                                    device="cpu")
    assert model.multi_label and model.labels == ["blue", "disc", "red", "square"]
    image = next((mirror / "img").glob("7-000.png"))  # a red disc
    shown = {x["Name"] for x in model.detect(str(image), min_confidence=50)["CustomLabels"]}
    assert shown == {"red", "disc"}


def test_a_manifest_of_both_kinds_is_refused_clearly(tmp_path: Path) -> None:
    from tests.train.toy import detection_line

    manifest = tmp_path / "both.manifest"
    manifest.write_text(json.dumps(classification_line("img/a.png", "shape", "disc")) + "\n"
                        + json.dumps(detection_line("img/b.png", 80, 80,
                                                    [("disc", 1, 1, 20, 20)], ["disc"])) + "\n")
    with pytest.raises(ModelError, match="either a classifier or a detector"):
        customlabels.train(str(manifest), images=str(tmp_path), project="both",
                           store=tmp_path / "store", **FAST)


def test_without_torch_the_commands_say_how_to_install_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['torch'] = None\n"
            "from customlabels.cli.main import main\n"
            "sys.exit(main(sys.argv[1:]))")
    for args in (["train", "--train", "x.manifest", "--images", ".", "--project", "p"],
                 ["detect", "--project", "p", "--version", "v", "x.png"],
                 ["export-model", "p", "v"]):
        status = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                                text=True, cwd=tmp_path)
        assert status.returncode == 2, status.stderr
        assert "pip install 'customlabels[train]'" in status.stderr, status.stderr
        assert "Traceback" not in status.stderr
    listed = subprocess.run([sys.executable, "-c", code, "models", "--store", str(tmp_path)],
                            capture_output=True, text=True)
    assert listed.returncode == 0 and "no model version" in listed.stdout


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "customlabels", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_two_processes_under_torchrun(toy: tuple, tmp_path: Path) -> None:
    """DistributedDataParallel on two CPU processes (gloo): one version, trained by both."""
    train, test, mirror = toy
    status = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "customlabels", "train", "--train", str(train), "--test", str(test),
         "--images", str(mirror), "--project", "ddp", "--version", "v", "--store",
         str(tmp_path), "--image-size", "48", "--batch-size", "8", "--epochs", "2",
         "--patience", "0", "--device", "cpu", "--no-progress", "--format", "json"],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600)
    assert status.returncode == 0, status.stderr[-3000:]
    described = Store(tmp_path).describe("ddp", "v")
    assert described["Status"] == TRAINING_COMPLETED
    doc = json.loads(status.stdout)  # rank 0 reports for both
    assert doc["ok"] and len(doc["epochs"]) == 2
    # each process trained on half of the 48 images an epoch; the figures count both
    assert described["Model"]["TrainingImages"] == 48


def test_detect_on_a_manifest_needs_images_and_writes_text(trained: tuple, toy: tuple,
                                                            tmp_path: Path) -> None:
    _, store = trained
    _, test, mirror = toy
    status = _cli("detect", "--project", "toy", "--version", "v1", "--store", str(store),
                  str(test))
    assert status.returncode == 2 and "--images DIR|s3" in status.stderr
    assert "Traceback" not in status.stderr
    text = _cli("detect", "--project", "toy", "--version", "v1", "--store", str(store),
                "--images", str(mirror), str(test), "--format", "text", "--no-progress")
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert len(lines) == 16 and lines[0].startswith("s3://toy/img/2-000.png: ")


def test_an_image_that_does_not_decode_is_left_out_at_its_line(toy: tuple,
                                                               tmp_path: Path) -> None:
    """Its header passes the image stage; its body is cut: the trainer says which line."""
    import shutil

    train, test, mirror = toy
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    victim = copy / "img" / "1-005.png"
    victim.write_bytes(victim.read_bytes()[:200])
    result = customlabels.train(str(train), str(test), images=str(copy), project="cut",
                                store=tmp_path / "store", **{**FAST, "epochs": 1})
    assert result.ok, result.message
    assert [(i["code"], i["line"], i["path"]) for i in result.issues] == [
        ("ERROR_INVALID_IMAGE", 6, "$['source-ref']")]
    assert "does not decode" in result.issues[0]["detail"]
    assert result.description["Model"]["TrainingImages"] == 47
