"""``customlabels train``: validate, split, train, evaluate and store one model version.

The order is the service's (guide: "Training an Amazon Rekognition Custom Labels model"):

1. the version is made in the store, ``TRAINING_IN_PROGRESS``;
2. without a testing manifest, the training one is auto-split 80/20 (``customlabels split``,
   seeded, label-aware), as the service splits it;
3. both manifests are validated with their images (``validate --images``), and the validation
   manifests and ``manifest_summary.json`` are kept in the version. An error that fails the
   dataset (a file, dataset or pair error) stops here, with the validator's report; otherwise
   the lines the validator keeps train and test;
4. the network trains (a budget of epochs or seconds, early stopping on the test set's macro
   F1 with the best epoch kept, a checkpoint each epoch to resume from);
5. the best epoch predicts the test set, and the evaluation engine of ``customlabels
   evaluate`` writes the ``EvaluationSummary`` file and the evaluation manifest snapshot into
   the version; each label's assumed threshold comes from there;
6. the weights, the label map and the description are written, and only then the status
   becomes ``TRAINING_COMPLETED``. Any failure marks the version ``TRAINING_FAILED`` with why.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


from .. import store as store_module
from ..errors import ModelError
from ..manifest.writer import _test_kill, atomic_write
from ..store import TRAINING_COMPLETED, TRAINING_FAILED, TRAINING_IN_PROGRESS, Store
from ._torch import import_torch

import_torch()  # OMP_WAIT_POLICY before torch loads; without torch, the [train] hint

import torch  # noqa: E402

from . import data, engine, models, tasks  # noqa: E402  (after torch: OMP_WAIT_POLICY first)
from .transforms import Normalize  # noqa: E402
from .utils import Distributed, load_file, resolve_device, save_atomic, seed_everything  # noqa: E402

#: Issues that fail a dataset as the service fails it: the file, dataset and pair errors.
_STOPPING_SCOPES = frozenset({"file", "dataset", "pair"})
#: Version file names.
MODEL_FILE, CHECKPOINT_FILE, BEST_FILE = "model.pt", "checkpoint.pt", "best.pt"
SETTINGS_FILE, LABELS_FILE = "settings.json", "labels.json"
#: What model.pt holds (a number bumped when its layout changes).
MODEL_FORMAT = 1


@dataclass
class Settings:
    """The resolved settings of a training run, written to the version's ``settings.json``.

    Attributes:
        train, test: the manifests as given (``test`` None: auto-split).
        images, images_prefix, s3_endpoint_url: where the images are (as ``validate``).
        model: the architecture (:data:`customlabels.train.models.MODELS`).
        pretrained: start from the ImageNet weights (else from scratch).
        freeze: with ``pretrained``, keep the stem's and the first blocks' weights
            (:func:`~customlabels.train.models.freeze_early_layers`).
        image_size: the network's input side in pixels (None: the architecture's own for a
            classifier, :data:`~customlabels.train.tasks.DETECTION_IMAGE_SIZE` for a detector).
        epochs: at most this many epochs; time_budget: at most this many seconds of training.
        batch_size, learning_rate, weight_decay, warmup_epochs: the optimiser's (AdamW,
            linear warm-up then cosine decay, stepped a batch).
        patience: stop after this many epochs without a better test score (macro F1 for a
            classifier, COCO mAP for a detector; 0: never).
            ``epochs``, ``batch_size``, ``learning_rate`` and ``patience`` left None take the
            kind's defaults (:data:`~customlabels.train.tasks.DEFAULTS`).
        tile: detection: cut images larger than this many pixels a side into tiles of it, to
            train on and to detect with (None: whole images).
        rotations: detection: augment with top-bottom flips and transposes too (images seen
            from above).
        zoom: detection: zoom each training image in by a random factor from 1 to this
            (1: no zoom; None: the kind's default, 1.5 for a detector).
        seed: seeds the split, the initialisation, the order and the augmentation.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; amp: mixed precision on CUDA;
            channels_last: channels-last memory order.
        workers: threads decoding images; cache_bytes: decoded images kept in memory.
        test_fraction: the auto-split's share of testing images.
    """

    train: str
    test: str | None = None
    images: str = ""
    images_prefix: str | None = None
    s3_endpoint_url: str | None = None
    model: str = "efficientnet_lite0"
    pretrained: bool = True
    freeze: bool = True
    image_size: int | None = None
    epochs: int | None = None
    time_budget: float | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    patience: int | None = None
    tile: int | None = None
    rotations: bool = False
    zoom: float | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    workers: int | None = None
    cache_bytes: int = data.DEFAULT_CACHE_BYTES
    test_fraction: float = 0.2

    def resolved(self, kind: str) -> Settings:
        """Return these settings with the fields left None set to ``kind``'s defaults."""
        chosen: dict[str, Any] = {name: value for name, value in tasks.DEFAULTS[kind].items()
                                  if getattr(self, name) is None}
        return replace(self, **chosen)

    def check(self) -> None:
        """Raise ModelError for a setting out of its range."""
        models.spec(self.model)
        for name, value, low in (("epochs", self.epochs, 1), ("batch_size", self.batch_size, 1),
                                 ("patience", self.patience, 0), ("tile", self.tile, 64)):
            if value is not None and value < low:
                raise ModelError(f"--{name.replace('_', '-')} {value}: at least {low}")
        if self.zoom is not None and not (1.0 <= self.zoom <= 4.0):
            raise ModelError(f"--zoom {self.zoom}: 1 to 4")
        if self.image_size is not None and not 32 <= self.image_size <= 1024:
            raise ModelError(f"--image-size {self.image_size}: 32 to 1024 pixels")
        if self.learning_rate is not None and not (self.learning_rate > 0
                                                   and math.isfinite(self.learning_rate)):
            raise ModelError(f"--learning-rate {self.learning_rate}: a positive number")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ModelError(f"--time-budget {self.time_budget}: a positive number of seconds")


@dataclass
class EpochRecord:
    """One epoch's figures, as ``train`` reports them."""

    epoch: int
    train_loss: float
    test_loss: float
    test_macro_f1: float | None
    seconds: float
    images_per_second: float
    learning_rate: float
    best: bool = False
    test_map: float | None = None


@dataclass
class TrainResult:
    """What ``customlabels train`` did.

    Attributes:
        ok: the version completed.
        project, version: its names; version_dir: its folder in the store.
        status, message: the version's status and why (``TRAINING_FAILED``: what stopped it).
        validation: the validator's report on the manifests (``validate``'s JSON document).
        issues: problems the trainer met itself (an image that does not decode), as issues.
        epochs: the epochs' figures; best_epoch: the one kept.
        training_seconds: wall time of the epochs (decoding and evaluation not included).
        evaluation: the evaluation's document (``evaluate``'s JSON), once tested.
        description: the version's description (``describe-model``).
    """

    ok: bool
    project: str
    version: str
    version_dir: str
    status: str
    message: str
    validation: dict[str, Any] | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    training_seconds: float = 0.0
    evaluation: dict[str, Any] | None = None
    description: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the result as plain data (the ``--format json`` document)."""
        doc = asdict(self)
        doc["epochs"] = [asdict(e) for e in self.epochs]
        return doc


def default_version(project: str) -> str:
    """Return a new version's name as the console makes it: ``PROJECT.YYYY-MM-DDTHH.MM.SS``."""
    return f"{project}.{datetime.now(timezone.utc).strftime('%Y-%m-%dT%H.%M.%S')}"


def train(settings: Settings, *, project: str, version: str | None = None,
          store: str | os.PathLike[str] | None = None, resume: bool = False,
          progress: bool | None = False, backend: str = "auto") -> TrainResult:
    """Train a model version of ``project`` as ``settings`` say; return what happened.

    ``resume``: go on with the interrupted (or failed) ``version`` from its last checkpoint,
    with the settings it was started with (``settings`` is then not used). ModelError for a
    setting that cannot be used, a version that exists (or, to resume, does not); problems in
    the data are in the result (``ok`` False, status ``TRAINING_FAILED``), never raised.
    """
    the_store = Store(store)
    if not resume:
        settings.check()
        for given in (settings.train, settings.test):
            if given is not None and not os.path.isfile(given):
                raise FileNotFoundError(2, "No such file", given)  # before a version is made
    else:
        if version is None:
            raise ModelError("--resume needs the --version to resume")
        described = the_store.describe(project, version)  # ModelError: no such version
        settings = Settings(**store_module.read_json(
            the_store.version_dir(project, version) / SETTINGS_FILE))
    device = resolve_device(settings.device)
    dist = Distributed(device)  # under torchrun, rank 0 makes the version; the others follow
    try:
        if resume:
            assert version is not None
            folder = the_store.version_dir(project, version)
            if dist.main:
                if described["Status"] == TRAINING_COMPLETED:
                    raise ModelError(f"model version {project}/{version} is already completed")
                if described["Status"] == TRAINING_IN_PROGRESS:
                    raise ModelError(f"model version {project}/{version} is being trained by "
                                     "another process")
                the_store.update(project, version, Status=TRAINING_IN_PROGRESS,
                                 StatusMessage="The model is being trained (resumed).")
        else:
            if dist.main:
                version = version or the_store.free_name(project, default_version(project))
                folder = the_store.create(project, version, {"Settings": asdict(settings)})
                store_module.write_json(folder / SETTINGS_FILE, asdict(settings))
            version = dist.share(version)
            folder = the_store.version_dir(project, version)
    except BaseException:
        dist.close()
        raise
    result = TrainResult(False, project, version, str(folder), TRAINING_IN_PROGRESS, "")
    try:
        _Run(settings, the_store, result, folder, device, dist, progress, backend).go()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            message = "The training run was interrupted"
        elif isinstance(exc, ModelError | OSError):
            message = f"The training run failed: {exc}"
        else:
            message = f"The training run failed with an internal error: {exc!r}"
        if dist.main:
            resumable = (folder / CHECKPOINT_FILE).exists()
            if resumable:
                message += (f"; resume it with customlabels train --project {project} "
                            f"--version {version} --resume")
            the_store.update(project, version, Status=TRAINING_FAILED, StatusMessage=message,
                             Resumable=resumable)
        raise
    finally:
        dist.close()
    if result.status == TRAINING_FAILED and dist.main:
        the_store.update(project, version, Status=TRAINING_FAILED,
                         StatusMessage=result.message, Resumable=False)
    result.description = the_store.describe(project, version)
    return result


class _Run:
    """One training run's state, from validation to the completed version."""

    def __init__(self, settings: Settings, store: Store, result: TrainResult, folder: Path,
                 device: Any, dist: Distributed, progress: bool | None, backend: str):
        self.s = settings
        self.store = store
        self.result = result
        self.folder = folder
        self.device = device
        self.dist = dist
        self.progress = progress if dist.main else False
        self.backend = backend
        self.best_predictions: Any = None
        self.kind = tasks.CLASSIFICATION

    # --- 1-3: the data -------------------------------------------------------------------
    def go(self) -> None:
        s, result = self.s, self.result
        seed_everything(s.seed)
        self.kind = self._check_kind(_kind_lines(s.train, self.backend))  # before a split
        self.s = s = s.resolved(self.kind)
        if self.dist.main:  # what --resume goes on with: the kind's defaults filled in
            store_module.write_json(self.folder / SETTINGS_FILE, asdict(s))
            self.store.update(result.project, result.version, Settings=asdict(s))
        detecting = self.kind == tasks.DETECTION
        if not detecting and s.tile is not None:
            raise ModelError("--tile is for object detection: these manifests are for "
                             "image classification")
        train_path, test_path = self._manifests()
        if train_path is None:
            return
        from ..validation.pipeline import image_source, validate_files

        scans: dict[str, Any] = {}
        report = validate_files(train_path, test_path, output_dir=str(self.folder / "validation")
                                if self.dist.main else None, images=s.images,
                                images_prefix=s.images_prefix, s3_endpoint_url=s.s3_endpoint_url,
                                image_workers=None, progress=self.progress, keep_scans=scans,
                                backend=self.backend)
        result.validation = report
        stopping = [i for i in report["issues"]
                    if i["severity"] == "error" and i["scope"] in _STOPPING_SCOPES]
        if stopping or "training" not in scans or "testing" not in scans:
            first = stopping[0] if stopping else report["issues"][0]
            self._fail(f"The manifests do not validate: {first['code']} in {first['file']}"
                       + (f":{first['line']}" if first.get("line") else "")
                       + f" ({len(stopping)} error(s) that fail the dataset; see the "
                         "validation report)")
            return
        source = image_source(s.images, s.images_prefix, endpoint_url=s.s3_endpoint_url,
                              backend=self.backend)
        train_set = data.examples(train_path, scans["training"], source, backend=self.backend,
                                  detection=detecting)
        test_set = data.examples(test_path, scans["testing"], source, backend=self.backend,
                                 detection=detecting)
        labels = sorted({name for ex in train_set for name in ex.labels})
        least = 1 if detecting else 2
        if len(labels) < least:
            self._fail(f"the training set has {len(labels)} label(s) on its valid lines; a "
                       + ("detector needs at least 1 (no line has a usable box)" if detecting
                          else "classifier needs at least 2"))
            return
        if detecting and not test_set:
            self._fail("the testing set has no valid line with a usable box")
            return
        self.labels = labels
        self.spec = models.spec(s.model)
        self.size = s.image_size or (tasks.DETECTION_IMAGE_SIZE if detecting
                                     else self.spec.input_size)
        self.batch_size = s.batch_size
        if s.tile is not None:
            train_set, test_set = data.tile_examples(train_set, s.tile), data.tile_examples(
                test_set, s.tile)
        self.train_set, self.train_bank = self._bank(train_set, train_path, source)
        self.test_set, self.test_bank = self._bank(test_set, test_path, source)
        if not self.train_set or not self.test_set:
            self._fail("no image of the " + ("training" if not self.train_set else "testing")
                       + " set could be decoded")
            return
        # the whole images the test tiles come from (each image once, in order)
        self.test_images = list({ex.line: ex for ex in self.test_set}.values())
        self.train_path, self.test_path = train_path, test_path
        self.task: Any = (tasks.DetectionTask(self) if detecting
                          else tasks.ClassificationTask(self))
        self.multi_label = self.task.multi_label
        self._fit()
        self._finish()
        self.dist.barrier()
        if not self.dist.main:  # rank 0 wrote the version: the others report what it says
            described = self.store.describe(result.project, result.version)
            result.status, result.message = described["Status"], described["StatusMessage"]
            result.ok = result.status == TRAINING_COMPLETED

    def _check_kind(self, kind_lines: list[int]) -> str:
        """Return the kind of model the training manifest makes (``kind_lines``: its valid
        lines with image-level labels and with boxes); ModelError when it has both."""
        if kind_lines[0] and kind_lines[1]:
            raise ModelError("the training manifest has both image-level labels and bounding "
                             "boxes; a model is either a classifier or a detector")
        return tasks.DETECTION if kind_lines[1] else tasks.CLASSIFICATION

    def _manifests(self) -> tuple[str | None, str]:
        """Return the training and testing manifests, auto-split when there is no test."""
        s = self.s
        if s.test is not None:
            return s.train, s.test
        folder = self.folder / "split"
        train_path, test_path = folder / "train.manifest", folder / "test.manifest"
        if self.dist.main and not (train_path.exists() and test_path.exists()):
            from ..split import split

            made = split(s.train, folder, test_fraction=s.test_fraction, seed=s.seed,
                         backend=self.backend)
            if not made.ok:
                first = made.issues[0] if made.issues else None
                self.result.validation = made.to_dict()
                self._fail("the training manifest could not be auto-split"
                           + (f": {first.code} {first.message}" if first is not None else ""))
                return None, ""
        self.dist.barrier()
        return str(train_path), str(test_path)

    def _bank(self, found: list[data.Example], path: str, source: Any
              ) -> tuple[list[data.Example], data.ImageBank]:
        """Decode the images of ``found``; leave out (and report) those that do not decode."""
        from ..convert._common import Progress
        from ..issues import make_issue

        bank = data.ImageBank([ex.key for ex in found], source.read, self.size,
                              workers=self.s.workers, cache_bytes=self.s.cache_bytes,
                              regions=[ex.region for ex in found],
                              contents=[data.extent(ex, self.size) if ex.size else None
                                        for ex in found])
        bar = Progress(len(found), f"decoding the images of {os.path.basename(path)}",
                       self.progress, unit="image")
        try:
            bank.load(bar.update)
        finally:
            bar.close()
        if not bank.bad:
            return found, bank
        bad = {index for index, _ in bank.bad}
        bad_lines = {found[index].line for index in bad}  # a tile lost: its image is left out
        bad |= {i for i, ex in enumerate(found) if ex.line in bad_lines}
        for index, why in dict((found[i].line, (i, w)) for i, w in bank.bad).values():
            self.result.issues.append(make_issue(
                "ERROR_INVALID_IMAGE", path, found[index].line, "$['source-ref']",
                detail=f"{why}; the line is left out of training"))
        indices = [i for i in range(len(found)) if i not in bad]
        return [found[i] for i in indices], bank.keep(indices)

    # --- 4: training ---------------------------------------------------------------------
    def _fit(self) -> None:
        s, dist, result = self.s, self.dist, self.result
        seed_everything(s.seed)
        network = self.task.build()
        network = network.to(self.device)
        if s.channels_last:
            network = network.to(memory_format=torch.channels_last)
        self.network = network
        model = dist.wrap(network, self.device)
        normalize = Normalize(self.spec.mean, self.spec.std, self.device, s.channels_last)
        self.normalize = normalize
        assert (s.epochs is not None and s.patience is not None and s.batch_size is not None
                and s.learning_rate is not None)  # resolved()
        per_rank = math.ceil(len(self.train_set) / dist.world)
        steps_per_epoch = math.ceil(per_rank / s.batch_size)
        optimizer = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad],
                                      lr=s.learning_rate, weight_decay=s.weight_decay)
        warmup = max(1, round(s.warmup_epochs * steps_per_epoch))
        total = max(warmup + 1, s.epochs * steps_per_epoch)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / (total - warmup))))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        amp = s.amp and self.device.type == "cuda"
        scaler = (torch.amp.GradScaler("cuda") if amp and not torch.cuda.is_bf16_supported()
                  else None)
        state: dict[str, Any] = {"epoch": 0, "best_score": None, "best_epoch": None,
                                 "bad_epochs": 0,
                 "history": [], "trained_seconds": 0.0}
        checkpoint = self.folder / CHECKPOINT_FILE
        if checkpoint.exists():
            saved = load_file(checkpoint)
            network.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            if scaler is not None and saved.get("scaler"):
                scaler.load_state_dict(saved["scaler"])
            state = saved["state"]
        result.epochs = [EpochRecord(**e) for e in state["history"]]
        deadline = (None if s.time_budget is None
                    else time.monotonic() + s.time_budget - state["trained_seconds"])
        from ..convert._common import Progress

        while state["epoch"] < s.epochs and not self._stopped(state, deadline):
            epoch = state["epoch"] + 1
            torch.manual_seed(s.seed * 1_000_003 + epoch)  # dropout and drop-connect
            generator = torch.Generator().manual_seed(s.seed * 7_919 + epoch)
            order = torch.randperm(len(self.train_set), generator=generator).tolist()
            order = order[dist.rank::dist.world]
            bar = Progress(len(order), f"epoch {epoch}/{s.epochs}", self.progress, unit="image")
            seen = [0, time.monotonic()]

            def show(n: int, loss: float, bar: Any = bar, seen: list[Any] = seen) -> None:
                seen[0] += n
                bar.update(n)
                rate = seen[0] / max(time.monotonic() - seen[1], 1e-9)
                bar.note(f"loss {loss:.4f}, {rate:.1f} images/s")

            try:
                stats = engine.train_one_epoch(
                    model, self.train_bank, order, self.task.step_loss(normalize, generator),
                    batch_size=s.batch_size, optimizer=optimizer, scheduler=scheduler,
                    device=self.device, amp=amp, scaler=scaler, deadline=deadline,
                    progress=show, epoch=epoch)
            finally:
                bar.close()
            loss_total = dist.total([stats.loss * stats.images, float(stats.images)])
            predicted = self.task.predict(network, amp)
            score, test_loss = self.task.score(predicted)
            improved = state["best_score"] is None or (score, -test_loss) > tuple(
                state["best_score"])
            detecting = self.kind == tasks.DETECTION
            record = EpochRecord(epoch, loss_total[0] / max(loss_total[1], 1), test_loss,
                                 None if detecting else score, stats.seconds,
                                 stats.images * dist.world / max(stats.seconds, 1e-9),
                                 float(scheduler.get_last_lr()[0]), improved,
                                 score if detecting else None)
            state["trained_seconds"] += stats.seconds
            if improved:
                state["best_score"], state["best_epoch"], state["bad_epochs"] = (
                    [score, -test_loss], epoch, 0)
                self.best_predictions = predicted  # the kept epoch's: _finish writes them
                if dist.main:
                    save_atomic(network.state_dict(), self.folder / BEST_FILE)
            else:
                state["bad_epochs"] += 1
            state["epoch"] = epoch
            state["history"].append(asdict(record))
            result.epochs.append(record)
            if stats.cut:
                state["cut"] = True
            if dist.main:
                save_atomic({"model": network.state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(),
                             "scaler": scaler.state_dict() if scaler is not None else None,
                             "state": copy.deepcopy(state)}, checkpoint)
            dist.barrier()
            _test_kill("after-epoch")  # the tests' interrupted run (CUSTOMLABELS_TEST_KILL_AT)
        result.best_epoch = state["best_epoch"]
        result.training_seconds = state["trained_seconds"]
        self.amp = amp

    def _stopped(self, state: dict[str, Any], deadline: float | None) -> bool:
        """Tell whether training stops before the next epoch: out of time or of patience."""
        s = self.s
        done = bool(state.get("cut")) or (deadline is not None and time.monotonic() >= deadline)
        patience = s.patience or 0  # resolved(): never None here
        done = done or (patience > 0 and state["bad_epochs"] >= patience)
        return self.dist.agree(done)

    # --- 5-6: evaluation and the completed version ---------------------------------------
    def _finish(self) -> None:
        s, result = self.s, self.result
        if not self.dist.main:
            return
        self.network.load_state_dict(load_file(self.folder / BEST_FILE))
        # the kept epoch's predictions, made again only when it ran before a resume
        predicted = (self.best_predictions if self.best_predictions is not None
                     else self.task.predict(self.network, self.amp))
        evaluation = self.folder / "evaluation"
        evaluation.mkdir(exist_ok=True)
        predictions = evaluation / "test-predictions.jsonl"
        with atomic_write(predictions) as stream:
            for line in self.task.lines(predicted):
                stream.write(line)
        from ..metrics.evaluation import evaluate_files
        from ..store import local_arn

        project, version = result.project, result.version
        evaluated = evaluate_files(self.test_path, str(predictions), output_dir=str(evaluation),
                                   project=project, version=version, train=self.train_path,
                                   project_version_arn=local_arn(project, version))
        result.evaluation = evaluated.as_dict()
        thresholds = {r.label: r.threshold for r in evaluated.per_label}
        label_map = {"kind": self.kind, "multi_label": self.multi_label,
                     "labels": [{"Name": name, "Index": i,
                                 "AssumedThreshold": _finite(thresholds.get(name))}
                                for i, name in enumerate(self.labels)]}
        save_atomic({"format": MODEL_FORMAT, "kind": self.kind,
                     "architecture": s.model, "num_classes": len(self.labels),
                     "labels": self.labels, "image_size": self.size,
                     "mean": list(self.spec.mean), "std": list(self.spec.std),
                     **self.task.saved(), "state_dict": self.network.state_dict()},
                    self.folder / MODEL_FILE)
        store_module.write_json(self.folder / LABELS_FILE, label_map)
        outputs = {Path(p).name: p for p in evaluated.outputs}
        summary_file = next((p for n, p in outputs.items() if n.startswith("EvaluationSummary")),
                            None)
        validation = self.folder / "validation"
        self.store.update(
            project, version, Status=TRAINING_COMPLETED,
            StatusMessage="The model is ready to run.", TrainingEndTimestamp=store_module.now(),
            BillableTrainingTimeInSeconds=round(result.training_seconds),
            EvaluationResult={"F1Score": _finite(evaluated.f1),
                              "Summary": {"File": summary_file}},
            ManifestSummary={"File": str(validation / "manifest_summary.json")},
            TrainingDataResult={"Input": {"File": self.train_path}, "Output": {
                "File": self.train_path}, "Validation": {
                    "File": str(validation / "training_manifest_with_validation.json")}},
            TestingDataResult={"Input": {"File": self.s.test}, "Output": {
                "File": self.test_path}, "AutoCreate": self.s.test is None, "Validation": {
                    "File": str(validation / "testing_manifest_with_validation.json")}},
            Model={"Kind": self.kind, "MultiLabel": self.multi_label, **(
                       {"Tile": s.tile, "Levels": list(self.task.config.levels)}
                       if self.kind == tasks.DETECTION else {}),
                   "Architecture": s.model, "ImageSize": self.size,
                   "Labels": label_map["labels"], "BestEpoch": result.best_epoch,
                   "Epochs": len(result.epochs), "Device": str(self.device),
                   "TrainingImages": len(self.train_set), "TestingImages": len(self.test_set)},
            Resumable=False)
        for name in (CHECKPOINT_FILE, BEST_FILE):
            (self.folder / name).unlink(missing_ok=True)
        result.ok = True
        result.status = TRAINING_COMPLETED
        result.message = "The model is ready to run."

    def _fail(self, message: str) -> None:
        self.result.status = TRAINING_FAILED
        self.result.message = message


def _kind_lines(path: str, backend: str) -> list[int]:
    """Return the valid lines of the manifest at ``path`` with image-level labels and with
    bounding boxes (``[classification, detection]``, as a scan counts them)."""
    from ..manifest.records import iter_rows
    from ..manifest.schema import VALID

    counts = [0, 0]
    for _line, _raw, verdict, _findings, _ref, labels, boxes in iter_rows(path, backend=backend):
        if verdict == VALID:
            counts[1 if boxes else 0] += bool(labels)
    return counts


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
