"""Corner training targets: Gaussian heat maps, sub-cell offsets and flat indices (CornerNet style).

Geometry (``cfg.HEATMAP``): heat cell ``x`` covers search-crop pixel ``origin + stride * x``, so a crop
coordinate ``p`` sits at heat coordinate ``f = (p - origin) * rho`` with ``rho = 1 / stride``. ``rho`` is the
correctly rounded reciprocal of the stride written as a decimal (10.2 -> 5/51), which is bit-identical to the
official float64 constant 25/255. The corner cell is ``int(f)`` (truncation toward zero, official) or
``floor(f)``; the offset target is ``f - cell`` and the flat index ``clamp(cy * size + cx, 0, size**2 - 1)``
(a column of ``size`` therefore wraps into the next row, as in the official builder).

The Gaussian radius follows CornerNet (minimum IoU ``min_overlap``) on the box size in cells
``ceil(rho * w) x ceil(rho * h)``; sigma is ``(2r+1)/6`` ("diameter", official code) or ``r/3`` ("radius",
paper). A radius of 0 gives a single 1.0 at the corner cell.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Dict

import numpy as np

__all__ = ["gaussian_radius", "gaussian_sigma", "draw_gaussian", "corner_targets", "heat_ratio"]

_EPS = np.finfo(np.float64).eps


def heat_ratio(stride: float) -> float:
    """Heat units per crop pixel: the correctly rounded ``1 / stride`` of the decimal stride."""
    if stride <= 0:
        raise ValueError(f"heat-map stride must be > 0, got {stride!r}")
    return float(1 / Fraction(repr(float(stride))))


def gaussian_radius(h, w, min_overlap: float = 0.5):
    """CornerNet radius (float, before truncation) for a box of ``h x w`` heat cells.

    The smallest of the three quadratic roots that keep IoU >= ``min_overlap`` when both corners move.
    Accepts scalars or arrays (broadcast); returns the same kind.
    """
    h = np.asarray(h, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    o = float(min_overlap)
    b1 = h + w
    c1 = w * h * (1 - o) / (1 + o)
    r1 = (b1 - np.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2 = 2 * (h + w)
    c2 = (1 - o) * w * h
    r2 = (b2 - np.sqrt(b2 ** 2 - 16 * c2)) / 8
    b3 = -2 * o * (h + w)
    c3 = (o - 1) * w * h
    r3 = (b3 + np.sqrt(b3 ** 2 - 16 * o * c3)) / (8 * o)
    r = np.minimum(np.minimum(r1, r2), r3)
    return float(r) if r.ndim == 0 else r


def gaussian_sigma(radius, sigma: str = "diameter"):
    """Sigma of the corner Gaussian: ``(2r+1)/6`` ("diameter", official) or ``r/3`` ("radius", paper)."""
    radius = np.asarray(radius, dtype=np.float64)
    if sigma == "diameter":
        s = (2 * radius + 1) / 6
    elif sigma == "radius":
        s = radius / 3
    else:
        raise ValueError(f"sigma must be 'diameter' or 'radius', got {sigma!r}")
    return float(s) if s.ndim == 0 else s


def _gaussian_values(dx: np.ndarray, dy: np.ndarray, radius: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Unit-peak Gaussian at integer offsets (dx, dy); zero outside the (2r+1)^2 window and below eps."""
    inside = (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
    safe = np.where(sig > 0, sig, 1.0)
    g = np.exp(-(dx * dx + dy * dy) / (2 * safe * safe))
    g = np.where(sig > 0, g, (dx == 0) & (dy == 0))  # radius 0 with sigma r/3: a single peak
    g = np.where(g < _EPS, 0.0, g)  # the peak is 1, so eps * max == eps
    return np.where(inside, g, 0.0)


def draw_gaussian(heatmap: np.ndarray, center, radius: int, sigma: str = "diameter") -> np.ndarray:
    """Paste a unit-peak Gaussian of ``radius`` at integer cell ``center`` = (x, y) into ``heatmap`` (H, W)
    with an element-wise max, clipped at the borders (a centre off the map leaves its in-map tail).

    Modifies ``heatmap`` in place and returns it.
    """
    if heatmap.ndim != 2:
        raise ValueError(f"heatmap must be 2-D (H, W), got shape {heatmap.shape}")
    r = int(radius)
    if r < 0:
        raise ValueError(f"radius must be >= 0, got {radius!r}")
    cx, cy = int(center[0]), int(center[1])
    hgt, wid = heatmap.shape
    x0, x1 = max(cx - r, 0), min(cx + r + 1, wid)
    y0, y1 = max(cy - r, 0), min(cy + r + 1, hgt)
    if x0 >= x1 or y0 >= y1:
        return heatmap
    dy, dx = np.meshgrid(np.arange(y0, y1, dtype=np.float64) - cy,
                         np.arange(x0, x1, dtype=np.float64) - cx, indexing="ij")
    g = _gaussian_values(dx, dy, np.float64(r), np.float64(gaussian_sigma(r, sigma)))
    region = heatmap[y0:y1, x0:x1]
    np.maximum(region, g.astype(heatmap.dtype), out=region)
    return heatmap


def corner_targets(boxes, size: int = 25, stride: float = 10.2, origin: float = 0.0, truncate: bool = True,
                   sigma: str = "diameter", min_overlap: float = 0.5, min_scale: float = 16
                   ) -> Dict[str, np.ndarray]:
    """Targets for one corner pair per sample, vectorised over the batch.

    ``boxes``: (B, 4) x1, y1, x2, y2 in search-crop pixels (may extend outside the crop).
    Returns numpy arrays::

        tl_heat, br_heat  # (B, 1, size, size) float32, 1.0 at the corner cell when it is on the map
        tl_off, br_off    # (B, 2) float32, sub-cell offsets in heat units, x first
        tl_ind, br_ind    # (B,) int64, clamp(y * size + x, 0, size*size - 1)
        valid             # (B,) float32, 1 when the longest side (integer pixels) >= min_scale

    A box below ``min_scale`` still gets its heat maps; ``valid`` = 0 tells the loss to ignore its offsets
    (the official builder would crash on such a box).
    """
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (B, 4) x1y1x2y2, got {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("boxes contain NaN or inf")
    rho = heat_ratio(stride)
    to_int = np.trunc if truncate else np.floor
    f = (b - origin) * rho  # (B, 4) heat coordinates
    cell = to_int(f)  # (B, 4)
    off = (f - cell).astype(np.float32)

    wid = np.ceil(rho * (b[:, 2] - b[:, 0]))
    hgt = np.ceil(rho * (b[:, 3] - b[:, 1]))
    radius = np.maximum(0.0, np.trunc(gaussian_radius(hgt, wid, min_overlap)))  # (B,)
    radius = np.where(np.isfinite(radius), radius, 0.0)
    sig = gaussian_sigma(radius, sigma)

    grid = np.arange(size, dtype=np.float64)
    r3, s3 = radius[:, None, None], np.asarray(sig)[:, None, None]

    def heat(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        dx = grid[None, None, :] - cx[:, None, None]
        dy = grid[None, :, None] - cy[:, None, None]
        return _gaussian_values(dx, dy, r3, s3).astype(np.float32)[:, None]

    def index(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        return np.clip(cy * size + cx, 0, size * size - 1).astype(np.int64)

    side = np.maximum(to_int(b[:, 3]) - to_int(b[:, 1]), to_int(b[:, 2]) - to_int(b[:, 0]))
    return {
        "tl_heat": heat(cell[:, 0], cell[:, 1]),
        "br_heat": heat(cell[:, 2], cell[:, 3]),
        "tl_off": np.ascontiguousarray(off[:, 0:2]),
        "br_off": np.ascontiguousarray(off[:, 2:4]),
        "tl_ind": index(cell[:, 0], cell[:, 1]),
        "br_ind": index(cell[:, 2], cell[:, 3]),
        "valid": (side >= min_scale).astype(np.float32),
    }

