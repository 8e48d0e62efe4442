"""Context crops and the four boundary templates, shared by training and tracking.

Geometry (official pysot/SiamCorners rules, reference §4.3 and §7.3):

* context size ``s_z = sqrt((w + p)(h + p))`` with ``p = context_amount * (w + h)`` (paper eq. 8);
* a square sub-window of side ``s`` around the centre ``(cx, cy)`` starts at
  ``xmin = floor(cx - (s + 1) / 2 + 0.5)`` (same for y) and spans ``s`` pixels; pixels outside the frame
  take a fill colour (the frame's mean colour, truncated to uint8, in tracking); the window is resized
  to the output side with OpenCV bilinear interpolation unless it already has that side;
* the four boundary templates (top, left, bottom, right) keep one region of the box each, cut with
  end-exclusive ``int()``-truncated slices (see :func:`boundary_regions`); everything else is a flat
  colour. The released model was trained with a 1-pixel red outline (BGR ``(0, 0, 255)``) drawn around
  the box before the cut; ``outline=True`` reproduces it, always on a copy.

Frames are ``(H, W, 3)`` uint8 BGR or ``(H, W)`` grayscale (returned crops always have 3 channels).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    "MAX_BOX_FRAMES",
    "TEMPLATE_ORDER",
    "box_too_large",
    "TRAIN_TEMPLATE_FILL",
    "check_frame",
    "check_box",
    "channel_average",
    "context_size",
    "subwindow_origin",
    "template_patch_box",
    "get_subwindow",
    "boundary_regions",
    "cut_boundary_templates",
    "boundary_templates",
    "training_boundary_templates",
    "exemplar_crop",
    "search_crop",
]

TEMPLATE_ORDER = ("top", "left", "bottom", "right")
TRAIN_TEMPLATE_FILL = (87.0, 135.0, 123.0)  # BGR constant of the official training canvas
_RED = (0, 0, 255)


# ----------------------------------------------------------------------------------- validation
def check_frame(frame: np.ndarray, name: str = "frame") -> np.ndarray:
    """Validate a video frame: uint8 ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``; returns it as 2-D or 3-channel.

    The returned array is the caller's array or a view of it: never write into it.
    """
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"{name} must be a numpy array (H x W x 3 uint8 BGR or H x W), got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"{name} must have dtype uint8, got {frame.dtype} with shape {frame.shape}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise ValueError(f"{name} must have shape (H, W, 3) or (H, W), got {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"{name} is empty: shape {frame.shape}")
    return frame


def check_box(box_xywh: Sequence[float], image_hw: Tuple[int, int], name: str = "box") -> np.ndarray:
    """Validate an ``[x, y, w, h]`` box against a frame of size ``image_hw``; returns a float64 copy (4,).

    Raises ValueError for a wrong length, non-finite values, ``w <= 0`` or ``h <= 0``, a box that does
    not overlap the frame at all, or one larger than `MAX_BOX_FRAMES` times the frame (its crops would not fit in
    memory).
    """
    try:
        box = np.array(box_xywh, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 4 numbers [x, y, w, h], got {box_xywh!r}") from None
    if box.shape != (4,):
        raise ValueError(f"{name} must be 4 numbers [x, y, w, h], got {box.size} values: {box_xywh!r}")
    if not np.all(np.isfinite(box)):
        raise ValueError(f"{name} must be finite, got {box.tolist()}")
    x, y, w, h = box.tolist()
    if w <= 0 or h <= 0:
        raise ValueError(f"{name} [x, y, w, h] = {box.tolist()} has w or h <= 0")
    img_h, img_w = int(image_hw[0]), int(image_hw[1])
    if x >= img_w or y >= img_h or x + w <= 0 or y + h <= 0:
        raise ValueError(f"{name} [x, y, w, h] = {box.tolist()} lies entirely outside the "
                         f"{img_w}x{img_h} (W x H) frame")
    problem = box_too_large(w, h, (img_h, img_w))
    if problem:
        raise ValueError(f"{name} [x, y, w, h] = {box.tolist()} {problem}")
    return box


MAX_BOX_FRAMES = 2  # an init box may overhang the frame, but not be more than twice its width / height


def box_too_large(w: float, h: float, image_hw: Tuple[int, int]) -> str:
    """Why a ``w`` x ``h`` box does not fit a frame of ``image_hw`` ("" when it fits: at most `MAX_BOX_FRAMES`
    times the frame's width and height)."""
    img_h, img_w = int(image_hw[0]), int(image_hw[1])
    if w <= MAX_BOX_FRAMES * img_w and h <= MAX_BOX_FRAMES * img_h:
        return ""
    return (f"is too large for the {img_w}x{img_h} (W x H) frame: w and h may be at most {MAX_BOX_FRAMES} times "
            f"the frame's ({MAX_BOX_FRAMES * img_w} x {MAX_BOX_FRAMES * img_h})")


def channel_average(frame: np.ndarray) -> np.ndarray:
    """Per-channel mean colour (3,) float64 of a frame; a grayscale mean is repeated on the 3 channels."""
    frame = check_frame(frame)
    if frame.ndim == 2:
        return np.full(3, frame.mean(dtype=np.float64))
    return frame.mean(axis=(0, 1), dtype=np.float64)


# ------------------------------------------------------------------------------------- geometry
def context_size(w: float, h: float, context_amount: float = 0.5) -> float:
    """Context-padded square side ``sqrt((w + p)(h + p))``, ``p = context_amount (w + h)`` (paper eq. 8)."""
    p = context_amount * (w + h)
    return math.sqrt(max((w + p) * (h + p), 0.0))


def subwindow_origin(center: Sequence[float], side: int) -> Tuple[int, int]:
    """Top-left pixel ``(xmin, ymin)`` of the ``side x side`` window centred at ``center`` (official rounding)."""
    c = (side + 1) / 2
    return int(math.floor(center[0] - c + 0.5)), int(math.floor(center[1] - c + 0.5))


def template_patch_box(box_xywh: Sequence[float], context_amount: float = 0.5) -> Tuple[float, float, float, float]:
    """The box ``[x, y, w, h]`` as corners ``(x1, y1, x2, y2)`` in the pixels of its template patch (the
    ``round(s_z)``-pixel window around the centre ``(x + (w-1)/2, y + (h-1)/2)``), where the boundary templates
    are cut. This is also what the official ``init`` leaves in the caller's box list (reference §9.1)."""
    x, y, w, h = (float(v) for v in box_xywh)
    s_z = max(int(round(context_size(w, h, context_amount))), 1)
    xmin, ymin = subwindow_origin((x + (w - 1) / 2, y + (h - 1) / 2), s_z)
    return x - xmin, y - ymin, x - xmin + w, y - ymin + h


def _fill_pixel(fill, channels: int, dtype) -> np.ndarray:
    """The fill colour as a pixel of ``dtype`` (uint8: truncated, like numpy's float -> uint8 assignment)."""
    value = np.broadcast_to(np.asarray(fill, dtype=np.float64).reshape(-1), (3,))
    if np.dtype(dtype) == np.uint8:
        value = np.clip(value, 0, 255)
    pixel = value.astype(dtype)
    return pixel[:1] if channels == 1 else pixel


def subwindow_bounds(center: Sequence[float], side: int, img_hw: Tuple[int, int]
                     ) -> Tuple[int, int, int, int, int, int, bool]:
    """Window of a ``side``-pixel square crop at ``center`` in a frame of ``img_hw`` = (H, W):
    ``(xmin, ymin, x0, x1, y0, y1, inside)`` with (xmin, ymin) the crop origin, [x0, x1) x [y0, y1) the part of
    the frame it covers and ``inside`` whether the whole crop lies in the frame (no padding needed)."""
    img_h, img_w = img_hw
    xmin, ymin = subwindow_origin(center, side)
    x0, x1 = max(xmin, 0), min(xmin + side, img_w)
    y0, y1 = max(ymin, 0), min(ymin + side, img_h)
    inside = xmin >= 0 and ymin >= 0 and xmin + side <= img_w and ymin + side <= img_h
    return xmin, ymin, x0, x1, y0, y1, inside


def get_subwindow(frame: np.ndarray, center: Sequence[float], out_size: int, side: int,
                  fill: Sequence[float]) -> np.ndarray:
    """Square crop of ``side`` pixels centred at ``center``, resized to ``out_size``.

    frame: (H, W, 3) or (H, W) uint8; fill: colour (3,) of the out-of-frame pixels (truncated to uint8).
    Returns a new array (out_size, out_size, C) uint8 with C the frame's channel count; the frame is only read.
    Resizing is OpenCV bilinear and is skipped when ``side == out_size``.
    """
    side = int(side)
    out_size = int(out_size)
    if side < 1 or out_size < 1:
        raise ValueError(f"crop side and output size must be >= 1, got side={side}, out_size={out_size}")
    xmin, ymin, x0, x1, y0, y1, inside = subwindow_bounds(center, side, frame.shape[:2])
    if inside:
        patch = frame[ymin:ymin + side, xmin:xmin + side]
        if side == out_size:
            return patch.copy()
    else:
        channels = 1 if frame.ndim == 2 else frame.shape[2]
        pixel = _fill_pixel(fill, channels, frame.dtype)
        patch = np.empty((side, side) + frame.shape[2:], dtype=frame.dtype)
        patch[...] = pixel if frame.ndim == 3 else pixel[0]
        if x0 < x1 and y0 < y1:
            patch[y0 - ymin:y1 - ymin, x0 - xmin:x1 - xmin] = frame[y0:y1, x0:x1]
    if side != out_size:
        patch = cv2.resize(patch, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    return patch


def _to_bgr(img: np.ndarray) -> np.ndarray:
    return np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img


# ---------------------------------------------------------------------------- boundary templates
def boundary_regions(box_x1y1x2y2: Sequence[float], fraction: float = 0.5,
                     size: Optional[int] = None) -> Tuple[Tuple[int, int, int, int], ...]:
    """Row/column ranges ``(r0, r1, c0, c1)`` (end-exclusive) kept by the top, left, bottom, right templates.

    With ``w = x2 - x1``, ``h = y2 - y1`` and ``t = fraction`` (official ``int()`` truncation):
    top rows [y1, y1 + t h) x cols [x1, x2); left rows [y1, y2) x cols [x1, x1 + t w);
    bottom rows [y2 - t h, y2) x cols [x1, x2); right rows [y1, y2) x cols [x2 - t w, x2).
    With ``size`` the ranges are clipped to [0, size] (the official code lets numpy wrap negative
    indices instead, which empties or garbles the region; clipping keeps the part inside the image).
    """
    x1, y1, x2, y2 = (float(v) for v in box_x1y1x2y2)
    w, h = x2 - x1, y2 - y1
    ix1, iy1, ix2, iy2 = int(x1), int(y1), int(x2), int(y2)
    regions = (
        (iy1, int(y1 + fraction * h), ix1, ix2),   # top
        (iy1, iy2, ix1, int(x1 + fraction * w)),   # left
        (int(y2 - fraction * h), iy2, ix1, ix2),   # bottom
        (iy1, iy2, int(x2 - fraction * w), ix2),   # right
    )
    if size is None:
        return regions
    return tuple(tuple(min(max(v, 0), size) for v in r) for r in regions)


def cut_boundary_templates(patch: np.ndarray, box_x1y1x2y2: Sequence[float], fill: Sequence[float],
                           outline: bool = True, fraction: float = 0.5) -> np.ndarray:
    """The four boundary templates cut from a square image that contains the box.

    patch: (S, S, 3) or (S, S) image (any dtype); box in patch pixels; fill: the canvas colour (3,)
    (truncated for uint8). With ``outline`` a 1-px red rectangle from (int x1, int y1) to (int x2, int y2)
    is drawn on a copy of the patch before the cut. Returns (4, S, S, 3) of the patch dtype, order
    top, left, bottom, right. ``patch`` is not modified.
    """
    src = _to_bgr(patch)
    size = src.shape[0]
    if outline:
        src = np.array(src, copy=True)
        x1, y1, x2, y2 = (int(float(v)) for v in box_x1y1x2y2)
        cv2.rectangle(src, (x1, y1), (x2, y2), _RED, 1)
    out = np.empty((4,) + src.shape, dtype=src.dtype)
    out[...] = _fill_pixel(fill, 3, src.dtype)
    for k, (r0, r1, c0, c1) in enumerate(boundary_regions(box_x1y1x2y2, fraction, size)):
        if r0 < r1 and c0 < c1:
            out[k, r0:r1, c0:c1] = src[r0:r1, c0:c1]
    return out


def boundary_templates(frame: np.ndarray, box_xywh: Sequence[float], avg: Optional[Sequence[float]] = None, *,
                       context_amount: float = 0.5, exemplar_size: int = 127,
                       fill: Optional[Sequence[float]] = None, outline: bool = True,
                       fraction: float = 0.5) -> np.ndarray:
    """Tracking-side boundary templates, as the official tracker's ``init`` makes them (reference §4.3).

    frame: (H, W, 3) uint8 BGR or (H, W); box_xywh: [x, y, w, h] with centre (x + (w-1)/2, y + (h-1)/2);
    avg: padding colour (3,) for out-of-frame pixels (default: the frame's channel average).
    fill: canvas colour outside each kept region; None = ``avg`` truncated to uint8 (official tracking),
    a BGR triple = constant (paper profile). The patch side is ``round(s_z)``; each canvas is resized to
    ``exemplar_size`` with bilinear interpolation unless ``s_z`` already equals it.
    Returns (4, exemplar_size, exemplar_size, 3) uint8, order top, left, bottom, right. Inputs are not modified.
    """
    frame = check_frame(frame)
    x, y, w, h = check_box(box_xywh, frame.shape[:2]).tolist()
    if avg is None:
        avg = channel_average(frame)
    center = (x + (w - 1) / 2, y + (h - 1) / 2)
    s_z = int(round(context_size(w, h, context_amount)))
    s_z = max(s_z, 1)
    patch = get_subwindow(frame, center, s_z, s_z, avg)  # (s_z, s_z, C), a copy
    box = template_patch_box((x, y, w, h), context_amount)
    canvas_fill = avg if fill is None else fill
    templates = cut_boundary_templates(patch, box, canvas_fill, outline, fraction)
    if s_z == exemplar_size:
        return templates
    return np.stack([cv2.resize(t, (exemplar_size, exemplar_size), interpolation=cv2.INTER_LINEAR)
                     for t in templates])


def training_boundary_templates(template: np.ndarray, box_x1y1x2y2: Sequence[float],
                                fill: Sequence[float] = TRAIN_TEMPLATE_FILL, outline: bool = True,
                                fraction: float = 0.5) -> np.ndarray:
    """Training-side boundary templates (official ``Augmentation`` path, reference §4.3 "Training").

    template: (S, S, 3) image (the augmented 127x127 template, any numeric dtype, not clipped);
    box_x1y1x2y2: the target box in template pixels. The canvas is the constant ``fill``
    (official (87, 135, 123) BGR, not colour-augmented); the red outline is drawn on a copy.
    Returns (4, S, S, 3) float32, order top, left, bottom, right.
    """
    template = np.asarray(template)
    if template.ndim not in (2, 3) or template.shape[0] != template.shape[1] or \
            (template.ndim == 3 and template.shape[2] != 3):
        raise ValueError(f"template must be a square (S, S, 3) or (S, S) image, got shape {template.shape}")
    def bad() -> ValueError:  # the message is built only on the error path (this runs once per training pair)
        return ValueError(f"template box must be 4 finite numbers [x1, y1, x2, y2], got {box_x1y1x2y2!r}")

    try:
        box = np.asarray(box_x1y1x2y2, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):  # ragged or not numbers
        raise bad() from None
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise bad()
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"template box [x1, y1, x2, y2] = {box.tolist()} has w or h <= 0")
    src = template if template.dtype in (np.float32, np.float64) else template.astype(np.float32)
    return cut_boundary_templates(src, box, fill, outline, fraction).astype(np.float32, copy=False)


def exemplar_crop(frame: np.ndarray, box_xywh: Sequence[float], avg: Optional[Sequence[float]] = None, *,
                  context_amount: float = 0.5, exemplar_size: int = 127) -> np.ndarray:
    """Whole-box template (the "unified" one-template ablation): the ``round(s_z)`` context window
    around the box centre resized to ``exemplar_size``, padded with ``avg`` (default: frame mean), no outline.

    Returns (exemplar_size, exemplar_size, 3) uint8.
    """
    frame = check_frame(frame)
    x, y, w, h = check_box(box_xywh, frame.shape[:2]).tolist()
    if avg is None:
        avg = channel_average(frame)
    s_z = max(int(round(context_size(w, h, context_amount))), 1)
    return _to_bgr(get_subwindow(frame, (x + (w - 1) / 2, y + (h - 1) / 2), exemplar_size, s_z, avg))


def search_crop(frame: np.ndarray, center: Sequence[float], side: int, avg: Sequence[float],
                instance_size: int = 255) -> np.ndarray:
    """Search region: the ``side``-pixel window around ``center`` resized to ``instance_size``, no outline.

    frame: (H, W, 3) uint8 BGR or (H, W); avg: padding colour (3,) (official: the *init* frame's mean).
    Returns (instance_size, instance_size, 3) uint8. Grayscale frames are cropped first and then
    replicated to 3 channels (identical to converting the frame first, and cheaper).
    """
    frame = check_frame(frame)
    return _to_bgr(get_subwindow(frame, center, instance_size, side, avg))
