"""The report's plots, as inline SVG written by hand.

A precision-recall curve is a polyline and a few lines of text: a plotting library (matplotlib,
Plotly) would add tens of megabytes to install, or a script of megabytes to every page, for
what is here about fifty lines, and neither draws anything this page needs that SVG does not.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

#: The plot's size in CSS pixels and its margins (room for the axes' numbers and names).
WIDTH, HEIGHT = 260, 220
LEFT, RIGHT, TOP, BOTTOM = 38, 10, 12, 34
#: At most this many points of a curve are drawn (a label with 100,000 predictions would
#: otherwise write 100,000 points); the assumed threshold's point is always one of them.
MAX_POINTS = 400


def _x(recall: float) -> float:
    return LEFT + recall * (WIDTH - LEFT - RIGHT)


def _y(precision: float) -> float:
    return TOP + (1.0 - precision) * (HEIGHT - TOP - BOTTOM)


def curve_points(curve: Any, threshold: float) -> list[tuple[float, float]]:
    """Return the (recall, precision) points to draw of a label's curve, in threshold order
    (decreasing), thinned to :data:`MAX_POINTS` with the assumed threshold's point kept."""
    import numpy as np  # an evaluation has loaded it already; a validation's page needs none

    thresholds = np.asarray(curve.thresholds, dtype=np.float64)
    n = len(thresholds)
    if n == 0:
        return []
    keep = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(np.int64))
    if not math.isnan(threshold):
        at = np.flatnonzero(thresholds == threshold)
        keep = np.union1d(keep, at[:1])
    recall, precision = np.asarray(curve.recall), np.asarray(curve.precision)
    return [(float(recall[i]), float(precision[i])) for i in keep]


def precision_recall_svg(label: str, curve: Any, threshold: float, precision: float,
                         recall: float) -> str:
    """Return the precision-recall curve of one label, its assumed threshold marked."""
    parts = [f'<svg class="pr" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img"><title>precision-recall curve of '
             f'{escape(label)}</title>',
             f'<rect class="axes" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
             f'height="{HEIGHT - TOP - BOTTOM}"/>']
    for tick in (0.0, 0.5, 1.0):
        x, y = _x(tick), _y(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" '
                     f'y2="{HEIGHT - BOTTOM}"/><line class="grid" x1="{LEFT}" y1="{y:.1f}" '
                     f'x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 13}" '
                     f'text-anchor="middle">{tick:g}</text><text class="tick" '
                     f'x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text class="axis" x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" '
                 f'y="{HEIGHT - 4}" text-anchor="middle">recall</text>'
                 f'<text class="axis" transform="translate(11 {(TOP + HEIGHT - BOTTOM) / 2:.0f}) '
                 'rotate(-90)" text-anchor="middle">precision</text>')
    points = curve_points(curve, threshold)
    if not points:
        parts.append(f'<text class="none" x="{_x(0.5):.0f}" y="{_y(0.5):.0f}" '
                     'text-anchor="middle">no prediction</text></svg>')
        return "".join(parts)
    drawn = " ".join(f"{_x(r):.1f},{_y(p):.1f}" for r, p in points)
    parts.append(f'<polyline class="curve" points="{drawn}"/>')
    if not math.isnan(threshold):
        x, y = _x(recall), _y(0.0 if math.isnan(precision) else precision)
        anchor = "end" if recall > 0.6 else "start"
        dx = -7 if anchor == "end" else 7
        parts.append(f'<circle class="assumed" cx="{x:.1f}" cy="{y:.1f}" r="4.5">'
                     f'<title>assumed threshold {threshold:.3f}: precision {precision:.3f}, '
                     f'recall {recall:.3f}</title></circle>'
                     f'<text class="assumed" x="{x + dx:.1f}" '
                     f'y="{min(y + 15, HEIGHT - BOTTOM - 4):.1f}" '
                     f'text-anchor="{anchor}">threshold {threshold:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)
