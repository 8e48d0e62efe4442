"""Ground-truth regions -> the box a tracker is initialised with (pure functions).

A ground-truth row is either an axis-aligned box ``[x, y, w, h]`` (4 values) or a polygon
``[x1, y1, x2, y2, x3, y3, x4, y4]`` (8 values, VOT-style rotated rectangles, corners in order).

Two conventions (``TEST.INIT_BOX``):

* ``"pysot"``, the rule of the official SiamCorners ``tools/test.py`` and of every pysot-based test script:
  the row is reduced to a centre and size ``(cx, cy, w, h)`` (:func:`axis_aligned_region`) and the tracker
  gets ``[cx - (w - 1) / 2, cy - (h - 1) / 2, w, h]``. A 4-value row has ``cx = x + w / 2``, so the init box is
  the ground truth moved by +0.5 px in x and y; the tracker, whose centre is ``x + (w - 1) / 2`` and whose
  output is ``[cx - w / 2, cy - h / 2, w, h]``, then reports a still target exactly at its ground truth.
* ``"raw"``: a 4-value row as given; a polygon becomes its min-max box ``[x1, y1, x2 - x1, y2 - y1]``.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

__all__ = ["INIT_BOX_RULES", "axis_aligned_region", "init_box_from_region"]

INIT_BOX_RULES = ("pysot", "raw")


def _as_region(region: Sequence[float]) -> np.ndarray:
    r = np.asarray(region, dtype=np.float64).reshape(-1)
    if r.size not in (4, 8):
        raise ValueError(f"a ground-truth region has 4 values [x, y, w, h] or 8 polygon coordinates, "
                         f"got {r.size}: {list(region)!r}")
    return r


def axis_aligned_region(region: Sequence[float]) -> Tuple[float, float, float, float]:
    """Centre and size ``(cx, cy, w, h)`` of a 4- or 8-value region (pysot's ``get_axis_aligned_bbox`` rule).

    4 values ``[x, y, w, h]``: ``(x + w / 2, y + h / 2, w, h)``.
    8 values (polygon p1..p4): the centre is the mean of the four corners; the size is the min-max box scaled by
    ``s = sqrt(A_poly / A_box)`` so that the box keeps the polygon's area, plus one pixel:
    ``w = s (x_max - x_min) + 1``, ``h = s (y_max - y_min) + 1``, where ``A_poly = |p1 - p2| |p2 - p3|``
    (the rectangle spanned by the first two edges) and ``A_box = (x_max - x_min)(y_max - y_min)``.
    """
    r = _as_region(region)
    if r.size == 4:
        x, y, w, h = r.tolist()
        return x + w / 2, y + h / 2, w, h
    xs, ys = r[0::2], r[1::2]
    x_min, x_max, y_min, y_max = xs.min(), xs.max(), ys.min(), ys.max()
    edge_a = float(np.hypot(*(r[0:2] - r[2:4])))
    edge_b = float(np.hypot(*(r[2:4] - r[4:6])))
    box_area = (x_max - x_min) * (y_max - y_min)
    if box_area <= 0:
        raise ValueError(f"polygon region {r.tolist()} is degenerate (zero-area bounding box)")
    s = np.sqrt(edge_a * edge_b / box_area)
    return float(xs.mean()), float(ys.mean()), float(s * (x_max - x_min) + 1), float(s * (y_max - y_min) + 1)


def init_box_from_region(region: Sequence[float], rule: str = "pysot") -> list[float]:
    """The ``[x, y, w, h]`` box a tracker is initialised with, from a 4- or 8-value ground-truth row.

    rule "pysot": ``[cx - (w - 1) / 2, cy - (h - 1) / 2, w, h]`` with ``(cx, cy, w, h)`` from
    :func:`axis_aligned_region`; rule "raw": the row itself (a polygon: its min-max box).
    """
    r = _as_region(region)
    if rule == "pysot":
        cx, cy, w, h = axis_aligned_region(r)
        return [cx - (w - 1) / 2, cy - (h - 1) / 2, w, h]
    if rule == "raw":
        if r.size == 4:
            return r.tolist()
        xs, ys = r[0::2], r[1::2]
        return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min()), float(ys.max() - ys.min())]
    raise ValueError(f"init-box rule must be one of {list(INIT_BOX_RULES)}, got {rule!r}")
