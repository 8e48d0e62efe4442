"""Seeded synthetic tracking videos with exact ground truth: the project's built-in dataset.

A video is a textured rectangular target moving over a textured, panning background, with smooth
motion, scale / aspect-ratio change, in-plane rotation, optional partial occlusion, illumination
change, similar distractors and leave-and-re-enter events. Everything is drawn from a numpy
``Generator`` seeded by ``seed`` (an int or a tuple of ints); no global RNG is touched, and frame ``i``
renders identically whatever order frames are requested in.

Ground-truth conventions (``SyntheticVideo.gt``, (N, 4) float ``[x, y, w, h]``):

* continuous pixel coordinates, 0-based: pixel column ``i`` covers ``[i, i + 1)``;
* the box is the axis-aligned bounding box of the rotated target, *including* parts hidden by an
  occluder or by a distractor (OTB convention for occlusion);
* where the target is partly out of the image, the box is the bounding box of its visible part
  (the rotated rectangle clipped to the image, see :func:`clip_polygon_box`);
* where less than ``MIN_VISIBLE`` pixel of it is visible in either direction, the frame is *absent*:
  ``absent[i]`` is True and the box is ``[0, 0, 0, 0]`` (the row ``0,0,0,0`` in the OTB file, as
  LaSOT/OTB mark invalid frames). Frame 0 shows the whole target (when it fits in the image).

Everything else in a frame is drawn from the same seed: the background canvas pans under the view
(camera motion), distractors (hue-jittered copies of the target texture) pass behind the target,
occluders (textured bars, at most 60 % of the target's width or height) sweep in front of it, and a
smooth, horizontally graded brightness gain plus Gaussian noise are applied last.

Note for evaluation: the pysot/OTB-MATLAB success rule treats a gt row with ``x == 0`` or ``y == 0``
(target touching the left/top border) as invalid, like ``0,0,0,0``.

On-disk layout written by :func:`write_otb_dataset`::

    out_dir/<video>/img/0001.jpg ...          frames
    out_dir/<video>/groundtruth_rect.txt      one "x,y,w,h" line per frame ("0,0,0,0" = absent)
    out_dir/<video>/absent.txt                one 0/1 line per frame (1 = target absent)
    out_dir/<video>/meta.json                 generation parameters; written last = video complete
"""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

__all__ = [
    "MIN_VISIBLE",
    "SyntheticParams",
    "SyntheticVideo",
    "make_video",
    "write_otb_dataset",
    "clip_polygon_box",
]

MIN_VISIBLE = 1.0          # px: a target with less visible width or height than this is absent
_EVENT_BLOCK = 60          # frames per block; each block may hold one occlusion / out-of-view event
_FORMAT_VERSION = 1        # bump when rendering changes, so old datasets are re-rendered
_NOISE_MARGIN = 32         # px: frames take shifted windows of one noise field per video

SeedLike = int | Sequence[int]


@dataclass(frozen=True)
class SyntheticParams:
    """Difficulty knobs of a synthetic video (all optional keywords of :func:`make_video`)."""

    target_size: tuple[float, float] = (0.15, 0.35)  # initial target side range, fraction of min(H, W)
    motion: float = 1.0           # target speed multiplier (0 = static target)
    camera_pan: float = 1.0       # background pan amplitude multiplier (0 = static camera)
    scale_change: float = 0.3     # max |log scale| excursion over time
    aspect_change: float = 0.2    # max |log aspect ratio| excursion over time
    rotation: float = 20.0        # max in-plane rotation in degrees
    occlusion: float = 0.4        # probability, per 60-frame block, of an occluder passing over the target
    illumination: float = 0.3     # amplitude of the brightness gain variation (0 = constant light)
    distractors: int = 2          # maximum number of similar distractor objects
    out_of_view: float = 0.25     # probability, per 60-frame block, of the target leaving and re-entering
    noise: float = 2.0            # sensor-noise standard deviation in grey levels
    background: str = "color"     # "color" or "gray" (gray background: no chroma anywhere but the target)
    target_color: tuple[int, int, int] | None = None  # solid BGR target instead of a texture

    def validate(self) -> "SyntheticParams":
        lo, hi = self.target_size
        if not 0.0 < lo <= hi <= 0.9:
            raise ValueError(f"synthetic knob 'target_size' must satisfy 0 < min <= max <= 0.9, got {self.target_size}")
        for key in ("motion", "camera_pan", "scale_change", "aspect_change", "rotation", "illumination", "noise"):
            if not np.isfinite(getattr(self, key)) or getattr(self, key) < 0:
                raise ValueError(f"synthetic knob {key!r} must be a finite number >= 0, got {getattr(self, key)!r}")
        for key in ("occlusion", "out_of_view"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"synthetic knob {key!r} is a probability in [0, 1], got {getattr(self, key)!r}")
        if self.illumination >= 1.0:
            raise ValueError(f"synthetic knob 'illumination' must be < 1, got {self.illumination}")
        if int(self.distractors) != self.distractors or self.distractors < 0:
            raise ValueError(f"synthetic knob 'distractors' must be an integer >= 0, got {self.distractors!r}")
        if self.background not in ("color", "gray"):
            raise ValueError(f"synthetic knob 'background' must be 'color' or 'gray', got {self.background!r}")
        if self.target_color is not None and (
                len(self.target_color) != 3 or any(not 0 <= int(c) <= 255 for c in self.target_color)):
            raise ValueError(f"synthetic knob 'target_color' must be 3 BGR values in 0..255, got {self.target_color!r}")
        return self


def _params_from_knobs(knobs: dict) -> SyntheticParams:
    names = [f.name for f in fields(SyntheticParams)]
    for key in knobs:
        if key not in names:
            match = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            raise TypeError(f"unknown synthetic knob {key!r}{hint}; known: {', '.join(names)}")
    values = dict(knobs)
    for f in fields(SyntheticParams):    # 3 and 3.0 are the same knob value (meta.json comparison on resume)
        v = values.get(f.name)
        if isinstance(f.default, float) and isinstance(v, (int, float)) and not isinstance(v, bool):
            values[f.name] = float(v)
    if "target_size" in values:
        values["target_size"] = tuple(float(v) for v in values["target_size"])
    if values.get("target_color") is not None:
        values["target_color"] = tuple(int(v) for v in values["target_color"])
    return replace(SyntheticParams(), **values).validate()


# ----------------------------------------------------------------------------------- geometry
def clip_polygon_box(corners: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """Box ``[x, y, w, h]`` of the part of a convex polygon (K, 2) that shows in a width x height image.

    Pixels are sampled at their centres, so the polygon is clipped (Sutherland-Hodgman) to the
    pixel-centre area ``[0.5, width - 0.5] x [0.5, height - 0.5]``; a box edge lying on that area's
    border is then moved out to the image border (0 or width/height). Returns None when nothing is left.
    """
    poly = [tuple(p) for p in np.asarray(corners, dtype=np.float64)]
    lo_x, hi_x, lo_y, hi_y = 0.5, width - 0.5, 0.5, height - 0.5
    for axis, bound, keep_below in ((0, lo_x, False), (0, hi_x, True), (1, lo_y, False), (1, hi_y, True)):
        out: list[tuple[float, float]] = []
        for k, cur in enumerate(poly):
            prev = poly[k - 1]
            cur_in = cur[axis] <= bound if keep_below else cur[axis] >= bound
            prev_in = prev[axis] <= bound if keep_below else prev[axis] >= bound
            if cur_in != prev_in:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if cur_in:
                out.append(cur)
        poly = out
        if not poly:
            return None
    pts = np.array(poly)
    x1, y1 = pts.min(axis=0)
    x2, y2 = pts.max(axis=0)
    x1, y1 = (0.0 if x1 <= lo_x else x1), (0.0 if y1 <= lo_y else y1)
    x2, y2 = (float(width) if x2 >= hi_x else x2), (float(height) if y2 >= hi_y else y2)
    return np.array([x1, y1, x2 - x1, y2 - y1])


def _rect_corners(cx: float, cy: float, w: float, h: float, theta: float) -> np.ndarray:
    """Corners (4, 2) of a w x h rectangle centred at (cx, cy), rotated by theta radians."""
    c, s = np.cos(theta), np.sin(theta)
    local = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2.0
    return local @ np.array([[c, s], [-s, c]]) + (cx, cy)


def _half_extent(w: np.ndarray, h: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half width / height of the axis-aligned box of a rotated w x h rectangle."""
    c, s = np.abs(np.cos(theta)), np.abs(np.sin(theta))
    return (w * c + h * s) / 2.0, (w * s + h * c) / 2.0


def _wave(rng: np.random.Generator, t: np.ndarray, periods: tuple[float, float], n: int = 3) -> np.ndarray:
    """Smooth signal in [-1, 1]: normalised sum of ``n`` sinusoids with random periods (frames) and phases."""
    period = rng.uniform(*periods, size=n)
    phase = rng.uniform(0.0, 2 * np.pi, size=n)
    amp = rng.uniform(0.3, 1.0, size=n)
    sig = (amp[:, None] * np.sin(2 * np.pi * t[None, :] / period[:, None] + phase[:, None])).sum(0)
    return sig / amp.sum()


def _smooth_step(x: np.ndarray) -> np.ndarray:
    """0 -> 1 raised-cosine ramp for x in [0, 1] (clipped outside)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


# ----------------------------------------------------------------------------------- textures
def _vivid_colors(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) uint8 BGR colours with random hue and high saturation / value."""
    hsv = np.stack([rng.integers(0, 180, n), rng.integers(120, 256, n), rng.integers(110, 256, n)], -1)
    return cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2BGR)[0]


def _value_noise(rng: np.random.Generator, h: int, w: int, cells: Sequence[int]) -> np.ndarray:
    """(h, w) float32 multi-octave value noise in [0, 1]."""
    acc = np.zeros((h, w), np.float32)
    total = 0.0
    for k, c in enumerate(cells):
        gy, gx = max(2, int(round(c * h / max(h, w)))), max(2, int(round(c * w / max(h, w))))
        grid = rng.random((gy, gx), dtype=np.float32)
        weight = 0.6 ** k
        acc += weight * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += weight
    acc /= total
    lo, hi = float(acc.min()), float(acc.max())
    return (acc - lo) / max(hi - lo, 1e-6)


def _palette_map(values: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map (h, w) values in [0, 1] through a (K, 3) colour ramp -> (h, w, 3) uint8 (a 256-entry lookup table)."""
    pos = np.linspace(0.0, 1.0, 256) * (len(palette) - 1)
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, len(palette) - 2)
    frac = (pos - i0)[:, None]
    pal = palette.astype(np.float64)
    lut = np.clip(pal[i0] * (1 - frac) + pal[i0 + 1] * frac + 0.5, 0, 255).astype(np.uint8)   # (256, 3)
    index = (np.clip(values, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return cv2.LUT(cv2.merge([index, index, index]), lut[None])


def _make_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) uint8 textured pattern: stripes, checker board or blobs in two or three vivid colours."""
    colors = _vivid_colors(rng, 3)
    kind = int(rng.integers(0, 3))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:
        angle = rng.uniform(0, np.pi)
        freq = rng.uniform(2.0, 5.0) * 2 * np.pi / max(h, w)
        v = 0.5 + 0.5 * np.sin(freq * (xx * np.cos(angle) + yy * np.sin(angle)))
    elif kind == 1:
        n = rng.uniform(2.5, 5.0)
        v = ((np.floor(xx * n / w) + np.floor(yy * n / h)) % 2).astype(np.float32) * 0.8 + 0.1
        v = v + 0.1 * _value_noise(rng, h, w, (8,))
    else:
        v = _value_noise(rng, h, w, (4, 8))
    tex = _palette_map(v, colors).astype(np.float32)
    edge = max(1, min(h, w) // 12)                    # a darker rim makes the object's extent visible
    tex[:edge], tex[-edge:], tex[:, :edge], tex[:, -edge:] = (tex[:edge] * 0.55, tex[-edge:] * 0.55,
                                                              tex[:, :edge] * 0.55, tex[:, -edge:] * 0.55)
    return np.clip(tex, 0, 255).astype(np.uint8)


def _make_background(rng: np.random.Generator, h: int, w: int, gray: bool) -> np.ndarray:
    """(h, w, 3) uint8 cluttered background: coloured value noise plus random rectangles, discs and lines."""
    palette = _vivid_colors(rng, 4).astype(np.float32) * rng.uniform(0.4, 0.8) + rng.uniform(20, 60)
    canvas = _palette_map(_value_noise(rng, h, w, (3, 9, 27, 81)), np.clip(palette, 0, 255))
    n_shapes = int(rng.integers(15, 30) * h * w / (360 * 480)) + 5
    kinds = rng.integers(0, 3, n_shapes)
    cols = _vivid_colors(rng, n_shapes).astype(np.float32) * 0.7 + 30
    pts = rng.uniform(0, 1, (n_shapes, 4)) * (w, h, w, h)
    sizes = rng.uniform(0.02, 0.12, n_shapes) * min(h, w)
    for kind, col, (x1, y1, x2, y2), sz in zip(kinds, cols, pts.astype(int), sizes.astype(int)):
        color = tuple(float(c) for c in col)
        if kind == 0:
            cv2.rectangle(canvas, (x1, y1), (x1 + 2 * sz, y1 + sz), color, -1)
        elif kind == 1:
            cv2.circle(canvas, (x1, y1), sz, color, -1, lineType=cv2.LINE_AA)
        else:
            cv2.line(canvas, (x1, y1), (x2, y2), color, max(1, sz // 8), lineType=cv2.LINE_AA)
    canvas = cv2.GaussianBlur(canvas, (3, 3), 0)
    if gray:
        canvas = cv2.cvtColor(cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return canvas


def _composite(frame: np.ndarray, texture: np.ndarray, cx: float, cy: float, w: float, h: float,
               theta: float) -> None:
    """Draw ``texture`` (th, tw, 3) as a w x h rectangle centred at (cx, cy), rotated by theta radians.

    ``frame`` is (H, W, 3) float32, modified in place; only the rectangle's bounding region is touched.
    Coverage is analytic: alpha = clip(0.5 + distance of the pixel centre inside the rectangle, 0, 1),
    so a pixel is more than half covered exactly when its centre lies inside, at any scale.
    """
    fh, fw = frame.shape[:2]
    hx, hy = _half_extent(np.float64(w), np.float64(h), np.float64(theta))
    x0, x1 = max(0, int(np.floor(cx - hx)) - 1), min(fw, int(np.ceil(cx + hx)) + 1)
    y0, y1 = max(0, int(np.floor(cy - hy)) - 1), min(fh, int(np.ceil(cy + hy)) + 1)
    if x1 <= x0 or y1 <= y0 or w <= 0 or h <= 0:
        return
    th, tw = texture.shape[:2]
    sx, sy = w / tw, h / th
    c, s = np.cos(theta), np.sin(theta)
    a0, b0 = sx / 2 - w / 2, sy / 2 - h / 2               # texel u -> continuous offset sx*u + a0 from the centre
    m = np.array([[c * sx, -s * sy, c * a0 - s * b0 + cx - 0.5 - x0],
                  [s * sx, c * sy, s * a0 + c * b0 + cy - 0.5 - y0]])
    warped = cv2.warpAffine(texture, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    px = (np.arange(x0, x1, dtype=np.float32) + np.float32(0.5 - cx))[None, :]   # (1, rw) pixel centres
    py = (np.arange(y0, y1, dtype=np.float32) + np.float32(0.5 - cy))[:, None]   # (rh, 1)
    inside = np.minimum(np.float32(w / 2) - np.abs(np.float32(c) * px + np.float32(s) * py),
                        np.float32(h / 2) - np.abs(np.float32(-s) * px + np.float32(c) * py))
    alpha = np.clip(inside + np.float32(0.5), 0.0, 1.0)[..., None]               # (rh, rw, 1)
    roi = frame[y0:y1, x0:x1]
    roi += alpha * (warped.astype(np.float32) - roi)


# ----------------------------------------------------------------------------------- the video
@dataclass
class _Object:
    texture: np.ndarray           # (th, tw, 3) uint8 BGR, stretched over the w x h rectangle
    cx: np.ndarray                # (N,) centre x per frame
    cy: np.ndarray                # (N,)
    w: np.ndarray                 # (N,) unrotated width
    h: np.ndarray                 # (N,)
    theta: np.ndarray             # (N,) radians
    visible: np.ndarray           # (N,) bool: drawn in this frame


class SyntheticVideo:
    """A rendered-on-demand synthetic tracking video.

    ``frame(i)`` -> (H, W, 3) uint8 BGR; ``gt`` (N, 4) float ``[x, y, w, h]``; ``absent`` (N,) bool;
    ``occlusion`` (N,) float fraction of the target box covered by an occluder; ``attributes``
    video-level OTB-style flags (IV, SV, OCC, OV, IPR, BC, FM, LR). Iterating yields the frames.
    """

    def __init__(self, name: str, image_size: tuple[int, int], gt: np.ndarray, absent: np.ndarray,
                 occlusion: np.ndarray, attributes: dict[str, bool], params: SyntheticParams, seed: SeedLike,
                 background: np.ndarray, camera: np.ndarray, objects: list[_Object],
                 gain: np.ndarray, gain_slope: np.ndarray, noise_entropy: int):
        self.name = name
        self.image_size = image_size
        self.gt = gt
        self.absent = absent
        self.occlusion = occlusion
        self.attributes = attributes
        self.params = params
        self.seed = seed
        self._background = background
        self._camera = camera           # (N, 2) int top-left of the view inside the background canvas
        self._objects = objects         # drawn in order: distractors, target, occluders
        self._gain = gain               # (N,) global brightness gain
        self._gain_slope = gain_slope   # (N,) horizontal gain gradient across the frame
        self._noise_entropy = noise_entropy
        self._noise_field: np.ndarray | None = None   # made on first use

    def __len__(self) -> int:
        return len(self.gt)

    def __repr__(self) -> str:
        h, w = self.image_size
        return f"SyntheticVideo({self.name!r}, {len(self)} frames, {w}x{h})"

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.frame(i)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.frame(i)

    @property
    def frames(self) -> list[np.ndarray]:
        """All frames rendered into a list (prefer ``frame(i)`` or iteration for long videos)."""
        return [self.frame(i) for i in range(len(self))]

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` (0-based) as (H, W, 3) uint8 BGR; deterministic, independent of call order."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"{self.name}: frame index {i} out of range for {n} frames")
        i %= n
        h, w = self.image_size
        ox, oy = self._camera[i]
        img = self._background[oy:oy + h, ox:ox + w].astype(np.float32)
        for obj in self._objects:
            if obj.visible[i]:
                _composite(img, obj.texture, obj.cx[i], obj.cy[i], obj.w[i], obj.h[i], obj.theta[i])
        p = self.params
        if p.illumination > 0:
            ramp = np.linspace(-1.0, 1.0, w, dtype=np.float32)
            img *= (self._gain[i] * (1.0 + self._gain_slope[i] * ramp))[None, :, None]
        if p.noise > 0:
            img += self._noise(i)
        return np.clip(img + 0.5, 0, 255).astype(np.uint8)

    def _noise(self, i: int) -> np.ndarray:
        """(H, W, 3) float32 sensor noise of frame i: a random window of one per-video noise field."""
        h, w = self.image_size
        if self._noise_field is None:
            rng = np.random.default_rng(np.random.SeedSequence(self._noise_entropy))
            self._noise_field = rng.standard_normal((h + _NOISE_MARGIN, w + _NOISE_MARGIN, 3), dtype=np.float32)
            self._noise_field *= np.float32(self.params.noise)
        oy, ox, sign = np.random.default_rng(np.random.SeedSequence(self._noise_entropy, spawn_key=(i,))).integers(
            0, (_NOISE_MARGIN + 1, _NOISE_MARGIN + 1, 2))
        window = self._noise_field[oy:oy + h, ox:ox + w]
        return window if sign else -window

    def sample_pair(self, rng: np.random.Generator, frame_range: int) -> tuple[int, int]:
        """Indices (template, search) of two frames with the target present, at most ``frame_range`` apart."""
        present = np.flatnonzero(~self.absent)
        t = int(rng.choice(present))
        near = present[np.abs(present - t) <= frame_range]
        return t, int(rng.choice(near))


def _seed_entropy(seed: SeedLike) -> list[int]:
    values = [int(seed)] if np.isscalar(seed) else [int(s) for s in seed]
    if not values or any(v < 0 for v in values):
        raise ValueError(f"seed must be a non-negative int or a non-empty sequence of them, got {seed!r}")
    return values


def make_video(seed: SeedLike, num_frames: int = 60, image_size: tuple[int, int] = (240, 320),
               name: str | None = None, **knobs) -> SyntheticVideo:
    """Build a synthetic video (geometry and textures now, pixels lazily in ``frame(i)``).

    ``seed`` is an int or a tuple of ints (``(dataset_seed, video_index)``); ``knobs`` are the fields of
    :class:`SyntheticParams` (e.g. ``rotation=0, occlusion=1.0, target_color=(0, 255, 0)``).
    Each component (background, target, motion, distractors, occluder, light, noise) draws from its
    own child generator, so switching one knob off leaves the others unchanged.
    """
    p = _params_from_knobs(knobs)
    entropy = _seed_entropy(seed)
    if int(num_frames) != num_frames or num_frames < 1:
        raise ValueError(f"num_frames must be an integer >= 1, got {num_frames!r}")
    if len(image_size) != 2 or min(image_size) < 32:
        raise ValueError(f"image_size must be (height, width) with both >= 32, got {image_size!r}")
    n, (ih, iw) = int(num_frames), (int(image_size[0]), int(image_size[1]))
    # the length prefix keeps seeds 1 and (1, 0) apart (SeedSequence ignores trailing zero words)
    rng_bg, rng_tgt, rng_mot, rng_dis, rng_occ, rng_light, rng_noise, rng_ov = (
        np.random.default_rng(s) for s in np.random.SeedSequence([len(entropy), *entropy]).spawn(8))
    t = np.arange(n, dtype=np.float64)
    blocks = [(b, min(n, b + _EVENT_BLOCK)) for b in range(0, n, _EVENT_BLOCK)]

    # camera pan over a larger background canvas
    mx, my = int(round(0.2 * iw * p.camera_pan)), int(round(0.2 * ih * p.camera_pan))
    background = _make_background(rng_bg, ih + 2 * my, iw + 2 * mx, p.background == "gray")
    pan_x, pan_y = _wave(rng_bg, t, (60, 200)), _wave(rng_bg, t, (60, 200))
    camera = np.stack([np.rint(mx + mx * pan_x), np.rint(my + my * pan_y)], -1).astype(np.int64)

    # target: size, aspect, rotation, then motion inside the room its largest extent leaves
    side = rng_tgt.uniform(*p.target_size) * min(ih, iw)
    aspect0 = np.exp(rng_tgt.uniform(-0.5, 0.5))
    w0, h0 = side * np.sqrt(aspect0), side / np.sqrt(aspect0)
    scale = np.exp(p.scale_change * _wave(rng_tgt, t, (40, 160)))
    aspect = np.exp(p.aspect_change * _wave(rng_tgt, t, (40, 160)))
    tw, th = w0 * scale * np.sqrt(aspect), h0 * scale / np.sqrt(aspect)
    theta = np.deg2rad(p.rotation) * _wave(rng_tgt, t, (40, 160))
    hx, hy = _half_extent(tw, th, theta)
    if p.target_color is not None:
        tex = np.empty((16, 16, 3), np.uint8)
        tex[:] = p.target_color
    else:
        tex_side = int(np.clip(side * 1.5, 16, 256))
        tex = _make_texture(rng_tgt, max(8, int(tex_side / np.sqrt(aspect0))), max(8, int(tex_side * np.sqrt(aspect0))))
    speed = np.clip(p.motion, 0.0, 10.0)
    periods = (40 / max(speed, 1e-3), 150 / max(speed, 1e-3))
    room_x, room_y = max(0.0, iw / 2 - hx.max() - 1), max(0.0, ih / 2 - hy.max() - 1)
    cx = iw / 2 + room_x * (_wave(rng_mot, t, periods) if speed > 0 else 0 * t)
    cy = ih / 2 + room_y * (_wave(rng_mot, t, periods) if speed > 0 else 0 * t)

    # leave-and-re-enter events: a smooth push beyond an image border, held, then back
    out_events = []
    for b0, b1 in blocks:
        u, edge = rng_ov.random(), int(rng_ov.integers(0, 4))
        ramp, hold = int(rng_ov.integers(8, 16)), int(rng_ov.integers(3, 9))
        length = 2 * ramp + hold
        start_lo = max(b0, 5)
        if u >= p.out_of_view or start_lo + length > b1:
            continue
        s = int(rng_ov.integers(start_lo, b1 - length + 1))
        held = slice(s + ramp, s + ramp + hold)
        need = {0: (cx + hx)[held].max() + 2, 1: (iw - cx + hx)[held].max() + 2,    # left, right
                2: (cy + hy)[held].max() + 2, 3: (ih - cy + hy)[held].max() + 2}[edge]  # top, bottom
        push = need * (_smooth_step((t - s) / ramp) - _smooth_step((t - s - ramp - hold) / ramp))
        if edge == 0:
            cx = cx - push
        elif edge == 1:
            cx = cx + push
        elif edge == 2:
            cy = cy - push
        else:
            cy = cy + push
        out_events.append((s, s + length))

    gt = np.zeros((n, 4))
    absent = np.zeros(n, bool)
    for i in range(n):
        box = clip_polygon_box(_rect_corners(cx[i], cy[i], tw[i], th[i], theta[i]), iw, ih)
        if box is None or box[2] < MIN_VISIBLE or box[3] < MIN_VISIBLE:
            absent[i] = True
        else:
            gt[i] = box
    target = _Object(tex, cx, cy, tw, th, theta, ~absent)     # slivers thinner than MIN_VISIBLE are not drawn

    # similar distractors: the target's texture, hue-jittered, resized, with their own free motion
    distractors = []
    n_dis = int(rng_dis.integers(0, p.distractors + 1)) if p.distractors > 0 else 0
    for _ in range(n_dis):
        hsv = cv2.cvtColor(tex, cv2.COLOR_BGR2HSV).astype(np.int32)
        hsv[..., 0] = (hsv[..., 0] + int(rng_dis.integers(-12, 13))) % 180
        hsv[..., 2] = np.clip(hsv[..., 2] * rng_dis.uniform(0.8, 1.2), 0, 255)
        d_tex = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
        f = rng_dis.uniform(0.8, 1.2)
        d_theta = np.deg2rad(p.rotation) * _wave(rng_dis, t, (40, 160))
        d_cx = iw / 2 + 0.5 * iw * _wave(rng_dis, t, periods)
        d_cy = ih / 2 + 0.5 * ih * _wave(rng_dis, t, periods)
        distractors.append(_Object(d_tex, d_cx, d_cy, tw * f, th * f, d_theta, np.ones(n, bool)))

    # occluders: a textured bar sweeping across the target, never wider than 60 % of it
    occluders, occlusion = [], np.zeros(n)
    for b0, b1 in blocks:
        u = rng_occ.random()
        length = int(rng_occ.integers(12, 30))
        horizontal = bool(rng_occ.random() < 0.5)
        frac = rng_occ.uniform(0.3, 0.6)
        occ_tex = _make_texture(rng_occ, 32, 32)
        if p.background == "gray":
            occ_tex = cv2.cvtColor(cv2.cvtColor(occ_tex, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        if u >= p.occlusion or b1 - b0 < length:
            continue
        s = int(rng_occ.integers(b0, b1 - length + 1))
        vis = (t >= s) & (t < s + length)
        sweep = (t - s) / max(length - 1, 1) * 2 - 1                    # -1 .. 1 over the event
        if horizontal:      # a vertical bar moving left to right
            ow, oh = frac * 2 * hx, 2.4 * hy
            ocx, ocy = cx + sweep * (hx + ow / 2), cy.copy()
        else:               # a horizontal bar moving top to bottom
            ow, oh = 2.4 * hx, frac * 2 * hy
            ocx, ocy = cx.copy(), cy + sweep * (hy + oh / 2)
        ix = np.clip(np.minimum(ocx + ow / 2, cx + hx) - np.maximum(ocx - ow / 2, cx - hx), 0, None)
        iy = np.clip(np.minimum(ocy + oh / 2, cy + hy) - np.maximum(ocy - oh / 2, cy - hy), 0, None)
        occlusion = np.maximum(occlusion, np.where(vis, ix * iy / (4 * hx * hy), 0.0))
        occluders.append(_Object(occ_tex, ocx, ocy, ow, oh, np.zeros(n), vis))
    occlusion[absent] = 0.0

    gain = 1.0 + p.illumination * _wave(rng_light, t, (30, 120))
    gain_slope = 0.5 * p.illumination * _wave(rng_light, t, (30, 120))
    noise_entropy = int(rng_noise.integers(0, 2 ** 63))

    present = ~absent
    areas = gt[present, 2] * gt[present, 3]
    centers = gt[:, :2] + gt[:, 2:] / 2
    steps = np.linalg.norm(np.diff(centers, axis=0), axis=1)[present[1:] & present[:-1]]
    attributes = {
        "IV": bool(p.illumination > 0),
        "SV": bool(scale.max() / scale.min() > 2 ** 0.5 or (tw * th).max() / (tw * th).min() > 2),
        "OCC": bool(occlusion.max() > 0),
        "OV": bool(absent.any()),
        "IPR": bool(np.ptp(theta) > np.deg2rad(10)),
        "BC": bool(n_dis > 0),
        "FM": bool(steps.size and steps.max() > 20),
        "LR": bool(areas.size and areas.min() < 400),
    }
    return SyntheticVideo(
        name=name if name is not None else "synthetic_" + "_".join(str(v) for v in entropy),
        image_size=(ih, iw), gt=gt, absent=absent, occlusion=occlusion, attributes=attributes, params=p,
        seed=tuple(entropy) if len(entropy) > 1 else entropy[0], background=background, camera=camera,
        objects=distractors + [target] + occluders, gain=gain, gain_slope=gain_slope, noise_entropy=noise_entropy)


# ----------------------------------------------------------------------------------- OTB files
def _format_box(box: np.ndarray, absent: bool) -> str:
    if absent:
        return "0,0,0,0"
    return ",".join(f"{v:.2f}" for v in box)


def _atomic_write_bytes(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _video_complete(vdir: str, meta: dict) -> bool:
    try:
        with open(os.path.join(vdir, "meta.json"), "r", encoding="utf-8") as f:
            written = json.load(f)
        written.pop("attributes", None)
        if written != meta:
            return False
    except (OSError, ValueError):
        return False
    n = meta["num_frames"]
    if not all(os.path.isfile(os.path.join(vdir, f)) for f in ("groundtruth_rect.txt", "absent.txt")):
        return False
    return all(os.path.isfile(os.path.join(vdir, "img", f"{i + 1:04d}.jpg")) for i in range(n))


def write_otb_dataset(out_dir: str, num_videos: int, seed: int, num_frames: int = 60,
                      image_size: tuple[int, int] = (240, 320), jpeg_quality: int = 90,
                      on_video: Callable[[str, bool], None] | None = None, **knobs) -> list[str]:
    """Write ``num_videos`` synthetic videos in OTB layout under ``out_dir``; returns the video names.

    Video ``k`` (0-based) is ``make_video((seed, k), ...)`` named ``synthetic_{k+1:04d}``, so a larger
    ``num_videos`` with the same seed extends a dataset. Every file is written atomically and
    ``meta.json`` last: a re-run skips videos whose ``meta.json`` matches the request (interrupted
    writes resume), and re-renders videos written with other parameters. ``on_video(name, skipped)``
    is called after each video (progress reporting).
    """
    if int(num_videos) != num_videos or num_videos < 1:
        raise ValueError(f"num_videos must be an integer >= 1, got {num_videos!r}")
    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality!r}")
    params = _params_from_knobs(knobs)
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for k in range(int(num_videos)):
        name = f"synthetic_{k + 1:04d}"
        names.append(name)
        vdir = os.path.join(out_dir, name)
        meta = {"format_version": _FORMAT_VERSION, "seed": [int(seed), k], "num_frames": int(num_frames),
                "image_size": [int(image_size[0]), int(image_size[1])], "jpeg_quality": int(jpeg_quality),
                "params": json.loads(json.dumps(asdict(params)))}
        if _video_complete(vdir, meta):
            if on_video is not None:
                on_video(name, True)
            continue
        video = make_video((int(seed), k), num_frames, image_size, name=name, **knobs)
        meta_path = os.path.join(vdir, "meta.json")
        if os.path.exists(meta_path):
            os.remove(meta_path)
        img_dir = os.path.join(vdir, "img")
        os.makedirs(img_dir, exist_ok=True)
        for i in range(len(video)):
            ok, buf = cv2.imencode(".jpg", video.frame(i), [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
            if not ok:
                raise OSError(f"{img_dir}: JPEG encoding failed for frame {i + 1}")
            _atomic_write_bytes(os.path.join(img_dir, f"{i + 1:04d}.jpg"), buf.tobytes())
        for extra in sorted(os.listdir(img_dir)):
            stem, ext = os.path.splitext(extra)
            if ext == ".jpg" and stem.isdigit() and int(stem) > len(video):
                os.remove(os.path.join(img_dir, extra))
        gt_text = "\n".join(_format_box(b, a) for b, a in zip(video.gt, video.absent)) + "\n"
        _atomic_write_bytes(os.path.join(vdir, "groundtruth_rect.txt"), gt_text.encode())
        _atomic_write_bytes(os.path.join(vdir, "absent.txt"),
                            ("\n".join(str(int(a)) for a in video.absent) + "\n").encode())
        meta_text = json.dumps({**meta, "attributes": video.attributes}, indent=1) + "\n"
        _atomic_write_bytes(meta_path, meta_text.encode())
        if on_video is not None:
            on_video(name, False)
    return names

