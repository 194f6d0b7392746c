"""Dataset and train/test rules: turn scan results into the manifest summary and its issues.

Everything here runs once per manifest on the few numbers a scan returns, so it is plain Python
for both scanners. Rules and thresholds cite the guide; the choices it leaves open are spec
decisions 3, 10 and 11 and ``docs/decisions.md``.
"""

from __future__ import annotations

from typing import Any

from ..codes import CODES
from ..limits import (INVALID_SHARE, MAX_LABELS, MAX_TEST_IMAGES_PER_LABEL,
                      MIN_LABELS_CLASSIFICATION, MIN_LABELS_DETECTION, MIN_OVERLAP)
from .scan import ScanResult

CLASSIFICATION_USE, DETECTION_USE, UNDETERMINED = (
    "IMAGE_LEVEL_LABELS", "OBJECT_LOCALIZATION", "NOT_DETERMINED")
#: Labels a dataset needs, by use case (spec decision 1).
MIN_LABELS = {CLASSIFICATION_USE: MIN_LABELS_CLASSIFICATION, DETECTION_USE: MIN_LABELS_DETECTION,
              UNDETERMINED: MIN_LABELS_DETECTION}

#: A dataset-level problem: (code, argument of its message, detail, line or None, context:
#: the values behind the message and the detail, see customlabels.issues).
Problem = tuple[str, Any, str, "int | None", dict[str, Any]]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names(labels: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(x) for x in labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def dataset_rules(scan: ScanResult, role: str, failed_copy: bool = False
                  ) -> tuple[str, list[Problem]]:
    """Apply the manifest content rules to one dataset; return its use case and problems.

    ``role`` is ``"training"`` or ``"testing"``. Rows that stop the import (no image could be
    copied, too many dropped or invalid lines, several buckets) leave the use case
    NOT_DETERMINED and end the checks, as in the guide's example summary (L6286-6336).
    ``failed_copy``: the images were checked and none could be read (L7163-7180).
    """
    total = scan.total
    valid, invalid, _ignored = scan.counts
    problems: list[Problem] = []
    if failed_copy:
        problems.append(("ERROR_FAILED_IMAGES_S3_COPY", None,
                         "no image of the dataset could be read", None, {"images": "none read"}))
    if scan.dropped > INVALID_SHARE * total:
        problems.append(("ERROR_TOO_MANY_RECORDS_IN_ERROR", None,
                         f"{scan.dropped} of {total} lines dropped at import, "
                         f"more than {INVALID_SHARE:.0%}", None,
                         {"dropped": scan.dropped, "total": total, "limit": INVALID_SHARE}))
    if invalid > INVALID_SHARE * total:
        problems.append(("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", None,
                         f"{invalid} of {total} lines invalid, "
                         f"more than {INVALID_SHARE:.0%}", None,
                         {"invalid": invalid, "total": total, "limit": INVALID_SHARE}))
    if len(scan.buckets) > 1:
        buckets = list(scan.buckets.items())
        listing = ", ".join(f"{b} (from line {n})" for b, n in buckets[:10])
        problems.append(("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS", None,
                         f"{len(buckets)} buckets: {listing}", buckets[1][1],
                         {"buckets": dict(buckets)}))
    if problems:
        return UNDETERMINED, problems

    use_case = use_case_of(scan)
    labels = [name for name, counts in scan.labels.items() if counts[2] > 0]
    need = MIN_LABELS[use_case]
    if len(labels) < need:
        problems.append(("ERROR_MANIFEST_TOO_FEW_LABELS", None,
                         f"{_plural(len(labels), 'label')} with a valid image"
                         + (f" ({_names(labels)})" if labels else "")
                         + f"; {_use_case_words(use_case)} needs at least {need}", None,
                         {"labels": labels, "minimum": need, "use_case": use_case}))
    if len(labels) > MAX_LABELS:
        problems.append(("ERROR_MANIFEST_TOO_MANY_LABELS", None,
                         f"{len(labels)} labels; at most {MAX_LABELS} are allowed", None,
                         {"labels": len(labels), "maximum": MAX_LABELS}))
    if use_case != UNDETERMINED:
        usable = usable_labels(scan, use_case)
        if len(usable) < need:
            problems.append(("ERROR_MANIFEST_TOO_FEW_USABLE_LABELS", None,
                             f"{_plural(len(usable), 'usable label')} for use case {use_case}"
                             + (f" ({_names(usable)})" if usable else "")
                             + f"; at least {need} needed", None,
                             {"labels": usable, "minimum": need, "use_case": use_case}))
    if role == "training":
        empty = [name for name, counts in scan.labels.items() if counts[2] == 0]
        if empty:
            problems.append(("ERROR_TOO_FEW_IMAGES_PER_LABEL", _names(empty),
                             f"{_plural(len(empty), 'label')} used only on invalid lines or "
                             "invalid parts of lines", None, {"labels": empty}))
    else:
        for name, counts in scan.labels.items():
            if counts[2] > MAX_TEST_IMAGES_PER_LABEL:
                problems.append(("ERROR_TOO_MANY_IMAGES_PER_LABEL", name,
                                 f"{name!r} has {counts[2]} testing images", None,
                                 {"label": name, "images": counts[2],
                                  "maximum": MAX_TEST_IMAGES_PER_LABEL}))
    return use_case, problems


def _use_case_words(use_case: str) -> str:
    return {CLASSIFICATION_USE: "classification", DETECTION_USE: "object detection"}.get(
        use_case, "a dataset")


def use_case_of(scan: ScanResult) -> str:
    """Return the dataset's use case (spec decision 10): the kind with more valid lines."""
    classification, detection = scan.kind_lines
    if scan.counts[0] == 0:
        return UNDETERMINED
    return CLASSIFICATION_USE if classification > detection else DETECTION_USE


def usable_labels(scan: ScanResult, use_case: str) -> list[str]:
    """Return the labels with a valid image of the use case's kind."""
    slot = 0 if use_case == CLASSIFICATION_USE else 1
    return [name for name, counts in scan.labels.items() if counts[slot] > 0]


def pair_rules(train: ScanResult, train_use: str, test: ScanResult,
               test_use: str) -> list[Problem]:
    """Apply the rules spanning the training and testing datasets (spec decision 11)."""
    problems: list[Problem] = []
    if train_use == UNDETERMINED or test_use == UNDETERMINED:
        return problems
    train_labels = {n for n, c in train.labels.items() if c[2] > 0}
    test_labels = {n for n, c in test.labels.items() if c[2] > 0}
    if train_labels and len(train_labels & test_labels) < MIN_OVERLAP * len(train_labels):
        missing = sorted(train_labels - test_labels)
        problems.append(("ERROR_INSUFFICIENT_LABEL_OVERLAP", int(MIN_OVERLAP * 100),
                         f"{len(train_labels & test_labels)} of {len(train_labels)} training "
                         f"labels are in the testing manifest; missing: {_names(missing)}",
                         None, {"shared": len(train_labels & test_labels),
                                "training_labels": len(train_labels), "missing": missing,
                                "minimum": MIN_OVERLAP}))
    train_usable = set(usable_labels(train, train_use))
    test_usable = set(usable_labels(test, train_use))
    if train_usable and len(train_usable & test_usable) < MIN_OVERLAP * len(train_usable):
        missing = sorted(train_usable - test_usable)
        problems.append(("ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP", int(MIN_OVERLAP * 100),
                         f"{len(train_usable & test_usable)} of {len(train_usable)} usable "
                         f"training labels ({train_use}) are usable in the testing manifest; "
                         f"missing: {_names(missing)}", None,
                         {"shared": len(train_usable & test_usable),
                          "training_labels": len(train_usable), "missing": missing,
                          "minimum": MIN_OVERLAP, "use_case": train_use}))
    return problems


def summary_errors(problems: list[Problem]) -> list[dict[str, Any]]:
    """Return the summary's ``errors`` array: code and the guide's message (L6206-6284)."""
    return [{"code": code, "message": CODES[code].format(arg)}
            for code, arg, _, _, _ in problems]


def statistics(scan: ScanResult, use_case: str, problems: list[Problem],
               error_lines: list[int]) -> dict[str, Any]:
    """Return one dataset's block of ``manifest_summary.json`` in the guide's key order."""
    valid, invalid, ignored = scan.counts
    return {
        "use_case": use_case,
        "total_json_lines": scan.total,
        "valid_json_lines": valid,
        "invalid_json_lines": invalid,
        "ignored_json_lines": ignored,
        "error_json_line_indices": error_lines,
        "errors": summary_errors(problems),
    }
