# Generated from src/customlabels/limits.py by `python -m customlabels.codes`; do not edit.

cdef enum:
    MAX_LINE_CHARS = 100000
    MAX_LINE_BYTES = 400000
    MAX_DEPTH = 64
    MAX_BOXES = 50
    MAX_LABELS_PER_IMAGE = 50
    MIN_LABEL_NAME = 1
    MAX_LABEL_NAME = 256
    MIN_SIDE = 64
    MAX_SIDE = 4096
    MAX_ASPECT = 20
    SCALE_SIDE = 1280
