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
        (one bounding box) or ``metadata`` (a label attribute's ``-metadata`` object); for a
        converter's problems, ``file`` (its input or output as a whole) or ``item`` (one record of
        its input: a COCO record, a CSV row, a Ground Truth or manifest line).
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
    guide: the guide lines that define it (for a converter's problem, the lines of the rule it
        applies, when there is one).
    raised_by: the command that reports it; ``None`` for codes of checks this version does not run
        (image and S3 checks, splitting); they are catalogued so that the table stays complete.
        ``convert``: a problem of a converter's (or an exporter's) input; these are ours
        (``project``), named without the ``ERROR_``/``WARNING_`` prefix, and documented in
        ``docs/convert.md`` too (:func:`render_convert_md`).
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


def _converter(name: str, severity: str, scope: str, message: str, hint: str,
               guide: str = "") -> Code:
    """Return a row of a converter's problem (ours: ``project``; no tier, no line effect)."""
    return Code(name, severity, scope, "", message, hint, guide, project=True,
                raised_by="convert")


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
         "Use a PNG or JPEG of {MIN_SIDE}-{MAX_SIDE} px a side, at most {MAX_IMAGE_BYTES:,} bytes (15 MB), aspect ratio at most "
         "{MAX_ASPECT}:1.",
         "L7535-7565", effect="dropped"),
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
         "Check the images' permissions and KMS key policy, and the path given to --images.",
         "L7163-7180"),
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
         "Testing images without a line in the predictions: {}; they count as predicted "
         "nothing.",
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

    # --- conversion: problems of a converter's or an exporter's input (docs/convert.md) ----------
    # Not the service's codes: they describe a COCO file, a CSV file, a Ground Truth output (or,
    # for an export, a manifest) before any manifest exists. error: the input is wrong; warning:
    # the input is fine but does not fit the service and the converter adapted it by a stated rule
    # (docs/decisions.md, "Conversion and splitting"). Scope ``item``: one record of the input.
    _converter("INPUT_UNREADABLE", "error", "file", "The input file cannot be read.",
               "Check the path and the file's permissions."),
    _converter("INPUT_EMPTY", "error", "file", "The input file holds no data.",
               "Give the file that holds the dataset."),
    _converter("INPUT_NOT_JSON", "error", "file", "The input file is not valid JSON.",
               "Check that the file is complete (not truncated) and is a COCO JSON document."),
    _converter("NOTHING_TO_WRITE", "error", "file",
               "No line could be converted; nothing is written.",
               "Fix the problems reported above; an empty manifest is refused by the service.",
               "L6078"),
    _converter("NOTHING_TO_EXPORT", "error", "file",
               "No line of the manifest holds what this format exports; nothing is written.",
               "Export bounding boxes with customlabels export coco, image-level labels with "
               "export csv or export groundtruth-multilabel; fix the invalid lines reported "
               "above."),
    _converter("OUTPUT_IS_INPUT", "error", "file", "The output would overwrite an input file.",
               "Choose another output path; inputs are never overwritten."),
    _converter("OUTPUT_NOT_WRITABLE", "error", "file", "The output cannot be written.",
               "Choose an output directory you can write to, with free space."),
    _converter("S3_PREFIX_INVALID", "error", "file",
               "The S3 prefix is not of the form s3://bucket/path/.",
               "Give an S3 URL with a valid bucket name, for example s3://my-bucket/images/."),
    _converter("COCO_MISSING_SECTION", "error", "file", "The COCO file has no {} list.",
               "A COCO detection file needs images, annotations and categories lists (guide: "
               "\"Transforming COCO datasets\").", "L3781"),
    _converter("COCO_NO_S3_LOCATION", "error", "file",
               "The images have no S3 location.",
               "Give --s3-prefix s3://bucket/path/ (file_name is appended), or coco_url values "
               "that are s3:// URLs.", "L3935-3937"),
    _converter("COCO_BAD_IMAGE", "error", "item",
               "The image record is invalid; the image is skipped.",
               "Give each image an id, a file_name and positive integer width and height."),
    _converter("COCO_DUPLICATE_IMAGE_ID", "error", "item",
               "The image id is used by an earlier image; this image is skipped.",
               "Give every image its own id."),
    _converter("COCO_DUPLICATE_FILE_NAME", "error", "item",
               "The file_name is used by an earlier image; this image is skipped.",
               "Reference each image file once: one source-ref may appear only once in a "
               "manifest.", "L5420"),
    _converter("COCO_BAD_CATEGORY", "error", "item",
               "The category record is invalid; its annotations are skipped.",
               "Give each category an integer id and a name."),
    _converter("COCO_DUPLICATE_CATEGORY_ID", "error", "item",
               "The category id is used by an earlier category; the earlier one is kept.",
               "Give every category its own id."),
    _converter("COCO_BAD_ANNOTATION", "error", "item",
               "The annotation record is invalid; it is skipped.",
               "Give each annotation an image_id, a category_id and a bbox [x, y, width, height] "
               "of finite numbers with width and height >= 0."),
    _converter("COCO_UNKNOWN_IMAGE", "error", "item",
               "The annotation refers to an image id that no image has; it is skipped.",
               "Add the image to the images list, or remove the annotation."),
    _converter("COCO_UNKNOWN_CATEGORY", "error", "item",
               "The annotation refers to a category id that no category has; it is skipped.",
               "Add the category to the categories list, or remove the annotation."),
    _converter("COCO_NO_ANNOTATIONS", "warning", "item",
               "The image has no annotation; its line has no bounding box and the service "
               "ignores it.",
               "Label the image, or leave it: it is not used for training or testing.",
               "L7929-7991"),
    _converter("CSV_BAD_ROW", "error", "item", "The CSV row is invalid; it is skipped.",
               "Check the number of fields and the quoting of the row."),
    _converter("CSV_HEADER_SKIPPED", "warning", "item",
               "The first row is a header, not an image; it is skipped.",
               "Nothing to do; the guide's format has no header row, so remove it to silence "
               "this."),
    _converter("CSV_EMPTY_IMAGE", "error", "item", "The row has no image; it is skipped.",
               "Put the image file name or S3 path in the first field."),
    _converter("CSV_MIXED_PATHS", "error", "file",
               "Some rows give S3 paths and others bare file names.",
               "Use S3 paths on every row, or bare file names on every row with --s3-path "
               "(guide: \"Creating a manifest file from a CSV file\").", "L4607-4609"),
    _converter("CSV_NO_S3_PATH", "error", "file",
               "The rows give bare file names and no --s3-path.",
               "Give --s3-path s3://bucket/folder/ so that each file name becomes an S3 "
               "location."),
    _converter("CSV_S3_PATH_NOT_NEEDED", "error", "file",
               "--s3-path is given but the rows already give S3 paths.",
               "Drop --s3-path, or give bare file names in the first field."),
    _converter("CSV_DUPLICATE_IMAGE", "error", "item",
               "The image is also on an earlier row, which is kept.",
               "Merge the labels into the first row (see the -deduplicated.csv file) and "
               "convert that file, or pass --keep-first."),
    _converter("CSV_DUPLICATES_FOUND", "error", "file",
               "Duplicate images were found; no manifest is written.",
               "Review the -duplicates.csv file, fix the -deduplicated.csv file and convert it, "
               "or pass --keep-first to keep the first row of each image."),
    _converter("CSV_LABEL_WHITESPACE", "warning", "item",
               "The label {} has spaces at its start or end, which are kept in its name.",
               "Remove the spaces (after a comma, say) unless they belong to the label's name."),
    _converter("CSV_BAD_NUMBER", "error", "item",
               "The {} field is not a valid number; the row is skipped.",
               "Give left, top, width and height (and image_width, image_height) as finite, "
               "non-negative numbers of pixels; image sizes are positive integers."),
    _converter("CSV_IMAGE_SIZE_MISSING", "error", "item",
               "The image size is unknown; the image is skipped.",
               "Add image_width and image_height columns, or give --images-dir with the image "
               "files."),
    _converter("CSV_IMAGE_SIZE_CONFLICT", "error", "item",
               "The row gives another image size than an earlier row of the same image; the row "
               "is skipped.",
               "Give every row of an image the same image_width and image_height."),
    _converter("CSV_DUPLICATE_BOX", "warning", "item",
               "The row repeats an earlier row's box and label; it is skipped.",
               "Remove the repeated row."),
    _converter("IMAGE_UNREADABLE", "error", "item",
               "The image file cannot be read as a PNG or JPEG; the image is skipped.",
               "Check that the file exists in --images-dir and is a PNG or JPEG image (guide: "
               "\"Quotas / Training\").", "L17920"),
    _converter("INPUT_INVALID_JSON_LINE", "error", "item",
               "The line is not a JSON object; it is skipped.",
               "Make the line one JSON object."),
    _converter("GT_NO_MULTILABEL_ATTRIBUTE", "error", "item",
               "The line has no multi-label attribute; it is skipped.",
               'Give the line a label attribute with a "-metadata" object whose type is '
               '"groundtruth/image-classification-multilabel".', "L4352-4528"),
    _converter("GT_MISSING_KEY", "error", "item", "The line has no {} key; it is skipped.",
               "Add the key, as in a Ground Truth multi-label output line (guide: \"Transforming "
               "multi-label SageMaker Ground Truth manifest files\").",
               "L4352-4528"),
    _converter("GT_BAD_VALUE", "error", "item",
               "The value of {} is invalid; the line is skipped.",
               "Give the labels as a list of class ids, with class-map names and confidence-map "
               "numbers in 0..1.", "L4352-4528"),
    _converter("MANIFEST_LINE_INVALID", "error", "item",
               "The manifest line is invalid; it is not exported.",
               "Run customlabels validate on the manifest and fix the line."),
    _converter("MANIFEST_LINE_NOT_EXPORTED", "warning", "item",
               "The manifest has lines without labels of this format's kind; they are not "
               "exported.",
               "Nothing to do if those lines belong to another use case (image-level labels vs "
               "bounding boxes)."),
    _converter("CONVERSION_FAILED", "error", "file",
               "The conversion stopped on an unexpected error.",
               "Report it with the input file: this is a defect of customlabels. The other "
               "files of the batch are converted."),
    _converter("SOURCE_REF_INVALID", "error", "item",
               "The image's S3 location is not a valid source-ref; the image is skipped.",
               "Use s3://bucket/key with a valid bucket name and a non-empty key.", "L7228-7249"),
    _converter("SOURCE_REF_DUPLICATE", "error", "item",
               "The image is also on an earlier line, which is kept; this one is skipped.",
               "Reference each image once (guide: \"Terminal content errors\").", "L5420"),
    _converter("LABEL_NAME_LENGTH", "error", "item",
               "The label name has {} characters; names have {MIN_LABEL_NAME} to "
               "{MAX_LABEL_NAME}. It is skipped.",
               "Use label names of {MIN_LABEL_NAME} to {MAX_LABEL_NAME} characters (guide: "
               "\"ERROR_INVALID_LABEL_NAME_LENGTH\").", "L8162-8174"),
    _converter("LABEL_ATTRIBUTE_RENAMED", "warning", "item",
               "The label {} cannot be a label attribute name; the attribute is named "
               "differently.",
               "Nothing to do: class-name keeps the label. Rename the label to avoid it."),
    _converter("TOO_MANY_LABELS", "warning", "item",
               "The image has more than {MAX_LABELS_PER_IMAGE} labels; it is skipped.",
               "Keep at most {MAX_LABELS_PER_IMAGE} labels an image (guide: \"Quotas / Training\").",
               "L17944"),
    _converter("TOO_MANY_BOXES", "warning", "item",
               "The image has more than {MAX_BOXES} bounding boxes; {}.",
               "Keep at most {MAX_BOXES} boxes an image (guide: \"Quotas / Training\"), or pass "
               "--too-many-boxes largest.", "L17957-17959"),
    _converter("IMAGE_DIMENSION", "warning", "item",
               "The image size is outside {MIN_SIDE}..{MAX_SIDE} px a side or {MAX_ASPECT}:1; "
               "the image is skipped.",
               "Resize the image (guide: \"Quotas / Training\") and give its new size.",
               "L17961-17967"),
    _converter("BOX_VANISHED", "warning", "item",
               "The bounding box is empty once rounded to whole pixels and clipped to the "
               "image; it is dropped.",
               "Check the box: it lies outside the image or is thinner than half a pixel."),
    _converter("BOX_TOO_SMALL", "warning", "item",
               "The bounding box is 1 px or less once the image is scaled to {SCALE_SIDE} px; "
               "it is dropped.",
               "The service drops such boxes (guide: \"ERROR_BOUNDING_BOX_TOO_SMALL\"); enlarge the box "
               "or accept the drop.", "L7743-7793"),
    _converter("DATE_FALLBACK", "warning", "item",
               "The date is missing or malformed; the conversion time is used as "
               "creation-date.",
               "Give dates as YYYY-MM-DD HH:MM:SS, or pass --creation-date.", "L4004"),
    _converter("OUTPUT_COLLISION", "error", "file",
               "Another input of the batch writes the same output; this input is not "
               "converted.",
               "Rename one of the inputs, or convert them in separate runs into separate "
               "output directories."),
    _converter("CSV_WRONG_SEPARATOR", "error", "file",
               "The file's fields are separated by something else than commas.",
               "Save the file as comma-separated values (the guide's format), or convert its "
               "separators to commas; a field that holds a comma is quoted."),
    # --- image checks beyond the service's (validate --images): ours --------------------------
    Code("WARNING_IMAGE_SIZE_MISMATCH", "warning", "attribute", "second",
         "The image_size differs from the size of the image.",
         "Set image_size to the image's width and height: boxes are placed relative to it, "
         "and on an image of another size they land elsewhere.", "L3586-3626", project=True),
    Code("WARNING_IMAGE_ORIENTATION", "warning", "attribute", "second",
         "The JPEG's EXIF orientation rotates or mirrors the image when it is shown.",
         "Check the boxes on the image as stored: a labeling tool that showed it rotated "
         "drew them in other axes. Re-save the image upright (EXIF orientation 1), then "
         "re-check the boxes.", "L3586-3626", project=True),
    Code("WARNING_IMAGE_EXTENSION", "warning", "line", "second",
         "The image file's extension does not match its format.",
         "Rename the file (and its source-ref) to .png or .jpg after what it holds: tools "
         "that trust the extension read it wrongly.", "L17920", project=True),
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
#: The converters' problem codes (``raised_by="convert"``), in catalogue order.
CONVERTER_CODES: tuple[str, ...] = tuple(c.name for c in _ROWS if c.raised_by == "convert")


#: The guide's section of each line range a code's ``guide`` cites: the docs show the titles (what
#: a reader of the guide can find; "A / B" is the subsection B of A), the table keeps the lines.
#: Every range cited has its section here (tests/test_codes.py).
GUIDE_SECTIONS = {
    "L1577-1606": ("Step 4: Analyze an image with your model",),
    "L2395-2398": ("Label requirements for model types",),
    "L3586-3626": ("Object localization in manifest files",),
    "L3663-3672": ("Validation rules for manifest files",),
    "L3670-3671": ("Validation rules for manifest files",),
    "L3685": ("Validation rules for manifest files",),
    "L3687-3690": ("Validation rules for manifest files",),
    "L3696-3700": ("Validation rules for manifest files",),
    "L3752-3759": ("Validation rules for manifest files",),
    "L3781": ("Transforming COCO datasets",),
    "L3935-3937": ("Mapping COCO object fields to a Custom Labels JSON line object fields",),
    "L4004": ("Mapping COCO object fields to a Custom Labels JSON line object fields",),
    "L4352-4528": ("Transforming multi-label SageMaker Ground Truth manifest files",),
    "L4607-4609": ("Creating a manifest file from a CSV file",),
    "L5276-5289": ("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",),
    "L5291-5309": ("ERROR_MANIFEST_SIZE_TOO_LARGE",),
    "L5311-5331": ("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",),
    "L5333-5347": ("ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET",),
    "L5349-5358": ("ERROR_TOO_MANY_RECORDS_IN_ERROR",),
    "L5390-5401": ("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE",),
    "L5412": ("Terminal content errors",),
    "L5420-5421": ("Terminal content errors",),
    "L5420": ("Terminal content errors",),
    "L6078": ("Terminal manifest file errors",),
    "L6082": ("Terminal manifest file errors",),
    "L6755-6764": ("Terminal manifest file errors",),
    "L6766-6780": ("Terminal manifest file errors",),
    "L6806-6815": ("Terminal manifest file errors",),
    "L6824-6843": ("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",),
    "L6845-6866": ("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",),
    "L6868-6882": ("ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET",),
    "L6884-6911": ("ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET",),
    "L6913-6930": ("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT",),
    "L6932-7016": ("ERROR_MANIFEST_TOO_FEW_LABELS",),
    "L7018-7044": ("ERROR_MANIFEST_TOO_MANY_LABELS",),
    "L7046-7088": ("ERROR_INSUFFICIENT_LABEL_OVERLAP",),
    "L7090-7121": ("ERROR_MANIFEST_TOO_FEW_USABLE_LABELS",),
    "L7123-7161": ("ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP",),
    "L7163-7180": ("ERROR_FAILED_IMAGES_S3_COPY",),
    "L7182-7190": ("ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP",),
    "L7206-7226": ("ERROR_MISSING_SOURCE_REF",),
    "L7228-7249": ("ERROR_INVALID_SOURCE_REF_FORMAT",),
    "L7251-7314": ("ERROR_NO_LABEL_ATTRIBUTES",),
    "L7316-7355": ("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",),
    "L7357-7391": ("ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",),
    "L7393-7418": ("ERROR_NO_VALID_LABEL_ATTRIBUTES",),
    "L7420-7447": ("ERROR_MISSING_BOUNDING_BOX_CONFIDENCE",),
    "L7449-7509": ("ERROR_MISSING_CLASS_MAP_ID",),
    "L7511-7533": ("ERROR_INVALID_JSON_LINE",),
    "L7535-7565": ("ERROR_INVALID_IMAGE",),
    "L7567-7644": ("ERROR_INVALID_IMAGE_DIMENSION",),
    "L7646-7680": ("ERROR_INVALID_BOUNDING_BOX",),
    "L7682-7741": ("ERROR_NO_VALID_ANNOTATIONS",),
    "L7743-7793": ("ERROR_BOUNDING_BOX_TOO_SMALL",),
    "L7795-7900": ("ERROR_TOO_MANY_BOUNDING_BOXES",),
    "L7902-7927": ("WARNING_UNANNOTATED_RECORD",),
    "L7929-7991": ("WARNING_NO_ANNOTATIONS",),
    "L7993-8056": ("WARNING_NO_ATTRIBUTE_ANNOTATIONS",),
    "L8058-8160": ("ERROR_UNSUPPORTED_USE_CASE_TYPE",),
    "L8162-8174": ("ERROR_INVALID_LABEL_NAME_LENGTH",),
    "L8230-8233": ("Evaluating model performance",),
    "L8235-8238": ("Evaluating model performance",),
    "L8511-8520": ("Evaluation manifest snapshot",),
    "L8511-8524": ("Evaluation manifest snapshot",),
    "L8553-8672": ("Evaluation manifest snapshot",),
    "L8673-8700": ("Evaluation manifest snapshot",),
    "L10287-10299": ("Analyzing an image with a trained model",),
    "L10287-10352": ("Analyzing an image with a trained model",),
    "L17920": ("Quotas / Training",),
    "L17924": ("Quotas / Training",),
    "L17926-17928": ("Quotas / Training",),
    "L17930": ("Quotas / Training",),
    "L17932": ("Quotas / Training",),
    "L17934-17940": ("Quotas / Training",),
    "L17944": ("Quotas / Training",),
    "L17957-17959": ("Quotas / Training",),
    "L17961-17967": ("Quotas / Training",),
    "L17981-17983": ("Quotas / Testing",),
    "L17997": ("Quotas / Testing",),
}


def guide_titles(guide: str) -> list[str]:
    """Return the guide's section titles of a ``guide`` field ("L5403-5420, L17944"), once each.

    ``KeyError`` for a range without a section in :data:`GUIDE_SECTIONS`.
    """
    titles: dict[str, None] = {}
    for lines in guide.split(", "):
        titles.update(dict.fromkeys(GUIDE_SECTIONS[lines]))
    return list(titles)


def render_errors_md() -> str:
    """Return docs/errors.md, generated from the table."""
    out = [
        "# Error and warning codes",
        "",
        "Generated from `src/customlabels/codes.py` by `python -m customlabels.codes`; do not edit.",
        "Codes marked *project* are ours, for conditions the guide describes without naming a code "
        "(spec decision 5). The guide is cited by section title (\"A / B\": the subsection B of A).",
        "",
    ]
    for c in _ROWS:
        if c.name == CONVERTER_CODES[0]:
            out += ["# Conversion problems", "",
                    "Reported by `customlabels convert` and `customlabels export` about their "
                    "input, before any manifest exists; see [convert.md](convert.md#problems). "
                    "**error**: the input is wrong; **warning**: the input is fine but does not "
                    "fit the service, and the converter adapted it by the rule stated.", ""]
        out += [f'<a id="{c.name.lower()}"></a>', f"## {c.name}", ""]
        facts = [f"severity: {c.severity}", f"scope: {c.scope}"]
        if c.tier:
            facts.append(f"tier: {c.tier}")
        if c.guide:
            facts.append("guide: " + ", ".join(f'"{title}"' for title in guide_titles(c.guide)))
        if c.project:
            facts.append("project code")
        out += ["; ".join(facts), "", f"> {c.message}", "", f"Fix: {c.hint}", ""]
        if c.raised_by is None:
            out += ["Not reported by this version: it needs image, S3 or split checks that "
                    "customlabels does not run yet.", ""]
    return "\n".join(out)


def render_convert_md() -> str:
    """Return the table of the converters' problems in ``docs/convert.md`` (generated part)."""
    out = ["| code | severity | message | fix |", "|---|---|---|---|"]
    for name in CONVERTER_CODES:
        c = CODES[name]
        message = c.message.replace("{}", "…").replace("|", "\\|")
        out.append(f'| <a id="{name.lower()}"></a>`{name}` | {c.severity} | {message} | '
                   f"{c.hint.replace('|', chr(92) + '|')} |")
    return "\n".join(out) + "\n"


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
#: Generated parts of written files: path -> the function that renders what lies between the
#: file's :data:`PART_BEGIN` and :data:`PART_END` lines.
GENERATED_PARTS = {"docs/convert.md": render_convert_md}
PART_BEGIN = ("<!-- generated from src/customlabels/codes.py by "
              "`python -m customlabels.codes`: begin -->")
PART_END = "<!-- generated: end -->"


def generated_part(text: str) -> str:
    """Return the generated part of ``text`` (between the marker lines); ValueError if none."""
    head, begin, rest = text.partition(PART_BEGIN + "\n")
    part, end, _ = rest.partition(PART_END + "\n")
    if not begin or not end:
        raise ValueError("no generated part (marker lines missing)")
    return part


def splice_part(text: str, part: str) -> str:
    """Return ``text`` with its generated part replaced by ``part``."""
    old = generated_part(text)
    start = text.index(PART_BEGIN + "\n") + len(PART_BEGIN) + 1
    return text[:start] + part + text[start + len(old):]


def main(argv: list[str] | None = None) -> int:
    """Regenerate docs/errors.md, ext/_codes.pxi, ext/_limits.pxi and docs/convert.md's table."""
    root = Path(argv[0] if argv else ".")
    for path, render in GENERATED.items():
        (root / path).write_text(render(), encoding="utf-8")
    for path, render in GENERATED_PARTS.items():
        target = root / path
        target.write_text(splice_part(target.read_text(encoding="utf-8"), render()),
                          encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
