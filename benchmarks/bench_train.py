"""Train on ELPV solar cells: ``customlabels train`` and ``detect`` against a plain torchvision one.

Data: the ELPV dataset (PyPI ``elpv-dataset``, CC BY-NC-SA 4.0; installed with pip at run time
when missing, never committed): 300x300 grayscale electroluminescence images of solar cells
with a defect probability. Functional cells (probability 0) against defective ones
(probability 1), the uncertain ones (1/3, 2/3) left out: 1,508 + 715 images. Under
``benchmarks/data/elpv/`` (git-ignored) the benchmark builds

* ``mirror/images/cellNNNN.png``: the images, hard-linked (copied across file systems) from the
  installed package, a folder that mirrors ``s3://elpv-bench/``;
* ``all.manifest``: a SageMaker Ground Truth classification manifest (attribute ``cell``,
  class names ``functional`` and ``defective``), checked with ``customlabels validate
  all.manifest --images mirror``;
* ``split/train.manifest``, ``split/test.manifest``: ``customlabels split all.manifest --seed 0``,
  the seeded stratified 80/20 split.

Contenders, each round in its own processes, interleaved (baseline first in even rounds, ours
first in odd ones):

* ``baseline``: a plain torchvision fine-tuning script (this file with ``--run-baseline``, a
  child process): a ``Dataset`` that opens each PNG with PIL every epoch, ``Resize``,
  ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize``; a ``DataLoader`` (batch 32, shuffled
  with a seeded generator, 2 workers); ``customlabels.train.models.build_model(MODEL, 2,
  pretrained=True)``; AdamW (lr 1e-3, weight decay 1e-4), cross entropy, a cosine schedule over
  the epochs; then the test set predicted with the same transforms, without the flip;
* ``ours``: ``customlabels train ... --format json`` then ``customlabels detect ...
  --min-confidence 0``, each timed as a whole process.

Both sets of predictions are scored by the same function here, from the top-1 label of each
test image: accuracy, macro-F1 (the mean of the two labels' F1) and the F1 of ``defective``;
``customlabels evaluate --format json`` (at its assumed thresholds) is reported beside them.
Targets (the trainer issue): ours at least as accurate as the baseline (macro-F1) and no slower
per epoch (median epoch seconds, ratio ours / baseline at most 1), macro-F1 at least 0.89, and
ours' training within 10 minutes. The whole run takes about 25 minutes on 2 cores.

Usage::

    python benchmarks/bench_train.py
    python benchmarks/bench_train.py --rounds 3
    python benchmarks/bench_train.py --quick      # smoke test: 96 + 48 images, 1 epoch, 64 px
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP (2 cores)

import _harness as H  # noqa: E402  (after the environment is set, as torch would be)

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "elpv"
MIRROR = DATA / "mirror"
BUCKET = "elpv-bench"
LABELS = ("defective", "functional")  # sorted: the baseline's class indices
POSITIVE = "defective"
#: The trainer issue's targets.
TARGET_MACRO_F1 = 0.89
TARGET_TRAINING_SECONDS = 600.0
PROJECT = "elpv"
QUICK_TRAIN, QUICK_TEST = 96, 48


# ---------------------------------------------------------------------------------------------
# Data


def elpv_data_dir() -> Path:
    """Return the installed package's ``data`` folder, installing ``elpv-dataset`` if missing."""
    spec = importlib.util.find_spec("elpv_dataset")
    if spec is None:
        print("elpv_dataset is not installed: pip install elpv-dataset (CC BY-NC-SA 4.0)",
              flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "elpv-dataset"], check=True)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("elpv_dataset")
        if spec is None:
            sys.exit("elpv_dataset is still not importable after pip install")
    assert spec.origin is not None
    return Path(spec.origin).resolve().parent / "data"


def read_labels(data_dir: Path) -> list[tuple[str, str]]:
    """Return (key under the mirror, class name) for the certain cells of ``labels.csv``.

    The file is whitespace-separated: ``images/cell0001.png  1.0  mono``.
    """
    rows = []
    for line in (data_dir / "labels.csv").read_text().splitlines():
        if not line.strip():
            continue
        path, probability, _cell_type = line.split()
        p = float(probability)
        if p == 0.0:
            rows.append((path, "functional"))
        elif p == 1.0:
            rows.append((path, "defective"))
    return rows


def manifest_line(key: str, name: str) -> str:
    return json.dumps({
        "source-ref": f"s3://{BUCKET}/{key}", "cell": 0 if name == "functional" else 1,
        "cell-metadata": {"confidence": 1, "job-name": "labeling-job/elpv", "class-name": name,
                          "human-annotated": "yes", "creation-date": "2020-02-02T00:00:00",
                          "type": "groundtruth/image-classification"}})


def link_images(data_dir: Path, keys: list[str]) -> None:
    """Hard-link (or copy) every image into the mirror, those already there kept."""
    made = 0
    for key in keys:
        target = MIRROR / key
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(data_dir / key, target)
        except OSError:
            shutil.copyfile(data_dir / key, target)
        made += 1
    if made:
        print(f"{made} images linked into {MIRROR}", flush=True)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(H.CLI), *args], capture_output=True, text=True)


def read_manifest(path: Path) -> list[tuple[str, str]]:
    """Return (source-ref, class name) of every line of a manifest written here."""
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            obj = json.loads(line)
            out.append((obj["source-ref"], obj["cell-metadata"]["class-name"]))
    return out


def counts(rows: list[tuple[str, str]]) -> str:
    c = {name: sum(1 for _, n in rows if n == name) for name in LABELS}
    return ", ".join(f"{c[n]} {n}" for n in LABELS) + f" ({len(rows)} images)"


def prepare_data(quick: bool) -> tuple[Path, Path]:
    """Build the mirror, the manifest and the split; return (train, test) manifests."""
    data_dir = elpv_data_dir()
    rows = read_labels(data_dir)
    link_images(data_dir, [key for key, _ in rows])
    everything = DATA / "all.manifest"
    everything.write_text("".join(manifest_line(k, n) + "\n" for k, n in rows))
    print(f"{everything}: {counts([(k, n) for k, n in rows])}", flush=True)
    checked = run_cli("validate", str(everything), "--images", str(MIRROR), "--no-progress")
    summary = (checked.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"customlabels validate all.manifest --images mirror: exit {checked.returncode}: "
          f"{summary}", flush=True)
    if checked.returncode != 0:
        sys.exit("the manifest does not validate:\n"
                 f"{checked.stdout[-3000:]}{checked.stderr[-2000:]}")
    split = DATA / "split"
    done = run_cli("split", str(everything), "--output-dir", str(split), "--seed", "0",
                   "--no-progress")
    if done.returncode != 0:
        sys.exit(f"customlabels split failed (exit {done.returncode}):\n"
                 f"{done.stdout[-3000:]}{done.stderr[-2000:]}")
    train, test = split / "train.manifest", split / "test.manifest"
    print(f"customlabels split --seed 0: train {counts(read_manifest(train))}; "
          f"test {counts(read_manifest(test))}", flush=True)
    if quick:
        train = subsample(train, DATA / "quick" / "train.manifest", QUICK_TRAIN)
        test = subsample(test, DATA / "quick" / "test.manifest", QUICK_TEST)
        print(f"--quick: train {counts(read_manifest(train))}; "
              f"test {counts(read_manifest(test))}", flush=True)
    return train, test


def subsample(source: Path, target: Path, size: int) -> Path:
    """Write a seeded, stratified sample of ``size`` lines of ``source`` to ``target``."""
    lines = [ln for ln in source.read_text().splitlines() if ln.strip()]
    by_label: dict[str, list[str]] = {}
    for ln in lines:
        by_label.setdefault(json.loads(ln)["cell-metadata"]["class-name"], []).append(ln)
    rng = random.Random(0)
    chosen: list[str] = []
    names = sorted(by_label)
    for i, name in enumerate(names):
        share = size - len(chosen) if i == len(names) - 1 else round(
            size * len(by_label[name]) / len(lines))
        chosen += rng.sample(by_label[name], share)
    rng.shuffle(chosen)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(ln + "\n" for ln in chosen))
    return target


# ---------------------------------------------------------------------------------------------
# Scoring: the same function for both contenders


def read_predictions(path: Path) -> dict[str, str | None]:
    """Return source-ref -> top-1 label of a DetectCustomLabels JSON Lines file (None: none)."""
    out: dict[str, str | None] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        found = obj.get("CustomLabels") or []
        best = max(found, key=lambda label: label["Confidence"], default=None)
        out[obj["source-ref"]] = None if best is None else best["Name"]
    return out


def score(test: Path, predicted: dict[str, str | None]) -> dict:
    """Accuracy, per-label F1, macro-F1 and F1 of ``defective`` from the top-1 predictions.

    A test image without a prediction counts as wrong (predicted None).
    """
    truth = read_manifest(test)
    pairs = [(name, predicted.get(ref)) for ref, name in truth]
    f1 = {}
    for label in LABELS:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        f1[label] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {"images": len(pairs), "missing": sum(1 for ref, _ in truth if ref not in predicted),
            "accuracy": sum(1 for t, p in pairs if t == p) / len(pairs),
            "macro_f1": statistics.mean(f1.values()), "f1_defective": f1[POSITIVE],
            "f1": f1}


def evaluate(test: Path, predictions: Path) -> dict | None:
    """``customlabels evaluate --format json``: its F1 (mean over labels) and per-label F1."""
    done = run_cli("evaluate", "--test", str(test), "--predictions", str(predictions),
                   "--format", "json")
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"  customlabels evaluate: exit {done.returncode}, no JSON: "
              f"{done.stderr[-500:]}", flush=True)
        return None
    return {"exit": done.returncode, "f1": report.get("f1"),
            "per_label_f1": {p["label"]: p["f1"] for p in report.get("per_label", [])}}


# ---------------------------------------------------------------------------------------------
# Processes


def timed(argv: list[str], show_stderr: bool = False) -> H.Run:
    """Run ``argv``, timed from start to exit, with its stdout and its max RSS from
    ``os.wait4``. ``show_stderr``: stderr goes to this terminal (progress lines) instead of
    being kept."""
    return H.run_process(argv, H.child_env(), keep_stdout=True, show_stderr=show_stderr,
                         stderr_tail=4000)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join("    " + ln for ln in text.rstrip().splitlines()[-lines:])


def outputs(proc: H.Run) -> str:
    """The ends of a failed command's stdout and stderr, those it wrote, for its error."""
    return "".join(f"\n  {name} ends with:\n{tail(text, lines)}"
                   for name, text, lines in (("stdout", proc.stdout, 10),
                                             ("stderr", proc.stderr, 25)) if text.strip())


def run_baseline_child(args: argparse.Namespace, train: Path, test: Path, work: Path) -> dict:
    out, predictions = work / "baseline.json", work / "baseline-predictions.jsonl"
    argv = [sys.executable, str(Path(__file__).resolve()), "--run-baseline",
            "--train", str(train), "--test", str(test), "--images", str(MIRROR),
            "--model", args.model, "--epochs", str(args.epochs),
            "--image-size", str(args.image_size), "--seed", "0",
            "--out", str(out), "--predictions", str(predictions)]
    proc = timed(argv, show_stderr=True)
    result: dict = {"ok": False, "wall_seconds": proc.seconds,
                    "peak_rss_mib": proc.max_rss / H.MIB, "exit": proc.status}
    if proc.status != 0 or not out.exists():
        result["error"] = f"exit status {proc.status} (its stderr is above)"
        return result
    child = json.loads(out.read_text())
    result.update(child, ok=True)
    result["scores"] = score(test, read_predictions(predictions))
    result["evaluate"] = evaluate(test, predictions)
    return result


#: What a detect report may call its speed, in its JSON or its stderr.
_RATE = re.compile(r"([0-9][0-9,.]*)\s*(?:images/s|images per second|img/s)", re.I)


def detect_rate(proc: H.Run) -> float | None:
    """The detect command's own images/s, if its stdout JSON or its stderr gives one."""
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
    if isinstance(report, dict):
        for key in ("images_per_second", "images_per_s"):
            if isinstance(report.get(key), (int, float)):
                return float(report[key])
        images, seconds = report.get("images"), report.get("seconds")
        if isinstance(images, int) and isinstance(seconds, (int, float)) and seconds > 0:
            return images / seconds
    found = _RATE.findall(proc.stderr + "\n" + proc.stdout)
    if found:
        try:
            return float(found[-1].replace(",", ""))
        except ValueError:
            return None
    return None


def run_ours(args: argparse.Namespace, train: Path, test: Path, work: Path, name: str) -> dict:
    store = work / "store"
    cli = str(H.CLI)
    argv = [cli, "train", "--train", str(train), "--test", str(test), "--images", str(MIRROR),
            "--project", PROJECT, "--version", name, "--store", str(store),
            "--model", args.model, "--epochs", str(args.epochs),
            "--image-size", str(args.image_size), "--seed", "0", "--device", "cpu",
            "--format", "json", "--no-progress"]
    if args.time_budget is not None:
        argv += ["--time-budget", f"{args.time_budget:g}"]
    result: dict = {"ok": False, "train_command": argv}
    proc = timed(argv)
    result.update(train_wall_seconds=proc.seconds, train_peak_rss_mib=proc.max_rss / H.MIB,
                  train_exit=proc.status)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
    if proc.status != 0 or not isinstance(report, dict) or not report.get("ok") \
            or report.get("status") != "TRAINING_COMPLETED":
        status = report.get("status") if isinstance(report, dict) else None
        result["error"] = (f"customlabels train: exit status {proc.status}, status {status}"
                           + outputs(proc))
        return result
    epochs = report.get("epochs") or []
    result.update(train_report={k: v for k, v in report.items() if k != "epochs"},
                  epochs=[{"epoch": e.get("epoch"), "seconds": e.get("seconds"),
                           "images_per_second": e.get("images_per_second"),
                           "train_loss": e.get("train_loss"), "test_loss": e.get("test_loss")}
                          for e in epochs],
                  training_seconds=report.get("training_seconds"))
    predictions = work / f"ours-{name}-predictions.jsonl"
    argv = [cli, "detect", "--project", PROJECT, "--version", name, "--store", str(store),
            "--images", str(MIRROR), str(test), "--output", str(predictions),
            "--min-confidence", "0", "--no-progress"]
    result["detect_command"] = argv
    proc = timed(argv)
    result.update(detect_wall_seconds=proc.seconds, detect_peak_rss_mib=proc.max_rss / H.MIB,
                  detect_exit=proc.status)
    if proc.status != 0 or not predictions.exists():
        result["error"] = f"customlabels detect: exit status {proc.status}" + outputs(proc)
        return result
    n = len(read_manifest(test))
    result["detect_images_per_second"] = n / proc.seconds
    result["detect_own_images_per_second"] = detect_rate(proc)
    result["scores"] = score(test, read_predictions(predictions))
    result["evaluate"] = evaluate(test, predictions)
    result["ok"] = True
    return result


# ---------------------------------------------------------------------------------------------
# The baseline: a plain torchvision fine-tuning script, run as its own process


def baseline_network(model: str, num_classes: int):
    """Return (network, mean, std): the ImageNet-pretrained ``model`` with a new head, and the
    normalization its weights were trained with (``customlabels.train.models``)."""
    from customlabels.train.models import MODELS, build_model

    spec = MODELS[model]
    return build_model(model, num_classes, pretrained=True), tuple(spec.mean), tuple(spec.std)


def baseline_main(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    images = Path(args.images)

    class Cells(Dataset):
        def __init__(self, manifest: Path, transform):
            self.items = []
            for ref, name in read_manifest(manifest):
                key = ref.split("/", 3)[3]  # s3://bucket/KEY
                self.items.append((ref, images / key, LABELS.index(name)))
            self.transform = transform

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            _, path, label = self.items[i]
            with Image.open(path) as image:
                return self.transform(image.convert("RGB")), label

    net, mean, std = baseline_network(args.model, len(LABELS))
    size = (args.image_size, args.image_size)
    train_tf = transforms.Compose([transforms.Resize(size), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), transforms.Normalize(mean, std)])
    test_tf = transforms.Compose([transforms.Resize(size), transforms.ToTensor(),
                                  transforms.Normalize(mean, std)])
    train_set, test_set = Cells(Path(args.train), train_tf), Cells(Path(args.test), test_tf)
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=generator,
                              num_workers=2)
    test_loader = DataLoader(test_set, batch_size=32, shuffle=False, num_workers=2)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = torch.nn.CrossEntropyLoss()

    epochs = []
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        net.train()
        t0 = time.perf_counter()
        total, seen = 0.0, 0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
        schedule.step()
        seconds = time.perf_counter() - t0
        epochs.append({"epoch": epoch, "seconds": seconds, "images_per_second": seen / seconds,
                       "train_loss": total / seen})
        print(f"  baseline epoch {epoch}/{args.epochs}: {seconds:.1f} s, "
              f"{seen / seconds:.1f} images/s, train loss {total / seen:.4f}",
              file=sys.stderr, flush=True)
    training_seconds = time.perf_counter() - started

    net.eval()
    t0 = time.perf_counter()
    lines, index = [], 0
    with torch.no_grad():
        for x, _ in test_loader:
            probabilities = torch.softmax(net(x), dim=1)
            for row in probabilities.tolist():
                ref = test_set.items[index][0]
                index += 1
                lines.append(json.dumps({"source-ref": ref, "CustomLabels": [
                    {"Name": name, "Confidence": 100 * p} for name, p in zip(LABELS, row)]}))
    predict_seconds = time.perf_counter() - t0
    Path(args.predictions).write_text("".join(ln + "\n" for ln in lines))
    Path(args.out).write_text(json.dumps({
        "epochs": epochs, "training_seconds": training_seconds,
        "predict_seconds": predict_seconds, "predict_images_per_second": index / predict_seconds,
        "threads": torch.get_num_threads(), "torch": torch.__version__}, indent=2))
    return 0


# ---------------------------------------------------------------------------------------------
# Report


def epoch_median(result: dict, key: str) -> float | None:
    values = [e[key] for e in result.get("epochs") or [] if isinstance(e.get(key), (int, float))]
    return statistics.median(values) if values else None


def summarize(result: dict, who: str) -> dict:
    """The figures of one round of one contender (None where it has none)."""
    scores = result.get("scores") or {}
    ev = result.get("evaluate") or {}
    return {
        "epoch_seconds": epoch_median(result, "seconds"),
        "train_images_per_second": epoch_median(result, "images_per_second"),
        "training_seconds": result.get("training_seconds"),
        "accuracy": scores.get("accuracy"), "macro_f1": scores.get("macro_f1"),
        "f1_defective": scores.get("f1_defective"), "evaluate_f1": ev.get("f1"),
        "predict_images_per_second": result.get(
            "detect_images_per_second" if who == "ours" else "predict_images_per_second"),
        "detect_own_images_per_second": result.get("detect_own_images_per_second"),
        "wall_seconds": (result.get("wall_seconds") if who == "baseline" else
                         (result.get("train_wall_seconds") or 0)
                         + (result.get("detect_wall_seconds") or 0) or None),
    }


def median_of(rounds: list[dict], key: str) -> float | None:
    values = [r[key] for r in rounds if r.get(key) is not None]
    return statistics.median(values) if values else None


ROWS = [  # key, title, format
    ("epoch_seconds", "epoch s (median over epochs)", "{:.2f}"),
    ("train_images_per_second", "train images/s", "{:.1f}"),
    ("training_seconds", "training s (all epochs)", "{:.1f}"),
    ("accuracy", "test accuracy (top-1)", "{:.4f}"),
    ("macro_f1", "macro-F1 (top-1)", "{:.4f}"),
    ("f1_defective", "F1 defective (top-1)", "{:.4f}"),
    ("evaluate_f1", "evaluate F1 (assumed thresholds)", "{:.4f}"),
    ("predict_images_per_second", "predict images/s *", "{:.1f}"),
    ("detect_own_images_per_second", "detect's own images/s", "{:.1f}"),
    ("wall_seconds", "wall s (all processes)", "{:.1f}"),
]


def fmt(value: float | None, form: str) -> str:
    return "-" if value is None else form.format(value)


def main_benchmark(args: argparse.Namespace) -> int:
    if args.quick:
        args.epochs, args.image_size = 1, 64
    train, test = prepare_data(args.quick)
    work = DATA / ("run-quick" if args.quick else "run")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"\n{H.machine()['cpus']} CPUs, python {H.machine()['python']}, {args.rounds} "
          f"round(s), model {args.model}, {args.epochs} epoch(s) at {args.image_size} px"
          f"{', QUICK smoke mode' if args.quick else ''}", flush=True)
    rounds: list[dict] = []
    for i in range(args.rounds):
        order = ["baseline", "ours"] if i % 2 == 0 else ["ours", "baseline"]
        this: dict = {}
        for who in order:
            print(f"round {i + 1}/{args.rounds}: {who}", flush=True)
            if who == "baseline":
                this[who] = run_baseline_child(args, train, test, work)
            else:
                this[who] = run_ours(args, train, test, work, f"r{i + 1}")
            r = this[who]
            if r["ok"]:
                s = summarize(r, who)
                print(f"  {who}: epoch {fmt(s['epoch_seconds'], '{:.1f}')} s, "
                      f"macro-F1 {s['macro_f1']:.4f}, accuracy {s['accuracy']:.4f}", flush=True)
            else:
                print(f"  {who} FAILED: {r.get('error')}", flush=True)
        rounds.append(this)

    per = {who: [summarize(r[who], who) for r in rounds if r[who]["ok"]]
           for who in ("baseline", "ours")}
    medians = {who: {key: median_of(per[who], key) for key, _, _ in ROWS} for who in per}
    ratios = []  # per round: ours' median epoch seconds / the baseline's
    for r in rounds:
        if r["ours"]["ok"] and r["baseline"]["ok"]:
            ours_s = summarize(r["ours"], "ours")["epoch_seconds"]
            base_s = summarize(r["baseline"], "baseline")["epoch_seconds"]
            if ours_s and base_s:
                ratios.append(ours_s / base_s)
    epoch_ratio = statistics.median(ratios) if ratios else None

    print(f"\nmedians over {args.rounds} round(s) ({len(read_manifest(train))} training, "
          f"{len(read_manifest(test))} test images)")
    print(f"{'':34} {'baseline':>10} {'ours':>10}")
    for key, title, form in ROWS:
        print(f"{title:34} {fmt(medians['baseline'][key], form):>10} "
              f"{fmt(medians['ours'][key], form):>10}")
    print("* baseline: the prediction loop alone, in the training process; ours: the test set's "
          "images / the whole `customlabels detect` process's wall time, start-up and model "
          "loading included")

    targets = []
    b, o = medians["baseline"], medians["ours"]
    if epoch_ratio is not None:
        print(f"\nper-epoch time ours / baseline (median of the per-round ratios): "
              f"{epoch_ratio:.3f}")
    if o["macro_f1"] is not None and b["macro_f1"] is not None and epoch_ratio is not None:
        print(f"macro-F1 ours {o['macro_f1']:.4f}, baseline {b['macro_f1']:.4f}")
        targets.append(H.target("at least as accurate (macro-F1) and no slower per epoch",
                                epoch_ratio, "ours/baseline epoch s",
                                o["macro_f1"] >= b["macro_f1"] and epoch_ratio <= 1.0))
    if o["macro_f1"] is not None:
        targets.append(H.target(f"macro-F1 >= {TARGET_MACRO_F1}", o["macro_f1"], "macro-F1",
                                o["macro_f1"] >= TARGET_MACRO_F1))
    if o["training_seconds"] is not None:
        targets.append(H.target(f"training within {TARGET_TRAINING_SECONDS:.0f} s",
                                o["training_seconds"], "s",
                                o["training_seconds"] <= TARGET_TRAINING_SECONDS))
    print()
    for t in targets:
        print(f"{'PASS' if t['passed'] else 'FAIL'}: {t['target']} ({t['value']:.4g} {t['unit']})"
              f"{'  [--quick: not meaningful]' if args.quick else ''}")
    failed = [w for w in ("baseline", "ours") if any(not r[w]["ok"] for r in rounds)]
    for who in failed:
        print(f"{who} FAILED in {sum(1 for r in rounds if not r[who]['ok'])} of "
              f"{args.rounds} round(s); the table shows only its successful rounds")
    if "ours" in failed:
        print("  (`customlabels train` / `detect` missing or failing: see the error above)")

    report = {"machine": H.machine(), "quick": args.quick,
              "options": {"model": args.model, "epochs": args.epochs,
                          "image_size": args.image_size, "time_budget": args.time_budget,
                          "rounds": args.rounds},
              "data": {"train": str(train), "test": str(test),
                       "train_images": len(read_manifest(train)),
                       "test_images": len(read_manifest(test))},
              "rounds": rounds, "medians": medians, "epoch_ratio_ours_over_baseline": epoch_ratio,
              "targets": targets}
    H.write_json(DATA / ("results-quick.json" if args.quick else "results.json"), report)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--time-budget", type=float, default=None,
                        help="seconds, passed to `customlabels train --time-budget` when given")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK_TRAIN} training and {QUICK_TEST} test images, "
                             "1 epoch, 64 px")
    # The baseline's own process (run by the benchmark, not by hand):
    parser.add_argument("--run-baseline", action="store_true", help=argparse.SUPPRESS)
    for name in ("--train", "--test", "--images", "--out", "--predictions"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_baseline:
        return baseline_main(args)
    return main_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
