"""Region conversions for the toolkit integrations (pure functions).

VOT annotates with rotated rectangles / polygons; a SiamCorners tracker starts from an axis-aligned box. The
conversion is pysot's (and the VOT tradition of the Siamese trackers): keep the polygon's centroid and scale the
min-max box so its area matches the polygon's (the product of the first two side lengths), plus one pixel,
then place the box so that the tracker's centre ``x + (w - 1) / 2`` is the centroid.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..benchmarks.regions import INIT_BOX_RULES, init_box_from_region

__all__ = ["INIT_BOX_RULES", "init_box", "polygon_to_xywh", "region_to_xywh", "init_rule_from_cfg"]


def polygon_to_xywh(points: Sequence[float]) -> np.ndarray:
    """Four corners ``x1, y1, ..., x4, y4`` (8 numbers or (4, 2)) -> axis-aligned ``[x, y, w, h]`` (float64):
    pysot's area-preserving box (:func:`siamcorners.benchmarks.regions.axis_aligned_region`) placed as
    ``[cx - (w - 1) / 2, cy - (h - 1) / 2, w, h]``, the rule the test runner uses for polygon rows.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1)
    if p.size != 8 or not np.all(np.isfinite(p)):
        raise ValueError(f"a polygon region needs 4 finite corners (8 numbers), got {np.asarray(points).tolist()}")
    return np.array(init_box_from_region(p, "pysot"))


def region_to_xywh(region: Sequence[float]) -> np.ndarray:
    """A rectangle ``[x, y, w, h]`` (returned as is) or a 4-corner polygon (see :func:`polygon_to_xywh`)."""
    r = np.asarray(region, dtype=np.float64).reshape(-1)
    if r.size == 4:
        return r.copy()
    if r.size == 8:
        return polygon_to_xywh(r)
    raise ValueError(f"a region is 4 numbers (x, y, w, h) or 8 (polygon corners), got {r.size}")


def init_box(region: Sequence[float], rule: str = "raw") -> np.ndarray:
    """The ``[x, y, w, h]`` a tracker starts from, given a ground-truth region and the init-box rule.

    ``"raw"``: a rectangle as it is. ``"pysot"`` (pysot's and the official ``test.py``'s rule): a rectangle's
    centre is taken as ``x + w / 2`` and the tracker's as ``x + (w - 1) / 2``, so the box moves by +0.5 px.
    A polygon gets pysot's area-preserving box (:func:`polygon_to_xywh`) under both rules (VOT convention).
    """
    if rule not in INIT_BOX_RULES:
        raise ValueError(f"init-box rule must be one of {list(INIT_BOX_RULES)}, got {rule!r}")
    box = region_to_xywh(region)
    if rule == "pysot" and np.asarray(region).size == 4:
        box[:2] += 0.5
    return box


def init_rule_from_cfg(cfg) -> str:
    """``cfg.TEST.INIT_BOX`` when the config has that key (the rule ``tools/test.py`` applies), else ``"raw"``."""
    test = cfg.get("TEST", {}) if hasattr(cfg, "get") else {}
    return str(test.get("INIT_BOX", "raw")) if hasattr(test, "get") else "raw"
