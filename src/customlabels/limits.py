"""Every number the rules use, each defined once, with the guide lines that give it.

This is the single place for a limit of the service (or of ours, where the guide is silent and
``docs/decisions.md`` settles it). Python imports it; the compiled core includes
``ext/_limits.pxi``, generated from :data:`COMPILED` by ``python -m customlabels.codes``, and a
test fails when that file is stale or when a limit is defined a second time anywhere in
``src/`` or ``ext/``. Messages and hints in :mod:`customlabels.codes` name these limits as
``{NAME}`` fields instead of writing the numbers.

Standard library only, nothing imported: ``customlabels validate`` imports this at start-up.
"""

from __future__ import annotations

# --- the manifest file (guide: "Guidelines and quotas", "Understanding the manifest summary") --
#: A manifest may be at most 1 GB (L3685, L17924).
MAX_MANIFEST_BYTES = 1 << 30
#: Rows in a manifest (L3687-3690, L17934-17940) ...
DEFAULT_MAX_LINES = 250_000
#: ... up to this many for image classification with a raised quota (L17934-17940).
MAX_LINES_WITH_QUOTA = 500_000
#: A JSON Line longer than this many characters is dropped at import (L5411-5412).
MAX_LINE_CHARS = 100_000
#: Bytes of a line the reader keeps: UTF-8 takes at most 4 bytes a character (ours).
MAX_LINE_BYTES = 4 * MAX_LINE_CHARS
#: Deepest nesting of arrays and objects accepted in a line; deeper is invalid JSON (ours,
#: ``docs/decisions.md``, "Reading").
MAX_DEPTH = 64

# --- a JSON Line ------------------------------------------------------------------------------
#: Bounding boxes an image (L17957-17959).
MAX_BOXES = 50
#: Distinct labels an image (L17944).
MAX_LABELS_PER_IMAGE = 50
#: Characters of a label name (L8162-8174).
MIN_LABEL_NAME = 1
MAX_LABEL_NAME = 256
#: Image sides in pixels and the largest aspect ratio (L17961-17967).
MIN_SIDE = 64
MAX_SIDE = 4096
MAX_ASPECT = 20
#: Bytes of an image file (L17965: "15 MB"). The guide does not say whether a MB is 10**6 or
#: 2**20 bytes; the smaller reading never passes an image the service may refuse
#: (``docs/decisions.md``, "Image checks").
MAX_IMAGE_BYTES = 15_000_000
#: Bytes of an image passed to DetectCustomLabels as bytes rather than from S3 (L18014: "raw
#: bytes is 4 MB"); the same reading of a MB.
MAX_DETECT_IMAGE_BYTES = 4_000_000
#: Images are scaled so that no side exceeds this many pixels before boxes are checked for
#: size (L7743-7760).
SCALE_SIDE = 1280

# --- a dataset and a pair of them -------------------------------------------------------------
#: More than this share of invalid (or dropped) lines fails the import (L3663-3672, L5349-5358).
INVALID_SHARE = 0.20
#: Labels of a dataset (L17930) ...
MAX_LABELS = 250
#: ... and at least this many: classification needs two labels, detection one (L17926-17928,
#: spec decision 1).
MIN_LABELS_CLASSIFICATION = 2
MIN_LABELS_DETECTION = 1
#: Testing images a label (L17981-17983).
MAX_TEST_IMAGES_PER_LABEL = 1000
#: Share of training labels that must be in the testing dataset (L3670-3671, spec decision 11).
MIN_OVERLAP = 0.5

# --- splitting --------------------------------------------------------------------------------
#: The share of images the service moves to the testing dataset (L2479-2481, L13848-13849).
DEFAULT_TEST_FRACTION = 0.2
#: A label needs one image for training and one for testing (ours, ``docs/decisions.md``,
#: "Conversion and splitting").
MIN_IMAGES_PER_LABEL = 2

# --- evaluation ---------------------------------------------------------------------------------
#: A predicted box is correct when its IoU with a ground-truth box is at least this
#: (L8253-8256).
IOU_THRESHOLD = 0.5

#: The integer limits the compiled core is built with (``ext/_limits.pxi``).
COMPILED = ("MAX_LINE_CHARS", "MAX_LINE_BYTES", "MAX_DEPTH", "MAX_BOXES", "MAX_LABELS_PER_IMAGE",
            "MIN_LABEL_NAME", "MAX_LABEL_NAME", "MIN_SIDE", "MAX_SIDE", "MAX_ASPECT",
            "SCALE_SIDE")


def values() -> dict[str, int | float]:
    """Return every limit by name."""
    return {name: value for name, value in globals().items()
            if name.isupper() and isinstance(value, (int, float))}
