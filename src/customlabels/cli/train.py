"""``customlabels train``: train a model version from a training (and a testing) manifest.

Exit status: 0 when the version completed, 1 when the data stopped it (the manifests do not
validate, a split cannot be made, nothing decodes: the version is ``TRAINING_FAILED``), 2 on a
usage error, an input that cannot be read, or the ``[train]`` extra missing
(:data:`customlabels.cli.main.EXIT_STATUS`).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ._options import (add_backend, add_progress, add_report, add_report_file, integer,
                       number_in, positive, progress_of)
from ._render import ALL, Shown, closing, counts, split_problem_lines, write_report


#: seconds, a learning rate: a number above 0
_positive = number_in(0, above=True)


def add_images(p: argparse.ArgumentParser | Any, required: bool) -> None:
    """Add ``--images`` and ``--images-prefix`` as ``validate`` spells them."""
    p.add_argument("--images", metavar="DIR|s3", required=required,
                   help="where the images are: a folder that mirrors the bucket "
                        "(s3://BUCKET/KEY is DIR/KEY), or s3 to read the objects through boto3 "
                        "(pip install 'customlabels[s3]')")
    p.add_argument("--images-prefix", metavar="S3URL",
                   help="the s3://BUCKET/PREFIX/ location DIR mirrors, for a mirror of a "
                        "sub-folder")


def add_store(p: argparse.ArgumentParser | Any) -> None:
    """Add ``--store``: the folder of the local project store."""
    p.add_argument("--store", metavar="DIR",
                   help="the project store (default: CUSTOMLABELS_STORE, else "
                        "customlabels/models in the user data folder)")


def add_parser(sub: Any, name: str) -> None:
    """Add the ``train`` subcommand to ``sub``."""
    p = sub.add_parser(
        name, help="train a model version (image classification) into the project store",
        description="Validate the manifests with their images, auto-split the training one "
                    "80/20 when there is no testing manifest, train an image classifier "
                    "(PyTorch; CUDA when present) on the lines the validator keeps, evaluate "
                    "it on the testing set (EvaluationSummary, assumed thresholds) and keep "
                    "the version in the project store. Needs the [train] extra.")
    p.add_argument("--train", metavar="TRAIN",
                   help="the training manifest (SageMaker Ground Truth format)")
    p.add_argument("--test", metavar="TEST",
                   help="the testing manifest; without it, 20%% of the training images are "
                        "split off for testing, as the service does")
    add_images(p, required=False)
    p.add_argument("--project", required=True, metavar="NAME", help="the project's name")
    p.add_argument("--version", metavar="NAME", dest="model_version",
                   help="the new version's name (default: PROJECT.YYYY-MM-DDTHH.MM.SS)")
    add_store(p)
    p.add_argument("--resume", action="store_true",
                   help="go on with the interrupted --version from its last epoch, with the "
                        "settings it was started with")
    m = p.add_argument_group("model and schedule")
    m.add_argument("--model", default="efficientnet_lite0", metavar="NAME",
                   help="the network: efficientnet_lite0 (default), efficientnet_lite1, "
                        "efficientnet_lite2 or mobilenet_v2, with ImageNet weights")
    m.add_argument("--no-pretrained", dest="pretrained", action="store_false",
                   help="start from random weights instead of the ImageNet ones")
    m.add_argument("--no-freeze", dest="freeze", action="store_false",
                   help="train every layer; by default the stem and the first blocks keep "
                        "their ImageNet weights (faster, and steadier on small datasets)")
    m.add_argument("--image-size", type=positive, metavar="PX",
                   help="the network's input side (default: the model's own for a classifier, "
                        "224 for efficientnet_lite0; 512 for a detector)")
    m.add_argument("--epochs", type=positive, metavar="N",
                   help="at most N epochs (default 10 for a classifier, 60 for a detector)")
    m.add_argument("--time-budget", type=_positive, metavar="SECONDS",
                   help="stop training after this many seconds (the best epoch is kept)")
    m.add_argument("--patience", type=integer, metavar="N",
                   help="stop after N epochs without a better test score: macro F1 for a "
                        "classifier (default 3), COCO mAP for a detector (default 15); 0: "
                        "never")
    m.add_argument("--batch-size", type=positive, metavar="N",
                   help="images a batch (default 32 for a classifier, 4 for a detector)")
    m.add_argument("--learning-rate", type=_positive, metavar="LR",
                   help="AdamW's peak learning rate (default 0.001)")
    d = p.add_argument_group("object detection")
    d.add_argument("--tile", type=positive, metavar="PX",
                   help="cut images larger than PX pixels a side into PX x PX tiles, to train "
                        "on and to detect with (large images with small objects); a box "
                        "belongs to each tile holding its centre")
    d.add_argument("--rotations", action="store_true",
                   help="augment with top-bottom flips and quarter turns too, for images seen "
                        "from above (aerial photographs, microscope slides)")
    d.add_argument("--zoom", type=number_in(1, 4), metavar="X",
                   help="scale jitter: zoom each training image in by a random factor from 1 "
                        "to X, its boxes with it (default 1.5; 1: off)")
    m.add_argument("--seed", type=integer, default=0, metavar="N",
                   help="seeds the split, the weights, the order and the augmentation "
                        "(default 0)")
    m.add_argument("--device", default="auto", metavar="auto|cpu|cuda",
                   help="where to train (default auto: CUDA when a GPU is there)")
    m.add_argument("--workers", type=positive, metavar="N",
                   help="threads decoding images (default: the cores, at most 8)")
    add_report(p, {"text": "problems one a line, then the epochs and the metrics"})
    add_report_file(p)
    add_backend(p)
    add_progress(p)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Train, print the result, and return the exit status."""
    if not args.resume and (args.train is None or args.images is None):
        parser.error("--train and --images are required (except with --resume)")
    from ..train._torch import import_torch

    import_torch()  # says how to install the [train] extra before anything is made
    from ..train.run import Settings, train

    settings = Settings(train=args.train or "", test=args.test, images=args.images or "",
                        images_prefix=args.images_prefix, model=args.model,
                        pretrained=args.pretrained, freeze=args.freeze,
                        image_size=args.image_size,
                        epochs=args.epochs, time_budget=args.time_budget,
                        batch_size=args.batch_size, learning_rate=args.learning_rate,
                        patience=args.patience, tile=args.tile, rotations=args.rotations,
                        zoom=args.zoom,
                        seed=args.seed, device=args.device, workers=args.workers)
    result = train(settings, project=args.project, version=args.model_version,
                   store=args.store, resume=args.resume, progress=progress_of(args),
                   backend=args.backend)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports for all
        return 0 if result.ok else 1
    issues = (result.validation or {}).get("issues", []) + result.issues
    write_report(args.format, Shown.of(args), result.as_dict(), issues,
                 lambda shown: render_text(result, shown))
    status = 0 if result.ok else 1
    if args.html_report is None:
        return status
    from .report import write_at_end

    # the version's folder once it is tested (its evaluation, its images), with the validation
    # as it ran: its problems at their exact places
    return max(status, write_at_end(args, validation=result.validation,
                                    version_dir=result.version_dir if result.evaluation
                                    else None,
                                    images=settings.images or None,
                                    images_prefix=settings.images_prefix))


def render_text(result: Any, shown: Shown = ALL) -> tuple[str, str]:
    """Return (stdout, stderr): the problems, the epochs, the metrics, and the status."""
    issues = (result.validation or {}).get("issues", []) + result.issues
    out, err = split_problem_lines(issues, shown)
    if result.epochs:
        detector = result.epochs[0].test_map is not None
        out.append(f"{'Epoch':>5}  {'Train loss':>10}  {'Test loss':>9}  "
                   f"{'mAP' if detector else 'Macro F1':>8}  {'Seconds':>8}  {'Images/s':>8}")
        for e in result.epochs:
            mark = "  *" if e.epoch == result.best_epoch else ""
            score = e.test_map if detector else e.test_macro_f1
            out.append(f"{e.epoch:>5}  {e.train_loss:>10.4f}  {e.test_loss:>9.4f}  "
                       f"{_number(score):>8}  {e.seconds:>8.1f}  "
                       f"{e.images_per_second:>8.1f}{mark}")
        out.append(f"best epoch {result.best_epoch} (*); {result.training_seconds:.0f} s of "
                   "training")
    if result.evaluation is not None:
        ev = result.evaluation
        out.append(f"test set, at the assumed thresholds: F1 {_number(ev['f1'])}, precision "
                   f"{_number(ev['precision'])}, recall {_number(ev['recall'])}")
        for label in ev["per_label"]:
            out.append(f"  {label['label']}: F1 {_number(label['f1'])}, precision "
                       f"{_number(label['precision'])}, recall {_number(label['recall'])} at "
                       f"threshold {_number(label['threshold'], 3)}")
        coco = (ev.get("coco") or {}).get("stats")
        if coco:
            out.append(f"COCO: mAP {_number(coco['AP'])}, AP50 {_number(coco['AP50'])}, "
                       f"AP75 {_number(coco['AP75'])}, AR100 {_number(coco['AR100'])}")
    out.append(f"{result.project}/{result.version}: {result.status}: {result.message}")
    out.append(f"version folder: {result.version_dir}")
    errors, warnings = counts(issues)
    subject = (result.validation or {}).get("files", {}).get("training") or result.project
    out.append(closing(subject, errors, warnings, 0 if result.ok else 1,
                       what="trained" if result.ok else "not trained"))
    return "\n".join(out) + "\n", "\n".join(f"customlabels: {e}" for e in err) + (
        "\n" if err else "")


def _number(value: float | None, places: int = 4) -> str:
    return "-" if value is None else f"{value:.{places}f}"
