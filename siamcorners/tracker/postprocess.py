"""Tracker post-processing: pure NumPy functions of the N candidate boxes of one frame (paper eqs. 8-10).

All functions take float arrays of any candidate count N (3 levels x 15 pairs = 45 in the official
setting) and never modify their inputs. Candidates are rows ``(cx, cy, w, h)`` in image pixels unless noted.
NumPy on the host is used on purpose: after one device->host copy of the (N, 5) detections, a few dozen
tiny vector operations are far cheaper than device kernel launches.
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import numpy as np

from ..data.crops import subwindow_origin

__all__ = [
    "heat_to_crop",
    "crop_to_image_official",
    "crop_to_image_exact",
    "sz",
    "change",
    "scale_ratio_penalty",
    "variation_degree",
    "rank_window",
    "ranked_hanning",
    "smooth_size",
    "clip_box",
]


def heat_to_crop(boxes_heat: np.ndarray, stride: float, origin: float = 0.0) -> np.ndarray:
    """Heat units -> search-crop pixels: ``origin + stride * v`` for every coordinate.

    boxes_heat: (N, 4) [x1, y1, x2, y2] in heat cells. Official: stride 255/25 = 10.2, origin 0.
    """
    return origin + stride * np.asarray(boxes_heat, dtype=np.float64)


def crop_to_image_official(boxes_crop: np.ndarray, scale_z: float, s_x: float,
                           center: Sequence[float]) -> np.ndarray:
    """Official crop -> image mapping ("BOX_MAPPING official", reference §7.3 step 4).

    boxes_crop: (N, 4) [x1, y1, x2, y2] in search-crop pixels; scale_z = 127 / s_z; s_x: the *unrounded*
    search side in image pixels; center: previous target centre. With b = boxes_crop / scale_z:
    W = x2 - x1, H = y2 - y1, CX = x1 + floor(W / 2), CY = y1 + floor(H / 2), S = floor((s_x + 1) / 2),
    cx = CX - S + center_x, cy = CY - S + center_y. Returns (N, 4) (cx, cy, W, H) in image pixels.
    """
    b = np.asarray(boxes_crop, dtype=np.float64) / scale_z
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    s_half = math.floor((s_x + 1) / 2)
    cx = b[:, 0] + np.floor(w / 2) - s_half + center[0]
    cy = b[:, 1] + np.floor(h / 2) - s_half + center[1]
    return np.stack([cx, cy, w, h], axis=1)


def crop_to_image_exact(boxes_crop: np.ndarray, crop_side: int, instance_size: int,
                        center: Sequence[float]) -> np.ndarray:
    """Exact crop -> image mapping ("BOX_MAPPING exact"): inverts the sub-window and its bilinear resize.

    The crop was the ``crop_side`` window starting at ``subwindow_origin(center, crop_side)`` resized to
    ``instance_size``; crop coordinate u maps to ``origin + (u + 0.5) * crop_side / instance_size - 0.5``
    (OpenCV pixel-centre convention). Returns (N, 4) (cx, cy, W, H), cx the midpoint of the mapped corners.
    """
    b = np.asarray(boxes_crop, dtype=np.float64)
    scale = crop_side / instance_size
    xmin, ymin = subwindow_origin(center, crop_side)
    x1 = xmin + (b[:, 0] + 0.5) * scale - 0.5
    y1 = ymin + (b[:, 1] + 0.5) * scale - 0.5
    w = (b[:, 2] - b[:, 0]) * scale
    h = (b[:, 3] - b[:, 1]) * scale
    return np.stack([x1 + w / 2, y1 + h / 2, w, h], axis=1)


def sz(w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Size of a padded box (paper eq. 8): ``sqrt((w + p)(h + p))``, ``p = (w + h) / 2``; negative products -> 0."""
    w = np.asarray(w, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    p = (w + h) / 2
    return np.sqrt(np.maximum((w + p) * (h + p), 0.0))


def change(r: np.ndarray) -> np.ndarray:
    """Symmetric change ``max(r, 1/r)`` (paper eq. 9), zeros replaced by 1e-4 first (official)."""
    r = np.where(np.asarray(r, dtype=np.float64) == 0, 1e-4, r)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.maximum(r, 1.0 / r)


def scale_ratio_penalty(cand_wh: np.ndarray, prev_wh: Sequence[float], scale_z: float, k: float,
                        form: str = "siamrpn", scale_bug: bool = True) -> np.ndarray:
    """Scale/aspect-ratio change penalty (paper eq. 9).

    cand_wh: (N, 2) candidate (W, H) in image pixels; prev_wh: previous (w, h) in image pixels.
    s_c = change(sz(W, H) / sz(w', h')) with (w', h') = (w, h) * scale_z when ``scale_bug`` (the official
    code compares an image-pixel size with a 127-template-pixel size), else (w, h);
    r_c = change((w / h) / (W / H)).
    form "siamrpn" (official code): exp(-(r_c s_c - 1) k); form "paper": exp(-k r_c s_c).
    Returns (N,) float64.
    """
    cand_wh = np.asarray(cand_wh, dtype=np.float64)
    w_prev, h_prev = float(prev_wh[0]), float(prev_wh[1])
    ref = scale_z if scale_bug else 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_c = change(sz(cand_wh[:, 0], cand_wh[:, 1]) / sz(w_prev * ref, h_prev * ref))
        r_c = change((w_prev / h_prev) / (cand_wh[:, 0] / cand_wh[:, 1]))
        if form == "siamrpn":
            return np.exp(-(r_c * s_c - 1.0) * k)
        if form == "paper":
            return np.exp(-k * r_c * s_c)
    raise ValueError(f"penalty form must be 'siamrpn' or 'paper', got {form!r}")


def variation_degree(cand_cxcywh: np.ndarray, prev_center: Sequence[float], prev_size: Sequence[float],
                     form: str = "half") -> np.ndarray:
    """How much each candidate changes the target (paper eq. 10 ranking key), in image pixels.

    "half" (official code): 0.5 (|dcx| + |dcy|) + 0.5 (|dw| + |dh|); "sum" (paper): the plain sum.
    The two give the same ranking. cand_cxcywh: (N, 4). Returns (N,) float64.
    """
    c = np.asarray(cand_cxcywh, dtype=np.float64)
    d_center = np.abs(c[:, 0] - prev_center[0]) + np.abs(c[:, 1] - prev_center[1])
    d_size = np.abs(c[:, 2] - prev_size[0]) + np.abs(c[:, 3] - prev_size[1])
    if form == "half":
        return 0.5 * d_center + 0.5 * d_size
    if form == "sum":
        return d_center + d_size
    raise ValueError(f"variation form must be 'half' or 'sum', got {form!r}")


def rank_window(num_candidates: int, hanning_size: int = 90) -> np.ndarray:
    """Rank weights of eq. 10: the increasing first half of ``np.hanning(hanning_size)``.

    When ``num_candidates`` equals ``hanning_size // 2`` (official: 45 of 90) this is exactly that half;
    otherwise the half-window is linearly resampled onto ``num_candidates`` ranks (same end points).
    Returns (num_candidates,) float64; rank 0 (largest variation) gets the smallest weight.
    """
    half = np.hanning(hanning_size)[: hanning_size // 2]
    if num_candidates == half.size:
        return half.copy()
    if num_candidates < 1:
        raise ValueError(f"need at least one candidate, got {num_candidates}")
    if half.size < 2:
        return np.full(num_candidates, half[0] if half.size else 0.0)
    pos = np.linspace(0.0, half.size - 1, num_candidates)
    return np.interp(pos, np.arange(half.size), half)


def ranked_hanning(pscore: np.ndarray, variation: np.ndarray, window: np.ndarray,
                   influence: float) -> Tuple[np.ndarray, np.ndarray]:
    """Ranked half-Hanning re-weighting (paper eq. 10).

    Candidates are ordered by descending variation; the candidate at rank i gets
    ``pscore (1 - influence) + window[i] influence``, so the steadiest candidate gains the most.
    Ties keep the reverse of a stable ascending sort (the official code reverses ``np.argsort``).
    pscore, variation: (N,); window: (N,). Returns (new pscore (N,), order (N,) int64).
    """
    pscore = np.asarray(pscore, dtype=np.float64)
    order = np.argsort(np.asarray(variation), kind="stable")[::-1]
    weights = np.empty_like(pscore)
    weights[order] = np.asarray(window, dtype=np.float64)
    return pscore * (1.0 - influence) + weights * influence, order


def smooth_size(prev_center: Sequence[float], prev_size: Sequence[float], cand_center: Sequence[float],
                cand_size: Sequence[float], penalty: float, score: float, lr: float,
                smooth_center: bool = False, clip_rate: bool = True) -> Tuple[np.ndarray, np.ndarray, float]:
    """Linear interpolation of the target state with rate ``penalty * score * lr`` (reference §7.3 step 8).

    size = prev_size (1 - rate) + cand_size rate. The official code takes the candidate centre as is;
    ``smooth_center`` interpolates the centre with the same rate. With ``clip_rate`` the rate is kept in
    [0, 1] (for valid candidates it already is); without it (official) a rejected pair (score -1) gives a
    negative rate and the size moves away from the candidate's. Returns (center (2,), size (2,), rate).
    """
    with np.errstate(invalid="ignore", over="ignore"):  # a rejected pair's penalty may be huge (official)
        rate = float(penalty * score * lr)
        if clip_rate:
            rate = float(np.clip(rate, 0.0, 1.0))
        prev_size = np.asarray(prev_size, dtype=np.float64)
        cand_center = np.asarray(cand_center, dtype=np.float64)
        size = prev_size * (1.0 - rate) + np.asarray(cand_size, dtype=np.float64) * rate
    if smooth_center:
        center = np.asarray(prev_center, dtype=np.float64) * (1.0 - rate) + cand_center * rate
    else:
        center = cand_center.copy()
    return center, size, rate


def clip_box(center: Sequence[float], size: Sequence[float], image_hw: Tuple[int, int],
             min_size: float = 10.0) -> Tuple[np.ndarray, np.ndarray]:
    """Clip the state to the frame (official ``_bbox_clip``).

    cx in [0, W], cy in [0, H], w in [min_size, W], h in [min_size, H] (the minimum wins for frames
    narrower than ``min_size``). As in the official code, ``max(low, min(v, high))`` with Python's
    ``min``/``max``, so a NaN becomes the lower bound and +-inf the nearest bound. Returns (center (2,), size (2,)).
    """
    img_h, img_w = float(image_hw[0]), float(image_hw[1])
    cx = max(0.0, min(float(center[0]), img_w))
    cy = max(0.0, min(float(center[1]), img_h))
    w = max(float(min_size), min(float(size[0]), img_w))
    h = max(float(min_size), min(float(size[1]), img_h))
    return np.array([cx, cy]), np.array([w, h])
