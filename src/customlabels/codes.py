"""The error catalogue: one table of every code customlabels reports.

Codes are API. Each is spelled exactly as the guide spells it (``project=True`` marks the few we
had to name ourselves, spec decision 5), never renamed, and only ever appended to. The table is the
single source for the messages, the fix hints, ``docs/errors.md`` (``python -m customlabels.codes``
regenerates it) and the code numbers the compiled core uses (``ext/_codes.pxi``, generated too).

Fields:
    severity: ``error`` or ``warning``.
    scope: where the problem lives, which is also where it is attached in a validation manifest:
        ``file`` (terminal manifest file error: nothing is validated or written), ``dataset`` (a
        manifest content error, in ``manifest_summary.json``), ``pair`` (spans the training and the
        testing manifest), ``line`` (the JSON Line), ``attribute`` (a label attribute), ``annotation``
        (one bounding box) or ``metadata`` (a label attribute's ``-metadata`` object).
    tier: for line codes, ``first`` (detected first; when any occurs no further line check runs,
        L6726-6746) or ``second`` (the rest). Empty for other scopes, and for the two line codes
        found before any tier: an over-long line and a duplicate source-ref are reported alone.
    effect: what a line code does to its line: ``dropped`` (a terminal content error: the line
        is removed at dataset creation and counts as invalid, L5403-5420), ``invalidates`` (the
        line is invalid but kept) or ``local`` (only the box, attribute or label it names is
        unusable). Empty for codes that are not about a manifest line.
    message: the guide's message text; ``{}`` is filled from the problem's place, ``{NAME}``
        (and ``{NAME:SPEC}``, a format spec) from :mod:`customlabels.limits` when the table is built.
    hint: how to fix it, in our words; ``{NAME}`` fields as in ``message``.
    guide: the guide lines that define it.
    raised_by: the command that reports it; ``None`` for codes of checks this version does not run
        (image and S3 checks, splitting); they are catalogued so that the table stays complete.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from . import limits


class Code:
    """One row of the catalogue (a plain class: the command line imports this at start-up)."""

    __slots__ = ("name", "severity", "scope", "tier", "effect", "message", "hint", "guide",
                 "project", "raised_by")

    def __init__(self, name: str, severity: str, scope: str, tier: str, message: str, hint: str,
                 guide: str, project: bool = False, raised_by: str | None = "validate",
                 effect: str = ""):
        self.name, self.severity, self.scope, self.tier = name, severity, scope, tier
        self.message, self.hint, self.guide = _with_limits(message), _with_limits(hint), guide
        self.project, self.raised_by, self.effect = project, raised_by, effect

    def __repr__(self) -> str:
        return f"Code({self.name!r}, {self.severity!r}, {self.scope!r})"

    def format(self, arg: object = None) -> str:
        """Return the message with its ``{}`` filled in."""
        return self.message.format(arg) if "{}" in self.message else self.message


_LIMIT_FIELD = re.compile(r"\{([A-Z][A-Z_]*)(?::([^}]*))?\}")


def _with_limits(text: str) -> str:
    """Return ``text`` with its ``{NAME}`` / ``{NAME:SPEC}`` fields filled from the limits."""
    def fill(match: re.Match[str]) -> str:
        return format(getattr(limits, match.group(1)), match.group(2) or "")

    return _LIMIT_FIELD.sub(fill, text)


_ROWS: tuple[Code, ...] = (
    # --- terminal manifest file errors (L5256-5345, L6064-6085, L6748-6815) ---------------------
    Code("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT", "error", "file", "",
         "The manifest file extension or contents are invalid.",
         "Check that the path exists, is a readable file, and has a file extension "
         "(by convention .manifest).", "L5276-5289, L6755-6764"),
    Code("ERROR_MANIFEST_SIZE_TOO_LARGE", "error", "file", "",
         "The manifest file size exceeds the maximum supported size.",
         "Split the manifest: a manifest may be at most 1 GB ({MAX_MANIFEST_BYTES:,} bytes).",
         "L5291-5309, L3685, L17924"),
    Code("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", "error", "file", "",
         "The manifest file has too many rows.",
         "Remove JSON Lines: at most {DEFAULT_MAX_LINES:,} are allowed ({MAX_LINES_WITH_QUOTA:,} for "
         "classification with a "
         "raised quota, see --max-lines). Lines up to the limit were still checked.",
         "L5311-5331, L3687-3690, L17934-17940"),
    Code("ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET", "error", "file", "",
         "The S3 bucket permissions are incorrect.",
         "Make the manifest file readable by the user running the check.", "L5333-5347"),
    Code("ERROR_MANIFEST_EMPTY", "error", "file", "",
         "The manifest file is empty.",
         "Add one JSON Line for each image.", "L6078, L6766-6780", project=True),
    Code("ERROR_OUTPUT_NOT_WRITABLE", "error", "file", "",
         "Unable to write the validation results.",
         "Choose an output directory you can write to, with free space.", "L6082, L6806-6815",
         project=True),
    # --- terminal content errors at dataset creation (L5349-5420) -------------------------------
    Code("ERROR_TOO_MANY_RECORDS_IN_ERROR", "error", "dataset", "",
         "The manifest file has too many terminal errors.",
         "Fix the lines that are dropped at import (invalid JSON, missing or invalid source-ref, "
         "duplicate source-ref, over-long lines): more than {INVALID_SHARE:.0%} of the lines have them.",
         "L5349-5358, L7182-7190"),
    Code("ERROR_LINE_TOO_LONG", "error", "line", "",
         "The JSON Line is longer than {MAX_LINE_CHARS:,} characters.",
         "Shorten the line: drop unused keys or long job names.", "L5412", project=True, effect="dropped"),
    Code("ERROR_DUPLICATE_SOURCE_REF", "error", "line", "",
         "The source-ref value appears more than once; it was first used on line {}.",
         "Reference each image once: merge the labels of both lines into one.", "L5420-5421",
         project=True, effect="dropped"),
    # --- JSON Line errors detected first (L6726-6746), in that order ---------------------------
    Code("ERROR_MISSING_SOURCE_REF", "error", "line", "first",
         "The source-ref key is missing.",
         'Add "source-ref": "s3://bucket/path/image.jpg" (check the spelling of the key).',
         "L7206-7226", effect="dropped"),
    Code("ERROR_INVALID_SOURCE_REF_FORMAT", "error", "line", "first",
         "The format of the source-ref value is invalid.",
         "Use a string of the form s3://bucket/path/image.jpg with a valid bucket name.",
         "L7228-7249", effect="dropped"),
    Code("ERROR_NO_LABEL_ATTRIBUTES", "error", "line", "first",
         "No label attributes found.",
         'Give each label attribute "NAME" its metadata "NAME-metadata" (check both spellings).',
         "L7251-7314", effect="invalidates"),
    Code("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "error", "attribute", "first",
         "The format of the label attribute {} is invalid.",
         "Classification: the attribute is an integer. Detection: an object with image_size "
         "(one {width, height, depth}) and annotations ({class_id, top, left, width, height}).",
         "L7316-7355", effect="invalidates"),
    Code("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "error", "metadata", "first",
         "The format of the label attribute metadata is invalid.",
         "Give the metadata confidence (0-1), human-annotated (yes/no), creation-date, type, and "
         "class-name (classification) or objects and class-map (detection).", "L7357-7391", effect="invalidates"),
    Code("ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", "error", "metadata", "first",
         "One or more bounding boxes has a missing confidence value.",
         "Give objects one {\"confidence\": ...} per annotation, in the same order.",
         "L7420-7447", effect="invalidates"),
    Code("ERROR_MISSING_CLASS_MAP_ID", "error", "annotation", "first",
         "One of more class ids is missing from the class map.",
         "Add the annotation's class_id, as a string key, to class-map.", "L7449-7509", effect="invalidates"),
    Code("ERROR_INVALID_JSON_LINE", "error", "line", "first",
         "The JSON Line has an invalid format.",
         "Make the line one JSON object: check quotes, commas and braces; no NaN, no duplicate keys.",
         "L7511-7533", effect="dropped"),
    # --- the other JSON Line errors and warnings ----------------------------------------------
    Code("ERROR_NO_VALID_LABEL_ATTRIBUTES", "error", "line", "second",
         "No valid label attributes found.",
         "Fix the errors reported on the line's label attributes.", "L7393-7418", effect="invalidates"),
    Code("ERROR_INVALID_BOUNDING_BOX", "error", "annotation", "second",
         "The bounding box has off frame values.",
         "Keep left, top, width and height non-negative and the box inside image_size.",
         "L7646-7680", effect="local"),
    Code("ERROR_BOUNDING_BOX_TOO_SMALL", "error", "annotation", "second",
         "The height and width of the bounding box is too small.",
         "Make the box more than 1 x 1 pixel once the image is scaled to at most {SCALE_SIDE} px a "
         "side, "
         "or remove it.", "L7743-7793", effect="local"),
    Code("ERROR_NO_VALID_ANNOTATIONS", "error", "attribute", "second",
         "No valid annotations found.",
         "Fix the errors reported on the attribute's annotations.", "L7682-7741", effect="local"),
    Code("ERROR_TOO_MANY_BOUNDING_BOXES", "error", "line", "second",
         "There are more bounding boxes than the allowed maximum.",
         "Keep at most {MAX_BOXES} bounding boxes an image (remove the annotation and its objects entry).",
         "L7795-7900, L17957-17959", effect="invalidates"),
    Code("ERROR_INVALID_IMAGE", "error", "line", "second",
         "The image is invalid. Check S3 path and/or image properties.",
         "Use a PNG or JPEG of {MIN_SIDE}-{MAX_SIDE} px a side, at most 15 MB, aspect ratio at most "
         "{MAX_ASPECT}:1.",
         "L7535-7565", raised_by=None, effect="dropped"),
    Code("ERROR_INVALID_IMAGE_DIMENSION", "error", "line", "second",
         "The image dimension(s) do not conform to allowed dimensions.",
         "Images must be {MIN_SIDE}-{MAX_SIDE} px a side with an aspect ratio of at most "
         "{MAX_ASPECT}:1; check image_size.",
         "L7567-7644", effect="invalidates"),
    Code("ERROR_UNSUPPORTED_USE_CASE_TYPE", "error", "metadata", "second",
         "The use case type of the {} label attribute metadata is unsupported. Check the type field.",
         'Set type to "groundtruth/image-classification" or "groundtruth/object-detection".',
         "L8058-8160", effect="local"),
    Code("ERROR_INVALID_LABEL_NAME_LENGTH", "error", "metadata", "second",
         "The length of a label name is too long. The maximum length is {MAX_LABEL_NAME} "
         "characters.",
         "Use label names of {MIN_LABEL_NAME} to {MAX_LABEL_NAME} characters.", "L8162-8174", effect="local"),
    Code("ERROR_TOO_MANY_LABELS_PER_IMAGE", "error", "line", "second",
         "The image has more than {MAX_LABELS_PER_IMAGE} labels.",
         "Keep at most {MAX_LABELS_PER_IMAGE} distinct labels an image.", "L17944, L17997", project=True, effect="invalidates"),
    Code("WARNING_UNANNOTATED_RECORD", "warning", "line", "second",
         "Record is unannotated.",
         "Label the image, or remove the line; it is not used.", "L7902-7927", effect="local"),
    Code("WARNING_NO_ANNOTATIONS", "warning", "line", "second",
         "No annotations were found.",
         "Add bounding boxes, or remove the line; it is not used.", "L7929-7991", effect="local"),
    Code("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "warning", "attribute", "second",
         "No attribute annotations were found.",
         "Add annotations to the attribute, or remove the attribute.", "L7993-8056", effect="local"),
    # --- manifest content errors (L6086-6130, L6817-7190) -------------------------------------
    Code("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", "error", "dataset", "",
         "The manifest file contains too many invalid rows.",
         "Fix the JSON Lines with errors: more than {INVALID_SHARE:.0%} of the lines are invalid.",
         "L6824-6843, L3663-3672"),
    Code("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS", "error", "dataset", "",
         "The manifest file contains images from multiple S3 buckets.",
         "Keep every image of a dataset in one bucket.", "L6845-6866"),
    Code("ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET", "error", "dataset", "",
         "The permissions for the images S3 bucket are invalid.",
         "Let the checking user read the images bucket.", "L6868-6882", raised_by=None),
    Code("ERROR_INVALID_IMAGES_S3_BUCKET_OWNER", "error", "dataset", "",
         "Invalid owner id for images S3 bucket.",
         "Keep the images and manifest buckets under one owner.", "L6884-6911", raised_by=None),
    Code("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT", "error", "dataset", "",
         "The manifest file contains insufficient labeled images per label to perform auto-split.",
         "Add labeled images so that each label can appear in both parts.", "L6913-6930",
         raised_by="split"),
    Code("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE", "error", "dataset", "",
         "The manifest file doesn't have enough labeled images to distribute the dataset.",
         "Add labeled images to the training dataset.", "L5390-5401", raised_by="split"),
    Code("ERROR_MANIFEST_TOO_FEW_LABELS", "error", "dataset", "",
         "The manifest file has too few labels.",
         "Classification needs at least {MIN_LABELS_CLASSIFICATION} labels, object detection at "
         "least {MIN_LABELS_DETECTION}.",
         "L6932-7016, L17926-17928"),
    Code("ERROR_MANIFEST_TOO_MANY_LABELS", "error", "dataset", "",
         "The manifest file has too many labels.",
         "Use at most {MAX_LABELS} labels in a dataset.", "L7018-7044, L17930"),
    Code("ERROR_INSUFFICIENT_LABEL_OVERLAP", "error", "pair", "",
         "Less than {}% label overlap between the training and testing manifest files.",
         "At least {MIN_OVERLAP:.0%} of the training labels must also be in the testing manifest.",
         "L7046-7088, L3670-3671"),
    Code("ERROR_MANIFEST_TOO_FEW_USABLE_LABELS", "error", "dataset", "",
         "The manifest file has too few usable labels.",
         "Add labels of the dataset's use case (see use_case in the summary).", "L7090-7121"),
    Code("ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP", "error", "pair", "",
         "Less than {}% usable label overlap between the training and testing manifest files.",
         "At least {MIN_OVERLAP:.0%} of the usable training labels must also be usable in testing.",
         "L7123-7161"),
    Code("ERROR_FAILED_IMAGES_S3_COPY", "error", "dataset", "",
         "Failed to copy images from S3 bucket.",
         "Check the images' permissions and KMS key policy.", "L7163-7180", raised_by=None),
    Code("ERROR_TOO_FEW_IMAGES_PER_LABEL", "error", "dataset", "",
         "These labels have no valid image: {}.",
         "Give every label at least one valid image in the training dataset, or remove it.",
         "L3696-3700, L17932", project=True),
    Code("ERROR_TOO_MANY_IMAGES_PER_LABEL", "error", "dataset", "",
         "The label {} has more than {MAX_TEST_IMAGES_PER_LABEL} images in the testing "
         "dataset.",
         "Keep at most {MAX_TEST_IMAGES_PER_LABEL} testing images a label.", "L17981-17983", project=True),
    Code("WARNING_IMAGE_IN_BOTH_DATASETS", "warning", "pair", "",
         "The image is also in the training dataset, on line {}.",
         "Keep training and testing images apart, or the evaluation overstates the model.",
         "L3752-3759", project=True),
    # --- evaluation: ground truth and predictions (L8196-9090) ----------------------------------
    Code("ERROR_EVALUATION_FILE_INACCESSIBLE", "error", "file", "",
         "The {} file cannot be read.",
         "Check that the path exists and is a readable file.", "L8511-8524, L10287-10352",
         project=True, raised_by="evaluate"),
    Code("ERROR_NO_TESTING_IMAGES", "error", "dataset", "",
         "The testing dataset has no usable image.",
         "Give the test manifest valid labeled lines (run customlabels validate on it).",
         "L8511-8520", project=True, raised_by="evaluate"),
    Code("ERROR_INVALID_PREDICTIONS_LINE", "error", "line", "",
         "The predictions JSON Line has an invalid format.",
         'Make each line one JSON object with "source-ref" and either a DetectCustomLabels '
         '"CustomLabels" array or rekognition-custom-labels-evaluation attributes.',
         "L1577-1606, L8553-8672", project=True, raised_by="evaluate"),
    Code("ERROR_INVALID_PREDICTION", "error", "annotation", "",
         "The prediction is invalid; it is not evaluated.",
         "Give each prediction a Name of {MIN_LABEL_NAME}-{MAX_LABEL_NAME} characters, a Confidence of 0-100 (0-1 in a "
         "snapshot) and, for object detection, a BoundingBox of finite Width, Height, Left and "
         "Top ratios.", "L1577-1606, L10287-10299, L8553-8672", project=True,
         raised_by="evaluate"),
    Code("ERROR_DUPLICATE_PREDICTIONS_SOURCE_REF", "error", "line", "",
         "The source-ref value appears more than once in the predictions; it was first used on "
         "line {}.",
         "Give each image one line: merge the two responses.", "L8511-8524", project=True,
         raised_by="evaluate"),
    Code("WARNING_PREDICTIONS_IMAGE_NOT_IN_TEST_DATASET", "warning", "line", "",
         "The image is not a testing image; its predictions are not evaluated.",
         "Predict the images of the test manifest; check that the source-ref values match.",
         "L8511-8520", project=True, raised_by="evaluate"),
    Code("WARNING_TEST_IMAGES_WITHOUT_PREDICTIONS", "warning", "dataset", "",
         "{} testing images have no line in the predictions; they count as predicted nothing.",
         "Run the model on every testing image; a response with an empty CustomLabels array "
         "says it found nothing.", "L8235-8238", project=True, raised_by="evaluate"),
    Code("WARNING_PREDICTED_LABEL_NOT_IN_TEST_DATASET", "warning", "annotation", "",
         "The predicted label {} is not a label of the testing dataset; its predictions are "
         "false positives.",
         "Check the label's spelling, or add testing images of it.", "L8230-8233",
         project=True, raised_by="evaluate"),
    Code("WARNING_TEST_IMAGE_NOT_EVALUATED", "warning", "line", "",
         "The testing image has no label of the evaluated use case; it is not evaluated.",
         "Label the image for the model's use case (image-level labels or bounding boxes).",
         "L2395-2398, L8511-8520", project=True, raised_by="evaluate"),
    Code("ERROR_EVALUATION_OUTPUT_NOT_WRITABLE", "error", "file", "",
         "Unable to write the evaluation results.",
         "Choose an output directory you can write to, with free space.", "L8673-8700",
         project=True, raised_by="evaluate"),
)

#: Every code, by name, in catalogue order.
CODES: dict[str, Code] = {row.name: row for row in _ROWS}
#: Code names in catalogue order; the compiled core reports a code by its index here.
CODE_NAMES: tuple[str, ...] = tuple(CODES)

#: The first-tier codes in the guide's order (L6732-6746): a line's findings are grouped so.
TIER1_ORDER: tuple[str, ...] = tuple(c.name for c in _ROWS if c.tier == "first")
#: Codes whose line is dropped at import (L5403-5420).
DROPPED_CODES: frozenset[str] = frozenset(c.name for c in _ROWS if c.effect == "dropped")
#: Codes whose line is invalid wherever they are attached (dropped ones included).
INVALIDATING_CODES: frozenset[str] = frozenset(
    c.name for c in _ROWS if c.effect in ("dropped", "invalidates"))


def render_errors_md() -> str:
    """Return docs/errors.md, generated from the table."""
    out = [
        "# Error and warning codes",
        "",
        "Generated from `src/customlabels/codes.py` by `python -m customlabels.codes`; do not edit.",
        "Codes marked *project* are ours, for conditions the guide describes without naming a code "
        "(spec decision 5). Line numbers refer to the guide.",
        "",
    ]
    for c in _ROWS:
        out += [f'<a id="{c.name.lower()}"></a>', f"## {c.name}", ""]
        facts = [f"severity: {c.severity}", f"scope: {c.scope}"]
        if c.tier:
            facts.append(f"tier: {c.tier}")
        facts.append(f"guide: {c.guide}")
        if c.project:
            facts.append("project code")
        out += ["; ".join(facts), "", f"> {c.message}", "", f"Fix: {c.hint}", ""]
        if c.raised_by is None:
            out += ["Not reported by this version: it needs image, S3 or split checks that "
                    "customlabels does not run yet.", ""]
    return "\n".join(out)


def render_codes_pxi() -> str:
    """Return ext/_codes.pxi: the code numbers and line effects the compiled core uses."""
    lines = ["# Generated from src/customlabels/codes.py by `python -m customlabels.codes`; "
             "do not edit.", "", "cdef enum:"]
    lines += [f"    C_{name} = {i}" for i, name in enumerate(CODE_NAMES)]
    lines += ["    N_TIER1 = %d" % len(TIER1_ORDER), ""]

    def test(names: Iterable[str]) -> str:
        return "\n            or ".join(f"code == C_{n}" for n in sorted(names, key=CODE_NAMES.index))

    lines += ["", "cdef inline bint is_line_error(int code) noexcept nogil:",
              '    """The code makes its whole line invalid (effect dropped or invalidates)."""',
              f"    return ({test(INVALIDATING_CODES)})", "",
              "", "cdef inline bint is_dropped(int code) noexcept nogil:",
              '    """The code\'s line is dropped at import (effect dropped, L5403-5420)."""',
              f"    return ({test(DROPPED_CODES)})", "",
              "", "cdef inline int tier1_code(int rank) noexcept nogil:",
              '    """The first-tier code of that rank in the guide\'s order (L6732-6746), or -1."""']
    for rank, name in enumerate(TIER1_ORDER):
        lines.append(f"    {'if' if rank == 0 else 'elif'} rank == {rank}:")
        lines.append(f"        return C_{name}")
    lines.append("    return -1")
    return "\n".join(lines) + "\n"


def render_limits_pxi() -> str:
    """Return ext/_limits.pxi: the integer limits of :mod:`customlabels.limits` the core uses."""
    lines = ["# Generated from src/customlabels/limits.py by `python -m customlabels.codes`; "
             "do not edit.", "", "cdef enum:"]
    lines += [f"    {name} = {getattr(limits, name)}" for name in limits.COMPILED]
    return "\n".join(lines) + "\n"


#: Generated files: path under the repository root -> the function that renders it.
GENERATED = {"docs/errors.md": render_errors_md, "ext/_codes.pxi": render_codes_pxi,
             "ext/_limits.pxi": render_limits_pxi}


def main(argv: list[str] | None = None) -> int:
    """Regenerate docs/errors.md, ext/_codes.pxi and ext/_limits.pxi in a repository root."""
    root = Path(argv[0] if argv else ".")
    for path, render in GENERATED.items():
        (root / path).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
