"""The conversion problem catalogue: every problem a converter reports about its input.

These are not the service's codes (those are in :mod:`customlabels.codes` and describe a
manifest); they describe a COCO file, a CSV file or a Ground Truth output, before any manifest
exists. Like the service's codes they are API: stable names, append-only, each with a message
template and a fix hint, documented in ``docs/convert.md`` and tested.

Severity follows one rule (``docs/decisions.md``, "Conversion and splitting"): **error** when the
input itself is wrong (malformed, inconsistent, ambiguous), **warning** when the input is fine
but does not fit the service and the converter adapted it by a documented rule (dropping a box
too small to train on, skipping an image over a limit). Errors make ``customlabels convert`` exit
1; warnings do only with ``--strict``.
"""

from __future__ import annotations

from typing import Any


class Kind:
    """One row of the catalogue."""

    __slots__ = ("name", "severity", "scope", "message", "hint")

    def __init__(self, name: str, severity: str, scope: str, message: str, hint: str):
        self.name, self.severity, self.scope = name, severity, scope
        self.message, self.hint = message, hint

    def __repr__(self) -> str:
        return f"Kind({self.name!r}, {self.severity!r})"

    def format(self, arg: object = None) -> str:
        """Return the message with its ``{}`` filled in."""
        return self.message.format(arg) if "{}" in self.message else self.message


_ROWS: tuple[Kind, ...] = (
    # --- the input or output as a whole: nothing is written -------------------------------------
    Kind("INPUT_UNREADABLE", "error", "file", "The input file cannot be read.",
         "Check the path and the file's permissions."),
    Kind("INPUT_EMPTY", "error", "file", "The input file holds no data.",
         "Give the file that holds the dataset."),
    Kind("INPUT_NOT_JSON", "error", "file", "The input file is not valid JSON.",
         "Check that the file is complete (not truncated) and is a COCO JSON document."),
    Kind("NOTHING_TO_WRITE", "error", "file", "No line could be converted; nothing is written.",
         "Fix the problems reported above; an empty manifest is refused by the service."),
    Kind("OUTPUT_IS_INPUT", "error", "file", "The output would overwrite an input file.",
         "Choose another output path; inputs are never overwritten."),
    Kind("OUTPUT_NOT_WRITABLE", "error", "file", "The output cannot be written.",
         "Choose an output directory you can write to, with free space."),
    Kind("S3_PREFIX_INVALID", "error", "file",
         "The S3 prefix is not of the form s3://bucket/path/.",
         "Give an S3 URL with a valid bucket name, for example s3://my-bucket/images/."),
    # --- COCO -----------------------------------------------------------------------------------
    Kind("COCO_MISSING_SECTION", "error", "file", "The COCO file has no {} list.",
         "A COCO detection file needs images, annotations and categories lists (guide L3781)."),
    Kind("COCO_NO_S3_LOCATION", "error", "file",
         "The images have no S3 location.",
         "Give --s3-prefix s3://bucket/path/ (file_name is appended), or coco_url values that "
         "are s3:// URLs."),
    Kind("COCO_BAD_IMAGE", "error", "item", "The image record is invalid; the image is skipped.",
         "Give each image an id, a file_name and positive integer width and height."),
    Kind("COCO_DUPLICATE_IMAGE_ID", "error", "item",
         "The image id is used by an earlier image; this image is skipped.",
         "Give every image its own id."),
    Kind("COCO_DUPLICATE_FILE_NAME", "error", "item",
         "The file_name is used by an earlier image; this image is skipped.",
         "Reference each image file once: one source-ref may appear only once in a manifest."),
    Kind("COCO_BAD_CATEGORY", "error", "item",
         "The category record is invalid; its annotations are skipped.",
         "Give each category an integer id and a name."),
    Kind("COCO_DUPLICATE_CATEGORY_ID", "error", "item",
         "The category id is used by an earlier category; the earlier one is kept.",
         "Give every category its own id."),
    Kind("COCO_BAD_ANNOTATION", "error", "item",
         "The annotation record is invalid; it is skipped.",
         "Give each annotation an image_id, a category_id and a bbox [x, y, width, height] of "
         "finite numbers with width and height >= 0."),
    Kind("COCO_UNKNOWN_IMAGE", "error", "item",
         "The annotation refers to an image id that no image has; it is skipped.",
         "Add the image to the images list, or remove the annotation."),
    Kind("COCO_UNKNOWN_CATEGORY", "error", "item",
         "The annotation refers to a category id that no category has; it is skipped.",
         "Add the category to the categories list, or remove the annotation."),
    Kind("COCO_NO_ANNOTATIONS", "warning", "item",
         "The image has no annotation; its line has no bounding box and the service ignores it.",
         "Label the image, or leave it: it is not used for training or testing."),
    # --- CSV ------------------------------------------------------------------------------------
    Kind("CSV_BAD_ROW", "error", "item", "The CSV row is invalid; it is skipped.",
         "Check the number of fields and the quoting of the row."),
    Kind("CSV_EMPTY_IMAGE", "error", "item", "The row has no image; it is skipped.",
         "Put the image file name or S3 path in the first field."),
    Kind("CSV_MIXED_PATHS", "error", "file",
         "Some rows give S3 paths and others bare file names.",
         "Use S3 paths on every row, or bare file names on every row with --s3-path (guide "
         "L4607-4609)."),
    Kind("CSV_NO_S3_PATH", "error", "file", "The rows give bare file names and no --s3-path.",
         "Give --s3-path s3://bucket/folder/ so that each file name becomes an S3 location."),
    Kind("CSV_S3_PATH_NOT_NEEDED", "error", "file",
         "--s3-path is given but the rows already give S3 paths.",
         "Drop --s3-path, or give bare file names in the first field."),
    Kind("CSV_DUPLICATE_IMAGE", "error", "item",
         "The image is also on an earlier row, which is kept.",
         "Merge the labels into the first row (see the -deduplicated.csv file) and convert that "
         "file, or pass --keep-first."),
    Kind("CSV_DUPLICATES_FOUND", "error", "file",
         "Duplicate images were found; no manifest is written.",
         "Review the -duplicates.csv file, fix the -deduplicated.csv file and convert it, or pass "
         "--keep-first to keep the first row of each image."),
    Kind("CSV_LABEL_WHITESPACE", "warning", "item",
         "The label {} has spaces at its start or end, which are kept in its name.",
         "Remove the spaces (after a comma, say) unless they belong to the label's name."),
    Kind("CSV_BAD_NUMBER", "error", "item",
         "The {} field is not a valid number; the row is skipped.",
         "Give left, top, width and height (and image_width, image_height) as finite, "
         "non-negative numbers of pixels; image sizes are positive integers."),
    Kind("CSV_IMAGE_SIZE_MISSING", "error", "item",
         "The image size is unknown; the image is skipped.",
         "Add image_width and image_height columns, or give --images-dir with the image files."),
    Kind("CSV_IMAGE_SIZE_CONFLICT", "error", "item",
         "The row gives another image size than an earlier row of the same image; the row is "
         "skipped.",
         "Give every row of an image the same image_width and image_height."),
    Kind("CSV_DUPLICATE_BOX", "warning", "item",
         "The row repeats an earlier row's box and label; it is skipped.",
         "Remove the repeated row."),
    Kind("IMAGE_UNREADABLE", "error", "item",
         "The image file cannot be read as a PNG or JPEG; the image is skipped.",
         "Check that the file exists in --images-dir and is a PNG or JPEG image (guide L17920)."),
    # --- SageMaker Ground Truth -------------------------------------------------------------------
    Kind("INPUT_INVALID_JSON_LINE", "error", "item",
         "The line is not a JSON object; it is skipped.",
         "Make the line one JSON object."),
    Kind("GT_NO_MULTILABEL_ATTRIBUTE", "error", "item",
         "The line has no multi-label attribute; it is skipped.",
         'Give the line a label attribute with a "-metadata" object whose type is '
         '"groundtruth/image-classification-multilabel".'),
    Kind("GT_MISSING_KEY", "error", "item", "The line has no {} key; it is skipped.",
         "Add the key, as in a Ground Truth multi-label output line (guide L4352-4528)."),
    Kind("GT_BAD_VALUE", "error", "item", "The value of {} is invalid; the line is skipped.",
         "Give the labels as a list of class ids, with class-map names and confidence-map "
         "numbers in 0..1."),
    # --- exports (a manifest is the input) -------------------------------------------------------
    Kind("MANIFEST_LINE_INVALID", "error", "item",
         "The manifest line is invalid; it is not exported.",
         "Run customlabels validate on the manifest and fix the line."),
    Kind("MANIFEST_LINE_NOT_EXPORTED", "warning", "item",
         "The manifest has lines without labels of this format's kind; they are not exported.",
         "Nothing to do if those lines belong to another use case (image-level labels vs "
         "bounding boxes)."),
    # --- all formats ------------------------------------------------------------------------------
    Kind("CONVERSION_FAILED", "error", "file", "The conversion stopped on an unexpected error.",
         "Report it with the input file: this is a defect of customlabels. The other files "
         "of the batch are converted."),
    Kind("SOURCE_REF_INVALID", "error", "item",
         "The image's S3 location is not a valid source-ref; the image is skipped.",
         "Use s3://bucket/key with a valid bucket name and a non-empty key."),
    Kind("SOURCE_REF_DUPLICATE", "error", "item",
         "The image is also on an earlier line, which is kept; this one is skipped.",
         "Reference each image once (guide L5420)."),
    Kind("LABEL_NAME_LENGTH", "error", "item",
         "The label name has {} characters; names have 1 to 256. It is skipped.",
         "Use label names of 1 to 256 characters (guide L8162-8174)."),
    Kind("LABEL_ATTRIBUTE_RENAMED", "warning", "item",
         "The label {} cannot be a label attribute name; the attribute is named differently.",
         "Nothing to do: class-name keeps the label. Rename the label to avoid it."),
    Kind("TOO_MANY_LABELS", "warning", "item",
         "The image has more than 50 labels; it is skipped.",
         "Keep at most 50 labels an image (guide L17944)."),
    Kind("TOO_MANY_BOXES", "warning", "item",
         "The image has more than 50 bounding boxes; {}.",
         "Keep at most 50 boxes an image (guide L17957-17959), or pass --too-many-boxes largest."),
    Kind("IMAGE_DIMENSION", "warning", "item",
         "The image size is outside 64..4096 px a side or 20:1; the image is skipped.",
         "Resize the image (guide L17961-17967) and give its new size."),
    Kind("BOX_VANISHED", "warning", "item",
         "The bounding box is empty once rounded to whole pixels and clipped to the image; it is "
         "dropped.",
         "Check the box: it lies outside the image or is thinner than half a pixel."),
    Kind("BOX_TOO_SMALL", "warning", "item",
         "The bounding box is 1 px or less once the image is scaled to 1280 px; it is dropped.",
         "The service drops such boxes (guide L7743-7793); enlarge the box or accept the drop."),
    Kind("DATE_FALLBACK", "warning", "item",
         "The date is missing or malformed; the conversion time is used as creation-date.",
         "Give dates as YYYY-MM-DD HH:MM:SS, or pass --creation-date."),
)

#: Every problem kind, by name, in catalogue order.
KINDS: dict[str, Kind] = {row.name: row for row in _ROWS}


def make(code: str, file: str, line: int | None = None, path: str | None = None,
         detail: str | None = None, arg: Any = None, severity: str | None = None
         ) -> dict[str, Any]:
    """Return one problem as a plain dict, shaped like a validation issue."""
    kind = KINDS[code]
    return {"code": code, "severity": severity or kind.severity, "scope": kind.scope,
            "file": file, "line": line, "path": path, "message": kind.format(arg),
            "detail": detail}


def render_markdown() -> str:
    """Return the catalogue as the Markdown table of ``docs/convert.md``."""
    out = ["| code | severity | message | fix |", "|---|---|---|---|"]
    for k in _ROWS:
        message = k.message.replace("{}", "…").replace("|", "\\|")
        out.append(f'| <a id="{k.name.lower()}"></a>`{k.name}` | {k.severity} | {message} | '
                   f"{k.hint.replace('|', chr(92) + '|')} |")
    return "\n".join(out) + "\n"
