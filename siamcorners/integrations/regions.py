"""Region conversions for the toolkit integrations (pure functions).

VOT annotates with rotated rectangles / polygons; a SiamCorners tracker starts from an axis-aligned box. The
conversion is pysot's (and the VOT tradition of the Siamese trackers): keep the polygon's centroid and scale the
min-max box so its area matches the polygon's (the product of the first two side lengths), plus one pixel,
then place the box so that the tracker's centre ``x + (w - 1) / 2`` is the centroid.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["polygon_to_xywh", "region_to_xywh"]


def polygon_to_xywh(points: Sequence[float]) -> np.ndarray:
    """Four corners ``x1, y1, ..., x4, y4`` (8 numbers or (4, 2)) -> axis-aligned ``[x, y, w, h]`` (float64).

    ``cx, cy`` = corner mean; ``s = sqrt(|p1 p2| * |p2 p3| / ((x_max - x_min) * (y_max - y_min)))``;
    ``w = s * (x_max - x_min) + 1``, ``h = s * (y_max - y_min) + 1``; box = ``[cx - (w - 1) / 2, cy - (h - 1) / 2, w, h]``.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1)
    if p.size != 8 or not np.all(np.isfinite(p)):
        raise ValueError(f"a polygon region needs 4 finite corners (8 numbers), got {np.asarray(points).tolist()}")
    xs, ys = p[0::2], p[1::2]
    cx, cy = xs.mean(), ys.mean()
    bw, bh = xs.max() - xs.min(), ys.max() - ys.min()
    if bw <= 0 or bh <= 0:
        raise ValueError(f"degenerate polygon region {p.tolist()}: zero width or height")
    side_area = np.linalg.norm(p[0:2] - p[2:4]) * np.linalg.norm(p[2:4] - p[4:6])
    s = np.sqrt(side_area / (bw * bh))
    w, h = s * bw + 1, s * bh + 1
    return np.array([cx - (w - 1) / 2, cy - (h - 1) / 2, w, h])


def region_to_xywh(region: Sequence[float]) -> np.ndarray:
    """A rectangle ``[x, y, w, h]`` (returned as is) or a 4-corner polygon (see :func:`polygon_to_xywh`)."""
    r = np.asarray(region, dtype=np.float64).reshape(-1)
    if r.size == 4:
        return r.copy()
    if r.size == 8:
        return polygon_to_xywh(r)
    raise ValueError(f"a region is 4 numbers (x, y, w, h) or 8 (polygon corners), got {r.size}")
